package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

const alertsAbout = `Show what is firing now in a running nines serve, and why: each burn-rate
or no-data alert with its severity, since when, its burn rates now and at
the moment it fired (labelled as such: a page that fired on a 200× burn
over 5m may read 0× over 5m while it waits out its resolve hold), and the
reason it fired. Exit code 0 whatever fires; 2 when nines could not be
asked.

Examples:
  nines alerts
  nines alerts --server http://nines:9797 --json`

// firingAlert is an alert of GET /api/v1/alerts: the figures of the
// moment it fired, and Now, those of the last evaluation.
type firingAlert struct {
	SLO       string    `json:"slo"`
	Alert     string    `json:"alert"`
	Severity  string    `json:"severity"`
	Since     time.Time `json:"since"`
	Factor    float64   `json:"factor"`
	Long      string    `json:"long_window"`
	Short     string    `json:"short_window"`
	BurnLong  *float64  `json:"burn_rate_long"`
	BurnShort *float64  `json:"burn_rate_short"`
	Reason    string    `json:"reason"`
	Now       *struct {
		At         time.Time  `json:"evaluated_at"`
		Status     string     `json:"status"`
		BurnLong   *float64   `json:"burn_rate_long"`
		BurnShort  *float64   `json:"burn_rate_short"`
		ClearSince *time.Time `json:"clear_since"`
		ResolvesAt *time.Time `json:"resolves_at"`
	} `json:"now"`
}

func runAlerts(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "alerts", "[--server URL] [--json]", alertsAbout)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("alerts: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	var raw json.RawMessage
	if err := c.get(ctx, "/api/v1/alerts", &raw); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if *asJSON {
		_, err := fmt.Fprintf(e.stdout, "%s\n", raw)
		return err
	}
	var answer struct {
		Firing []firingAlert `json:"firing"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	if len(answer.Firing) == 0 {
		_, err := fmt.Fprintln(e.stdout, "nothing is firing")
		return err
	}
	for _, a := range answer.Firing {
		if err := writeAlert(e.stdout, &a); err != nil {
			return err
		}
	}
	return nil
}

// writeAlert writes one firing alert: a head line, its burn rates now and
// at firing in columns under their windows, and the reason it fired.
func writeAlert(w io.Writer, a *firingAlert) error {
	const indent = "       "
	fmt.Fprintf(w, "%-6s %s  %s  since %s\n", a.Severity, a.SLO, a.Alert, a.Since.UTC().Format("2006-01-02 15:04Z"))
	n := a.Now
	if a.Factor > 0 {
		// A burn-rate tier: both windows, now and at firing.
		const row = indent + "%-20s %-9s %-9s %s\n"
		fmt.Fprintf(w, indent+"%-20s %-9s %s\n", "burn rate", "over "+a.Long, "over "+a.Short)
		if n != nil {
			fmt.Fprintf(w, row, "now ("+clock(n.At, a.Since)+")", burnRate(n.BurnLong), burnRate(n.BurnShort), nowSays(a))
		}
		fmt.Fprintf(w, row, "at firing ("+clock(a.Since, a.Since)+")", burnRate(a.BurnLong), burnRate(a.BurnShort),
			"above "+factor(a.Factor)+" over both windows")
	} else if n != nil {
		// The no-data alert has no burn rates, only whether data came back.
		fmt.Fprintf(w, indent+"%-20s %s\n", "now ("+clock(n.At, a.Since)+")", nowSays(a))
	}
	_, err := fmt.Fprintf(w, indent+"fired: %s\n", a.Reason)
	return err
}

// nowSays is what the last evaluation found, in words.
func nowSays(a *firingAlert) string {
	n := a.Now
	switch {
	case n.ClearSince != nil && n.ResolvesAt != nil:
		what := "not above " + factor(a.Factor) + " over both windows"
		if a.Factor == 0 {
			what = "measured again"
		}
		return fmt.Sprintf("resolving: %s since %s, resolves at %s unless it fires again", what, clock(*n.ClearSince, n.At), clock(*n.ResolvesAt, n.At))
	case n.Status == "firing" && a.Factor == 0:
		return "still nothing measured"
	case n.Status == "firing":
		return "still above " + factor(a.Factor) + " over both windows"
	}
	return n.Status
}

// clock writes t as a time of day, with its date when that differs from
// the day of ref.
func clock(t, ref time.Time) string {
	t, ref = t.UTC(), ref.UTC()
	if t.YearDay() == ref.YearDay() && t.Year() == ref.Year() {
		return t.Format("15:04Z")
	}
	return t.Format("2006-01-02 15:04Z")
}

// burnRate writes a burn rate as the alert reasons do, to about three
// significant digits (16.7×, 200×, 2.20×, 0×), or – when unknown.
func burnRate(r *float64) string {
	if r == nil || math.IsNaN(*r) {
		return "–"
	}
	v := *r
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64) + "×"
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64) + "×"
	case v == 0:
		return "0×"
	}
	return strconv.FormatFloat(v, 'f', 2, 64) + "×"
}

// factor writes a tier's threshold as the tables do: 14.4×, 6×, 0.933×.
func factor(f float64) string {
	s := strconv.FormatFloat(f, 'f', 3, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "×"
}

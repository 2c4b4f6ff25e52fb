package report

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
)

// Replay is what nines replay found for one SLO: every alert transition
// the evaluator of nines serve makes over the history, and what still
// fires at the end. Its JSON field names are a contract for scripts.
type Replay struct {
	SLO     string    `json:"slo"`
	Service string    `json:"service"`
	Since   time.Time `json:"since"`
	// From and To bound the evaluation times replayed, (From, To].
	From        time.Time    `json:"from"`
	To          time.Time    `json:"to"`
	Quanta      int          `json:"quanta"`
	Transitions []Transition `json:"transitions"`
	// Firing names the alerts still firing at To.
	Firing []string `json:"firing_at_end"`
}

// Transition is an alert firing or resolving, with the numbers that
// decided it: the form nines replay and the alerts API write.
type Transition struct {
	Alert    string `json:"alert"`
	Severity string `json:"severity"`
	// Kind (fire or resolve) and At are absent where the transition
	// stands for an alert still firing.
	Kind      string     `json:"kind,omitempty"`
	At        *time.Time `json:"at,omitempty"`
	Since     time.Time  `json:"since"`
	Factor    Number     `json:"factor"`
	Long      string     `json:"long_window"`
	Short     string     `json:"short_window,omitempty"`
	BurnLong  Number     `json:"burn_rate_long"`
	BurnShort Number     `json:"burn_rate_short"`
	Attempted uint64     `json:"attempted_short_window"`
	// BudgetLeft is the share of the budget left when it fired.
	BudgetLeft Number `json:"budget_remaining_ratio"`
	// Exhaustion is the time the budget lasts at the long window's burn,
	// in seconds; null when unknown.
	Exhaustion  Number     `json:"time_to_exhaustion_seconds"`
	ImpactStart *time.Time `json:"impact_start,omitempty"`
	Replayed    bool       `json:"replayed,omitempty"`
	Reason      string     `json:"reason"`
}

// TransitionOf is the report form of tr.
func TransitionOf(tr alert.Transition) Transition {
	at := tr.At.UTC()
	v := Transition{Alert: tr.Alert, Severity: string(tr.Severity), Kind: tr.Kind.String(), At: &at, Since: tr.Since.UTC(),
		Factor: Number(tr.Factor), Long: slo.FormatDuration(tr.Long), BurnLong: Number(tr.BurnLong), BurnShort: Number(tr.BurnShort),
		Attempted: tr.Attempted, BudgetLeft: Number(tr.BudgetRemaining), Exhaustion: Number(math.NaN()), Replayed: tr.Replayed, Reason: tr.Reason}
	if tr.TimeToExhaustion != alert.NoExhaustion {
		v.Exhaustion = Number(tr.TimeToExhaustion.Seconds())
	}
	if tr.Short > 0 {
		v.Short = slo.FormatDuration(tr.Short)
	}
	if !tr.ImpactStart.IsZero() {
		is := tr.ImpactStart.UTC()
		v.ImpactStart = &is
	}
	return v
}

// WriteReplayText writes replays as a person reads them.
func WriteReplayText(w io.Writer, rs []Replay) error {
	var b strings.Builder
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04Z") }
	at := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return stamp(*t)
	}
	for i, r := range rs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s  (service %s)\n", r.SLO, r.Service)
		fmt.Fprintf(&b, "  replayed %s → %s: %s quanta; life since %s\n", stamp(r.From), stamp(r.To), count(uint64(r.Quanta)), stamp(r.Since))
		if len(r.Transitions) == 0 {
			b.WriteString("  no alert fired\n")
		}
		for _, tr := range r.Transitions {
			line := fmt.Sprintf("  %s  %-7s %-12s %-6s", at(tr.At), tr.Kind, tr.Alert, tr.Severity)
			if tr.Kind == alert.Fire.String() && tr.Short != "" {
				line += fmt.Sprintf("  %s× over %s, %s× over %s (fires above %s×)", rate(float64(tr.BurnLong)), tr.Long,
					rate(float64(tr.BurnShort)), tr.Short, rate(float64(tr.Factor)))
			}
			if tr.ImpactStart != nil {
				line += "; impact from " + stamp(*tr.ImpactStart)
			}
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			fmt.Fprintf(&b, "      %s\n", tr.Reason)
		}
		if len(r.Firing) > 0 {
			fmt.Fprintf(&b, "  firing at the end: %s\n", strings.Join(r.Firing, ", "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

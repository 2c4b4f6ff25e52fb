package alert

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// The reasons are for the person an alert reaches at 3 a.m.: what burns,
// how fast against what threshold, and how long the budget lasts.

// tierFireReason: "burning 16.7× the budget over 1h (14.4× pages), 200×
// over 5m; 98 % of the 30-day budget left, exhausted in 1d 18h at this
// rate".
func tierFireReason(tr *Transition, w slo.WindowSpec) string {
	does := "pages"
	if tr.Severity == Ticket {
		does = "opens a ticket"
	}
	return fmt.Sprintf("burning %s× the budget over %s (%s× %s), %s× over %s%s",
		burnText(tr.BurnLong), slo.FormatDuration(tr.Long), factorText(tr.Factor), does,
		burnText(tr.BurnShort), slo.FormatDuration(tr.Short), budgetClause(tr, w))
}

// tierResolveReason: "0× over 5m, under 14.4× for 5m (333× over 1h);
// fired 29m ago". It names the window that stopped the condition.
func tierResolveReason(ck *Check, held time.Duration, old *Alert, now time.Time) string {
	win, rate, other, otherRate := ck.Short, ck.BurnShort, ck.Long, ck.BurnLong
	if rate > ck.Factor {
		win, rate, other, otherRate = ck.Long, ck.BurnLong, ck.Short, ck.BurnShort
	}
	var b strings.Builder
	if math.IsNaN(rate) {
		fmt.Fprintf(&b, "nothing to count over %s", slo.FormatDuration(win))
	} else {
		fmt.Fprintf(&b, "%s× over %s, under %s×", burnText(rate), slo.FormatDuration(win), factorText(ck.Factor))
	}
	if held > 0 {
		fmt.Fprintf(&b, " for %s", spanText(held))
	}
	fmt.Fprintf(&b, " (%s over %s); %s", burnPhrase(otherRate), slo.FormatDuration(other), firedAgo(old, now))
	return b.String()
}

// noDataFireReason: "nothing measured for 10m: the measuring path may be
// down; 98 % of the 30-day budget left".
func noDataFireReason(tr *Transition, w slo.WindowSpec) string {
	return fmt.Sprintf("nothing measured for %s: the measuring path may be down%s", slo.FormatDuration(tr.Long), budgetClause(tr, w))
}

// noDataResolveReason: "measured again for 5m; fired 36m ago".
func noDataResolveReason(held time.Duration, old *Alert, now time.Time) string {
	if held > 0 {
		return fmt.Sprintf("measured again for %s; %s", spanText(held), firedAgo(old, now))
	}
	return "measured again; " + firedAgo(old, now)
}

func firedAgo(a *Alert, now time.Time) string {
	return "fired " + spanText(now.Sub(a.Since)) + " ago"
}

// budgetClause: "; 98 % of the 30-day budget left, exhausted in 1d 18h at
// this rate", or nothing when the budget is unknown.
func budgetClause(tr *Transition, w slo.WindowSpec) string {
	rem := tr.BudgetRemaining
	switch {
	case math.IsNaN(rem):
		return ""
	case rem <= 0:
		return fmt.Sprintf("; %s is spent (%s left)", budgetName(w), percentText(rem))
	}
	s := fmt.Sprintf("; %s of %s left", percentText(rem), budgetName(w))
	if tr.TimeToExhaustion > 0 {
		s += ", exhausted in " + spanText(tr.TimeToExhaustion) + " at this rate"
	}
	return s
}

// budgetName: "the 30-day budget", "the 36h budget", "this month's
// budget", "today's budget".
func budgetName(w slo.WindowSpec) string {
	const day = 24 * time.Hour
	switch w.Calendar {
	case slo.NotCalendar:
		if w.Rolling%day == 0 {
			return fmt.Sprintf("the %d-day budget", w.Rolling/day)
		}
		return "the " + slo.FormatDuration(w.Rolling) + " budget"
	case slo.Day:
		return "today's budget"
	}
	return "this " + w.Calendar.String() + "'s budget"
}

// burnText writes a burn rate to about three significant digits: 16.7,
// 200, 2.20, 0.
func burnText(r float64) string {
	switch {
	case math.IsNaN(r):
		return "?"
	case r >= 100:
		return strconv.FormatFloat(r, 'f', 0, 64)
	case r >= 10:
		return strconv.FormatFloat(r, 'f', 1, 64)
	case r == 0:
		return "0"
	}
	// Two decimals kept, so that 1.00× reads as "just over 1".
	return strconv.FormatFloat(r, 'f', 2, 64)
}

func burnPhrase(r float64) string {
	if math.IsNaN(r) {
		return "nothing to count"
	}
	return burnText(r) + "×"
}

// factorText writes a factor as tables do: 14.4, 6, 13.44, 0.933.
func factorText(f float64) string {
	return trimZeros(strconv.FormatFloat(f, 'f', 3, 64))
}

// percentText writes a share as a percentage: "98 %", "4.2 %", "-12 %".
func percentText(share float64) string {
	p := share * 100
	if math.Abs(p) < 10 {
		return trimZeros(strconv.FormatFloat(p, 'f', 1, 64)) + " %"
	}
	return strconv.FormatFloat(p, 'f', 0, 64) + " %"
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// spanText writes a duration for people, to its two largest units,
// rounded down: "1d 18h", "5h 12m", "29m", "45s".
func spanText(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d >= day:
		if h := (d % day) / time.Hour; h > 0 {
			return fmt.Sprintf("%dd %dh", d/day, h)
		}
		return fmt.Sprintf("%dd", d/day)
	case d >= time.Hour:
		if m := (d % time.Hour) / time.Minute; m > 0 {
			return fmt.Sprintf("%dh %dm", d/time.Hour, m)
		}
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		if s := (d % time.Minute) / time.Second; s > 0 && d < 10*time.Minute {
			return fmt.Sprintf("%dm %ds", d/time.Minute, s)
		}
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxViolationRuns bounds the violation ranges a text report lists; the
// JSON document always has all of them.
const maxViolationRuns = 8

// WriteText writes the documents as a report for a person at a terminal.
func WriteText(w io.Writer, docs []Document) error {
	tw := &textWriter{w: w}
	for i, d := range docs {
		if i > 0 {
			tw.line("")
		}
		tw.document(&d)
	}
	return tw.err
}

type textWriter struct {
	w   io.Writer
	err error
	// zone is where times are shown: the document's zone (Zone).
	zone *time.Location
}

func (t *textWriter) line(format string, args ...any) {
	if t.err != nil {
		return
	}
	_, t.err = fmt.Fprintf(t.w, format+"\n", args...)
}

func (t *textWriter) document(d *Document) {
	title := d.SLO
	if d.Service != "" {
		title += "  (service " + d.Service + ")"
	}
	t.line("%s", title)
	t.line("  %s method, objective %s %%, %s window, %s quanta, no data counts %s",
		d.Method, pct(float64(d.Objective)), d.Window, d.Quantum, d.NoData)
	if in := d.Input; in != nil {
		t.line("  read %s (%s): %s, %s, %s malformed",
			in.File, in.Format, counted(uint64(in.Lines), "line"), counted(uint64(in.Events), "event"), count(uint64(in.Malformed)))
		for _, l := range in.MalformedLines() {
			t.line("    %s", l)
		}
	}
	t.zone = d.zone
	t.line("  evaluated at %s", t.stamp(d.EvaluatedAt))
	for w := range d.windows() {
		t.window(d, &w)
		if t.err != nil {
			break
		}
	}
	if len(d.BurnRates) > 0 {
		parts := make([]string, 0, len(d.BurnRates))
		for _, b := range d.BurnRates {
			parts = append(parts, b.Span+" "+rate(float64(b.Rate)))
		}
		t.line("")
		t.line("  burn rate   %s  (1 spends the budget exactly over the window)", strings.Join(parts, " · "))
	}
}

func (t *textWriter) window(d *Document, w *Window) {
	state := "MET"
	switch {
	case !w.Met && w.Complete:
		state = "VIOLATED"
	case !w.Met:
		state = "VIOLATED (budget exhausted before the window ends)"
	case !w.Complete:
		state = "on track so far"
	}
	span := t.stamp(w.Start) + " → " + t.stamp(w.End)
	if !w.Complete {
		span += fmt.Sprintf("  (in progress: %s of %s quanta elapsed)", count(uint64(w.Quanta.Elapsed)), count(uint64(w.Quanta.Total)))
	}
	t.line("")
	t.line("  window %s", span)
	before, lived := "", ""
	if n := w.Quanta.BeforeStart; n > 0 {
		before = " · " + count(uint64(n)) + " before the SLO's start"
		// Availability covers the lived part and the budget the whole
		// window, so a young SLO can read 0 % and be met: say why.
		lived = "  (measured since the SLO's start; the budget spans the whole window)"
	}
	t.line("    %-13s %s %% against %s %%  %s%s", "availability", pct(float64(w.Availability)), pct(float64(w.Objective)), state, lived)
	t.line("    %-13s %s total · %s good · %s bad · %s unmeasured%s%s", "quanta",
		count(uint64(w.Quanta.Total)), count(uint64(w.Quanta.Good)), count(uint64(w.Quanta.Bad)),
		count(uint64(w.Quanta.Unmeasured)), skipped(w.Quanta.Skipped), before)
	reasons := ""
	if w.Events.Errors+w.Events.Slow > 0 {
		reasons = fmt.Sprintf(" (%s, %s too slow)", plural(w.Events.Errors, "error", "errors"), count(w.Events.Slow))
	}
	t.line("    %-13s %s total · %s good · %s failed%s", "events",
		count(w.Events.Total), count(w.Events.Good), count(w.Events.Failed), reasons)
	b := w.Budget
	share := ""
	switch {
	case float64(b.Remaining) < 0:
		share = " (exhausted)"
	case float64(b.Total) > 0:
		share = fmt.Sprintf(" (%s %% left)", pct(100*float64(b.Remaining)/float64(b.Total)))
	}
	t.line("    %-13s %s %s · spent %s · remaining %s%s", "error budget",
		num(float64(b.Total)), b.Unit, num(float64(b.Spent)), num(float64(b.Remaining)), share)
	if b.Unit != "minutes" && float64(w.Downtime) > 0 {
		t.line("    %-13s %s", "downtime", minutes(float64(w.Downtime)))
	}
	t.violations(d, w)
	if l := w.Latency; l != nil {
		t.latency(l)
	}
}

func (t *textWriter) violations(d *Document, w *Window) {
	if len(w.Violations) == 0 {
		t.line("    %-13s none", "violations")
		return
	}
	var total time.Duration
	for _, v := range w.Violations {
		total += v.End.Sub(v.Start)
	}
	runs := "runs"
	if len(w.Violations) == 1 {
		runs = "run"
	}
	t.line("    %-13s %s in %d %s", "violations", humanDuration(total), len(w.Violations), runs)
	for i, v := range w.Violations {
		if i == maxViolationRuns {
			t.line("      … and %d more runs (all of them are in --json)", len(w.Violations)-i)
			break
		}
		t.line("      %s → %s  (%s)", t.stamp(v.Start), t.clock(v.Start, v.End), humanDuration(v.End.Sub(v.Start)))
	}
}

func (t *textWriter) latency(l *Latency) {
	if !math.IsNaN(float64(l.ThresholdMS)) {
		op := "<"
		if l.Inclusive {
			op = "<="
		}
		if math.IsNaN(float64(l.InverseQuantile)) {
			t.line("    %-13s threshold %s%s ms, no latencies measured", "latency", op, num(float64(l.ThresholdMS)))
			return
		}
		t.line("    %-13s %s %% of %s measured requests %s%s ms, headroom %s points", "latency",
			pct(100*float64(l.InverseQuantile)), count(l.Measured), op, num(float64(l.ThresholdMS)),
			signed(100*float64(l.Headroom)))
	} else {
		t.line("    %-13s %s measured requests", "latency", count(l.Measured))
	}
	if len(l.QuantilesMS) == 0 {
		return
	}
	names := [...][2]string{{"0.5", "p50"}, {"0.9", "p90"}, {"0.99", "p99"}, {"0.999", "p99.9"}}
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if v, ok := l.QuantilesMS[n[0]]; ok {
			parts = append(parts, n[1]+" "+num(float64(v))+" ms")
		}
	}
	if l.Modes > 1 {
		parts = append(parts, fmt.Sprintf("%d modes", l.Modes))
	}
	t.line("    %-13s %s", "", strings.Join(parts, " · "))
}

func minutes(v float64) string {
	if v == 1 {
		return "1 minute"
	}
	return num(v) + " minutes"
}

func plural(n uint64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return count(n) + " " + many
}

func skipped(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" · %s skipped", count(uint64(n)))
}

// stamp writes an instant to the minute, or to the second when it has
// seconds: in UTC with a Z, or in the calendar window's zone with its
// abbreviation (CET, CEST), so that a local day reads from midnight.
func (t *textWriter) stamp(at time.Time) string {
	return t.in(at).Format("2006-01-02 " + t.timeLayout(at))
}

// clock writes the end of a range as a time of day when it falls on the
// same day as the start.
func (t *textWriter) clock(start, end time.Time) string {
	s, e := t.in(start), t.in(end)
	if s.YearDay() == e.YearDay() && s.Year() == e.Year() {
		return e.Format(t.timeLayout(end))
	}
	return t.stamp(end)
}

func (t *textWriter) in(at time.Time) time.Time {
	if t.zone == nil {
		return at.UTC()
	}
	return at.In(t.zone)
}

// utc says whether times are written in UTC, with a Z, rather than with
// a zone's abbreviation.
func (t *textWriter) utc() bool { return t.zone == nil || t.zone == time.UTC }

func (t *textWriter) timeLayout(at time.Time) string {
	layout := "15:04"
	if at.Second() != 0 || at.Nanosecond() != 0 {
		layout = "15:04:05"
	}
	if t.utc() {
		return layout + "Z"
	}
	return layout + " MST"
}

func humanDuration(d time.Duration) string {
	switch {
	case d%time.Minute != 0:
		return d.String()
	case d < time.Hour:
		m := int(d / time.Minute)
		if m == 1 {
			return "1 minute"
		}
		return strconv.Itoa(m) + " minutes"
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.String(), "0s"), "0m")
}

// pct writes a percentage with three decimals, enough to tell 99.930 from
// 99.861. It cuts rather than rounds, so that 99.8996 % never shows as a
// compliant-looking 99.900 %; cutting the six-decimal form keeps 99.9
// from showing as 99.899 through binary rounding.
func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	s := strconv.FormatFloat(v, 'f', 6, 64)
	return s[:len(s)-3]
}

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return count64(int64(v))
	case math.Abs(v) >= 1000:
		return count64(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

func signed(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	if v >= 0 {
		s = "+" + s
	}
	return s
}

func rate(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// count writes an integer with thousands separators.
func count(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// counted writes a count with its noun, singular for one: "1 line",
// "2,880 lines".
func counted(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return count(n) + " " + noun + "s"
}

func count64(n int64) string {
	if n < 0 {
		return "-" + count(uint64(-n))
	}
	return count(uint64(n))
}

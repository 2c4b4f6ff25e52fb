package slo

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/hist"
)

// Event is one observation of the service as ingestion hands it over: a
// request, a probe, or a pre-counted batch of identical requests.
type Event struct {
	// Time is the event's instant in Unix nanoseconds.
	Time int64
	// Status is the HTTP (or gRPC-mapped) status, or NoStatus.
	Status int
	// OK is an explicit success flag from the source, which wins over
	// Status when both are present.
	OK Flag
	// Latency is the duration in seconds, or NaN when it was not measured.
	Latency float64
	// Count is how many identical events this one stands for. Zero is an
	// explicit report of no traffic: the quantum was measured and was empty.
	Count uint64
}

// NoStatus marks an event that carries no status code.
const NoStatus = -1

// Flag is a yes/no that can also be absent.
type Flag uint8

// The states of a Flag.
const (
	FlagUnset Flag = iota
	FlagFalse
	FlagTrue
)

// Outcome is what an SLI makes of one event.
type Outcome uint8

// Outcomes, ordered so that an error wins over slowness: a request that
// failed and was also slow is counted once, as an error.
const (
	Good Outcome = iota
	FailedError
	FailedSlow
)

// SLI says which events are good. A request slower than the latency
// threshold counts as failed exactly like an error ("slow is the new down").
type SLI struct {
	// Status decides success from the status code when an event has no
	// explicit OK flag. The zero StatusRule accepts every status.
	Status StatusRule
	// Latency is the optional threshold; nil means latency does not count.
	Latency *LatencyRule
	// Source says which metric series measure the SLI when nines serve
	// receives Prometheus remote write or OTLP; nil for SLIs fed by events.
	Source *MetricSource
	// Edge, when set, feeds the SLI with the calls traced along one edge
	// of the observed call graph (package callgraph), each judged by its
	// ok flag; Source is then nil.
	Edge *EdgeSource
	// Log says how the access log that feeds the SLI is read (nines eval,
	// nines ship); nil leaves it to the command line or to detection.
	Log *LogSource
	// Probe, when set, feeds the SLI with the consensus of a synthetic
	// probe run from several locations (package probe): a quantum is bad
	// when enough locations failed within the probe's window. Source,
	// Edge and Log are then nil.
	Probe *ProbeSource
}

// ProbeSource names the probe whose consensus across locations feeds an
// SLI: one of the probes file, or one the spec defines in place (Inline),
// which nines serve reads from the spec's own text.
type ProbeSource struct {
	Name   string
	Inline bool
}

// LogSource names the format of an SLI's access log as a spec writes it:
// a preset name or an nginx/Apache format string in Format, the fields of
// a JSON or LTSV log by role (time, status, latency, ok, count) as
// NAME[:UNIT], and the zone of times written without a UTC offset.
// Package ingest gives these strings their meaning.
type LogSource struct {
	Format   string
	Fields   map[string]string
	Timezone string
}

// MetricSource names the series an SLI is read from, as Prometheus
// selectors: either counters (Total with Good or Bad) or a latency
// histogram, whose failed requests are named by Errors (label matchers
// such as {code=~"5.."}) or by StatusLabel judged with the SLI's status
// rule. Package ingest/metrics gives these strings their meaning.
type MetricSource struct {
	Good, Bad, Total string
	Histogram        string
	Errors           string
	StatusLabel      string
	// Unit is the unit of the histogram's values: s (default), ms, us, ns.
	Unit string
	// Prometheus, when set, makes nines serve read the series itself from
	// a Prometheus-compatible query API (package pull) instead of
	// receiving them by remote write or OTLP.
	Prometheus *PromAPI
}

// EdgeSource names an edge of the observed call graph: calls from
// service From to service To, as traces show them.
type EdgeSource struct {
	From, To string
}

// PromAPI is a Prometheus-compatible HTTP query API (Prometheus, Thanos,
// Mimir, VictoriaMetrics) and how to authenticate to it. Secrets are named
// by file, so a spec can be shown without them.
type PromAPI struct {
	// URL is the API's base, without /api/v1: http://prometheus:9090, or
	// https://mimir.example/prometheus.
	URL string
	// Headers are sent with every query, such as X-Scope-OrgID (the tenant
	// of Mimir, Cortex and Thanos receive).
	Headers map[string]string
	// BearerTokenFile holds a token sent as "Authorization: Bearer TOKEN".
	BearerTokenFile string
	// BasicAuthUser and BasicAuthPasswordFile are HTTP basic credentials.
	BasicAuthUser, BasicAuthPasswordFile string
}

// Classify returns the outcome of e. An event that carries neither an OK
// flag nor a status counts as good only when the SLI has no status rule.
func (s *SLI) Classify(e *Event) Outcome {
	switch e.OK {
	case FlagFalse:
		return FailedError
	case FlagUnset:
		if !s.Status.Good(e.Status) {
			return FailedError
		}
	}
	if s.Latency != nil && s.Latency.Slow(e.Latency) {
		return FailedSlow
	}
	return Good
}

// LatencyRule is a latency threshold in seconds. Inclusive means a request
// taking exactly Threshold is good ("<=5ms"); otherwise it must be faster
// ("<5ms").
type LatencyRule struct {
	Threshold float64
	Inclusive bool
}

// Slow reports whether a latency of v seconds breaks the rule. An
// unmeasured latency (NaN) is not slow: it cannot be held against the
// service, and the report counts such events separately.
func (l *LatencyRule) Slow(v float64) bool {
	if v != v {
		return false
	}
	if l.Inclusive {
		return v > l.Threshold
	}
	return v >= l.Threshold
}

// String writes the rule as a spec would ("<=5ms").
func (l *LatencyRule) String() string {
	op := "<"
	if l.Inclusive {
		op = "<="
	}
	return op + FormatSeconds(l.Threshold)
}

// ParseLatencyRule reads "<=5ms", "<250ms", "<= 1.5s". The number is read
// as a decimal and scaled to seconds by moving the decimal point, so
// "5ms" becomes exactly the float64 nearest to 0.005 and a sample of
// 5 ms compares equal to it.
func ParseLatencyRule(s string) (LatencyRule, error) {
	t := strings.TrimSpace(s)
	var r LatencyRule
	switch {
	case strings.HasPrefix(t, "<="):
		r.Inclusive, t = true, t[2:]
	case strings.HasPrefix(t, "<"):
		t = t[1:]
	default:
		return r, fmt.Errorf("latency rule %q: want \"<=DURATION\" or \"<DURATION\", e.g. \"<=5ms\"", s)
	}
	d, err := ParseSeconds(strings.TrimSpace(t))
	if err != nil {
		return r, fmt.Errorf("latency rule %q: %w", s, err)
	}
	if d <= 0 {
		return r, fmt.Errorf("latency rule %q: threshold must be above zero", s)
	}
	r.Threshold = d
	return r, nil
}

// durationUnits maps a unit suffix to the power of ten that turns it into
// seconds. Units longer than a second are not latencies worth a threshold
// in an SLI, but "m" and "h" are accepted for completeness.
var durationUnits = []struct {
	suffix string
	exp    int
	factor float64
}{
	{"ns", -9, 0}, {"us", -6, 0}, {"µs", -6, 0}, {"ms", -3, 0},
	{"s", 0, 0}, {"m", 0, 60}, {"h", 0, 3600},
}

// ParseSeconds reads one decimal number with a unit ("5ms", "0.25s",
// "1.5 s", "100us") into seconds. Scaling happens on the decimal text, so
// any number with few significant digits converts to the nearest float64
// exactly; this is what keeps counts at thresholds such as 5 ms exact.
func ParseSeconds(s string) (float64, error) {
	t := strings.TrimSpace(s)
	for _, u := range durationUnits {
		num, ok := strings.CutSuffix(t, u.suffix)
		if !ok {
			continue
		}
		num = strings.TrimSpace(num)
		if num == "" || strings.ContainsAny(num, "eE+-_xXpP") {
			return 0, fmt.Errorf("duration %q: want a plain decimal number before %q", s, u.suffix)
		}
		if u.factor != 0 {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, errors.Unwrap(err))
			}
			return v * u.factor, nil
		}
		v, err := strconv.ParseFloat(num+"e"+strconv.Itoa(u.exp), 64)
		if err != nil || math.IsInf(v, 0) {
			return 0, fmt.Errorf("duration %q: not a number", s)
		}
		return v, nil
	}
	return 0, fmt.Errorf("duration %q: want a number with a unit (ns, us, ms, s)", s)
}

// FormatSeconds writes a duration in seconds with the largest unit that
// keeps it readable: 0.005 → "5ms", 0.25 → "250ms", 1.5 → "1.5s".
func FormatSeconds(v float64) string {
	switch {
	case v == 0:
		return "0s"
	case v < 1e-6:
		return formatScaled(v, 9, "ns")
	case v < 1e-3:
		return formatScaled(v, 6, "us")
	case v < 1:
		return formatScaled(v, 3, "ms")
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + "s"
}

func formatScaled(v float64, exp int, unit string) string {
	return strconv.FormatFloat(ShiftDecimal(v, exp), 'f', -1, 64) + unit
}

// ShiftDecimal returns v × 10^exp computed on v's shortest decimal form
// rather than by multiplying floats, so 0.005 s shifted by 3 is exactly
// 5 ms and not 5.000000000000001. NaN and infinities pass through.
func ShiftDecimal(v float64, exp int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	mant, e, _ := strings.Cut(strconv.FormatFloat(v, 'e', -1, 64), "e")
	n, err := strconv.Atoi(e)
	if err != nil {
		return v * math.Pow10(exp)
	}
	f, err := strconv.ParseFloat(mant+"e"+strconv.Itoa(n+exp), 64)
	if err != nil && !math.IsInf(f, 0) {
		return v * math.Pow10(exp)
	}
	return f
}

// maxStatus is the largest status code a StatusRule can name.
const maxStatus = 999

// StatusRule decides which status codes are successes. It is written as a
// comma-separated list of terms, any of which may match: "<500",
// "2xx,3xx", "200-399", ">=200", "404". Codes outside 0–999 never match.
type StatusRule struct {
	text string
	set  bool
	good [1000]bool
}

// ParseStatusRule reads a status rule; see StatusRule for the syntax.
func ParseStatusRule(s string) (StatusRule, error) {
	r := StatusRule{text: strings.TrimSpace(s), set: true}
	if r.text == "" {
		return r, errors.New("empty status rule")
	}
	for _, term := range strings.Split(r.text, ",") {
		lo, hi, err := parseStatusTerm(strings.TrimSpace(term))
		if err != nil {
			return r, fmt.Errorf("status rule %q: %w", s, err)
		}
		for c := lo; c <= hi; c++ {
			r.good[c] = true
		}
	}
	return r, nil
}

// parseStatusTerm returns the inclusive range of codes a term matches.
func parseStatusTerm(t string) (lo, hi int, err error) {
	const maxCode = maxStatus
	num := func(s string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 || n > maxCode {
			return 0, fmt.Errorf("term %q: %q is not a status code (0-999)", t, s)
		}
		return n, nil
	}
	switch {
	case t == "":
		return 0, 0, errors.New("empty term")
	case strings.HasPrefix(t, "<="):
		n, err := num(t[2:])
		return 0, n, err
	case strings.HasPrefix(t, ">="):
		n, err := num(t[2:])
		return n, maxCode, err
	case strings.HasPrefix(t, "<"):
		n, err := num(t[1:])
		if err == nil && n == 0 {
			err = fmt.Errorf("term %q matches nothing", t)
		}
		return 0, n - 1, err
	case strings.HasPrefix(t, ">"):
		n, err := num(t[1:])
		if err == nil && n == maxCode {
			err = fmt.Errorf("term %q matches nothing", t)
		}
		return n + 1, maxCode, err
	case len(t) == 3 && (t[1:] == "xx" || t[1:] == "XX") && t[0] >= '1' && t[0] <= '9':
		c := int(t[0]-'0') * 100
		return c, c + 99, nil
	case strings.Contains(t, "-"):
		a, b, _ := strings.Cut(t, "-")
		lo, err := num(a)
		if err != nil {
			return 0, 0, err
		}
		hi, err := num(b)
		if err == nil && hi < lo {
			err = fmt.Errorf("term %q: range runs backwards", t)
		}
		return lo, hi, err
	}
	n, err := num(t)
	if err != nil {
		return 0, 0, fmt.Errorf("term %q: want <N, <=N, >N, >=N, N, Nxx or A-B", t)
	}
	return n, n, nil
}

// Good reports whether status is a success. The zero rule accepts all.
func (r *StatusRule) Good(status int) bool {
	if !r.set {
		return true
	}
	return status >= 0 && status < len(r.good) && r.good[status]
}

// String returns the rule as written.
func (r *StatusRule) String() string { return r.text }

// IsZero reports whether the rule was never set.
func (r *StatusRule) IsZero() bool { return !r.set }

// Errors of Rejudge, wrapped with the quantum they concern.
var (
	// ErrNoStatuses: the rollup kept no per-status counts, or they do not
	// add up to its Attempted (a source that keeps none was merged in).
	ErrNoStatuses = errors.New("the rollup does not keep counts per status for all its events")
	// ErrLatencyCompacted: the SLI has a latency threshold and the
	// per-status latency histograms were compacted away.
	ErrLatencyCompacted = errors.New("the per-status latency histograms were compacted")
	// ErrThresholdChanged: RejudgeStatus was asked to keep the stored
	// latency verdicts of an SLI whose threshold is not the one that made
	// them.
	ErrThresholdChanged = errors.New("the latency threshold changed")
)

// Rejudged says how exact a Rejudge was.
type Rejudged struct {
	// Ambiguous counts the timed events that lay in the latency
	// threshold's own histogram bin, where the bin cannot tell at or under
	// the threshold from over it. They were counted as the histogram's
	// CountAtOrBelow (for "<=T") or CountBelow (for "<T") count them: at
	// or under a "<=T" threshold, over a "<T" one. For "<T" at a bin edge
	// (any two-significant-digit value such as 5ms or 250ms) that is
	// exact and none are reported. For "<=T" it is exact when the
	// latencies were recorded at the bin's resolution or coarser: bins
	// are a tenth of their decade wide, 0.1 ms from 1 ms, 1 ms from 10 ms,
	// 10 ms from 100 ms, so whole milliseconds are exact under 100 ms,
	// and 251 ms falls in the bin of a 250 ms threshold. Otherwise each
	// such event may belong on the other side.
	Ambiguous uint64
}

// Rejudge recomputes r's verdicts under s from r.Statuses alone: Good,
// Errors, Slow and OverThreshold, and every status's Over. It judges
// exactly as Aggregator.Add would have judged the same events under s: an
// explicit ok flag wins over the status, an error wins over slowness, and
// an event without a latency is never slow. Latencies are judged from the
// per-status histograms; see Rejudged for the one bin they cannot split.
//
// It fails, leaving r unchanged, with ErrNoStatuses when the statuses do
// not account for every event, and with ErrLatencyCompacted when s has a
// latency threshold and a status's histogram is gone (its Timed exceeds
// its Latency.Count()).
//
// Use it when the latency threshold changed. When it did not, the stored
// Over are exact where the histograms may not be (Rejudged.Ambiguous):
// RejudgeStatus keeps them, and works on compacted rollups too.
func (s *SLI) Rejudge(r *Rollup) (Rejudged, error) {
	var rj Rejudged
	if err := checkStatuses(r); err != nil {
		return rj, err
	}
	if s.Latency != nil {
		for i := range r.Statuses {
			if st := &r.Statuses[i]; st.Latency.Count() != st.Timed {
				return rj, fmt.Errorf("quantum %s, status %s: %d timed events, %d latencies kept: %w",
					quantumTime(r.Start), StatusName(st.Code), st.Timed, st.Latency.Count(), ErrLatencyCompacted)
			}
		}
	}
	for i := range r.Statuses {
		st := &r.Statuses[i]
		st.Over = 0
		if s.Latency != nil {
			var amb uint64
			st.Over, amb = s.Latency.over(&st.Latency)
			rj.Ambiguous += amb
		}
	}
	s.countVerdicts(r)
	return rj, nil
}

// RejudgeStatus recomputes r's verdicts under s's status rule, keeping
// the latency verdicts stored in each status's Over. It needs no
// histograms, so it re-judges compacted rollups too, but it is only right
// when s's latency threshold is the one that judged r; the caller knows
// whether it changed. A rollup with latency verdicts under an SLI without
// a threshold is refused with ErrThresholdChanged (use Rejudge). Errors
// are otherwise those of Rejudge.
func (s *SLI) RejudgeStatus(r *Rollup) error {
	if err := checkStatuses(r); err != nil {
		return err
	}
	if s.Latency == nil {
		for i := range r.Statuses {
			if st := &r.Statuses[i]; st.Over > 0 {
				return fmt.Errorf("quantum %s, status %s: %d events judged over a threshold the SLI no longer has: %w",
					quantumTime(r.Start), StatusName(st.Code), st.Over, ErrThresholdChanged)
			}
		}
	}
	s.countVerdicts(r)
	return nil
}

// checkStatuses refuses statuses that do not account for all of r, or
// that hold impossible counts.
func checkStatuses(r *Rollup) error {
	if err := r.CheckStatuses(); err != nil {
		return fmt.Errorf("%w: %w", ErrNoStatuses, err)
	}
	var n uint64
	for i := range r.Statuses {
		n += r.Statuses[i].Count // CheckStatuses: no overflow
	}
	if n != r.Attempted {
		return fmt.Errorf("quantum %s: statuses count %d of %d events: %w", quantumTime(r.Start), n, r.Attempted, ErrNoStatuses)
	}
	return nil
}

// countVerdicts sets r's verdicts from its statuses and their Over.
func (s *SLI) countVerdicts(r *Rollup) {
	var good, errs, slow, over uint64
	for i := range r.Statuses {
		st := &r.Statuses[i]
		over += st.Over
		if !s.statusGood(st.Code) {
			errs += st.Count
			continue
		}
		slow += st.Over
		good += st.Count - st.Over
	}
	r.Good, r.Errors, r.Slow, r.OverThreshold = good, errs, slow, over
}

// statusGood is Classify's status step for the events of one status key.
func (s *SLI) statusGood(code int) bool {
	switch code {
	case StatusOKTrue:
		return true
	case StatusOKFalse:
		return false
	}
	return s.Status.Good(code)
}

// over returns how many latencies of h break the rule, and how many lay in
// the threshold's own bin, which the histogram cannot split.
func (l *LatencyRule) over(h *hist.Histogram) (over, ambiguous uint64) {
	below, atOrBelow := h.CountBelow(l.Threshold), h.CountAtOrBelow(l.Threshold)
	if l.Inclusive {
		over = h.Count() - atOrBelow
	} else {
		over = h.Count() - below
	}
	if atOrBelow > below && !(l.isBinEdge() && !l.Inclusive) {
		ambiguous = atOrBelow - below
	}
	return over, ambiguous
}

// isBinEdge reports whether the threshold is the lower edge of its
// histogram bin, so that CountBelow counts exactly the latencies under it.
func (l *LatencyRule) isBinEdge() bool {
	lo, _, ok := hist.BinBounds(l.Threshold)
	return ok && lo == l.Threshold
}

// StatusName writes a status key as people read it: "503", "no status",
// "ok=true", "ok=false".
func StatusName(code int) string {
	switch code {
	case NoStatus:
		return "no status"
	case StatusOKTrue:
		return "ok=true"
	case StatusOKFalse:
		return "ok=false"
	}
	return strconv.Itoa(code)
}

func quantumTime(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }

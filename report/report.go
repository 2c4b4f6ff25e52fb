// Package report turns SLO evaluations into what people and scripts read:
// a text report for a terminal and a JSON document whose field names are a
// contract (see docs/eval.md).
package report

import (
	"io"
	"iter"
	"math"
	"strconv"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Number is a float64 that encodes NaN and ±Inf as JSON null, since a
// report of an empty window has no availability rather than a broken
// document.
type Number float64

// MarshalJSON writes the shortest decimal that reads back as the same
// float64, or null.
func (n Number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'f', -1, 64), nil
}

// Document is the JSON report of one SLO.
type Document struct {
	SLO         string    `json:"slo"`
	Service     string    `json:"service,omitempty"`
	Method      string    `json:"method"`
	Objective   Number    `json:"objective"`
	Window      string    `json:"window"`
	Quantum     string    `json:"quantum"`
	NoData      string    `json:"no_data"`
	EvaluatedAt time.Time `json:"evaluated_at"`
	Input       *Input    `json:"input,omitempty"`
	Windows     []Window  `json:"windows"`
	// Stream, when set, yields the windows in place of Windows, one at a
	// time as the writers reach them, so that a report of thousands of
	// windows is never held whole: nines eval evaluates them while the
	// report is written.
	Stream iter.Seq[Window] `json:"-"`
	// BurnRates are measured over spans ending at EvaluatedAt.
	BurnRates []Burn `json:"burn_rates"`
	// Since is the start of the SLO's life, when known.
	Since *time.Time `json:"since,omitempty"`
	// Settlement says, for a server's live answer, how final the quanta
	// behind it are.
	Settlement *Settlement `json:"settlement,omitempty"`
	// Stale, for a server's live answer, says that the numbers are those
	// the replica last knew: its database has not answered since then,
	// so writes other replicas took meanwhile are missing.
	Stale *Stale `json:"stale,omitempty"`
	// zone is where a calendar window is cut (Zone); every time of the
	// document is in it, so a Berlin day reads 00:00 to 00:00 in the text
	// report and 2026-12-01T00:00:00+01:00 in JSON.
	zone *time.Location
}

// Zone is where the times of an SLO are shown: the zone its calendar
// window is cut in, so that a Berlin month starts at local midnight on
// the 1st and its days are Berlin days. Rolling windows have no days of
// their own and are shown in UTC, as are calendar windows in UTC.
func Zone(s *slo.SLO) *time.Location {
	if s.Window.Calendar != slo.NotCalendar && s.Window.Location != nil {
		return s.Window.Location
	}
	return time.UTC
}

// Settlement splits time by how final its verdicts are: quanta before
// FinalBefore can change only by a backfill; those before JudgedBefore
// are judged but late data may still change them; the rest are pending
// (open, or closed less than SettleDelay ago) and counted nowhere.
type Settlement struct {
	FinalBefore  time.Time `json:"final_before"`
	JudgedBefore time.Time `json:"judged_before"`
	SettleDelay  string    `json:"settle_delay"`
	MaxLag       string    `json:"max_lag"`
}

// Stale is a live answer given while the store could not be reached.
type Stale struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
}

// Input describes what was read.
type Input struct {
	File      string `json:"file"`
	Format    string `json:"format"`
	Lines     int64  `json:"lines"`
	Events    int64  `json:"events"`
	Malformed int64  `json:"malformed"`
	// Reasons counts the malformed lines by reason, most frequent first;
	// Errors are the first of them with their line numbers.
	Reasons []Reason `json:"malformed_by_reason,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	// First and Last are the earliest and latest event times in the input.
	First *time.Time `json:"first,omitempty"`
	Last  *time.Time `json:"last,omitempty"`
}

// Reason is how many lines were malformed for one reason.
type Reason struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// maxReasons bounds the reasons a text report lists.
const maxReasons = 10

// MalformedLines says what was wrong with the input's malformed lines, a
// line of text each: the count per reason, then the first lines with
// their numbers. Nil when none was malformed.
func (in *Input) MalformedLines() []string {
	if in.Malformed == 0 {
		return nil
	}
	var out []string
	for k, r := range in.Reasons {
		if k == maxReasons {
			out = append(out, "… and "+counted(uint64(len(in.Reasons)-k), "more reason"))
			break
		}
		out = append(out, count(uint64(r.Count))+" × "+r.Reason)
	}
	out = append(out, in.Errors...)
	if shown := int64(len(in.Errors)); in.Malformed > shown {
		out = append(out, "… and "+counted(uint64(in.Malformed-shown), "more malformed line"))
	}
	return out
}

// Window is the result of one assurance window.
type Window struct {
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Complete     bool      `json:"complete"`
	Quanta       Quanta    `json:"quanta"`
	Events       Events    `json:"events"`
	Availability Number    `json:"availability"`
	Objective    Number    `json:"objective"`
	Met          bool      `json:"met"`
	Budget       Budget    `json:"budget"`
	Downtime     Number    `json:"downtime_minutes"`
	Violations   []Span    `json:"violations"`
	Latency      *Latency  `json:"latency,omitempty"`
}

// Quanta counts the window's quanta.
type Quanta struct {
	Total      int `json:"total"`
	Elapsed    int `json:"elapsed"`
	Good       int `json:"good"`
	Bad        int `json:"bad"`
	Unmeasured int `json:"unmeasured"`
	Skipped    int `json:"skipped"`
	// BeforeStart counts the quanta before the SLO's life began.
	BeforeStart int `json:"before_start"`
}

// Events counts the window's events.
type Events struct {
	Total  uint64 `json:"total"`
	Good   uint64 `json:"good"`
	Failed uint64 `json:"failed"`
	Errors uint64 `json:"errors"`
	Slow   uint64 `json:"slow"`
}

// Budget is the window's error budget in Unit.
type Budget struct {
	Unit      string `json:"unit"`
	Total     Number `json:"total"`
	Spent     Number `json:"spent"`
	Remaining Number `json:"remaining"`
}

// Span is a half-open range of time.
type Span struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Latency is the latency summary. ThresholdMS, InverseQuantile and
// Headroom are null when the SLI has no latency rule.
type Latency struct {
	ThresholdMS     Number            `json:"threshold_ms"`
	Inclusive       bool              `json:"threshold_inclusive"`
	Measured        uint64            `json:"measured"`
	InverseQuantile Number            `json:"inverse_quantile"`
	Headroom        Number            `json:"headroom"`
	QuantilesMS     map[string]Number `json:"quantiles_ms"`
	// Modes is the number of modes of the latency distribution: two often
	// means cache hits and misses, or a fast path and a retry.
	Modes int `json:"modes"`
}

// Burn is the burn rate over the span ending at the evaluation time.
type Burn struct {
	Span string `json:"span"`
	Rate Number `json:"rate"`
}

// BurnSpans are the spans the multi-window burn-rate alerts look at.
var BurnSpans = []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// Build assembles the document of one SLO from its evaluated windows.
func Build(s *slo.SLO, at time.Time, results []*slo.Result, burns []Burn, in *Input) Document {
	d := Document{
		SLO:       s.Name,
		Service:   s.Service,
		Method:    s.Method.String(),
		Objective: Number(s.Objective.Percent()),
		Window:    s.Window.String(),
		Quantum:   slo.FormatDuration(s.Quantum),
		NoData:    s.NoData.String(),
		Windows:   make([]Window, 0, len(results)),
		BurnRates: burns,
		zone:      Zone(s),
	}
	d.EvaluatedAt = at.In(d.zone)
	if in != nil {
		// A copy: the caller's Input may serve other documents, in other
		// zones.
		c := *in
		c.First, c.Last = inZone(in.First, d.zone), inZone(in.Last, d.zone)
		d.Input = &c
	}
	for _, r := range results {
		d.Windows = append(d.Windows, window(s, r, d.zone))
	}
	return d
}

func inZone(t *time.Time, zone *time.Location) *time.Time {
	if t == nil {
		return nil
	}
	z := t.In(zone)
	return &z
}

// NewWindow is the report of one evaluated window of s, in s's zone, as
// Build makes it: for a Document's Stream.
func NewWindow(s *slo.SLO, r *slo.Result) Window { return window(s, r, Zone(s)) }

// windows yields d's windows, from Stream when it is set.
func (d *Document) windows() iter.Seq[Window] {
	if d.Stream != nil {
		return d.Stream
	}
	ws := d.Windows
	return func(yield func(Window) bool) {
		for i := range ws {
			if !yield(ws[i]) {
				return
			}
		}
	}
}

func window(s *slo.SLO, r *slo.Result, zone *time.Location) Window {
	w := Window{
		Start:    r.Window.Start.In(zone),
		End:      r.Window.End.In(zone),
		Complete: r.Complete,
		Quanta: Quanta{
			Total: r.Quanta.Total, Elapsed: r.Quanta.Elapsed, Good: r.Quanta.Good,
			Bad: r.Quanta.Bad, Unmeasured: r.Quanta.Unmeasured, Skipped: r.Quanta.Skipped, BeforeStart: r.Quanta.BeforeStart,
		},
		Events: Events{
			Total: r.Events.Total, Good: r.Events.Good, Failed: r.Events.Failed,
			Errors: r.Events.Errors, Slow: r.Events.Slow,
		},
		Availability: Number(r.Availability * 100),
		Objective:    Number(s.Objective.Percent()),
		Met:          r.Met,
		Budget: Budget{
			Unit: r.Budget.Unit, Total: Number(r.Budget.Total),
			Spent: Number(r.Budget.Spent), Remaining: Number(r.Budget.Remaining),
		},
		Downtime:   Number(r.Downtime.Minutes()),
		Violations: make([]Span, 0, len(r.Violations)),
	}
	for _, v := range r.Violations {
		w.Violations = append(w.Violations, Span{Start: v.Start.In(zone), End: v.End.In(zone)})
	}
	l := &r.Latency
	if l.Rule != nil || l.Measured > 0 {
		lat := &Latency{
			ThresholdMS:     Number(math.NaN()),
			Measured:        l.Measured,
			InverseQuantile: Number(l.InverseQuantile),
			Headroom:        Number(l.Headroom),
			QuantilesMS:     make(map[string]Number, len(l.Quantiles)),
			Modes:           l.Histogram.Modes(),
		}
		if l.Rule != nil {
			lat.ThresholdMS = Number(secondsToMS(l.Rule.Threshold))
			lat.Inclusive = l.Rule.Inclusive
		}
		for _, q := range l.Quantiles {
			lat.QuantilesMS[strconv.FormatFloat(q.Q, 'f', -1, 64)] = Number(secondsToMS(q.Seconds))
		}
		w.Latency = lat
	}
	return w
}

// secondsToMS converts on the decimal form: 0.005 s reports as 5 ms.
func secondsToMS(v float64) float64 { return slo.ShiftDecimal(v, 3) }

// WriteJSON writes one document as indented JSON, or several as
// {"slos": [...]}.
func WriteJSON(w io.Writer, docs []Document) error {
	in := newIndenter(w)
	switch len(docs) {
	case 0:
		in.value(struct {
			SLOs []Document `json:"slos"`
		}{docs})
	case 1:
		in.document(docs[0])
	default:
		in.write([]byte(`{"slos":[`))
		for i := range docs {
			if i > 0 {
				in.write([]byte{','})
			}
			in.document(docs[i])
		}
		in.write([]byte(`]}`))
	}
	in.dst = append(in.dst, '\n')
	in.flush()
	return in.err
}

// Package rules writes Prometheus recording and alerting rules for SLOs
// whose SLI names its series (sli.source), for teams that alert in their
// own Prometheus. The rules compute nines' own burn rate for the SLO's
// method and fire, hold and resolve at the same evaluations as nines
// serve: the same tiers and factors, the low-traffic guard of page tiers,
// the resolve hold (keep_firing_for) and the no-data alert, with the
// labels of nines' own notifications.
//
// They work as nines does, one quantum at a time. Each evaluation of an
// SLO's group (its interval is the SLO's quantum) records what the quantum
// that just ended held, read from the raw series the way nines' metrics
// collector reads them:
//
//	nines:slo_quantum_requests   attempted events
//	nines:slo_quantum_errors     failed events (errors and slow requests)
//	nines:slo_quantum_measured   1 when a sample arrived, else 0
//	nines:slo_start              when the SLO's life began (Unix seconds)
//	nines:slo_quantum_spent      the budget the quantum spent, in quanta
//	                             (downtime-minutes: in 10⁻¹² quanta)
//	nines:slo_quantum_skipped    1 for a quantum noData: skip leaves out
//
// A burn rate is then the budget spent over a span divided by what the
// whole span may spend: a sum over the span's quanta divided by its number
// of quanta (never an average over the quanta recorded, so time before the
// SLO's life, or before the rules were loaded, spent nothing), or for the
// transactions method failed events over attempted events.
package rules

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/slo"
)

// Histograms says how latency histograms are stored in the Prometheus
// the rules run in.
type Histograms uint8

// Classic histograms have _bucket series with an le label; native ones are
// read with histogram_fraction.
const (
	Classic Histograms = iota
	Native
)

// What the rules record, and the names of their alerts. The alert's own
// name is in the alert label, as in nines' notifications; alertname is
// Prometheus' and only says which kind of rule fired.
const (
	RecordRequests   = "nines:slo_quantum_requests"
	RecordErrors     = "nines:slo_quantum_errors"
	RecordMeasured   = "nines:slo_quantum_measured"
	RecordStart      = "nines:slo_start"
	RecordSpent      = "nines:slo_quantum_spent"
	RecordSkipped    = "nines:slo_quantum_skipped"
	RecordBurnPrefix = "nines:slo_burn_rate:"
	AlertBurnRate    = "SLOBurnRate"
	AlertNoData      = "SLONoData"
)

type ruleFile struct {
	Groups []group `yaml:"groups"`
}

type group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	KeepFiringFor string            `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}

// Generate returns a rule file with one group per SLO. An SLO the rules
// cannot follow exactly (no metric source, a source shape or threshold
// Prometheus reads differently) is refused with the reason and what to do
// instead; nothing is left out silently, and nothing is generated that
// would compute another number than nines.
func Generate(slos []*slo.SLO, h Histograms) ([]byte, error) {
	var f ruleFile
	var errs []error
	for _, s := range slos {
		g, err := sloGroup(s, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", s.Name, err))
			continue
		}
		f.Groups = append(f.Groups, g)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(f.Groups) == 0 {
		return nil, errors.New("no SLO to write rules for")
	}
	return yaml.Marshal(&f)
}

// builder writes the rules of one SLO.
type builder struct {
	s *slo.SLO
	p alert.Policy
	q time.Duration
	// sel selects the SLO's recorded series: {slo="name"}.
	sel   string
	rules []rule
}

func (b *builder) ref(record string) string { return record + b.sel }

func (b *builder) record(name, expr string) {
	b.rules = append(b.rules, rule{Record: name, Expr: expr, Labels: map[string]string{"slo": b.s.Name}})
}

// quanta is the number of quanta a span covers: nines counts every
// quantum a span touches.
func (b *builder) quanta(span time.Duration) int64 {
	return int64((span + b.q - 1) / b.q)
}

// rng is a range selector over the last n evaluations of the group. It is
// half a quantum short of n quanta so that it holds exactly n samples of a
// recorded series whether the Prometheus counts a sample on the range's
// left edge (2.x) or not (3.x).
func (b *builder) rng(n int64) string {
	return "[" + promDuration(time.Duration(n)*b.q-b.q/2) + "]"
}

func sloGroup(s *slo.SLO, h Histograms) (group, error) {
	if err := s.Validate(); err != nil {
		return group{}, err
	}
	p, err := alert.PolicyFor(s).Complete()
	if err != nil {
		return group{}, err
	}
	b := &builder{s: s, p: p, q: s.Quantum, sel: `{slo=` + strconv.Quote(s.Name) + `}`}
	c, err := b.counts(h)
	if err != nil {
		return group{}, err
	}
	b.record(RecordRequests, c.requests)
	b.record(RecordErrors, c.errors)
	b.record(RecordMeasured, c.measured)
	b.start()
	b.spent()
	for _, n := range b.spans() {
		b.record(RecordBurnPrefix+promDuration(time.Duration(n)*b.q), b.burn(n))
	}
	for _, t := range p.Tiers {
		if !t.Disabled {
			b.tierAlert(t)
		}
	}
	if p.NoData.After > 0 {
		b.noDataAlert()
	}
	return group{Name: "nines-slo-" + s.Name, Interval: promDuration(b.q), Rules: b.rules}, nil
}

// spans are the spans the enabled tiers read, in quanta, shortest first.
func (b *builder) spans() []int64 {
	set := map[int64]bool{}
	for _, t := range b.p.Tiers {
		if !t.Disabled {
			set[b.quanta(t.Long)], set[b.quanta(t.Short)] = true, true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// quantumCounts is PromQL for what the quantum that just ended held: each
// expression gives one element, also when nothing was scraped.
type quantumCounts struct {
	requests, errors, measured string
}

// counts reads the SLI's source as nines' metrics collector does: the
// increase of each series is its last value in the quantum minus the last
// one before it (after a reset, its value; the first sample of a series,
// or the first after a stale marker, only sets the baseline), summed over
// the series and rounded to whole events.
func (b *builder) counts(h Histograms) (quantumCounts, error) {
	src := b.s.SLI.Source
	if src == nil {
		return quantumCounts{}, errors.New("its SLI names no series (sli.source); nines serve reads it from events, Prometheus cannot")
	}
	q := promDuration(b.q)
	last := func(sel string) string { return "last_over_time(" + sel + "[" + q + "])" }
	base := func(sel string) string { return sel + " offset " + q }
	// increase sums the per-series increase of cur over base.
	increase := func(cur, base string) string {
		return "round(sum((" + cur + " - " + base + ") >= 0 or (" + cur + " and " + base + "))) or vector(0)"
	}
	counter := func(sel string) string { return increase(last(sel), base(sel)) }
	fresh := func(sels ...string) string {
		parts := make([]string, len(sels))
		for i, sel := range sels {
			parts[i] = "(" + last(sel) + " and " + base(sel) + ")"
		}
		return "count(" + strings.Join(parts, " or ") + ") > bool 0 or vector(0)"
	}
	requests := b.ref(RecordRequests)
	// less is the failed events when good ones are counted: requests minus
	// good, never below zero (the collector caps good at the total).
	less := func(good string) string { return "clamp_min(" + requests + " - on() (" + good + "), 0)" }
	switch {
	case src.Total != "" && (src.Bad != "" || src.Good != ""):
		total, err := selector(src.Total)
		if err != nil {
			return quantumCounts{}, err
		}
		if src.Good != "" {
			good, err := selector(src.Good)
			if err != nil {
				return quantumCounts{}, err
			}
			return quantumCounts{requests: counter(total), errors: less(counter(good)), measured: fresh(total, good)}, nil
		}
		bad, err := selector(src.Bad)
		if err != nil {
			return quantumCounts{}, err
		}
		// The collector caps bad at the total.
		return quantumCounts{
			requests: counter(total),
			errors:   "(" + counter(bad) + ") <= on() " + requests + " or on() " + requests,
			measured: fresh(total, bad),
		}, nil
	case src.Histogram == "":
		return quantumCounts{}, errors.New("its source selects no counters and no histogram")
	case src.Errors != "" || src.StatusLabel != "":
		return quantumCounts{}, errors.New("a histogram source that also judges status (errors, statusLabel) is not written as rules yet; use counters for errors and a histogram SLO for latency")
	}
	l := b.s.SLI.Latency
	if l == nil {
		return quantumCounts{}, errors.New("a histogram source needs a latency threshold")
	}
	sel, err := metrics.ParseSelector(src.Histogram)
	if err != nil {
		return quantumCounts{}, fmt.Errorf("histogram: %w", err)
	}
	exp, ok := unitExp(src.Unit)
	if !ok {
		return quantumCounts{}, fmt.Errorf("histogram unit %q: want s, ms, us or ns", src.Unit)
	}
	threshold := slo.ShiftDecimal(l.Threshold, -exp)
	le := strconv.FormatFloat(threshold, 'g', -1, 64)
	if h == Native {
		// Between bucket bounds nines and Prometheus both interpolate, but
		// not alike (and not alike across Prometheus versions), so a
		// quantum near its objective could be judged apart. Powers of two
		// are bounds of every exponential schema from 0 up: read exactly.
		if frac, _ := math.Frexp(threshold); frac != 0.5 {
			return quantumCounts{}, fmt.Errorf("latency threshold %s is not a power of two (in %s), so it falls inside a native histogram bucket, where nines and Prometheus estimate the requests under it differently; use a power-of-two threshold such as %s, or a classic histogram with a bucket le=%q",
				l.String(), unitName(src.Unit), nearPowerOfTwo(threshold, exp), le)
		}
		hsel := sel.String()
		count := func(h string) string { return "histogram_count(" + h + ")" }
		// At or under the threshold; from -Inf so that the zero bucket
		// counts whole, as nines counts it.
		under := func(h string) string { return count(h) + " * histogram_fraction(-Inf, " + le + ", " + h + ")" }
		return quantumCounts{
			requests: increase(count(last(hsel)), count(base(hsel))),
			errors:   less(increase(under(last(hsel)), under(base(hsel)))),
			measured: fresh(hsel),
		}, nil
	}
	// nines counts a classic histogram's requests from its +Inf bucket,
	// and requires a bucket at the threshold.
	all, err := bucket(sel, "+Inf")
	if err != nil {
		return quantumCounts{}, err
	}
	atThreshold, err := bucket(sel, le)
	if err != nil {
		return quantumCounts{}, err
	}
	return quantumCounts{requests: counter(all), errors: less(counter(atThreshold)), measured: fresh(all)}, nil
}

// selector checks a counter selector of the spec and writes it as PromQL.
func selector(text string) (string, error) {
	sel, err := metrics.ParseSelector(text)
	if err != nil {
		return "", fmt.Errorf("counter selector: %w", err)
	}
	return sel.String(), nil
}

// bucket selects the bucket le of a classic histogram: nines requires one
// whose bound equals the spec's threshold exactly.
func bucket(sel metrics.Selector, le string) (string, error) {
	m, err := metrics.NewMatcher(metrics.MatchEqual, "le", le)
	if err != nil {
		return "", fmt.Errorf("histogram bucket le=%q: %w", le, err)
	}
	s := sel
	s.Name = sel.Name + "_bucket"
	s.Matchers = append(slices.Clone(s.Matchers), m)
	return s.String(), nil
}

func unitExp(u string) (int, bool) {
	switch u {
	case "", "s":
		return 0, true
	case "ms":
		return -3, true
	case "us":
		return -6, true
	case "ns":
		return -9, true
	}
	return 0, false
}

func unitName(u string) string {
	if u == "" {
		return "s"
	}
	return u
}

// nearPowerOfTwo writes the power of two nearest to v, a threshold in the
// histogram's unit (10^exp seconds), as a latency rule in seconds.
func nearPowerOfTwo(v float64, exp int) string {
	p := math.Exp2(math.Round(math.Log2(v)))
	return "<=" + slo.FormatSeconds(slo.ShiftDecimal(p, exp))
}

// start records when the SLO's life began: the start of the first
// measured quantum the rules saw, remembered by reading the record's own
// past. Quanta before it are outside the SLO's life: they spend nothing
// and are no reason for a no-data alert. The memory reaches back as far
// as the longest span the alerts read, across a Prometheus that stopped
// evaluating for a while.
func (b *builder) start() {
	if since := b.s.Since; !since.IsZero() {
		// An explicit start: the SLO's life begins there whatever the data.
		b.record(RecordStart, "vector("+strconv.FormatInt(slo.QuantumStart(since.UnixNano(), b.s.Quantum)/int64(time.Second), 10)+")")
		return
	}
	longest := b.p.NoData.After
	for _, t := range b.p.Tiers {
		if !t.Disabled {
			longest = max(longest, t.Long)
		}
	}
	longest = time.Duration(b.quanta(max(longest, b.q))+1) * b.q
	b.record(RecordStart, "min(last_over_time("+b.ref(RecordStart)+"["+promDuration(longest)+"]) or (vector(time() - "+
		seconds(b.q)+") and on() "+b.ref(RecordMeasured)+" == 1))")
}

// downUnit is the unit downtime-minutes counts a quantum's downtime in:
// 10⁻¹² of a quantum, a whole number, as nines counts it, so that sums
// over a span are exact and both sides divide the same integer.
const downUnit = "1e12"

// spent records the budget each quantum of the SLO's life spent, as nines
// judges it (slo.SLO.Judge): for a measured quantum its verdict by the
// method, for an unmeasured one what the noData policy says. The unit is
// a quantum, except for downtime-minutes: the failed share in downUnit.
// Under noData: skip an unmeasured quantum spends nothing and is recorded
// as skipped, out of what the span may spend.
func (b *builder) spent() {
	if b.s.Method == slo.Transactions {
		return
	}
	e, r := b.ref(RecordErrors), b.ref(RecordRequests)
	// verdict is what a measured quantum spent, down what an unmeasured
	// one spends under noData: bad.
	var verdict string
	down := "(1 - " + b.ref(RecordMeasured) + ")"
	unmeasured := down
	switch b.s.Method {
	case slo.Quanta:
		// Good when good/attempted reaches the quantum objective, decided
		// in whole numbers as nines does: errors·Den ≤ (Den−Num)·attempted.
		o := b.s.QuantumObjective
		if o.IsZero() {
			o = b.s.Objective
		}
		verdict = "(" + e + " * " + strconv.FormatUint(o.Den, 10) + " > bool " + strconv.FormatUint(o.Den-o.Num, 10) + " * " + r + ")"
	case slo.TimeQuanta:
		verdict = "(" + e + " > bool 0)"
	case slo.DowntimeMinutes:
		// Rounded to the nearest unit, halves up, as nines rounds; a
		// quantum with no attempts was not down.
		verdict = "round(" + e + " * " + downUnit + " / clamp_min(" + r + ", 1))"
		down = downUnit + " * " + down
	}
	// The quantum that just ended began at time() - quantum.
	lived := " and on() (" + b.ref(RecordStart) + " <= time() - " + seconds(b.q) + ")"
	switch b.s.NoData {
	case slo.NoDataBad:
		b.record(RecordSpent, "("+verdict+" + "+down+")"+lived)
	case slo.NoDataGood:
		b.record(RecordSpent, verdict+lived)
	case slo.NoDataSkip:
		b.record(RecordSpent, verdict+lived)
		b.record(RecordSkipped, unmeasured+lived)
	}
}

// burn is the burn rate over the last n quanta, in the order of nines'
// own arithmetic (slo.BurnRate: the failed share of the span, then over
// the budget), so that both get the same float.
func (b *builder) burn(n int64) string {
	budget := strconv.FormatFloat(b.s.Objective.Complement(), 'g', -1, 64)
	sum := func(record string) string { return "sum_over_time(" + b.ref(record) + b.rng(n) + ")" }
	if b.s.Method == slo.Transactions {
		return sum(RecordErrors) + " / " + sum(RecordRequests) + " / " + budget
	}
	spent := sum(RecordSpent)
	if b.s.Method == slo.DowntimeMinutes {
		spent += " / " + downUnit
	}
	if b.s.NoData == slo.NoDataSkip {
		return spent + " / (" + strconv.FormatInt(n, 10) + " - " + sum(RecordSkipped) + ") / " + budget
	}
	return spent + " / " + strconv.FormatInt(n, 10) + " / " + budget
}

func (b *builder) burnRef(span time.Duration) string {
	return b.ref(RecordBurnPrefix + promDuration(time.Duration(b.quanta(span))*b.q))
}

// tierAlert is one tier: hot when the burn is above the factor over both
// windows; a page also needs MinEvents attempted events in the short
// window to fire, but once firing (ALERTS says so for the last
// evaluation, and for the resolve hold) it is judged on the burn alone,
// as nines judges it.
func (b *builder) tierAlert(t alert.Tier) {
	factor := strconv.FormatFloat(t.Factor, 'g', -1, 64)
	expr := b.burnRef(t.Long) + " > " + factor + "\nand on() " + b.burnRef(t.Short) + " > " + factor
	guard := ""
	if t.Severity == alert.Page && b.p.MinEvents > 0 {
		n := b.quanta(t.Short)
		firing := `ALERTS{alertname="` + AlertBurnRate + `", alertstate="firing", slo=` + strconv.Quote(b.s.Name) + `, alert=` + strconv.Quote(t.Name) + `}`
		// One and a half quanta reach the last evaluation's sample and
		// not the one before, with either range convention; a stale
		// marker written on resolving is not a sample.
		expr += "\nand on() (\n  sum_over_time(" + b.ref(RecordRequests) + b.rng(n) + ") >= " + strconv.Itoa(b.p.MinEvents) +
			"\n  or on() last_over_time(" + firing + "[" + promDuration(b.q+b.q/2) + "])\n)"
		guard = fmt.Sprintf(", with at least %d requests in the %s", b.p.MinEvents, slo.FormatDuration(t.Short))
	}
	window := alert.NominalWindow(b.s.Window)
	an := map[string]string{
		"summary": alert.Title(b.s.Name, t.Name, t.Severity),
		"description": fmt.Sprintf("Objective %s %% (%s) over %s: the error budget burned more than %.4g× as fast as the window allows over both %s and %s%s; at %.4g× it lasts %s.",
			b.s.Objective, b.s.Method, b.s.Window, t.Factor, slo.FormatDuration(t.Long), slo.FormatDuration(t.Short), guard,
			t.Factor, slo.FormatDuration(time.Duration(float64(window)/t.Factor).Round(time.Minute))),
		"burn_rate_threshold":                     strconv.FormatFloat(t.Factor, 'g', 4, 64),
		"burn_rate_" + slo.FormatDuration(t.Long): `{{ printf "%.4g" $value }}`,
	}
	b.alert(AlertBurnRate, t.Name, t.Severity, expr, an)
}

// noDataAlert fires when every quantum of the last After was unmeasured
// and all of them were in the SLO's life.
func (b *builder) noDataAlert() {
	nd := b.p.NoData
	n := b.quanta(nd.After)
	expr := b.ref(RecordStart) + " < time() - " + seconds(time.Duration(n)*b.q) +
		"\nunless on() max_over_time(" + b.ref(RecordMeasured) + b.rng(n) + ") > 0"
	an := map[string]string{
		"summary":     alert.Title(b.s.Name, alert.NoDataAlert, nd.Severity),
		"description": fmt.Sprintf("Nothing measured %s for %s: its series sent no samples. Under noData: %s these minutes count as %s.", b.s.Name, slo.FormatDuration(nd.After), b.s.NoData, noDataMeaning(b.s.NoData)),
	}
	b.alert(AlertNoData, alert.NoDataAlert, nd.Severity, expr, an)
}

func noDataMeaning(n slo.NoData) string {
	switch n {
	case slo.NoDataGood:
		return "good"
	case slo.NoDataSkip:
		return "neither good nor bad"
	}
	return "bad"
}

func (b *builder) alert(alertname, name string, sev alert.Severity, expr string, an map[string]string) {
	r := rule{Alert: alertname, Expr: expr, Labels: notify.Labels(b.s, name, sev), Annotations: an}
	if b.s.Description != "" {
		an["slo_description"] = b.s.Description
	}
	if b.p.ResolveAfter > 0 {
		r.KeepFiringFor = promDuration(b.p.ResolveAfter)
	}
	b.rules = append(b.rules, r)
}

// seconds writes d in seconds, for arithmetic with time().
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'g', -1, 64) }

// promDuration writes d as Prometheus reads it: 5m, 1h, 3d, 4m30s,
// 2d23h59m30s.
func promDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var sb strings.Builder
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if n := d / u.d; n > 0 {
			sb.WriteString(strconv.FormatInt(int64(n), 10) + u.unit)
			d -= n * u.d
		}
	}
	return sb.String()
}

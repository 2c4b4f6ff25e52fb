package ui

import (
	"context"
	"fmt"
	"github.com/nines-sre/nines/engine"
	"html/template"
	"maps"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/ui/chart"
)

// maxStripCells bounds the violation strip: one cell per quantum up to
// this many, else buckets of whole quanta. 720 cells are an hour each
// over 30 days and fit a wall screen's width.
const maxStripCells = 720

// maxBurnPoints bounds the burn-down's points.
const maxBurnPoints = 360

// kv is a label.
type kv struct{ Key, Value string }

func labels(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, kv{k, m[k]})
	}
	return out
}

// dial is the risk dial: how much error budget is left to take risks
// with. Its word and icon carry the meaning, the colour only repeats it.
type dial struct {
	Level, Word, Icon string
}

// riskDial reads the remaining share of the budget: lots from half, some
// from a tenth (the release gate's caution line), none above zero, else
// exhausted.
func riskDial(remaining float64) dial {
	switch {
	case math.IsNaN(remaining):
		return dial{"unknown", "no data", "?"}
	case remaining >= 0.5:
		return dial{"lots", "lots", "●●●"}
	case remaining >= 0.1:
		return dial{"some", "some", "●●○"}
	case remaining > 0:
		return dial{"none", "none", "●○○"}
	}
	return dial{"exhausted", "exhausted", "○○○"}
}

type rangeLink struct {
	Label, Href string
	Current     bool
}

type sloHead struct {
	Name, Service, Owner, Description string
	Labels                            []kv
	Objective                         float64
	Method, Window, Quantum, Latency  string
}

func head(s *slo.SLO) sloHead {
	h := sloHead{Name: s.Name, Service: s.Service, Owner: s.Owner, Description: s.Description, Labels: labels(s.Labels),
		Objective: s.Objective.Float(), Method: s.Method.String(), Window: s.Window.String(), Quantum: slo.FormatDuration(s.Quantum)}
	if s.SLI.Latency != nil {
		h.Latency = s.SLI.Latency.String()
	}
	return h
}

type budgetNow struct {
	Availability, Remaining float64
	Met                     bool
	Dial                    dial
	Unit                    string
	Spent, Total            float64
	Burn1h                  float64
}

type rangeStats struct {
	Availability    float64
	Events, Failed  uint64
	Bad, Unmeasured int
	Good, Elapsed   int
	Downtime        time.Duration
	Violations      []violation
	MoreViolations  int
	HasData         bool
	Threshold       string
	InverseQuantile float64
	// Headroom is the inverse quantile minus the objective (docs/reference.md §2):
	// how far the share of fast requests is above what is promised.
	Headroom             float64
	Over, Measured       uint64
	Quantiles            []quantileRow
	Modes                int
	StripBucket          string
	StripCells, StripBad int
	// Pending counts the quanta of the range that have begun but are not
	// judged yet: the one in progress and those within the settle delay.
	Pending int
}

type violation struct {
	From, To time.Time
	Length   time.Duration
	// Zoom is the link (a query, "?from=…&to=…") to the violation with
	// some time either side.
	Zoom string
}

type quantileRow struct {
	Q       string
	Seconds string
}

type dayRow struct {
	Label        string
	Availability float64
	Met, NoData  bool
}

type tierRow struct {
	Name, Severity, Status string
	Factor                 float64
	Long, Short            time.Duration
	BurnLong, BurnShort    float64
	Firing                 bool
	// LongShare is the long window's burn as a share of the factor, for
	// the meter.
	LongShare float64
}

type transitionRow struct {
	At              time.Time
	Alert, Severity string
	Kind, Reason    string
	BurnLong        float64
	Firing          bool
}

type annotationRow struct {
	At                      time.Time
	Kind, Title, Text, Link string
}

type sloView struct {
	Head sloHead
	// Since is the start of the SLO's life; Marks the changes of its SLI
	// that its stored history went through (engine.Mark).
	Since *time.Time
	Marks []engine.Mark
	// Source says how the SLO's series are read from a query API, when
	// they are; SourceFailing marks a source that fails.
	Source        string
	SourceFailing bool
	// Zone is where the page writes and cuts times: the SLO's calendar
	// zone, else UTC (report.Zone).
	Zone       *time.Location
	Range      timeRange
	RangeLinks []rangeLink
	Now        budgetNow
	Stats      rangeStats
	BurnDown   template.HTML
	Traffic    trafficView
	Daily      template.HTML
	DailyRows  []dayRow
	DailyUnit  string
	Strip      template.HTML
	Histogram  template.HTML
	Tiers      []tierRow
	History    []transitionRow
	Notes      []annotationRow
	FreezeURL  string
	SelfURL    string
	CurlEvents string
}

// sloPage serves /slos/{name}.
func (u *UI) sloPage(w http.ResponseWriter, r *http.Request) {
	v, err := u.buildSLO(r.Context(), r.PathValue("name"), r.URL.Query())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "slo", &layout{Title: v.Head.Name, Nav: "slos", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

func (u *UI) buildSLO(ctx context.Context, name string, q url.Values) (*sloView, error) {
	e := u.cfg.SLOs
	s, err := e.SLO(name)
	if err != nil {
		return nil, err
	}
	now := e.Now()
	at := e.EvalTime(s, now)
	zone := report.Zone(s)
	tr, err := parseRange(q, s, at, zone)
	if err != nil {
		return nil, err
	}
	v := &sloView{Head: head(s), Zone: zone, Range: tr}
	if since, ok, err := e.Since(s.Name); err != nil {
		return nil, err
	} else if ok {
		v.Since = &since
	}
	if v.Marks, err = e.Marks(ctx, s.Name); err != nil {
		return nil, err
	}
	if u.cfg.Sources != nil {
		v.Source, v.SourceFailing = u.cfg.Sources.SourceNote(s.Name)
	}
	v.SelfURL = "/slos/" + url.PathEscape(s.Name)
	v.FreezeURL = v.SelfURL + "/freeze"
	if tr.Query != "" {
		v.SelfURL += "?" + tr.Query
		v.FreezeURL += "?" + tr.Query
	}
	v.RangeLinks = rangeLinks(s, tr)
	v.CurlEvents = curlEvents(s)

	sum, err := e.Summary(name)
	if err != nil {
		return nil, err
	}
	burn, err := e.BurnRates(name, []time.Duration{time.Hour})
	if err != nil {
		return nil, err
	}
	rem := sum.Budget.RemainingShare()
	if sum.Quanta.Counted() == 0 && sum.Events.Total == 0 {
		rem = math.NaN()
	}
	v.Now = budgetNow{Availability: sum.Availability, Remaining: rem, Met: sum.Met, Dial: riskDial(rem),
		Unit: s.Method.BudgetUnit(), Spent: sum.Budget.Spent, Total: sum.Budget.Total, Burn1h: burn[0]}

	// One read of the rollups serves every chart: from the start of the
	// window in force at the range's start (the burn-down needs it) to
	// the range's end.
	end := minTime(tr.To, at)
	lo := minTime(tr.From, s.Window.Containing(tr.From).Start)
	series, err := u.counts(ctx, s, lo, tr.To, now)
	if err != nil {
		return nil, err
	}
	h, err := u.latency(ctx, s, tr.From, end, now)
	if err != nil {
		return nil, err
	}
	if err := v.stats(s, series, h, tr, end, now); err != nil {
		return nil, err
	}
	notes, err := e.Annotations(ctx, name, tr.From, tr.To)
	if err != nil {
		return nil, err
	}
	var marks []chart.Mark
	for _, a := range notes {
		row := annotationRow{At: a.At, Kind: a.Kind, Title: a.Title, Text: a.Text}
		if safeURL(a.URL) {
			row.Link = a.URL
		}
		v.Notes = append(v.Notes, row)
		marks = append(marks, chart.Mark{T: a.At, Label: a.Kind + ": " + a.Title + " (" + stamp(a.At, zone, "Jan 2 15:04") + ")"})
	}
	if err := v.burnDown(s, series, tr, end, marks); err != nil {
		return nil, err
	}
	v.Traffic = traffic(s, series.Range(tr.From.UnixNano(), end.UnixNano()), tr, end, marks, zone)
	if err := v.daily(s, series, tr, end); err != nil {
		return nil, err
	}
	st, history, err := e.Alerts(name)
	if err != nil {
		return nil, err
	}
	firing := map[string]bool{}
	for _, a := range st.Alerts {
		firing[a.Name] = true
	}
	for _, c := range st.Checks {
		row := tierRow{Name: c.Alert, Severity: string(c.Severity), Status: c.Status.String(), Factor: c.Factor,
			Long: c.Long, Short: c.Short, BurnLong: c.BurnLong, BurnShort: c.BurnShort, Firing: firing[c.Alert]}
		if c.Factor > 0 && !math.IsNaN(c.BurnLong) {
			row.LongShare = c.BurnLong / c.Factor
		}
		v.Tiers = append(v.Tiers, row)
	}
	for i := len(history) - 1; i >= 0 && len(v.History) < 50; i-- {
		tr := history[i]
		v.History = append(v.History, transitionRow{At: tr.At, Alert: tr.Alert, Severity: string(tr.Severity),
			Kind: tr.Kind.String(), Reason: tr.Reason, BurnLong: tr.BurnLong, Firing: tr.Kind == alert.Fire})
	}
	return v, nil
}

// stats evaluates the range, draws the strip and the histogram. end is
// the evaluation time (clipped to the range): quanta from it until now
// are pending.
func (v *sloView) stats(s *slo.SLO, series *slo.Series, h *hist.Histogram, tr timeRange, end, now time.Time) error {
	res, err := slo.Evaluate(s, series, slo.Window{Start: tr.From, End: tr.To}, end)
	if err != nil {
		return &pageError{status: http.StatusBadRequest, msg: err.Error(), hints: rangeHints}
	}
	st := &v.Stats
	st.Availability = res.Availability
	st.Events, st.Failed = res.Events.Total, res.Events.Failed
	st.Good, st.Bad, st.Unmeasured, st.Elapsed = res.Quanta.Good, res.Quanta.Bad, res.Quanta.Unmeasured, res.Quanta.Elapsed
	st.Downtime = res.Downtime
	st.HasData = len(series.Range(tr.From.UnixNano(), tr.To.UnixNano())) > 0
	// The longest violations first: those are what a postmortem asks about.
	vs := slices.Clone(res.Violations)
	slices.SortStableFunc(vs, func(a, b slo.Window) int { return int(b.Duration() - a.Duration()) })
	for i, w := range vs {
		if i == 10 {
			st.MoreViolations = len(vs) - 10
			break
		}
		pad := max(s.Quantum*30, w.Duration())
		zoom := url.Values{"from": {w.Start.Add(-pad).UTC().Format(time.RFC3339)}, "to": {w.End.Add(pad).UTC().Format(time.RFC3339)}}
		st.Violations = append(st.Violations, violation{From: w.Start, To: w.End, Length: w.Duration(), Zoom: "?" + zoom.Encode()})
	}

	// The strip: one cell per quantum, or per bucket of quanta.
	bucket := chart.BucketFor(tr.From, tr.To, s.Quantum, maxStripCells)
	rs := series.Range(tr.From.UnixNano(), tr.To.UnixNano())
	cells, sum := stripCells(s, rs, series.Since, tr.From, tr.To, end, now, bucket)
	for _, c := range cells {
		if c.Bad > 0 {
			st.StripBad++
		}
	}
	st.Pending = sum.Pending
	st.StripBucket, st.StripCells = slo.FormatDuration(bucket), len(cells)
	pending := ""
	if sum.Pending > 0 {
		pending = fmt.Sprintf(" %d pending (not judged yet),", sum.Pending)
	}
	desc := fmt.Sprintf("%d of %d quanta bad, %d unmeasured, %d good,%s in %d cells of %s from %s to %s.",
		st.Bad, st.Elapsed, st.Unmeasured, st.Good, pending, len(cells), slo.FormatDuration(bucket), rfc3339(tr.From, v.Zone), rfc3339(tr.To, v.Zone))
	strip := chart.NewStrip(chart.Frame{W: 960, H: 64, Left: 8, Right: 8, Top: 4, Bottom: 22},
		chart.Text{ID: "strip", Title: "Violation minutes of " + s.Name, Desc: desc, Zone: v.Zone}, tr.From, bucket, cells)
	strip.Zoom = sloPath(s.Name) // also from a snapshot: the live page of the selection
	v.Strip = strip.SVG()

	// The latency histogram of the range, from the store's hourly merges;
	// the share under the threshold is exact, from the rollups' counts of
	// requests over it, not from the threshold's bin.
	st.Measured = h.Count()
	var qs []chart.Quantile
	if h.Count() > 0 {
		for _, q := range slo.ReportedQuantiles {
			sec := h.Quantile(q)
			qs = append(qs, chart.Quantile{Q: q, Seconds: sec})
			st.Quantiles = append(st.Quantiles, quantileRow{Q: fmt.Sprintf("q(%g)", q), Seconds: chart.Seconds(sec)})
		}
		st.Modes = h.Modes()
	}
	threshold := 0.0
	st.InverseQuantile, st.Headroom = math.NaN(), math.NaN()
	if s.SLI.Latency != nil {
		threshold = s.SLI.Latency.Threshold
		st.Threshold = chart.Seconds(threshold)
		for _, r := range rs {
			st.Over += r.OverThreshold
		}
		if st.Measured > 0 {
			st.InverseQuantile = 1 - float64(min(st.Over, st.Measured))/float64(st.Measured)
		}
		st.Headroom = st.InverseQuantile - s.Objective.Float()
	}
	var bins []chart.HistBin
	for b := range h.Bins() {
		bins = append(bins, chart.HistBin{Lower: b.Lower, Upper: b.Upper, Count: b.Count})
	}
	hd := fmt.Sprintf("%d latencies.", h.Count())
	for _, q := range st.Quantiles {
		hd += " " + q.Q + " " + q.Seconds + "."
	}
	if st.Threshold != "" && !math.IsNaN(st.InverseQuantile) {
		hd += fmt.Sprintf(" %s at or under the %s threshold; %d over it.", chart.Percent(st.InverseQuantile, 3), st.Threshold, st.Over)
	}
	v.Histogram = chart.NewHistogram(chart.Frame{W: 960, H: 260, Left: 16, Right: 16, Top: 8, Bottom: 40},
		chart.Text{ID: "latency", Title: "Latency histogram of " + s.Name + " (log axis)", Desc: hd}, bins, threshold, qs, 80).SVG()
	return nil
}

// burnDown draws the remaining error budget over the range, each point
// the budget of the SLO's window in force then, with the ideal line:
// spending exactly the budget evenly over a window that starts at the
// chart's start (or the calendar window's start).
func (v *sloView) burnDown(s *slo.SLO, series *slo.Series, tr timeRange, end time.Time, marks []chart.Mark) error {
	span := end.Sub(tr.From)
	step := pointStep(span, s.Quantum)
	var pts []chart.Point
	if span > 0 {
		hist, err := slo.BudgetHistory(s, series, tr.From, end, step)
		if err != nil {
			return &pageError{status: http.StatusBadRequest, msg: err.Error(), hints: rangeHints}
		}
		for _, p := range hist {
			rem := p.Budget.RemainingShare()
			if math.IsInf(rem, 0) {
				rem = math.NaN()
			}
			pts = append(pts, chart.Point{T: p.At, V: rem})
		}
	}
	lo := 0.0
	for _, p := range pts {
		if !math.IsNaN(p.V) {
			lo = math.Min(lo, p.V)
		}
	}
	// Overspent budgets show down to twice over; beyond that the
	// line sits on the floor and the figure above the chart says how far.
	lo = math.Max(-2, math.Floor(lo*2)/2)
	ws := s.Window.Containing(end)
	if s.Window.Calendar == slo.NotCalendar {
		ws = slo.Window{Start: tr.From, End: tr.From.Add(s.Window.Rolling)}
	}
	ideal := clipLine(chart.Point{T: ws.Start, V: 1}, chart.Point{T: ws.End, V: 0}, tr.From, tr.To)
	last := math.NaN()
	if len(pts) > 0 {
		last = pts[len(pts)-1].V
	}
	desc := fmt.Sprintf("Error budget remaining of the %s window from %s to %s; now %s. The ideal line spends the budget evenly over the window. %d annotations.",
		s.Window, rfc3339(tr.From, v.Zone), rfc3339(tr.To, v.Zone), chart.Percent(last, 1), len(marks))
	v.BurnDown = chart.NewLine(chart.Frame{W: 960, H: 240, Left: 52, Right: 12, Top: 12, Bottom: 24},
		chart.Text{ID: "burndown", Title: "Error budget burn-down of " + s.Name, Desc: desc, Zone: v.Zone},
		tr.From, tr.To, pts, ideal, marks, lo, 1, func(x float64) string { return chart.Percent(x, 0) }).SVG()
	return nil
}

// clipLine returns the segment a–b clipped to [from, to] in time.
func clipLine(a, b chart.Point, from, to time.Time) []chart.Point {
	if !a.T.Before(b.T) || b.T.Before(from) || a.T.After(to) {
		return nil
	}
	at := func(t time.Time) chart.Point {
		f := float64(t.Sub(a.T)) / float64(b.T.Sub(a.T))
		return chart.Point{T: t, V: a.V + f*(b.V-a.V)}
	}
	p, q := a, b
	if a.T.Before(from) {
		p = at(from)
	}
	if b.T.After(to) {
		q = at(to)
	}
	return []chart.Point{p, q}
}

// daily draws availability per day (per hour for ranges up to two days,
// per week from Monday beyond 90 days) against the objective. Days and
// weeks are cut at midnight in the page's zone, so a Berlin calendar
// month has Berlin days, 23 hours long on the day daylight saving starts;
// a bar counts only judged quanta, so today's bar is today so far.
func (v *sloView) daily(s *slo.SLO, series *slo.Series, tr timeRange, end time.Time) error {
	unit, layout := 24*time.Hour, "Jan 2"
	v.DailyUnit = "day"
	switch span := tr.To.Sub(tr.From); {
	case span <= 48*time.Hour:
		unit, layout, v.DailyUnit = time.Hour, "15:04", "hour"
		// Across a change of offset an hour repeats or goes missing: the
		// abbreviation tells 02:00 CEST from 02:00 CET.
		_, a := tr.From.In(v.Zone).Zone()
		if _, b := tr.To.In(v.Zone).Zone(); a != b {
			layout = "15:04 MST"
		}
	case span > 90*24*time.Hour:
		unit, v.DailyUnit = 7*24*time.Hour, "week"
	}
	unit = max(unit, s.Quantum)
	var labels []string
	var values []float64
	for _, w := range periods(tr.From, tr.To, unit, v.Zone) {
		row := dayRow{Label: w.Start.In(v.Zone).Format(layout), Availability: math.NaN()}
		w.Start, w.End = maxTime(w.Start, tr.From), minTime(w.End, tr.To)
		// A span nothing reported for at all shows as "no data", not 0 %:
		// the strip shows the same quanta as unmeasured. Only judged
		// quanta count: data of the minute in progress is not yet a bar.
		judged := minTime(end, w.End)
		reported := w.Start.Before(judged) && len(series.Range(w.Start.UnixNano(), judged.UnixNano())) > 0
		if reported && w.Start.UnixNano()%int64(s.Quantum) == 0 && w.End.UnixNano()%int64(s.Quantum) == 0 {
			res, err := slo.Evaluate(s, series, w, judged)
			if err != nil {
				return err
			}
			row.Availability = res.Availability
		}
		row.NoData = math.IsNaN(row.Availability)
		row.Met = !row.NoData && row.Availability >= s.Objective.Float()
		v.DailyRows = append(v.DailyRows, row)
		labels, values = append(labels, row.Label), append(values, row.Availability)
	}
	met := 0
	for _, r := range v.DailyRows {
		if r.Met {
			met++
		}
	}
	desc := fmt.Sprintf("Availability per %s against the %s objective: %d of %d %ss met it.",
		v.DailyUnit, chart.Percent(s.Objective.Float(), 3), met, len(v.DailyRows), v.DailyUnit)
	if v.Zone != time.UTC {
		desc += " Days are cut at midnight " + v.Zone.String() + "."
	}
	floor := chart.AvailabilityFloor(values, s.Objective.Float())
	v.Daily = chart.NewBars(chart.Frame{W: 960, H: 200, Left: 60, Right: 8, Top: 12, Bottom: 20},
		chart.Text{ID: "daily", Title: "Availability per " + v.DailyUnit + " of " + s.Name, Desc: desc, Zone: v.Zone},
		labels, values, s.Objective.Float(), floor).SVG()
	return nil
}

// periods cuts [from, to) into whole hours, days or weeks (unit; other
// units are cut from from) on zone's wall clock: the first and the last
// reach outside the span when its edges are not on the unit's boundaries.
// Days start at local midnight and weeks on Monday, as time.Truncate cuts
// them in UTC.
func periods(from, to time.Time, unit time.Duration, zone *time.Location) []slo.Window {
	const day = 24 * time.Hour
	l := from.In(zone)
	var start time.Time
	next := func(t time.Time) time.Time { return t.Add(unit) }
	switch unit {
	case time.Hour:
		start = time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, zone)
	case day, 7 * day:
		days := int(unit / day)
		start = time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, zone)
		if days == 7 {
			start = time.Date(l.Year(), l.Month(), l.Day()-(int(l.Weekday())+6)%7, 0, 0, 0, 0, zone)
		}
		next = func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day()+days, 0, 0, 0, 0, zone) }
	default:
		start = from.Truncate(unit)
	}
	var ws []slo.Window
	for t := start; t.Before(to); {
		n := next(t)
		ws = append(ws, slo.Window{Start: t, End: n})
		t = n
	}
	return ws
}

// rangeLinks are the range presets, the SLO's own window first.
func rangeLinks(s *slo.SLO, cur timeRange) []rangeLink {
	base := "/slos/" + url.PathEscape(s.Name)
	links := []rangeLink{{Label: "window", Href: base, Current: cur.Query == ""}}
	for _, r := range []string{"1h", "6h", "1d", "7d", "30d"} {
		q := "range=" + r
		links = append(links, rangeLink{Label: r, Href: base + "?" + q, Current: cur.Query == q})
	}
	return links
}

// curlEvents is the command that sends a first event to the SLO.
func curlEvents(s *slo.SLO) string {
	return fmt.Sprintf(`curl -s -X POST 'localhost:9797/api/v1/events?slo=%s' --data-binary '{"time": "%s", "status": 200, "latency_ms": 3.2}'`,
		url.QueryEscape(s.Name), "2026-11-25T10:20:31Z")
}

// safeURL admits only web links: an annotation's URL is user input, and
// html/template would neutralise javascript: anyway, but a dead link is
// better than a surprising one.
func safeURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sloPath is the path of the SLO's page.
func sloPath(name string) string { return "/slos/" + url.PathEscape(name) }

// pointStep is the step of a time series of span drawn in at most
// maxBurnPoints points: whole quanta.
func pointStep(span, quantum time.Duration) time.Duration {
	return max(quantum, (span/maxBurnPoints+quantum-1)/quantum*quantum)
}

// stripCells sorts the quanta of [from, to) into cells of bucket: those
// that start before end (the evaluation time) as s judges them (rs holds
// their rollups, in order), those from end until now as pending, later
// ones (the future) and those before the SLO's life began (since) not
// at all. It returns the cells and their sum.
func stripCells(s *slo.SLO, rs []slo.Rollup, since int64, from, to, end, now time.Time, bucket time.Duration) ([]chart.Cell, chart.Cell) {
	n := int((to.Sub(from) + bucket - 1) / bucket)
	cells := make([]chart.Cell, n)
	var sum chart.Cell
	j := 0
	for t := from; t.Before(to) && t.Before(now); t = t.Add(s.Quantum) {
		c := &cells[int(t.Sub(from)/bucket)]
		if !t.Before(end) {
			c.Pending++
			sum.Pending++
			continue
		}
		if t.UnixNano() < since {
			continue
		}
		var r *slo.Rollup
		for j < len(rs) && rs[j].Start < t.UnixNano() {
			j++
		}
		if j < len(rs) && rs[j].Start == t.UnixNano() {
			r = &rs[j]
			j++
		}
		verdict, _ := s.Judge(r)
		switch {
		case r == nil || !r.Measured:
			c.Unmeasured++
			sum.Unmeasured++
		case verdict == "bad":
			c.Bad++
			sum.Bad++
		default:
			c.Good++
			sum.Good++
		}
	}
	return cells, sum
}

// stamp writes t in zone by layout, with the zone's abbreviation unless
// it is UTC (where the page says UTC once).
func stamp(t time.Time, zone *time.Location, layout string) string {
	if zone == nil || zone == time.UTC {
		return t.UTC().Format(layout)
	}
	return t.In(zone).Format(layout + " MST")
}

// rfc3339 writes t in zone with its offset (Z in UTC).
func rfc3339(t time.Time, zone *time.Location) string {
	if zone == nil {
		zone = time.UTC
	}
	return t.In(zone).Format(time.RFC3339)
}

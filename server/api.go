package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/server/wire"
	"github.com/nines-sre/nines/slo"
)

// maxQuanta bounds the quanta one request lists.
const maxQuanta = 50_000

type sloSummary struct {
	Name         string            `json:"name"`
	Service      string            `json:"service"`
	Owner        string            `json:"owner,omitempty"`
	Description  string            `json:"description,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Method       string            `json:"method"`
	Objective    report.Number     `json:"objective"`
	Window       string            `json:"window"`
	Quantum      string            `json:"quantum"`
	Availability report.Number     `json:"availability"`
	Met          bool              `json:"met"`
	BudgetLeft   report.Number     `json:"budget_remaining_ratio"`
	BurnRate1h   report.Number     `json:"burn_rate_1h"`
}

// vanished says that an SLO listed a moment ago was removed by a reload
// since: a list skips it rather than failing whole.
func vanished(err error) bool { return errors.Is(err, engine.ErrUnknownSLO) }

func (s *Server) listSLOs(r *http.Request) (any, error) {
	e := s.cfg.SLOs
	out := []sloSummary{}
	for _, o := range e.SLOs() {
		res, err := e.Summary(o.Name)
		if vanished(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		burn, err := e.BurnRates(o.Name, []time.Duration{time.Hour})
		if vanished(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sloSummary{
			Name: o.Name, Service: o.Service, Owner: o.Owner, Description: o.Description, Labels: o.Labels,
			Method: o.Method.String(), Objective: report.Number(o.Objective.Percent()), Window: o.Window.String(),
			Quantum: slo.FormatDuration(o.Quantum), Availability: report.Number(res.Availability * 100), Met: res.Met,
			BudgetLeft: report.Number(res.Budget.RemainingShare()), BurnRate1h: report.Number(burn[0]),
		})
	}
	return jsonList[sloSummary]{"slos", out}, nil
}

func (s *Server) getSLO(r *http.Request) (any, error) {
	name := r.PathValue("name")
	o, err := s.cfg.SLOs.SLO(name)
	if err != nil {
		return nil, err
	}
	text, err := s.cfg.SLOs.Definition(name)
	if err != nil {
		return nil, err
	}
	marks, err := s.cfg.SLOs.Marks(r.Context(), name)
	if err != nil {
		return nil, err
	}
	if marks == nil {
		marks = []engine.Mark{}
	}
	doc := map[string]any{
		"name": o.Name, "service": o.Service, "method": o.Method.String(),
		"objective": report.Number(o.Objective.Percent()), "window": o.Window.String(),
		"quantum": slo.FormatDuration(o.Quantum), "no_data": o.NoData.String(),
		"spec": string(text), "marks": marks,
	}
	if since, ok, err := s.cfg.SLOs.Since(name); err == nil && ok {
		doc["since"] = since
	}
	if s.cfg.Sources != nil {
		if st, ok := s.cfg.Sources.SourceStatus(name); ok {
			doc["source"] = st
		}
	}
	return doc, nil
}

// status answers with the same document as nines eval --json, for the
// SLO's current window (from the tracker), for another rolling window
// (?window=7d) or at a past time (?at=), both from the stored rollups.
func (s *Server) status(r *http.Request) (any, error) {
	e := s.cfg.SLOs
	name := r.PathValue("name")
	o, err := e.SLO(name)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	now := e.Now()
	at := e.EvalTime(o, now)
	explicitAt := q.Get("at") != ""
	if explicitAt {
		if at, err = parseTime("at", q.Get("at")); err != nil {
			return nil, err
		}
		if at.After(now) {
			return nil, httpx.BadRequest("at=%s is in the future", q.Get("at"))
		}
	}
	var res *slo.Result
	var asked *slo.WindowSpec // the window evaluated, when not the SLO's own
	switch v := q.Get("window"); {
	case v == "" && !explicitAt:
		res, err = e.Status(r.Context(), name)
	case v == "":
		res, err = e.Evaluate(r.Context(), name, o.Window.Containing(at), at)
	default:
		d, perr := slo.ParseDuration(v)
		if perr != nil || d <= 0 || d%o.Quantum != 0 || d > httpx.MaxRange {
			return nil, httpx.BadRequest("window=%q: want a duration that is a whole number of %s quanta, up to %s, such as 30d", v, slo.FormatDuration(o.Quantum), slo.FormatDuration(httpx.MaxRange))
		}
		end := time.Unix(0, slo.QuantumStart(at.UnixNano(), o.Quantum))
		res, err = e.Evaluate(r.Context(), name, slo.Window{Start: end.Add(-d), End: end}, end)
		asked = &slo.WindowSpec{Rolling: d}
	}
	if err != nil {
		return nil, err
	}
	spans := report.BurnSpans
	rates, err := e.BurnRates(name, spans)
	if err != nil {
		return nil, err
	}
	burns := make([]report.Burn, 0, len(spans))
	for i, span := range spans {
		burns = append(burns, report.Burn{Span: slo.FormatDuration(span), Rate: report.Number(rates[i])})
	}
	doc := report.Build(o, res.At, []*slo.Result{res}, burns, nil)
	if asked != nil {
		doc.Window = asked.String()
	}
	judged, final, settle, lag := e.Settled(o, now)
	doc.Settlement = &report.Settlement{FinalBefore: final, JudgedBefore: judged, SettleDelay: slo.FormatDuration(settle), MaxLag: slo.FormatDuration(lag)}
	if since, ok, err := e.Since(name); err == nil && ok {
		doc.Since = &since
	}
	doc.Stale = s.stale()
	return doc, nil
}

// sloRange resolves the SLO of the path and the time range of the query.
func (s *Server) sloRange(r *http.Request) (*slo.SLO, time.Time, time.Time, error) {
	o, err := s.cfg.SLOs.SLO(r.PathValue("name"))
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	from, to, err := s.timeRange(r, o.Quantum)
	return o, from, to, err
}

// timeRange reads from/to or range=DURATION (ending now), aligned to
// quanta, and bounded.
func (s *Server) timeRange(r *http.Request, quantum time.Duration) (from, to time.Time, err error) {
	q := r.URL.Query()
	now := s.cfg.SLOs.Now()
	to = now
	if v := q.Get("to"); v != "" {
		if to, err = parseTime("to", v); err != nil {
			return
		}
	}
	switch {
	case q.Get("from") != "" && q.Get("range") != "":
		return from, to, httpx.BadRequest("give from or range, not both")
	case q.Get("from") != "":
		if from, err = parseTime("from", q.Get("from")); err != nil {
			return
		}
	default:
		d := 24 * time.Hour
		if v := q.Get("range"); v != "" {
			if d, err = slo.ParseDuration(v); err != nil || d <= 0 {
				return from, to, httpx.BadRequest("range=%q: want a duration such as 7d", v)
			}
		}
		from = to.Add(-d)
	}
	// The span asked for is bounded, as on a page, before its edges move
	// out to whole quanta: range=400d is accepted in both.
	if to.Sub(from) > httpx.MaxRange {
		return from, to, httpx.BadRequest("range of %s is longer than %s", slo.FormatDuration(to.Sub(from)), slo.FormatDuration(httpx.MaxRange))
	}
	from = time.Unix(0, slo.QuantumStart(from.UnixNano(), quantum)).UTC()
	to = time.Unix(0, slo.QuantumStart(to.UnixNano()+int64(quantum)-1, quantum)).UTC()
	if !from.Before(to) {
		return from, to, httpx.BadRequest("from %s is not before to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return from, to, nil
}

type quantumView struct {
	Start time.Time `json:"start"`
	// State is pending, settled or final (engine.QuantumState).
	State string `json:"state"`
	// Verdict is good, bad or skipped; pending while the quantum waits,
	// and outside for a quantum before the SLO's life began.
	Verdict   string        `json:"verdict"`
	Measured  bool          `json:"measured"`
	Attempted uint64        `json:"attempted"`
	Good      uint64        `json:"good"`
	Errors    uint64        `json:"errors"`
	Slow      uint64        `json:"slow"`
	Downtime  report.Number `json:"downtime"`
	// LatencyAtOrUnder and LatencyOver count the requests with a latency
	// that met and broke the SLI's threshold; absent without one.
	LatencyAtOrUnder *uint64 `json:"latency_at_or_under,omitempty"`
	LatencyOver      *uint64 `json:"latency_over,omitempty"`
}

// quanta lists every quantum of a range with its verdict, for charts.
func (s *Server) quanta(r *http.Request) (any, error) {
	o, from, to, err := s.sloRange(r)
	if err != nil {
		return nil, err
	}
	if n := to.Sub(from) / o.Quantum; n > maxQuanta {
		return nil, httpx.BadRequest("%d quanta in the range; at most %d a request", n, maxQuanta)
	}
	_, series, err := s.cfg.SLOs.Series(r.Context(), o.Name, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]quantumView, 0, to.Sub(from)/o.Quantum)
	rs := series.Rollups
	now := s.cfg.SLOs.Now()
	for t := from; t.Before(to); t = t.Add(o.Quantum) {
		var ro *slo.Rollup
		if len(rs) > 0 && rs[0].Start == t.UnixNano() {
			ro, rs = &rs[0], rs[1:]
		}
		qv := quantumView{Start: t, State: s.cfg.SLOs.QuantumState(o, t, now)}
		switch {
		case qv.State == engine.QuantumPending:
			qv.Verdict = "pending"
		case t.UnixNano() < series.Since:
			qv.Verdict = "outside"
		default:
			v, down := o.Judge(ro)
			qv.Verdict, qv.Downtime = v, report.Number(down)
		}
		if ro != nil {
			qv.Measured, qv.Attempted, qv.Good, qv.Errors, qv.Slow = ro.Measured, ro.Attempted, ro.Good, ro.Errors, ro.Slow
			if o.SLI.Latency != nil && ro.Latency.Count() >= ro.OverThreshold {
				under, over := ro.Latency.Count()-ro.OverThreshold, ro.OverThreshold
				qv.LatencyAtOrUnder, qv.LatencyOver = &under, &over
			}
		}
		out = append(out, qv)
	}
	doc := map[string]any{"slo": o.Name, "quantum": slo.FormatDuration(o.Quantum), "from": from, "to": to, "quanta": out}
	if series.Since != slo.NotStarted {
		doc["since"] = time.Unix(0, series.Since).UTC()
	}
	return doc, nil
}

type binView struct {
	LowerMS report.Number `json:"lower_ms"`
	UpperMS report.Number `json:"upper_ms"`
	Count   uint64        `json:"count"`
}

// histogram returns the merged latency histogram of a range, its
// quantiles, and the inverse quantile at any threshold.
func (s *Server) histogram(r *http.Request) (any, error) {
	o, from, to, err := s.sloRange(r)
	if err != nil {
		return nil, err
	}
	h, err := s.cfg.SLOs.Latency(r.Context(), o.Name, from, to)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"slo": o.Name, "from": from, "to": to, "count": h.Count(), "modes": h.Modes()}
	threshold := math.NaN()
	if v := r.URL.Query().Get("threshold"); v != "" {
		if threshold, err = slo.ParseSeconds(v); err != nil || threshold <= 0 {
			return nil, httpx.BadRequest("threshold=%q: want a duration such as 5ms", v)
		}
	} else if o.SLI.Latency != nil {
		threshold = o.SLI.Latency.Threshold
	}
	if !math.IsNaN(threshold) {
		out["threshold_ms"] = report.Number(slo.ShiftDecimal(threshold, 3))
		out["count_below"] = h.CountBelow(threshold)
		out["count_at_or_below"] = h.CountAtOrBelow(threshold)
		out["count_above"] = h.CountAbove(threshold)
		out["fraction_below"] = report.Number(h.FractionBelow(threshold))
		out["fraction_at_or_below"] = report.Number(h.FractionAtOrBelow(threshold))
	}
	qs := map[string]report.Number{}
	for _, q := range slo.ReportedQuantiles {
		qs[fmt.Sprint(q)] = report.Number(slo.ShiftDecimal(h.Quantile(q), 3))
	}
	out["quantiles_ms"] = qs
	bins := []binView{}
	for b := range h.Bins() {
		bins = append(bins, binView{report.Number(slo.ShiftDecimal(b.Lower, 3)), report.Number(slo.ShiftDecimal(b.Upper, 3)), b.Count})
	}
	out["bins"] = bins
	return out, nil
}

type budgetView struct {
	At           time.Time     `json:"at"`
	WindowStart  time.Time     `json:"window_start"`
	WindowEnd    time.Time     `json:"window_end"`
	Total        report.Number `json:"total"`
	Spent        report.Number `json:"spent"`
	Remaining    report.Number `json:"remaining"`
	Availability report.Number `json:"availability"`
}

// budget is the error budget over time: the burn-down chart.
func (s *Server) budget(r *http.Request) (any, error) {
	o, from, to, err := s.sloRange(r)
	if err != nil {
		return nil, err
	}
	step := max(o.Quantum, to.Sub(from)/500/o.Quantum*o.Quantum)
	if v := r.URL.Query().Get("step"); v != "" {
		if step, err = slo.ParseDuration(v); err != nil {
			return nil, httpx.BadRequest("step=%q: want a duration such as 1h", v)
		}
	}
	// The budget is known up to the last settled quantum: the open one
	// waits (it would count as unmeasured). Annotations go up to the end
	// asked for.
	annTo := to
	if settled := s.cfg.SLOs.EvalTime(o, s.cfg.SLOs.Now()); to.After(settled) {
		to = settled
		if !from.Before(to) {
			from = to
		}
	}
	lo := o.Window.Containing(from).Start
	_, series, err := s.cfg.SLOs.Series(r.Context(), o.Name, lo, to)
	if err != nil {
		return nil, err
	}
	points, err := slo.BudgetHistory(o, series, from, to, step)
	if err != nil {
		return nil, httpx.BadRequest("%v", err)
	}
	out := make([]budgetView, 0, len(points))
	for _, p := range points {
		out = append(out, budgetView{
			At: p.At.UTC(), WindowStart: p.Window.Start.UTC(), WindowEnd: p.Window.End.UTC(),
			Total: report.Number(p.Budget.Total), Spent: report.Number(p.Budget.Spent),
			Remaining: report.Number(p.Budget.Remaining), Availability: report.Number(p.Availability * 100),
		})
	}
	// Deploys beside the budget, so a burn can be traced to a release.
	as, err := s.cfg.SLOs.Annotations(r.Context(), o.Name, from, annTo)
	if err != nil {
		return nil, err
	}
	return map[string]any{"slo": o.Name, "unit": o.Method.BudgetUnit(), "step": slo.FormatDuration(step), "points": out,
		"annotations": viewAnnotations(as)}, nil
}

// events takes JSON lines or a JSON array of events, in the schema of nines
// eval, for the SLOs named by ?slo= (repeatable) or every SLO of ?service=.
func (s *Server) events(r *http.Request) (any, error) {
	targets, err := s.targets(r)
	if err != nil {
		return nil, err
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	id, err := idempotency(r, body, "", nil)
	if err != nil {
		return nil, err
	}
	if body, err = arrayToLines(body); err != nil {
		return nil, err
	}
	// Each SLO judges the events by its own SLI; all of them are stored in
	// one transaction, so a failed request stored nothing.
	var rep *ingest.Report
	var requests uint64
	batch := &engine.Batch{Source: "events", Series: map[string]*slo.Series{}, Idempotency: id}
	for _, o := range targets {
		// Counts per status are stored so an edited SLI can be re-judged.
		series, rp, err := ingest.ReadEvents(r.Context(), bytes.NewReader(body), o)
		if err != nil {
			return nil, httpx.BadRequest("%v", err)
		}
		rep = rp
		batch.Series[o.Name] = series
		// Every event is attempted by every SLI, so any one series sums
		// the counts.
		requests = 0
		for i := range series.Rollups {
			requests += series.Rollups[i].Attempted
		}
	}
	switch {
	case rep.Events == 0 && rep.Malformed > 0:
		s.cfg.Writes.Counters().Reject("malformed", rep.Malformed)
		return nil, httpx.BadRequest("no valid event in %d lines; first problem: %v", rep.Lines, rep.Errors[0])
	case rep.Events == 0:
		// An empty body is most often a sender's bug (an empty file, a
		// failed pipe); a quiet moment is sent as an event with "count": 0.
		return nil, httpx.BadRequest("the body is empty (%d lines, no event): send JSON lines or a JSON array of events; a quiet moment is an event with \"count\": 0", rep.Lines)
	}
	stored, replay, err := s.commit(r.Context(), batch)
	if err != nil {
		return nil, err
	}
	results := make([]eventsResult, 0, len(targets))
	for _, o := range targets {
		ar := stored[o.Name]
		results = append(results, eventsResult{o.Name, ar.Accepted, ar.Late, ar.Future})
	}
	errs := make([]string, 0, len(rep.Errors))
	for _, le := range rep.Errors {
		errs = append(errs, le.Error())
	}
	reply := map[string]any{"lines": rep.Lines, "event_lines": rep.Events, "events": requests, "malformed": rep.Malformed,
		"errors": errs, "slos": results}
	if w := s.clockWarning(targets[0], results); w != "" {
		reply["warning"] = w
	}
	if replay {
		return replayed{reply}, nil
	}
	s.cfg.Writes.Counters().Events.Add(int64(min(requests, math.MaxInt64)))
	s.cfg.Writes.Counters().Reject("malformed", rep.Malformed)
	return reply, nil
}

// eventsResult says what became of one SLO's events.
type eventsResult struct {
	SLO      string `json:"slo"`
	Accepted int    `json:"quanta_accepted"`
	Late     int    `json:"quanta_late"`
	Future   int    `json:"quanta_future"`
}

// clockWarning words what a sender whose events came too late or too early
// should check: most often its clock, which a probe agent or a shipper
// cannot see from its side. Those events were counted (quanta_late,
// quanta_future and /metrics), not dropped silently.
func (s *Server) clockWarning(o *slo.SLO, results []eventsResult) string {
	var late, future int
	for _, r := range results {
		late += r.Late
		future += r.Future
	}
	if late == 0 && future == 0 {
		return ""
	}
	now := s.cfg.SLOs.Now().UTC()
	_, _, _, maxLag := s.cfg.SLOs.Settled(o, now)
	return fmt.Sprintf("%d quanta were older than the lateness limit (%s) and %d were ahead of this server's clock by more than the skew allowed; they were counted, not stored. This server's time is %s: if the sender's clock differs, set it right (NTP)",
		late, slo.FormatDuration(maxLag), future, now.Format(time.RFC3339))
}

// notProbeFed refuses writes to an SLO fed by a probe's consensus: its
// quanta are computed once from its locations' results, and anything
// else written there would be counted with them.
func notProbeFed(o *slo.SLO) error {
	if p := o.SLI.Probe; p != nil {
		return httpx.BadRequest("SLO %s is fed by the consensus of probe %s, which nines serve computes from its locations' results: send a location's results to its own SLO, %s.LOCATION", o.Name, p.Name, p.Name)
	}
	return nil
}

// targets resolves ?slo= and ?service= to SLOs.
func (s *Server) targets(r *http.Request) ([]*slo.SLO, error) {
	q := r.URL.Query()
	var out []*slo.SLO
	for _, name := range q["slo"] {
		o, err := s.cfg.SLOs.SLO(name)
		if err != nil {
			return nil, err
		}
		if err := notProbeFed(o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	if svc := q.Get("service"); svc != "" {
		for _, o := range s.cfg.SLOs.SLOs() {
			// A probe's consensus is not the service's traffic.
			if o.Service == svc && o.SLI.Probe == nil {
				out = append(out, o)
			}
		}
		if len(out) == 0 {
			return nil, httpx.Errorf(http.StatusNotFound, "no SLO has service %q", svc)
		}
	}
	if len(out) == 0 {
		return nil, httpx.BadRequest("name the SLOs the events are for: ?slo=NAME (repeatable) or ?service=NAME")
	}
	return out, nil
}

// arrayToLines turns a JSON array of objects into JSON lines; anything
// else is returned as it is.
func arrayToLines(body []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		return body, nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return nil, httpx.BadRequest("events array: %v", err)
	}
	var out bytes.Buffer
	for i := 0; dec.More(); i++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, httpx.BadRequest("events array element %d: %v", i, err)
		}
		if err := json.Compact(&out, raw); err != nil {
			return nil, httpx.BadRequest("events array element %d: %v", i, err)
		}
		out.WriteByte('\n')
	}
	if _, err := dec.Token(); err != nil {
		return nil, httpx.BadRequest("events array: %v", err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, httpx.BadRequest("events array: data after the array, which ends at byte %d: send one array, or JSON lines", end+int64(len(body)-len(trimmed)))
	}
	return out.Bytes(), nil
}

// rollups takes pre-aggregated quanta for one SLO.
func (s *Server) rollups(r *http.Request) (any, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	var in wire.Rollups
	if err := decodeJSON(body, "rollups", &in); err != nil {
		return nil, err
	}
	id, err := idempotency(r, body, "idempotency_key", in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	o, err := s.cfg.SLOs.SLO(in.SLO)
	if err != nil {
		return nil, err
	}
	if err := notProbeFed(o); err != nil {
		return nil, err
	}
	agg := slo.NewAggregator(&o.SLI, o.Quantum)
	for i, ri := range in.Rollups {
		ro, err := ri.Decode(&o.SLI, o.Quantum)
		if err != nil {
			return nil, httpx.BadRequest("rollups[%d]: %v", i, err)
		}
		if err := agg.AddRollup(ro); err != nil {
			return nil, httpx.BadRequest("rollups[%d]: %v", i, err)
		}
	}
	stored, replay, err := s.commit(r.Context(), &engine.Batch{Source: "rollups", Series: map[string]*slo.Series{o.Name: agg.Series()}, Idempotency: id})
	if err != nil {
		return nil, err
	}
	ar := stored[o.Name]
	reply := map[string]any{"slo": o.Name, "quanta_accepted": ar.Accepted, "quanta_late": ar.Late, "quanta_future": ar.Future}
	if replay {
		return replayed{reply}, nil
	}
	return reply, nil
}

func (s *Server) reload(r *http.Request) (any, error) {
	if s.cfg.Reload == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "reload is not enabled: nines serve was started without --slos")
	}
	warnings, err := s.cfg.Reload()
	if warnings == nil {
		warnings = []string{}
	}
	switch {
	case errors.Is(err, engine.ErrInvalid):
		return nil, httpx.BadRequest("reload failed, the previous SLOs stay in force: %v", err)
	case err != nil:
		// The specs were fine; storing what they change was not (a store
		// that fails to re-judge history, say). The cause is logged with
		// the request id.
		status := httpx.Status(err)
		if status < 500 {
			status = http.StatusServiceUnavailable
		}
		return nil, &httpx.Error{Status: status, Msg: "reload failed, the previous SLOs stay in force", Err: err}
	}
	return map[string]any{"reloaded": true, "slos": len(s.cfg.SLOs.SLOs()), "warnings": warnings}, nil
}

package ui

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/ui/chart"
)

// trafficView is the request rate and the share of requests that failed
// over the page's range: the first charts Pyrra and Grafana's SLO app
// show, because a burn reads differently at 3 requests a second than at
// 3,000, and an error ratio shows how bad each bad minute was.
type trafficView struct {
	Rate, Errors template.HTML
	// Step is the span each point averages ("1m", "2h").
	Step string
	// Peak is the highest request rate (per second), Failed the share
	// of the range's requests that failed; NaN without any.
	Peak, Failed float64
	// Line says what the error ratio's threshold line is; empty without.
	Line string
}

// traffic draws the request rate and the error ratio of rs (the judged
// quanta of the range, in order) over tr, in the burn-down's steps and
// with its annotations; nothing after end (the evaluation time) counts.
func traffic(s *slo.SLO, rs []slo.Rollup, tr timeRange, end time.Time, marks []chart.Mark, zone *time.Location) trafficView {
	step := pointStep(end.Sub(tr.From), s.Quantum)
	rate, ratio, total := trafficPoints(rs, tr.From, end, step)
	v := trafficView{Step: slo.FormatDuration(step), Peak: math.NaN(), Failed: math.NaN()}
	// The steps where the rate peaked and the ratio was worst, by their
	// start (points sit at their steps' middles).
	var peakAt, worstAt time.Time
	worst := math.NaN()
	for i := range rate {
		start := tr.From.Add(time.Duration(i) * step)
		if r := rate[i].V; !math.IsNaN(r) && (math.IsNaN(v.Peak) || r > v.Peak) {
			v.Peak, peakAt = r, start
		}
		if e := ratio[i].V; !math.IsNaN(e) && (math.IsNaN(worst) || e > worst) {
			worst, worstAt = e, start
		}
	}
	if total.Attempted > 0 {
		v.Failed = float64(total.Failed()) / float64(total.Attempted)
	}
	frame := chart.Frame{W: 480, H: 200, Left: 52, Right: 12, Top: 12, Bottom: 24}
	span := fmt.Sprintf("from %s to %s", rfc3339(tr.From, zone), rfc3339(tr.To, zone))

	rateDesc := fmt.Sprintf("Requests per second, averaged over each %s, %s: no data.", v.Step, span)
	if !math.IsNaN(v.Peak) {
		rateDesc = fmt.Sprintf("Requests per second, averaged over each %s, %s: %s requests; peak %s in the %s from %s.",
			v.Step, span, figure(total.Attempted), rateText(v.Peak), v.Step, stamp(peakAt, zone, "2006-01-02 15:04"))
	}
	top := chart.NiceMax(v.Peak*1.05, 4)
	v.Rate = chart.NewLine(frame, chart.Text{ID: "rate", Title: "Request rate of " + s.Name, Desc: rateDesc, Zone: zone},
		tr.From, tr.To, rate, nil, marks, 0, top, rateText).SVG()

	line, label := errorLine(s)
	// The axis shows the worst step and the line with room above it;
	// without either, or with no failure at all, 0–1 %.
	hi := math.NaN()
	for _, x := range []float64{worst, line * 1.25} {
		if !math.IsNaN(x) && (math.IsNaN(hi) || x > hi) {
			hi = x
		}
	}
	if math.IsNaN(hi) || hi <= 0 {
		hi = 0.01
	}
	top = chart.NiceMax(hi, 4)
	pct := func(x float64) string { return chart.Percent(x, chart.PercentDecimals(top)) }
	errDesc := fmt.Sprintf("Share of requests that failed (errors or too slow), per %s, %s: no requests.", v.Step, span)
	if !math.IsNaN(worst) {
		errDesc = fmt.Sprintf("Share of requests that failed (errors or too slow), per %s, %s: %s over the range; highest %s in the %s from %s.",
			v.Step, span, chart.Percent(v.Failed, 3), chart.Percent(worst, 3), v.Step, stamp(worstAt, zone, "2006-01-02 15:04"))
	}
	errs := chart.NewLine(frame, chart.Text{ID: "errors", Title: "Error ratio of " + s.Name, Desc: errDesc, Zone: zone},
		tr.From, tr.To, ratio, nil, marks, 0, top, pct)
	if !math.IsNaN(line) {
		v.Line = label
		errs.AddThreshold(line, chart.Percent(line, 3))
		errs.Desc += " The dashed line at " + chart.Percent(line, 3) + ": " + label + "."
	}
	v.Errors = errs.SVG()
	return v
}

// trafficPoints sums rs (in order) over steps of [from, end): the request
// rate per second and the share that failed, each at its step's middle.
// A step nothing reported for is a gap in both; one with no requests is
// 0/s and a gap in the ratio, which has nothing to divide. total is the
// sum of every step.
func trafficPoints(rs []slo.Rollup, from, end time.Time, step time.Duration) (rate, ratio []chart.Point, total slo.Rollup) {
	j := 0
	for t := from; t.Before(end); t = t.Add(step) {
		e := minTime(t.Add(step), end)
		var sum slo.Rollup
		for ; j < len(rs) && rs[j].Start < e.UnixNano(); j++ {
			if r := &rs[j]; r.Start >= t.UnixNano() {
				sum.Attempted += r.Attempted
				sum.Good += min(r.Good, r.Attempted)
				sum.Measured = sum.Measured || r.Measured || r.Attempted > 0
			}
		}
		mid := t.Add(e.Sub(t) / 2)
		rp, ep := chart.Point{T: mid, V: math.NaN()}, chart.Point{T: mid, V: math.NaN()}
		if sum.Measured {
			rp.V = float64(sum.Attempted) / e.Sub(t).Seconds()
		}
		if sum.Attempted > 0 {
			ep.V = float64(sum.Failed()) / float64(sum.Attempted)
		}
		rate, ratio = append(rate, rp), append(ratio, ep)
		total.Attempted += sum.Attempted
		total.Good += sum.Good
	}
	return rate, ratio, total
}

// errorLine is the error ratio an SLO's method holds requests to, and
// what it means; NaN for time-quanta, where any failure makes a quantum
// bad.
func errorLine(s *slo.SLO) (float64, string) {
	switch s.Method {
	case slo.Quanta:
		qo := s.QuantumObjective
		if qo.IsZero() {
			qo = s.Objective
		}
		return 1 - qo.Float(), "a quantum with more failed is bad"
	case slo.Transactions, slo.DowntimeMinutes:
		return 1 - s.Objective.Float(), "failing this share all along spends exactly the budget"
	}
	return math.NaN(), ""
}

// rateText writes a request rate per second: 0.25/s, 3.5/s, 850/s,
// 12.4k/s.
func rateText(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 10000:
		return strconv.FormatFloat(v/1000, 'f', 0, 64) + "k/s"
	case v >= 1000:
		return strconv.FormatFloat(v/1000, 'f', 1, 64) + "k/s"
	case v >= 10 || v == 0:
		return strconv.FormatFloat(v, 'f', 0, 64) + "/s"
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 1, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'g', 2, 64) + "/s"
}

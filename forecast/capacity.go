package forecast

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Horizons of the traffic forecast, in hours.
const (
	ShortHorizon = 7 * 24
	LongHorizon  = 90 * 24
)

// Traffic is a service's attempted requests per quantum.
type Traffic struct {
	// Start is the first quantum's start, on a whole hour (UTC).
	Start time.Time
	// Step is the quantum; it divides an hour.
	Step time.Duration
	// Counts are the attempted requests of each quantum; NaN for a quantum
	// nothing reported for (not the same as no requests).
	Counts []float64
}

// CapacityInput is what a service's capacity forecast reads.
type CapacityInput struct {
	Service string
	Traffic Traffic
	// Tested maps services to the request rate they were load-tested to
	// carry (the catalog's capacity.testedRPS); Dependencies are the
	// services this one calls. Every request of the service is taken to
	// reach each dependency once, so the service's forecast peak is the
	// load each of them must carry.
	Tested       map[string]float64
	Dependencies []string
}

// Candidate is one model's error on the held-out weeks.
type Candidate struct {
	Model string  `json:"model"`
	MAPE  float64 `json:"mape"`
}

// Peak is the highest forecast request rate of a horizon.
type Peak struct {
	RPS float64   `json:"rps"`
	At  time.Time `json:"at"`
}

// Component is a service on the request path with its tested capacity
// and its headroom at the 90-day peak: tested capacity over the peak,
// minus one (0.1 is 10 % above the peak; negative is short of it), as
// the dependency checks count it.
type Component struct {
	Service   string  `json:"service"`
	TestedRPS float64 `json:"tested_rps"`
	// Headroom is nil when the forecast peak is zero.
	Headroom *float64 `json:"headroom,omitempty"`
}

// Capacity is the traffic and capacity forecast of one service.
type Capacity struct {
	Service string `json:"service"`
	// At is the end of the history: the forecast's origin.
	At time.Time `json:"at"`
	// Model is the model chosen by backtest, MAPE its mean absolute
	// percentage error (0.05 is 5 %) forecasting the held-out weeks (or
	// days); Baseline and BaselineMAPE are the seasonal-naive forecast's.
	Model        string      `json:"model"`
	MAPE         float64     `json:"mape"`
	Baseline     string      `json:"baseline"`
	BaselineMAPE float64     `json:"baseline_mape"`
	HeldOut      string      `json:"held_out"`
	Candidates   []Candidate `json:"candidates"`
	// PeakFactor is how much higher the busiest quantum of a day runs than
	// its busiest hour (the median over the days of the history): the
	// hourly forecast times it is the peak rate a capacity must carry.
	PeakFactor float64 `json:"peak_factor"`
	Peak7d     Peak    `json:"peak_7d"`
	Peak90d    Peak    `json:"peak_90d"`
	// Components are the service and its dependencies whose tested
	// capacity is known; Bottleneck the one with the least headroom.
	Components []Component `json:"components"`
	Bottleneck *Component  `json:"bottleneck,omitempty"`
	// Reached is the first hour the forecast peak passes the bottleneck's
	// tested capacity within 90 days; nil when it does not.
	Reached *time.Time `json:"reached,omitempty"`
	// Hourly is the chosen model's forecast of the next 90 days, requests
	// per second per hour (without PeakFactor), for charts.
	Hourly []float64 `json:"-"`
	Notes  []string  `json:"notes"`
}

// MinTrafficHours is the shortest history a capacity forecast takes:
// three days, so that a daily model has two seasons to learn from and one
// to be checked on.
const MinTrafficHours = 72

// hourly aggregates t to mean requests per second per hour. An hour
// nothing measured is filled from the same hour a week before, else a
// day before, else the hour before; filled counts them. Leading hours
// without data are dropped: start is the first kept hour.
func hourly(t Traffic) (start time.Time, rps []float64, peakFactor float64, filled int, err error) {
	if t.Step <= 0 || time.Hour%t.Step != 0 {
		return time.Time{}, nil, 0, 0, fmt.Errorf("%w: a traffic step of %s does not divide an hour", ErrInvalid, t.Step)
	}
	if !t.Start.Equal(t.Start.Truncate(time.Hour)) {
		return time.Time{}, nil, 0, 0, fmt.Errorf("%w: traffic starts at %s, not on a whole hour", ErrInvalid, t.Start.UTC().Format(time.RFC3339))
	}
	per := int(time.Hour / t.Step)
	hours := len(t.Counts) / per
	rps = make([]float64, hours)
	measured := make([]bool, hours)
	// Per day: the busiest quantum and the busiest hour.
	days := (hours + 23) / 24
	dayQuantum, dayHour := make([]float64, days), make([]float64, days)
	for hr := range hours {
		var sum float64
		n := 0
		for j, c := range t.Counts[hr*per : (hr+1)*per] {
			if math.IsNaN(c) {
				continue
			}
			if c < 0 || math.IsInf(c, 0) {
				return time.Time{}, nil, 0, 0, fmt.Errorf("%w: quantum %d of the traffic counts %g requests; want a count of at least 0, or NaN for none measured", ErrInvalid, hr*per+j, c)
			}
			sum += c
			n++
			dayQuantum[hr/24] = max(dayQuantum[hr/24], c/t.Step.Seconds())
		}
		if n > 0 {
			rps[hr] = sum / float64(n) * float64(per) / 3600
			measured[hr] = true
			dayHour[hr/24] = max(dayHour[hr/24], rps[hr])
		}
	}
	first := slices.Index(measured, true)
	if first < 0 {
		return time.Time{}, nil, 0, 0, fmt.Errorf("%w: no quantum of the traffic was measured", ErrInvalid)
	}
	rps, measured = rps[first:], measured[first:]
	for i := range rps {
		if measured[i] {
			continue
		}
		filled++
		switch {
		case i >= hoursPerWeek:
			rps[i] = rps[i-hoursPerWeek]
		case i >= 24:
			rps[i] = rps[i-24]
		default:
			rps[i] = rps[i-1] // i > 0: the first hour is measured
		}
	}
	var factors []float64
	for d := range days {
		if dayHour[d] > 0 {
			factors = append(factors, dayQuantum[d]/dayHour[d])
		}
	}
	peakFactor = 1
	if len(factors) > 0 {
		sort.Float64s(factors)
		peakFactor = max(1, factors[len(factors)/2])
	}
	return t.Start.Add(time.Duration(first) * time.Hour).UTC(), rps, peakFactor, filled, nil
}

// candidates are the models tried on a series of n hours.
func candidates() []model {
	return []model{
		&seasonalNaive{period: hoursPerWeek}, &seasonalNaive{period: 24},
		&holtWinters{period: 24}, &holtWinters{period: 24, multiplicative: true},
		&holtWinters{period: hoursPerWeek}, &holtWinters{period: hoursPerWeek, multiplicative: true},
	}
}

// backtest holds out the last folds × fold hours one fold at a time, fits
// each candidate on what comes before and scores its forecast of the fold.
func backtest(y []float64, folds, fold int) []Candidate {
	var out []Candidate
	for _, m := range candidates() {
		var sum float64
		n := 0
		for k := folds; k >= 1; k-- {
			train := y[:len(y)-k*fold]
			if !m.fit(train) {
				break
			}
			e := mape(m.forecast(fold), y[len(train):len(train)+fold])
			if math.IsNaN(e) {
				continue
			}
			sum += e
			n++
		}
		if n == folds {
			out = append(out, Candidate{Model: m.name(), MAPE: sum / float64(n)})
		}
	}
	return out
}

// ForecastCapacity forecasts the service's peak request rate for the next
// 7 and 90 days and compares it with the tested capacities of the service
// and its dependencies.
func ForecastCapacity(in CapacityInput) (*Capacity, error) {
	start, y, factor, filled, err := hourly(in.Traffic)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", in.Service, err)
	}
	if len(y) < MinTrafficHours {
		return nil, fmt.Errorf("%w: service %s: %d hours of traffic; a forecast needs at least %d (3 days), and weeks to learn a weekly pattern",
			ErrInvalid, in.Service, len(y), MinTrafficHours)
	}
	out := &Capacity{Service: in.Service, At: start.Add(time.Duration(len(y)) * time.Hour), PeakFactor: factor, Components: []Component{}, Notes: []string{}}
	if filled > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d of %d hours had no measured quantum and were filled from the hour a week (or a day) before", filled, len(y)))
	}
	// Hold out whole weeks when there are enough to learn from before
	// them; else whole days.
	weeks := len(y) / hoursPerWeek
	folds, fold := 1, 24
	switch {
	case weeks >= 4:
		folds, fold, out.HeldOut = 2, hoursPerWeek, "the last 2 weeks, each forecast from the weeks before it"
	case weeks >= 3:
		folds, fold, out.HeldOut = 1, hoursPerWeek, "the last week, forecast from the weeks before it"
	default:
		out.HeldOut = "the last day, forecast from the days before it (less than 3 weeks of traffic: no weekly model)"
	}
	out.Candidates = backtest(y, folds, fold)
	if len(out.Candidates) == 0 {
		return nil, fmt.Errorf("%w: service %s: no model could be checked on the held-out traffic (no requests in it)", ErrInvalid, in.Service)
	}
	best := slices.MinFunc(out.Candidates, func(a, b Candidate) int { return cmp.Compare(a.MAPE, b.MAPE) })
	out.Model, out.MAPE = best.Model, best.MAPE
	// The baseline is the naive forecast of the longest season checked.
	for _, c := range out.Candidates {
		if c.Model == "seasonal-naive weekly" || (c.Model == "seasonal-naive daily" && out.Baseline == "") {
			out.Baseline, out.BaselineMAPE = c.Model, c.MAPE
		}
	}
	var chosen model
	for _, m := range candidates() {
		if m.name() == best.Model {
			chosen = m
		}
	}
	if !chosen.fit(y) {
		return nil, fmt.Errorf("%w: service %s: model %s cannot be fitted to the whole history", ErrInvalid, in.Service, best.Model)
	}
	out.Hourly = chosen.forecast(LongHorizon)
	peak := func(h int) Peak {
		i := 0
		for j := range h {
			if out.Hourly[j] > out.Hourly[i] {
				i = j
			}
		}
		return Peak{RPS: out.Hourly[i] * factor, At: out.At.Add(time.Duration(i) * time.Hour)}
	}
	out.Peak7d, out.Peak90d = peak(ShortHorizon), peak(LongHorizon)
	out.capacity(in)
	return out, nil
}

// capacity names the bottleneck among the service and its dependencies
// and the first hour the forecast peak reaches it.
func (c *Capacity) capacity(in CapacityInput) {
	for _, name := range append([]string{in.Service}, in.Dependencies...) {
		tested, ok := in.Tested[name]
		if !ok || slices.ContainsFunc(c.Components, func(k Component) bool { return k.Service == name }) {
			continue
		}
		if !(tested > 0) || math.IsInf(tested, 0) {
			c.Notes = append(c.Notes, fmt.Sprintf("%s declares a tested capacity of %g rps, which carries nothing; give capacity.testedRPS above 0", name, tested))
			continue
		}
		k := Component{Service: name, TestedRPS: tested}
		if c.Peak90d.RPS > 0 {
			h := tested/c.Peak90d.RPS - 1
			k.Headroom = &h
		}
		c.Components = append(c.Components, k)
	}
	if len(c.Components) == 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("no tested capacity is known for %s or its dependencies; declare capacity.testedRPS in the catalog", in.Service))
		return
	}
	b := slices.MinFunc(c.Components, func(a, b Component) int {
		return cmp.Or(cmp.Compare(a.TestedRPS, b.TestedRPS), cmp.Compare(a.Service, b.Service))
	})
	c.Bottleneck = &b
	for i, v := range c.Hourly {
		if v*c.PeakFactor >= b.TestedRPS {
			t := c.At.Add(time.Duration(i) * time.Hour)
			c.Reached = &t
			return
		}
	}
}

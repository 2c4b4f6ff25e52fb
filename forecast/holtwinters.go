package forecast

import (
	"math"
)

// A model forecasts an hourly series h hours past its end.
type model interface {
	name() string
	// fit prepares the model on y and reports whether it can be fitted
	// (enough seasons, positive values for a multiplicative one).
	fit(y []float64) bool
	forecast(h int) []float64
}

// seasonalNaive repeats the last season: the value one period before.
type seasonalNaive struct {
	period int
	last   []float64
}

func (m *seasonalNaive) name() string { return "seasonal-naive " + periodName(m.period) }

func (m *seasonalNaive) fit(y []float64) bool {
	if len(y) < m.period {
		return false
	}
	m.last = y[len(y)-m.period:]
	return true
}

func (m *seasonalNaive) forecast(h int) []float64 {
	out := make([]float64, h)
	for i := range out {
		out[i] = m.last[i%m.period]
	}
	return out
}

func periodName(p int) string {
	if p == hoursPerWeek {
		return "weekly"
	}
	return "daily"
}

// holtWinters is triple exponential smoothing with an additive trend and
// an additive or multiplicative season, its smoothing constants chosen
// from a grid by the one-step-ahead squared error on the training data.
type holtWinters struct {
	period         int
	multiplicative bool
	// fitted state
	level, trend       float64
	season             []float64 // the last period's seasonal terms, oldest first
	alpha, beta, gamma float64
}

func (m *holtWinters) name() string {
	kind := "additive"
	if m.multiplicative {
		kind = "multiplicative"
	}
	return "holt-winters " + kind + " " + periodName(m.period)
}

// The grid of smoothing constants: level, trend, season.
var (
	alphas = [...]float64{0.05, 0.1, 0.2, 0.35, 0.5}
	betas  = [...]float64{0, 0.002, 0.01, 0.05}
	gammas = [...]float64{0.05, 0.1, 0.2, 0.4}
)

func (m *holtWinters) fit(y []float64) bool {
	p := m.period
	if len(y) < 2*p+1 {
		return false
	}
	if m.multiplicative {
		for _, v := range y {
			if !(v > 0) {
				return false
			}
		}
	}
	best := math.Inf(1)
	for _, a := range alphas {
		for _, b := range betas {
			for _, g := range gammas {
				sse := m.run(y, a, b, g, best)
				if sse < best {
					best, m.alpha, m.beta, m.gamma = sse, a, b, g
				}
			}
		}
	}
	if math.IsInf(best, 1) {
		return false
	}
	m.run(y, m.alpha, m.beta, m.gamma, math.Inf(1))
	return true
}

// run smooths y with the given constants, leaving the final state in m,
// and returns the sum of squared one-step errors; it gives up (returning
// +Inf) once the sum passes limit.
func (m *holtWinters) run(y []float64, alpha, beta, gamma, limit float64) float64 {
	p := m.period
	var first, second float64
	for i := range p {
		first += y[i]
		second += y[p+i]
	}
	first /= float64(p)
	second /= float64(p)
	level, trend := first, (second-first)/float64(p)
	if cap(m.season) < p {
		m.season = make([]float64, p)
	}
	season := m.season[:p]
	for i := range p {
		if m.multiplicative {
			season[i] = y[i] / first
		} else {
			season[i] = y[i] - first
		}
	}
	var sse float64
	for t := p; t < len(y); t++ {
		s := season[t%p]
		var pred float64
		if m.multiplicative {
			pred = (level + trend) * s
		} else {
			pred = level + trend + s
		}
		e := y[t] - pred
		sse += e * e
		if sse > limit {
			return math.Inf(1)
		}
		prev := level
		if m.multiplicative {
			level = alpha*(y[t]/s) + (1-alpha)*(level+trend)
			trend = beta*(level-prev) + (1-beta)*trend
			if level != 0 {
				season[t%p] = gamma*(y[t]/level) + (1-gamma)*s
			}
		} else {
			level = alpha*(y[t]-s) + (1-alpha)*(level+trend)
			trend = beta*(level-prev) + (1-beta)*trend
			season[t%p] = gamma*(y[t]-level) + (1-gamma)*s
		}
	}
	// Keep the season in the order of the hours that follow y.
	n := len(y)
	rot := make([]float64, p)
	for i := range p {
		rot[i] = season[(n+i)%p]
	}
	copy(season, rot)
	m.level, m.trend = level, trend
	if math.IsNaN(sse) {
		return math.Inf(1)
	}
	return sse
}

func (m *holtWinters) forecast(h int) []float64 {
	out := make([]float64, h)
	for i := range out {
		base := m.level + float64(i+1)*m.trend
		s := m.season[i%m.period]
		if m.multiplicative {
			out[i] = base * s
		} else {
			out[i] = base + s
		}
		out[i] = max(out[i], 0) // a request rate is never negative
	}
	return out
}

// mape is the mean absolute percentage error of f against the actual
// values a, over the hours with traffic; NaN when none had any.
func mape(f, a []float64) float64 {
	var sum float64
	n := 0
	for i := range a {
		if a[i] > 0 {
			sum += math.Abs(f[i]-a[i]) / a[i]
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

package forecast

import (
	"math"
	"os"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/spec"
	"math/rand/v2"
	"testing"
	"time"
)

// synthetic is weeks of per-minute traffic starting on a Monday: a level
// that grows by trend a week, a daily cycle (trough at 04:00, peak at
// 16:00), quieter weekends, and noise of the given share, seeded.
func synthetic(weeks int, perMinute, trend, noise float64, seed uint64) Traffic {
	r := rand.New(rand.NewPCG(seed, 7))
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
	n := weeks * 7 * 1440
	t := Traffic{Start: start, Step: time.Minute, Counts: make([]float64, n)}
	for i := range t.Counts {
		at := start.Add(time.Duration(i) * time.Minute)
		hour := float64(at.Hour()) + float64(at.Minute())/60
		daily := 0.6 - 0.4*math.Cos(2*math.Pi*(hour-4)/24)
		weekly := 1.0
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekly = 0.55
		}
		level := perMinute * (1 + trend*float64(i)/(7*1440))
		t.Counts[i] = math.Max(0, level*daily*weekly*(1+noise*r.NormFloat64()))
	}
	return t
}

func TestHoltWintersBeatsSeasonalNaive(t *testing.T) {
	for _, tc := range []struct {
		name        string
		trend       float64
		hourlyNoise float64 // extra noise on whole hours, which the hourly means keep
	}{
		{"A growing series with daily and weekly seasons is forecast better than naively.", 0.05, 0.05},
		{"A flat series with noisy hours is forecast better than naively.", 0, 0.08},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := synthetic(6, 600, tc.trend, 0.1, 42)
			r := rand.New(rand.NewPCG(9, 9))
			for h := 0; h < len(tr.Counts)/60; h++ {
				f := 1 + tc.hourlyNoise*r.NormFloat64()
				for i := h * 60; i < (h+1)*60; i++ {
					tr.Counts[i] *= f
				}
			}
			c, err := ForecastCapacity(CapacityInput{Service: "shop", Traffic: tr})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("chosen %s MAPE %.2f %%, baseline %s %.2f %%; candidates %+v", c.Model, 100*c.MAPE, c.Baseline, 100*c.BaselineMAPE, c.Candidates)
			if c.Baseline != "seasonal-naive weekly" {
				t.Fatalf("baseline %q, want the weekly seasonal-naive forecast", c.Baseline)
			}
			hw := math.Inf(1)
			for _, k := range c.Candidates {
				if k.Model[:4] == "holt" {
					hw = math.Min(hw, k.MAPE)
				}
			}
			if !(hw < c.BaselineMAPE) {
				t.Errorf("best Holt-Winters MAPE %.4f, seasonal-naive %.4f: want Holt-Winters lower", hw, c.BaselineMAPE)
			}
		})
	}
}

// FACTS: the bottleneck is the component with the least headroom between
// forecast peak and tested capacity: at a peak of 1,000 rps a receiver of
// 1,300, a transformer of 1,250 and a distributor of 1,100 make the
// distributor the bottleneck.
func TestBottleneckAndTheDateItIsReached(t *testing.T) {
	// Flat traffic of 1,000 rps per minute growing 1 % a week, no noise.
	tr := synthetic(4, 60_000, 0, 0, 1)
	for i := range tr.Counts {
		tr.Counts[i] = 60_000 * (1 + 0.01*float64(i)/(7*1440))
	}
	c, err := ForecastCapacity(CapacityInput{Service: "receiver", Traffic: tr, Dependencies: []string{"transformer", "distributor", "unknown"},
		Tested: map[string]float64{"receiver": 1300, "transformer": 1250, "distributor": 1100}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Bottleneck == nil || c.Bottleneck.Service != "distributor" || len(c.Components) != 3 {
		t.Fatalf("bottleneck %+v of %+v, want the distributor of three", c.Bottleneck, c.Components)
	}
	if c.MAPE > 0.001 {
		t.Errorf("MAPE %.4f on a noiseless linear series; want near 0", c.MAPE)
	}
	// 1,040 rps at the end of week 4, +10 rps a week: 1,100 six weeks on.
	if c.Reached == nil {
		t.Fatal("the distributor's capacity is never reached")
	}
	want := tr.Start.Add(10 * 7 * 24 * time.Hour)
	if d := c.Reached.Sub(want); d < -24*time.Hour || d > 24*time.Hour {
		t.Errorf("reached at %s, want within a day of %s", c.Reached, want)
	}
}

func TestCapacityRefusesTooLittleTraffic(t *testing.T) {
	tr := synthetic(1, 10, 0, 0, 1)
	tr.Counts = tr.Counts[:48*60]
	if _, err := ForecastCapacity(CapacityInput{Service: "shop", Traffic: tr}); err == nil {
		t.Error("two days of traffic were forecast; want a refusal asking for three")
	}
	tr.Start = tr.Start.Add(time.Minute)
	if _, err := ForecastCapacity(CapacityInput{Service: "shop", Traffic: tr}); err == nil {
		t.Error("traffic off the hour was taken")
	}
	tr = synthetic(1, 10, 0, 0, 1)
	tr.Counts[100] = -1
	if _, err := ForecastCapacity(CapacityInput{Service: "shop", Traffic: tr}); err == nil {
		t.Error("a negative count was taken")
	}
}

// demoWeeks is how many weeks of the demo's traffic TestDemoTraffic makes
// up: five to learn from, one more so that two can be held out.
const demoWeeks = 6

// The demo's traffic (package demo: a daily cycle with 10 % noise a
// minute, outages now and then) is forecast better by the model the
// backtest chooses than by the seasonal-naive forecast. The figures are
// in docs/forecasts.md; NINES_FORECAST_DEMO=1 logs them.
func TestDemoTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("makes up six weeks of demo traffic")
	}
	slos, _, err := spec.Load("demo.yaml", []byte(demo.Specs))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC) // a Monday
	for _, s := range slos {
		t.Run("The demo's "+s.Name+" traffic is forecast better than naively.", func(t *testing.T) {
			tr := Traffic{Start: start, Step: time.Minute, Counts: make([]float64, demoWeeks*7*1440)}
			for i := range tr.Counts {
				r, _ := demo.Rollup(s, start.Add(time.Duration(i)*time.Minute), 1)
				tr.Counts[i] = float64(r.Attempted)
			}
			c, err := ForecastCapacity(CapacityInput{Service: s.Service, Traffic: tr})
			if err != nil {
				t.Fatal(err)
			}
			if os.Getenv("NINES_FORECAST_DEMO") != "" {
				t.Logf("%s: chosen %s, MAPE %.2f %%; %s %.2f %%; all %+v", s.Name, c.Model, 100*c.MAPE, c.Baseline, 100*c.BaselineMAPE, c.Candidates)
			}
			if !(c.MAPE < c.BaselineMAPE) || c.Model == c.Baseline {
				t.Errorf("chosen %s with MAPE %.4f, seasonal-naive %.4f: want the seasonal model to beat it", c.Model, c.MAPE, c.BaselineMAPE)
			}
		})
	}
}

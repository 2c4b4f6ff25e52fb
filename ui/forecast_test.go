package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/forecast"
)

// fakeForecaster reports two SLOs, one running out with an anomaly, and
// a service whose bottleneck is reached.
type fakeForecaster struct{}

func (fakeForecaster) Forecasts(_ context.Context, at time.Time) (*forecast.Report, error) {
	out := at.Add(150 * time.Minute)
	later := at.Add(40 * time.Hour)
	reached := at.Add(30 * 24 * time.Hour)
	head := 0.1
	return &forecast.Report{At: at, Problems: []string{"forecast: SLO young<b> has no data yet"},
		SLOs: []forecast.SLOForecast{{
			Budget: forecast.Budget{SLO: "checkout-availability", Service: "checkout", Window: "rolling 30d", Unit: "quanta", Total: 43.2, Remaining: 12.5,
				WindowEnd: at, Spans: []forecast.SpanBurn{{Seconds: 3600, Burn: 16.7}, {Seconds: 21600, Burn: 8}},
				Point: forecast.Estimate{Burn: 8, Outcome: forecast.RunsOut, At: &out}, Earliest: forecast.Estimate{Burn: 16.7, Outcome: forecast.RunsOut, At: &out},
				Latest: forecast.Estimate{Burn: 2, Outcome: forecast.RunsOut, At: &later}, Backtest: forecast.Backtest{Origins: 7, MAE: 0.031}},
			Anomalies: []forecast.Anomaly{{SLO: "checkout-availability", Start: at.Add(-3 * time.Hour), End: at.Add(-150 * time.Minute), Above: true, Observed: 0.1, Expected: 0.002}},
		}, {
			Budget: forecast.Budget{SLO: "search<script>", Window: "calendar month UTC", Unit: "events", Total: 1000, Remaining: 900,
				Point: forecast.Estimate{Outcome: forecast.NotBeforeReset}, Earliest: forecast.Estimate{Outcome: forecast.Never}, Latest: forecast.Estimate{Outcome: forecast.Never}},
		}},
		Capacity: []forecast.Capacity{{Service: "checkout", Model: "holt-winters multiplicative weekly", MAPE: 0.021, Baseline: "seasonal-naive weekly", BaselineMAPE: 0.026,
			Peak7d: forecast.Peak{RPS: 17.4}, Peak90d: forecast.Peak{RPS: 22.7}, Bottleneck: &forecast.Component{Service: "payments", TestedRPS: 20, Headroom: &head},
			Reached: &reached, Notes: []string{"3 of 1008 hours were filled"}}},
	}, nil
}

func TestForecastsPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.get("/forecasts", 404)
	f.ui.cfg.Forecasts = fakeForecaster{}
	page := f.get("/forecasts", 200)
	golden(t, "forecasts.html", page)
	for _, want := range []string{`href="/forecasts"`, "rolling 30d", "12.5 of 43.2 quanta", "1h 16.70× · 6h 8.00×", "±3.1 % of the budget a day ahead (7 days)",
		"error ratio 10 % above its band (usually 0.2 %)", "not before the window resets", "2.1 % (seasonal-naive weekly 2.6 %)",
		"payments (20 rps)", "3 of 1008 hours were filled", "Not forecast"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "search<script>") || strings.Contains(page, "young<b>") {
		t.Error("a name was not escaped")
	}
}

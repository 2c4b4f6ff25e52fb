package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/forecast"
)

// fakeForecaster answers with what it was asked, so that the test sees
// the time the server chose.
type fakeForecaster struct{}

func (fakeForecaster) Forecasts(_ context.Context, at time.Time) (*forecast.Report, error) {
	return &forecast.Report{At: at, SLOs: []forecast.SLOForecast{}, Capacity: []forecast.Capacity{}, Problems: []string{}}, nil
}

func (fakeForecaster) SLOForecast(_ context.Context, name string, at time.Time) (*forecast.SLOForecast, error) {
	switch name {
	case "young":
		return nil, fmt.Errorf("%w: SLO young has no data yet", forecast.ErrInvalid)
	case "checkout-availability":
		return &forecast.SLOForecast{Budget: forecast.Budget{SLO: name, At: at}, Anomalies: []forecast.Anomaly{}}, nil
	}
	return nil, fmt.Errorf("%w: %q", engine.ErrUnknownSLO, name)
}

func TestForecastAPI(t *testing.T) {
	ctx := context.Background()
	db, c := newStore(t)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(fc Forecaster) *fixture {
		s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Forecasts: fc})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		return &fixture{t: t, srv: srv, clock: c, eng: eng, db: db}
	}
	f := serve(fakeForecaster{})
	t.Run("The report is made at the server's clock by default.", func(t *testing.T) {
		var rep forecast.Report
		f.do("GET", "/api/v1/forecasts", "", nil, http.StatusOK, &rep)
		if !rep.At.Equal(c.Now()) {
			t.Errorf("at %s, want %s", rep.At, c.Now())
		}
	})
	t.Run("One SLO's forecast is made at the time asked.", func(t *testing.T) {
		var one forecast.SLOForecast
		f.do("GET", "/api/v1/slos/checkout-availability/forecast?at=2026-12-07T12:00:00Z", "", nil, http.StatusOK, &one)
		if one.SLO != "checkout-availability" || !one.At.Equal(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)) {
			t.Errorf("%+v", one)
		}
	})
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"An unknown SLO is 404.", "/api/v1/slos/nope/forecast", http.StatusNotFound},
		{"An SLO without data is 422.", "/api/v1/slos/young/forecast", http.StatusUnprocessableEntity},
		{"A time that is not RFC 3339 is 400.", "/api/v1/forecasts?at=yesterday", http.StatusBadRequest},
		{"A time outside the stored range is 400.", "/api/v1/forecasts?at=2300-01-01T00:00:00Z", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) { f.do("GET", tc.path, "", nil, tc.status, nil) })
	}
	t.Run("Without a forecaster both endpoints are 404.", func(t *testing.T) {
		off := serve(nil)
		off.do("GET", "/api/v1/forecasts", "", nil, http.StatusNotFound, nil)
		off.do("GET", "/api/v1/slos/checkout-availability/forecast", "", nil, http.StatusNotFound, nil)
	})
}

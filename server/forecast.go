package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nines-sre/nines/forecast"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/store"
)

// Forecaster makes the forecasts of docs/forecasts.md: every SLO's budget
// and anomalies with every service's traffic against its capacity, or one
// SLO's. An unknown SLO's error wraps engine.ErrUnknownSLO; one that
// cannot be forecast (no data yet) wraps forecast.ErrInvalid.
type Forecaster interface {
	Forecasts(ctx context.Context, at time.Time) (*forecast.Report, error)
	SLOForecast(ctx context.Context, name string, at time.Time) (*forecast.SLOForecast, error)
}

// forecastRoutes serves GET /api/v1/forecasts and
// GET /api/v1/slos/{name}/forecast, at the server's clock or ?at=TIME.
func (s *Server) forecastRoutes(read func(http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/forecasts", read(s.api(s.forecasts)))
	s.mux.Handle("GET /api/v1/slos/{name}/forecast", read(s.api(s.sloForecast)))
}

func (s *Server) forecasts(r *http.Request) (any, error) {
	at, err := s.forecastAt(r)
	if err != nil {
		return nil, err
	}
	return s.cfg.Forecasts.Forecasts(r.Context(), at)
}

func (s *Server) sloForecast(r *http.Request) (any, error) {
	at, err := s.forecastAt(r)
	if err != nil {
		return nil, err
	}
	one, err := s.cfg.Forecasts.SLOForecast(r.Context(), r.PathValue("name"), at)
	if errors.Is(err, forecast.ErrInvalid) {
		return nil, httpx.Errorf(http.StatusUnprocessableEntity, "%v", err)
	}
	return one, err
}

// forecastAt is the time a forecast is made at: ?at=RFC3339, or now. It
// also turns the endpoints off (404) when no forecaster is wired.
func (s *Server) forecastAt(r *http.Request) (time.Time, error) {
	if s.cfg.Forecasts == nil {
		return time.Time{}, httpx.Errorf(http.StatusNotFound, "forecasts are not enabled in this nines serve (docs/forecasts.md)")
	}
	v := r.URL.Query().Get("at")
	if v == "" {
		return s.cfg.SLOs.Now(), nil
	}
	at, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, httpx.BadRequest("at=%q: want an RFC 3339 time such as 2026-12-07T12:00:00Z", v)
	}
	if err := store.CheckTime("at", at); err != nil {
		return time.Time{}, httpx.BadRequest("%v", err)
	}
	return at.UTC(), nil
}

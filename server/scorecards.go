package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/nines-sre/nines/scorecard"
	"github.com/nines-sre/nines/server/httpx"
)

// ScorecardReader gives the weekly availability scorecards
// (*scorecard.Board).
type ScorecardReader interface {
	Cards(ctx context.Context, week, service string) (scorecard.Week, []scorecard.Card, error)
}

// ReadinessReader gives the production readiness of services
// (*scorecard.Assessor).
type ReadinessReader interface {
	Assess(ctx context.Context, service string) ([]scorecard.Readiness, error)
}

var (
	_ ScorecardReader = (*scorecard.Board)(nil)
	_ ReadinessReader = (*scorecard.Assessor)(nil)
)

// scorecardRoutes registers the scorecard and readiness reads; without a
// service catalog each answers 404.
func (s *Server) scorecardRoutes(read func(http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/scorecards", read(s.api(s.scorecards)))
	s.mux.Handle("GET /api/v1/readiness", read(s.api(s.readiness)))
}

// scorecards answers GET /api/v1/scorecards?week=2026-W48&service=NAME.
func (s *Server) scorecards(r *http.Request) (any, error) {
	if s.cfg.Scorecards == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "scorecards need a service catalog: start nines serve with --services")
	}
	q := r.URL.Query()
	w, cards, err := s.cfg.Scorecards.Cards(r.Context(), q.Get("week"), q.Get("service"))
	if err != nil {
		return nil, classifyScorecard(err)
	}
	return map[string]any{"week": w.Label, "start": w.Start, "end": w.End, "scorecards": cards}, nil
}

// readiness answers GET /api/v1/readiness?service=NAME.
func (s *Server) readiness(r *http.Request) (any, error) {
	if s.cfg.Readiness == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "readiness needs a service catalog: start nines serve with --services")
	}
	rs, err := s.cfg.Readiness.Assess(r.Context(), r.URL.Query().Get("service"))
	if err != nil {
		return nil, classifyScorecard(err)
	}
	return map[string]any{"services": rs}, nil
}

// classifyScorecard maps an unknown service to 404 and a bad week or
// catalog entry to 400; store failures keep their own class.
func classifyScorecard(err error) error {
	switch {
	case errors.Is(err, scorecard.ErrUnknown):
		return httpx.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, scorecard.ErrInput):
		return httpx.BadRequest("%v", err)
	}
	return err
}

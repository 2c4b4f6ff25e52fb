package server

import (
	"context"
	"net/http"
	"time"

	"github.com/nines-sre/nines/probe"
	"github.com/nines-sre/nines/server/httpx"
)

// Probes answers what the synthetic probes see: each probe, its
// consensus, and every location's latest quantum (docs/probes.md).
type Probes interface {
	Probes(ctx context.Context, now time.Time) ([]probe.View, error)
}

func (s *Server) probes(r *http.Request) (any, error) {
	if s.cfg.Probes == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "no probes in this nines serve: give --probes FILE and an SLO with sli.probes: NAME (docs/probes.md)")
	}
	ps, err := s.cfg.Probes.Probes(r.Context(), s.cfg.SLOs.Now())
	if err != nil {
		return nil, err
	}
	return map[string]any{"probes": ps}, nil
}

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
	// Text is the probes file as nines serve read it, for agents that
	// read their probes from the server.
	Text() []byte
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

// probesFile answers GET /api/v1/probes/file: the probes file, for
// nines probe agent without --probes. It may hold credentials (a
// transaction's log-in), so it asks for the token whenever the server has
// one, as writes do, even where reads are open.
func (s *Server) probesFile(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Probes == nil {
		s.fail(w, r, httpx.Errorf(http.StatusNotFound, "no probes in this nines serve: give --probes FILE (docs/probes.md)"))
		return
	}
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(s.cfg.Probes.Text())
}

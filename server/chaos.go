package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/nines-sre/nines/chaos"
	"github.com/nines-sre/nines/chaos/verdict"
	"github.com/nines-sre/nines/server/httpx"
)

// Chaos runs the experiments of nines serve --experiments
// (chaos.Controller; docs/chaos.md).
type Chaos interface {
	Definitions() []*chaos.Definition
	Runs(name string) ([]chaos.Run, error)
	Plan(ctx context.Context, name string) (verdict.Planned, error)
	Start(ctx context.Context, name string) (*chaos.Run, error)
	Stop(ctx context.Context, name, who string) (*chaos.Run, error)
	Assignment(proxy string) chaos.Assignment
	SetPaused(proxy string, paused bool)
}

var _ Chaos = (*chaos.Controller)(nil)

// chaosRoutes serves the experiments, their runs and the proxies'
// orders; without experiments they answer 404 saying how to have them.
// Among replicas they are the leader's (atLeader): a follower sends them
// on.
func (s *Server) chaosRoutes(readOnly func(http.Handler) http.Handler, write func(mediaTypes, http.Handler) http.Handler) {
	lead := s.atLeader
	s.mux.Handle("GET /api/v1/experiments", readOnly(lead(s.api(s.experiments))))
	s.mux.Handle("GET /api/v1/experiments/{name}", readOnly(lead(s.api(s.experiment))))
	s.mux.Handle("POST /api/v1/experiments/{name}/runs", write(noBody, lead(s.apiStatus(http.StatusCreated, s.startRun))))
	s.mux.Handle("POST /api/v1/experiments/{name}/stop", write(noBody, lead(s.api(s.stopRun))))
	// The proxy asks for its orders several times a second: a read, with
	// the write token when reads are protected.
	s.mux.Handle("GET /api/v1/proxies/{name}/assignment", readOnly(lead(s.api(s.assignment))))
	s.mux.Handle("POST /api/v1/proxies/{name}/pause", write(noBody, lead(s.api(s.pause(true)))))
	s.mux.Handle("POST /api/v1/proxies/{name}/resume", write(noBody, lead(s.api(s.pause(false)))))
}

// pause asks a proxy to hold its new requests, or release them.
func (s *Server) pause(paused bool) func(r *http.Request) (any, error) {
	return func(r *http.Request) (any, error) {
		c, err := s.chaosOn()
		if err != nil {
			return nil, err
		}
		name := r.PathValue("name")
		c.SetPaused(name, paused)
		return map[string]any{"proxy": name, "paused": paused}, nil
	}
}

func (s *Server) chaosOn() (Chaos, error) {
	if s.cfg.Chaos == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "no chaos experiments in this nines serve: give --experiments DIR (docs/chaos.md)")
	}
	return s.cfg.Chaos, nil
}

// experimentView is an experiment as the API lists it.
type experimentView struct {
	Name        string   `json:"name"`
	SLO         string   `json:"slo"`
	Proxy       string   `json:"proxy"`
	CohortShare float64  `json:"cohort_share"`
	Faults      []string `json:"faults"`
	MinEffect   float64  `json:"min_effect"`
	Alpha       float64  `json:"alpha"`
	Power       float64  `json:"power"`
	MaxDuration string   `json:"max_duration"`
	// Planned is how many requests per cohort and how long a run would
	// take at the traffic of the last hour.
	Planned *verdict.Planned `json:"planned,omitempty"`
	// Confidence decays from 1 after the last run that held (halving
	// every half-life); Stale is set when it fell below one half or the
	// experiment never held.
	Confidence float64     `json:"confidence"`
	Stale      bool        `json:"stale"`
	LastRun    *chaos.Run  `json:"last_run,omitempty"`
	Runs       []chaos.Run `json:"runs,omitempty"`
}

func (s *Server) view(r *http.Request, c Chaos, d *chaos.Definition, withRuns bool) experimentView {
	v := experimentView{Name: d.Name, SLO: d.SLO, Proxy: d.Proxy, CohortShare: d.Cohort.Share, MinEffect: d.Plan.MinEffect,
		Alpha: d.Plan.Alpha, Power: d.Plan.Power, MaxDuration: d.MaxDuration.String()}
	for _, f := range d.Faults {
		v.Faults = append(v.Faults, f.Name)
	}
	if p, err := c.Plan(r.Context(), d.Name); err == nil {
		v.Planned = &p
	}
	runs, _ := c.Runs(d.Name)
	if len(runs) > 0 {
		v.LastRun = &runs[0]
	}
	v.Confidence, _ = chaos.Confidence(runs, s.cfg.SLOs.Now(), d.HalfLife)
	v.Stale = v.Confidence < 0.5
	if withRuns {
		v.Runs = runs
	}
	return v
}

func (s *Server) experiments(r *http.Request) (any, error) {
	c, err := s.chaosOn()
	if err != nil {
		return nil, err
	}
	out := []experimentView{}
	for _, d := range c.Definitions() {
		out = append(out, s.view(r, c, d, false))
	}
	return map[string]any{"experiments": out}, nil
}

func (s *Server) definition(c Chaos, name string) (*chaos.Definition, error) {
	for _, d := range c.Definitions() {
		if d.Name == name {
			return d, nil
		}
	}
	return nil, httpx.Errorf(http.StatusNotFound, "no experiment is named %q", name)
}

func (s *Server) experiment(r *http.Request) (any, error) {
	c, err := s.chaosOn()
	if err != nil {
		return nil, err
	}
	d, err := s.definition(c, r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return s.view(r, c, d, true), nil
}

func chaosError(err error) error {
	switch {
	case errors.Is(err, chaos.ErrUnknownExperiment):
		return httpx.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, chaos.ErrBusy), errors.Is(err, chaos.ErrRefused):
		return httpx.Errorf(http.StatusConflict, "%v", err)
	}
	return err
}

func (s *Server) startRun(r *http.Request) (any, error) {
	c, err := s.chaosOn()
	if err != nil {
		return nil, err
	}
	run, err := c.Start(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, chaosError(err)
	}
	return run, nil
}

func (s *Server) stopRun(r *http.Request) (any, error) {
	c, err := s.chaosOn()
	if err != nil {
		return nil, err
	}
	who := r.URL.Query().Get("by")
	if who == "" {
		who = "the API"
	}
	if len(who) > 200 {
		return nil, httpx.BadRequest("by: at most 200 bytes")
	}
	run, err := c.Stop(r.Context(), r.PathValue("name"), who)
	if err != nil {
		if errors.Is(err, chaos.ErrUnknownExperiment) {
			return nil, chaosError(err)
		}
		return nil, httpx.Errorf(http.StatusConflict, "%v", err)
	}
	return run, nil
}

func (s *Server) assignment(r *http.Request) (any, error) {
	c, err := s.chaosOn()
	if err != nil {
		return nil, err
	}
	return c.Assignment(r.PathValue("name")), nil
}

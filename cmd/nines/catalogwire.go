package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/oncall"
	"github.com/nines-sre/nines/scorecard"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/ui"
)

// The service catalog feeds every part of nines that reads services:
// the dependency checks (catalog), the scorecards and readiness
// (scorecard), the on-call report (oncall) and the comparison of
// declared and observed calls (callgraph). Each part takes an input of
// its own; this file maps the catalog to each, the one place that knows
// them all.

// services is a loaded catalog with what its parts read, parsed once at
// load so that a bad rotation is refused with the catalog's errors.
type services struct {
	*catalog.Catalog
	rotations []oncall.Rotation
	// rotationOf maps a service to the rotation on call for it.
	rotationOf map[string]string
}

// readCatalog loads the catalog at path (a file or directory) with its
// rotations, and checks the SLOs it names against slos; nil without a
// path. Its errors are input errors, each with FILE:LINE:COL.
func readCatalog(path string, slos []*slo.SLO) (*services, error) {
	if path == "" {
		return nil, nil
	}
	c, err := loadCatalog(path)
	if err != nil {
		return nil, err
	}
	if err := c.CheckSLOs(slos); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("catalog:\n%w", err)}
	}
	rots, err := catalogRotations(c)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("catalog:\n%w", err)}
	}
	s := &services{Catalog: c, rotations: rots, rotationOf: map[string]string{}}
	for _, svc := range c.Services {
		if svc.OnCall != "" {
			s.rotationOf[svc.Name] = svc.OnCall
		}
	}
	return s, nil
}

// catalogRotations parses every rotations: section of c.
func catalogRotations(c *catalog.Catalog) ([]oncall.Rotation, error) {
	var all []oncall.Rotation
	var errs []error
	for _, sec := range c.Rotations {
		rs, err := oncall.ParseRotations(sec.File, sec.Node)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		all = append(all, rs...)
	}
	return all, errors.Join(errs...)
}

// catalogOf is the catalog itself, nil without one: the parts that take
// *catalog.Catalog must get a nil pointer, not a services holding one.
func (s *services) catalogOf() *catalog.Catalog {
	if s == nil {
		return nil
	}
	return s.Catalog
}

// oncallSource is the on-call report's input, nil without rotations.
func (s *services) oncallSource(st interface {
	notify.HistoryReader
	oncall.IncidentReader
}) *oncall.Source {
	if s == nil || len(s.rotations) == 0 {
		return nil
	}
	return &oncall.Source{Catalog: func() ([]oncall.Rotation, map[string]string) { return s.rotations, s.rotationOf },
		History: st, Incidents: st}
}

// scorecardServices maps the catalog's services to what scorecards and
// readiness read; scoring leaves out, and names in the error, the
// services with nothing to score against, which readiness keeps (they
// fail its SLO check). A service's SLOs are those the catalog lists under
// slos:, else those whose spec names the service; its goal is goal:,
// else the strictest objective of its SLOs. Callers are the services that
// declare it a dependency.
func (s *services) scorecardServices(slos []*slo.SLO, scoring bool) ([]scorecard.Service, error) {
	if s == nil {
		return nil, nil
	}
	byService := map[string][]string{}
	byName := map[string]*slo.SLO{}
	for _, o := range slos {
		byName[o.Name] = o
		if o.Service != "" {
			byService[o.Service] = append(byService[o.Service], o.Name)
		}
	}
	var out []scorecard.Service
	var errs []error
	for _, c := range s.Services {
		sv := scorecard.Service{Name: c.Name, OnCall: c.OnCall, Playbook: c.Playbook, Goal: c.Goal,
			SLOs: slices.Clone(c.SLOs), Callers: s.Callers(c.Name)}
		if c.Owner != "" {
			sv.Owners = []string{c.Owner}
		}
		if sv.SLOs == nil {
			sv.SLOs = byService[c.Name]
			slices.Sort(sv.SLOs)
		}
		for _, d := range c.Dependencies {
			sv.Dependencies = append(sv.Dependencies, d.Service)
		}
		if sv.Goal == 0 {
			for _, name := range sv.SLOs {
				if o := byName[name]; o != nil {
					sv.Goal = max(sv.Goal, o.Objective.Float())
				}
			}
		}
		if sv.Goal == 0 && !scoring {
			out = append(out, sv)
			continue
		}
		if sv.Goal == 0 {
			// Without a goal there is nothing to score against: the
			// service is left out, and the caller says so.
			errs = append(errs, fmt.Errorf("%s: service %s has no goal: and no SLO to take one from; give goal: such as 99.9, or an SLO whose spec names the service (it is left out of the scorecards)", c.Pos, c.Name))
			continue
		}
		if err := sv.Check(); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sv)
	}
	return out, errors.Join(errs...)
}

// declaredEdges lists the catalog's dependencies for the trace
// comparison; nil without a catalog.
func (s *services) declaredEdges() func() ([]callgraph.Edge, error) {
	if s == nil {
		return nil
	}
	edges := s.Edges()
	out := make([]callgraph.Edge, 0, len(edges))
	for _, e := range edges {
		out = append(out, callgraph.Edge{From: e.From, To: e.To})
	}
	return func() ([]callgraph.Edge, error) { return out, nil }
}

// observed gives the catalog's checks and graph page the calls traces
// showed over the last window, with their counts.
type observed struct {
	graph *callgraph.Graph
	now   func() time.Time
}

func (o observed) ObservedEdges() []catalog.Edge {
	figs := o.graph.Edges(o.now(), o.graph.Window())
	out := make([]catalog.Edge, 0, len(figs))
	for _, f := range figs {
		out = append(out, catalog.Edge{From: f.From, To: f.To, Calls: f.TotalCalls, Errors: f.TotalFailed})
	}
	return out
}

// undeclared answers readiness' "no undeclared dependency" check from
// the observed graph: the services a service was seen calling that the
// catalog does not declare.
type undeclared struct {
	graph    *callgraph.Graph
	declared func() ([]callgraph.Edge, error)
}

func (u undeclared) Undeclared(ctx context.Context, service string) ([]string, error) {
	declared, err := u.declared()
	if err != nil {
		return nil, err
	}
	cmp := callgraph.Compare(declared, u.graph.Observed())
	var out []string
	for _, e := range cmp.Undeclared {
		if e.From == service {
			out = append(out, e.To)
		}
	}
	return out, nil
}

// catalogParts are what nines serve builds from its catalog for the
// server and the UI; every field is nil without a catalog (or, for
// onCall, without rotations), so that the pages and endpoints answer 404
// saying how to turn them on.
type catalogParts struct {
	catalog    *catalog.Catalog
	board      *scorecard.Board
	readiness  *scorecard.Assessor
	onCall     *oncall.Source
	declared   func() ([]callgraph.Edge, error)
	observed   observed
	undeclared undeclared
}

// wireCatalog builds the parts of nines serve that read the catalog.
// Scorecards take their services from the SLOs loaded at each call, so
// a reload that adds an SLO to a service counts at once.
func wireCatalog(s *services, graph *callgraph.Graph, eng *engine.Engine, db servingStore, incidents *incident.Service, readinessFile string, logger *slog.Logger) (*catalogParts, error) {
	p := &catalogParts{observed: observed{graph: graph, now: eng.Now}}
	if s == nil {
		return p, nil
	}
	p.catalog = s.Catalog
	p.declared = s.declaredEdges()
	p.undeclared = undeclared{graph: graph, declared: p.declared}
	p.onCall = s.oncallSource(db)
	scored := func() []scorecard.Service {
		out, _ := s.scorecardServices(eng.SLOs(), true) // said at start
		return out
	}
	all := func() []scorecard.Service {
		out, _ := s.scorecardServices(eng.SLOs(), false)
		return out
	}
	if _, err := s.scorecardServices(eng.SLOs(), true); err != nil {
		logger.Warn("scorecards: some services cannot be scored", "err", err)
	}
	p.board = &scorecard.Board{
		Scorer: scorecard.Scorer{Calendar: scorecard.Calendar{Location: time.UTC, Start: time.Monday},
			SLOs: &scorecard.FromRollups{Rollups: db, SLOs: eng, Cache: &scorecard.WeekCache{Now: eng.Now, PastWrites: eng.PastDayWrites}}},
		Services: scored, Now: eng.Now}
	cfg := scorecard.DefaultReadiness()
	if readinessFile != "" {
		var err error
		if cfg, err = scorecard.LoadReadiness(readinessFile); err != nil {
			return nil, usageError("serve: --readiness: %v", err)
		}
	}
	p.readiness = &scorecard.Assessor{Config: cfg, Services: all, SLOs: eng, Incidents: incidents, Deps: p.undeclared,
		Prober: &scorecard.HTTPProber{Timeout: cfg.PlaybookTimeout}, Now: eng.Now}
	if cfg.PlaybooksDir != "" {
		if st, err := os.Stat(cfg.PlaybooksDir); err != nil || !st.IsDir() {
			return nil, usageError("serve: readiness playbooks %s: not a directory", cfg.PlaybooksDir)
		}
		p.readiness.Playbooks = os.DirFS(cfg.PlaybooksDir)
	}
	return p, nil
}

// serverConfig sets the server's catalog fields, leaving nil what is
// absent (a nil pointer in an interface would look present).
func (p *catalogParts) serverConfig(c *server.Config) {
	c.Catalog, c.DeclaredEdges = p.catalog, p.declared
	c.Observed = p.observed
	if p.board != nil {
		c.Scorecards, c.Readiness = p.board, p.readiness
	}
	if p.onCall != nil {
		c.OnCall = p.onCall
	}
}

// uiConfig does the same for the UI.
func (p *catalogParts) uiConfig(c *ui.Config) {
	c.Catalog, c.Observed = p.catalog, p.observed
	if p.board != nil {
		c.Scorecards = p.board
	}
	if p.onCall != nil {
		c.OnCall = p.onCall
	}
}

// pushScorecards sends each week's scorecards to the owners whose card
// calls for it, once an hour, on the leader only (docs/scorecards.md).
func (p *catalogParts) pushScorecards(ctx context.Context, leading func() bool, d *notify.Dispatcher, memory scorecard.Memory, logger *slog.Logger) {
	if p.board == nil {
		return
	}
	pusher := &scorecard.Pusher{Board: p.board, Router: func() scorecard.Router { return d.Config() }, Deliverer: d, Memory: memory,
		Logger: logger.With("component", "scorecards")}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if leading() {
			if _, err := pusher.Step(ctx); err != nil && ctx.Err() == nil {
				logger.Error("scorecard push (retried in an hour)", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

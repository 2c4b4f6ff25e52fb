package server

import (
	"net/http"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/server/httpx"
)

// ObservedEdges gives the call edges seen in traces, for the comparison
// of declared and observed dependencies; nil skips it.
type ObservedEdges interface {
	ObservedEdges() []catalog.Edge
}

// catalogRoutes serves the service catalog and its dependency checks
// (docs/catalog.md). Without a catalog they answer 404 with how to give
// one.
func (s *Server) catalogRoutes(read func(http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/services", read(s.api(s.listServices)))
	s.mux.Handle("GET /api/v1/services/{name}", read(s.api(s.getService)))
	s.mux.Handle("GET /api/v1/deps/check", read(s.api(s.depsCheck)))
}

// serviceItem is a service in the list: its fields, its dependencies by
// name only, and where its own answer is.
type serviceItem struct {
	*catalog.Service
	Dependencies []string `json:"dependencies"`
	URL          string   `json:"url"`
}

func (s *Server) catalog() (*catalog.Catalog, error) {
	if s.cfg.Catalog == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "no service catalog: start nines serve with --services FILE|DIR (see docs/catalog.md)")
	}
	return s.cfg.Catalog, nil
}

func (s *Server) listServices(*http.Request) (any, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, err
	}
	items := make([]serviceItem, len(c.Services))
	for i, sv := range c.Services {
		deps := make([]string, len(sv.Dependencies))
		for j, d := range sv.Dependencies {
			deps[j] = d.Service
		}
		items[i] = serviceItem{Service: sv, Dependencies: deps, URL: "/api/v1/services/" + sv.Name}
	}
	return map[string]any{"services": items}, nil
}

// depsReport runs the dependency checks on the catalog, the SLOs loaded
// now and the edges observed so far.
func (s *Server) depsReport() (*catalog.Catalog, *catalog.Report, error) {
	c, err := s.catalog()
	if err != nil {
		return nil, nil, err
	}
	in := catalog.Input{SLOs: s.cfg.SLOs.SLOs()}
	if s.cfg.Observed != nil {
		in.Observed = s.cfg.Observed.ObservedEdges()
	}
	return c, catalog.Run(c, in), nil
}

func (s *Server) getService(r *http.Request) (any, error) {
	c, rep, err := s.depsReport()
	if err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	v, ok := rep.View(c, name, s.cfg.SLOs.SLOs())
	if !ok {
		return nil, httpx.Errorf(http.StatusNotFound, "no service %q in the catalog (GET /api/v1/services lists them)", name)
	}
	return v, nil
}

func (s *Server) depsCheck(*http.Request) (any, error) {
	_, rep, err := s.depsReport()
	if err != nil {
		return nil, err
	}
	return rep, nil
}

package ui

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
)

// EdgeObserver gives the call edges seen in traces: the graph colours
// each edge by its error rate, and the checks compare them with the
// declared ones. The same method serves the API (server.ObservedEdges).
type EdgeObserver interface {
	ObservedEdges() []catalog.Edge
}

// maxGraphServices is the most services the graph page draws at once.
// Past it the page draws the neighbourhood of one service: a drawing of
// thousands of boxes is bytes, not a picture anyone reads.
const maxGraphServices = 2500

// defaultGraphDepth is how many calls away from the chosen service the
// neighbourhood reaches, both ways.
const defaultGraphDepth = 2

// catalogOrFail returns the catalog, or the page that says there is none.
func (u *UI) catalogOrFail() (*catalog.Catalog, error) {
	if u.cfg.Catalog == nil {
		return nil, &pageError{status: http.StatusNotFound, msg: "There is no service catalog here.",
			hints: []string{"Start nines serve with --services services.yaml (docs/catalog.md) to list services, their dependencies and the dependency checks."}}
	}
	return u.cfg.Catalog, nil
}

// observed returns the edges seen in traces as given and summed by pair;
// both nil without traces.
func (u *UI) observed() ([]catalog.Edge, map[[2]string]catalog.Edge) {
	if u.cfg.Observed == nil {
		return nil, nil
	}
	list := u.cfg.Observed.ObservedEdges()
	seen := make(map[[2]string]catalog.Edge, len(list))
	for _, e := range list {
		k := [2]string{e.From, e.To}
		o := seen[k]
		o.From, o.To, o.Calls, o.Errors = e.From, e.To, o.Calls+e.Calls, o.Errors+e.Errors
		seen[k] = o
	}
	return list, seen
}

// depsReport runs the dependency checks with the SLOs loaded and the
// edges observed, and returns the observed edges by pair.
func (u *UI) depsReport(c *catalog.Catalog) (*catalog.Report, map[[2]string]catalog.Edge) {
	list, seen := u.observed()
	return catalog.Run(c, catalog.Input{SLOs: u.cfg.SLOs.SLOs(), Observed: list}), seen
}

type serviceRow struct {
	Name, URL, Owner, OnCall, Lifecycle string
	Tier                                int
	Dependencies, Callers, SLOs         int
	Findings                            int
}

type servicesView struct {
	Rows       []serviceRow
	Report     *catalog.Report
	Bottleneck *catalog.Bottleneck
}

// services serves /services: every service with its owner, on-call and
// counts, and the dependency checks' findings.
func (u *UI) services(w http.ResponseWriter, r *http.Request) {
	c, err := u.catalogOrFail()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	rep, _ := u.depsReport(c)
	slos := map[string]int{}
	for _, s := range u.cfg.SLOs.SLOs() {
		slos[s.Service]++
	}
	callers := map[string]int{}
	for _, e := range c.Edges() {
		callers[e.To]++
	}
	found := map[string]int{}
	for _, f := range rep.Findings {
		found[f.Service]++
	}
	v := &servicesView{Report: rep, Bottleneck: rep.Bottleneck}
	for _, s := range c.Services {
		v.Rows = append(v.Rows, serviceRow{Name: s.Name, URL: "/services/" + s.Name, Owner: s.Owner, OnCall: s.OnCall, Lifecycle: s.Lifecycle,
			Tier: s.Tier, Dependencies: len(s.Dependencies), Callers: callers[s.Name], SLOs: slos[s.Name], Findings: found[s.Name]})
	}
	u.render(w, r, http.StatusOK, "services", &layout{Title: "Services", Nav: "services", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

type depRow struct {
	Service, URL, Strength, Call, SLOs, Latency, Mitigated string
	// Observed says what traces show of the edge; empty without traces.
	Observed string
}

type serviceView struct {
	catalog.ServiceView
	Deps []depRow
	// OwnWork is the service's own work, written as a spec would.
	OwnWork   string
	Incidents []incidentRow
	// IncidentsOn says whether incidents are recorded here at all.
	IncidentsOn bool
	Graph       template.HTML
}

// service serves /services/{name}: the service, its SLOs, its
// dependencies both ways, its incidents, its findings and its
// neighbourhood in the graph.
func (u *UI) service(w http.ResponseWriter, r *http.Request) {
	c, err := u.catalogOrFail()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	name := r.PathValue("name")
	rep, seen := u.depsReport(c)
	sv, ok := rep.View(c, name, u.cfg.SLOs.SLOs())
	if !ok {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "There is no service called " + quote(name) + " in the catalog.",
			hints: []string{"The list at /services shows every service of the catalog."}})
		return
	}
	v := &serviceView{ServiceView: sv, OwnWork: "–"}
	if sv.Service.OwnWork > 0 {
		v.OwnWork = slo.FormatSeconds(sv.Service.OwnWork.Seconds())
	}
	for _, d := range sv.Dependencies {
		row := depRow{Service: d.Service, URL: "/services/" + d.Service, Strength: d.Strength.String(), Call: d.Call.String(), Latency: "–", Mitigated: "–"}
		for i, s := range d.SLOs {
			if i > 0 {
				row.SLOs += ", "
			}
			row.SLOs += s
		}
		if d.Latency > 0 {
			row.Latency = slo.FormatSeconds(d.Latency.Seconds())
		}
		if m := d.Mitigated; m != nil {
			row.Mitigated = m.By + ": " + m.Reason
		}
		if seen != nil {
			row.Observed = "never observed"
			if o, ok := seen[[2]string{name, d.Service}]; ok && o.Calls > 0 {
				row.Observed = fmt.Sprintf("%d calls, %s errors", o.Calls, strconv.FormatFloat(100*float64(o.Errors)/float64(o.Calls), 'f', 2, 64)+" %")
			}
		}
		v.Deps = append(v.Deps, row)
	}
	if inc := u.cfg.Incidents; inc != nil {
		v.IncidentsOn = true
		list, err := inc.List(r.Context(), incident.Filter{Service: name, Limit: 20})
		if err != nil {
			u.fail(w, r, err)
			return
		}
		for _, i := range list {
			v.Incidents = append(v.Incidents, incidentRow{ID: i.ID, URL: fmt.Sprintf("/incidents/%d", i.ID), Title: i.Title,
				Severity: i.Severity, Status: string(i.Status), ImpactStart: i.ImpactStart})
		}
	}
	nodes, edges := neighbourhood(c, name, 1)
	v.Graph = drawGraph(graphInput{nodes: nodes, edges: edges, focus: name, observed: seen, titles: true})
	u.render(w, r, http.StatusOK, "service", &layout{Title: name, Nav: "services", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

type graphView struct {
	Graph                   template.HTML
	Focus                   string
	Depth, Shown, Total     int
	Edges, Cycles           int
	Neighbourhood, Observed bool
}

// graph serves /graph: the whole dependency graph, or with ?service= the
// services within ?depth= calls of one (2 by default). A catalog larger
// than maxGraphServices is always drawn by neighbourhood.
func (u *UI) graph(w http.ResponseWriter, r *http.Request) {
	c, err := u.catalogOrFail()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	v := &graphView{Focus: q.Get("service"), Depth: defaultGraphDepth, Total: len(c.Services)}
	if d := q.Get("depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > 10 {
			u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf("depth=%q is not a depth.", d), hints: []string{"depth= is how many calls away from the service to draw, 1 to 10."}})
			return
		}
		v.Depth = n
	}
	if v.Focus == "" && len(c.Services) > maxGraphServices {
		v.Focus = c.Services[0].Name
	}
	nodes, edges := allServices(c), c.Edges()
	if v.Focus != "" {
		if c.Service(v.Focus) == nil {
			u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "There is no service called " + quote(v.Focus) + " in the catalog.",
				hints: []string{"The list at /services shows every service of the catalog."}})
			return
		}
		v.Neighbourhood = true
		nodes, edges = neighbourhood(c, v.Focus, v.Depth)
	}
	_, seen := u.observed()
	v.Observed = seen != nil
	v.Shown, v.Edges = len(nodes), len(edges)
	for range cycleEdges(edges) {
		v.Cycles++
	}
	v.Graph = drawGraph(graphInput{nodes: nodes, edges: edges, focus: v.Focus, observed: seen, titles: len(edges) <= 500})
	u.render(w, r, http.StatusOK, "graph", &layout{Title: "Dependency graph", Nav: "graph", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

func allServices(c *catalog.Catalog) []string {
	out := make([]string, len(c.Services))
	for i, s := range c.Services {
		out[i] = s.Name
	}
	return out
}

package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server/httpx"
)

// IncidentOptions are the incident.Options of a server: incidents kept in
// st, with the services and SLOs eng has loaded, the budget burned from
// its rollups, its clock.
func IncidentOptions(eng IncidentSource, st incident.Store, cfg *incident.Config) incident.Options {
	return incident.Options{
		Store: st, Config: cfg, Now: eng.Now,
		Services: func() []string {
			var out []string
			for _, o := range eng.SLOs() {
				if o.Service != "" {
					out = append(out, o.Service)
				}
			}
			return out
		},
		SLOs: func() []string {
			var out []string
			for _, o := range eng.SLOs() {
				out = append(out, o.Name)
			}
			return out
		},
		SLOsOf: func(service string) []string {
			var out []string
			for _, o := range eng.SLOs() {
				if o.Service == service {
					out = append(out, o.Name)
				}
			}
			return out
		},
		Budget: func(ctx context.Context, name string, from, to time.Time) (incident.Burn, error) {
			b, err := eng.BudgetBurned(ctx, name, from, to)
			if err != nil {
				return incident.Burn{}, err
			}
			share := 0.0
			if b.Total > 0 {
				share = b.Spent / b.Total
			}
			return incident.Burn{SLO: name, From: b.From, To: b.To, Unit: b.Unit, Spent: b.Spent, Total: b.Total, Share: share}, nil
		},
	}
}

// incidentRoutes registers the incidents API; without an incident
// service each of its endpoints answers 404.
func (s *Server) incidentRoutes(read func(http.Handler) http.Handler, write func(mediaTypes, http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/incidents", read(s.api(s.listIncidents)))
	s.mux.Handle("POST /api/v1/incidents", write(jsonBody, s.apiStatus(http.StatusCreated, s.openIncident)))
	s.mux.Handle("GET /api/v1/incidents/config", read(s.api(s.incidentConfig)))
	s.mux.Handle("GET /api/v1/incidents/metrics", read(s.api(s.incidentMetrics)))
	s.mux.Handle("GET /api/v1/incidents/debt", read(s.api(s.incidentDebt)))
	s.mux.Handle("GET /api/v1/incidents/{id}", read(s.api(s.getIncident)))
	s.mux.Handle("PATCH /api/v1/incidents/{id}", write(jsonBody, s.api(s.updateIncident)))
	s.mux.Handle("POST /api/v1/incidents/{id}/timeline", write(jsonBody, s.apiStatus(http.StatusCreated, s.addEntry)))
	s.mux.Handle("POST /api/v1/incidents/{id}/repairs", write(jsonBody, s.apiStatus(http.StatusCreated, s.addRepair)))
	s.mux.Handle("PATCH /api/v1/incidents/{id}/repairs/{item}", write(jsonBody, s.api(s.updateRepair)))
	s.mux.Handle("GET /api/v1/incidents/{id}/postmortem", read(s.api(s.getPostmortem)))
	s.mux.Handle("PUT /api/v1/incidents/{id}/postmortem", write(jsonBody, s.api(s.putPostmortem)))
	s.mux.Handle("POST /api/v1/alertmanager", write(jsonBody, s.api(s.alertmanager)))
}

func (s *Server) incidents() (*incident.Service, error) {
	if s.cfg.Incidents == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "incidents are not enabled in this nines serve")
	}
	return s.cfg.Incidents, nil
}

func incidentID(r *http.Request, name string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, httpx.Errorf(http.StatusNotFound, "%s %q: want a positive integer", name, v)
	}
	return id, nil
}

// expectedVersion takes the version a change is based on from If-Match
// (a bare or quoted number, as an ETag) or from the body's version.
func expectedVersion(r *http.Request, body int64) (int64, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return body, nil
	}
	n, err := strconv.ParseInt(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil || n <= 0 {
		return 0, httpx.BadRequest("If-Match %q: want the incident's version, such as \"3\"", v)
	}
	if body != 0 && body != n {
		return 0, httpx.BadRequest("If-Match %d and version %d disagree", n, body)
	}
	return n, nil
}

// incident is what a request about one incident needs: the service and
// the incident ID of the path.
func (s *Server) incident(r *http.Request) (*incident.Service, int64, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, 0, err
	}
	id, err := incidentID(r, "id")
	return svc, id, err
}

// change is incident for a change: it also decodes the body strictly into
// in and returns the version the change is based on, from If-Match or
// the body's version (at *version).
func (s *Server) change(r *http.Request, what string, in any, version *int64) (*incident.Service, int64, int64, error) {
	svc, id, err := s.incident(r)
	if err != nil {
		return nil, 0, 0, err
	}
	if err := s.decodeBody(r, what, in); err != nil {
		return nil, 0, 0, err
	}
	v, err := expectedVersion(r, *version)
	return svc, id, v, err
}

func (s *Server) listIncidents(r *http.Request) (any, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	f := incident.Filter{Service: q.Get("service")}
	for _, v := range strings.FieldsFunc(q.Get("status"), func(r rune) bool { return r == ',' }) {
		st, err := incident.ParseStatus(v)
		if err != nil {
			return nil, err
		}
		f.Status = append(f.Status, st)
	}
	if v := q.Get("severity"); v != "" {
		if f.Severity, err = svc.Config().ParseSeverity(v); err != nil {
			return nil, err
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = parseTime(p.name, v); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range []struct {
		name string
		dst  *int
	}{{"limit", &f.Limit}, {"offset", &f.Offset}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = strconv.Atoi(v); err != nil || *p.dst < 0 {
				return nil, httpx.BadRequest("%s=%q: want a whole number", p.name, v)
			}
		}
	}
	list, err := svc.List(r.Context(), f)
	if err != nil {
		return nil, err
	}
	return map[string]any{"incidents": list}, nil
}

func (s *Server) openIncident(r *http.Request) (any, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	var in incident.OpenInput
	if err := s.decodeBody(r, "incident", &in); err != nil {
		return nil, err
	}
	inc, err := svc.Open(r.Context(), in)
	return inc, err
}

func (s *Server) getIncident(r *http.Request) (any, error) {
	svc, id, err := s.incident(r)
	if err != nil {
		return nil, err
	}
	inc, err := svc.Get(r.Context(), id)
	return inc, err
}

func (s *Server) updateIncident(r *http.Request) (any, error) {
	var p incident.Patch
	svc, id, v, err := s.change(r, "incident patch", &p, &p.Version)
	if err != nil {
		return nil, err
	}
	p.Version = v
	inc, err := svc.Update(r.Context(), id, p)
	return inc, err
}

func (s *Server) addEntry(r *http.Request) (any, error) {
	var in struct {
		incident.Entry
		Version int64 `json:"version"`
	}
	svc, id, v, err := s.change(r, "timeline entry", &in, &in.Version)
	if err != nil {
		return nil, err
	}
	inc, err := svc.AddEntry(r.Context(), id, v, in.Entry)
	return inc, err
}

func (s *Server) addRepair(r *http.Request) (any, error) {
	var in struct {
		incident.RepairInput
		Version int64 `json:"version"`
	}
	svc, id, v, err := s.change(r, "repair item", &in, &in.Version)
	if err != nil {
		return nil, err
	}
	inc, err := svc.AddRepair(r.Context(), id, v, in.RepairInput)
	return inc, err
}

func (s *Server) updateRepair(r *http.Request) (any, error) {
	item, err := incidentID(r, "item")
	if err != nil {
		return nil, err
	}
	var in struct {
		incident.RepairPatch
		Version int64 `json:"version"`
	}
	svc, id, v, err := s.change(r, "repair item patch", &in, &in.Version)
	if err != nil {
		return nil, err
	}
	inc, err := svc.UpdateRepair(r.Context(), id, item, v, in.RepairPatch)
	return inc, err
}

type postmortemView struct {
	Incident int64  `json:"incident"`
	Version  int64  `json:"version,omitempty"`
	Stored   bool   `json:"stored"`
	Markdown string `json:"markdown"`
}

func (s *Server) getPostmortem(r *http.Request) (any, error) {
	svc, id, err := s.incident(r)
	if err != nil {
		return nil, err
	}
	text, stored, err := svc.Postmortem(r.Context(), id)
	if err != nil {
		return nil, err
	}
	return postmortemView{Incident: id, Stored: stored, Markdown: text}, nil
}

func (s *Server) putPostmortem(r *http.Request) (any, error) {
	var in struct {
		Markdown string `json:"markdown"`
		Done     bool   `json:"done"`
		Version  int64  `json:"version"`
	}
	svc, id, v, err := s.change(r, "postmortem", &in, &in.Version)
	if err != nil {
		return nil, err
	}
	inc, err := svc.SetPostmortem(r.Context(), id, v, in.Markdown, in.Done)
	if err != nil {
		return nil, err
	}
	return postmortemView{Incident: id, Version: inc.Version, Stored: true, Markdown: inc.Postmortem}, nil
}

func (s *Server) incidentConfig(r *http.Request) (any, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	cfg := svc.Config()
	type goals struct {
		Owner string       `json:"owner,omitempty"`
		TTD   incident.Dur `json:"ttd"`
		TTE   incident.Dur `json:"tte"`
		TTF   incident.Dur `json:"ttf"`
		TTM   incident.Dur `json:"ttm"`
	}
	services := map[string]goals{}
	for _, name := range svc.KnownServices() {
		g := cfg.GoalsFor(name)
		services[name] = goals{cfg.Services[name].Owner, incident.Dur(g.TTD), incident.Dur(g.TTE), incident.Dur(g.TTF), incident.Dur(g.TTM)}
	}
	kinds := map[string]string{}
	for _, k := range incident.Kinds {
		kinds[string(k.Kind)] = k.About
	}
	return map[string]any{"severities": cfg.Severities, "services": services, "timeline_kinds": kinds,
		"time_zone": cfg.Location.String(), "short_term_due_seconds": cfg.ShortTermDue.Seconds()}, nil
}

func (s *Server) incidentMetrics(r *http.Request) (any, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var mq incident.MetricsQuery
	if mq.By, err = incident.ParsePeriod(q.Get("by")); err != nil {
		return nil, err
	}
	if mq.Group, err = incident.ParseGroupBy(q.Get("group")); err != nil {
		return nil, err
	}
	mq.Service, mq.Owner = q.Get("service"), q.Get("owner")
	if mq.ListLimit, err = listLimit(r); err != nil {
		return nil, err
	}
	if v := q.Get("from"); v != "" {
		if mq.From, err = parseTime("from", v); err != nil {
			return nil, err
		}
	}
	if v := q.Get("to"); v != "" {
		if mq.To, err = parseTime("to", v); err != nil {
			return nil, err
		}
	}
	rep, err := svc.Metrics(r.Context(), mq)
	return rep, err
}

func (s *Server) incidentDebt(r *http.Request) (any, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	var dq incident.DebtQuery
	if dq.By, err = incident.ParsePeriod(q.Get("by")); err != nil {
		return nil, err
	}
	g := q.Get("group")
	if g == "" {
		g = "owner"
	}
	if dq.Group, err = incident.ParseGroupBy(g); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &dq.From}, {"to", &dq.To}} {
		if v := q.Get(p.name); v != "" {
			if *p.dst, err = parseTime(p.name, v); err != nil {
				return nil, err
			}
		}
	}
	if !dq.From.IsZero() && !dq.To.IsZero() && !dq.From.Before(dq.To) {
		return nil, httpx.BadRequest("from %s is not before to %s", dq.From.Format(time.RFC3339), dq.To.Format(time.RFC3339))
	}
	if dq.ListLimit, err = listLimit(r); err != nil {
		return nil, err
	}
	rep, err := svc.Debt(r.Context(), dq)
	return rep, err
}

// alertmanager takes an Alertmanager webhook (payload version 4): a
// firing group opens an incident or attaches to the open one of the same
// service and group key; a resolved group marks it mitigated.
func (s *Server) alertmanager(r *http.Request) (any, error) {
	svc, err := s.incidents()
	if err != nil {
		return nil, err
	}
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	if err := checkJSON(body, "alertmanager webhook"); err != nil {
		return nil, err
	}
	wh, err := incident.ParseWebhook(body)
	if err != nil {
		return nil, err
	}
	sig, err := wh.Signal(svc.Config())
	if err != nil {
		return nil, err
	}
	inc, err := svc.OpenFromAlert(r.Context(), sig)
	if err != nil {
		return nil, err
	}
	if inc == nil {
		return map[string]any{"incident": nil, "status": wh.Status, "note": "resolved alert group without an open incident: nothing to do"}, nil
	}
	return map[string]any{"incident": inc.ID, "version": inc.Version, "status": wh.Status, "incident_status": inc.Status}, nil
}

// listLimit reads ?list=N, how many incidents and repairs a report lists
// (default 100, 0 for all): a report over years of incidents counts them
// all but need not send them all.
func listLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("list")
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, httpx.BadRequest("list=%q: want how many entries to list, 0 for all", v)
	}
	return n, nil
}

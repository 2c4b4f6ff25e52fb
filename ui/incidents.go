package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/ui/chart"
)

// incidentService is the incident service the pages read, or the page
// that says there is none.
func (u *UI) incidentService() (IncidentReader, error) {
	if u.cfg.Incidents == nil {
		return nil, &pageError{status: http.StatusNotFound, msg: "Incidents are not enabled here.",
			hints: []string{"nines serve records incidents and shows them at /incidents."}}
	}
	return u.cfg.Incidents, nil
}

type incidentRow struct {
	ID                   int64
	URL, Title, Services string
	Severity             int
	Status, DetectedBy   string
	ImpactStart          time.Time
	TTM                  string
	TTMMissed            bool
}

type incidentsView struct {
	Rows                       []incidentRow
	Services                   []choice
	Service, Status, Severity  string
	Statuses, Severities       []choice
	Filtered                   bool
	CurlOpen, CurlAlertmanager string
}

// incidents serves /incidents: the list, filtered.
func (u *UI) incidents(w http.ResponseWriter, r *http.Request) {
	svc, err := u.incidentService()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	v := &incidentsView{Service: q.Get("service"), Status: q.Get("status"), Severity: q.Get("severity")}
	f := incident.Filter{Service: v.Service, Limit: 500}
	if v.Status != "" {
		st, err := incident.ParseStatus(v.Status)
		if err != nil {
			u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: err.Error(), hints: []string{"status= is open, mitigated, resolved or postmortem-done."}})
			return
		}
		f.Status = []incident.Status{st}
	}
	if v.Severity != "" {
		n, err := strconv.Atoi(v.Severity)
		if err != nil || n < 1 {
			u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf("severity=%q is not a severity level.", v.Severity), hints: []string{"severity=1 shows the most severe incidents."}})
			return
		}
		f.Severity = n
	}
	v.Filtered = v.Service != "" || v.Status != "" || v.Severity != ""
	list, err := svc.List(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	cfg := svc.Config()
	for _, inc := range list {
		row := incidentRow{ID: inc.ID, URL: fmt.Sprintf("/incidents/%d", inc.ID), Title: inc.Title, Services: strings.Join(inc.Services, ", "),
			Severity: inc.Severity, Status: string(inc.Status), DetectedBy: string(inc.DetectedBy), ImpactStart: inc.ImpactStart, TTM: "–"}
		if inc.Metrics != nil && inc.Metrics.TTM != nil {
			d := time.Duration(*inc.Metrics.TTM)
			row.TTM = formatDuration(d)
			if g := cfg.GoalsFor(inc.Service()).Get(incident.TTM); g > 0 && d > g {
				row.TTMMissed = true
			}
		}
		v.Rows = append(v.Rows, row)
	}
	services := map[string]bool{}
	for _, s := range svc.KnownServices() {
		services[s] = true
	}
	for _, s := range u.cfg.SLOs.SLOs() {
		services[s.Service] = true
	}
	v.Services = choices(services, v.Service)
	sevs := cfg.Severities
	if len(sevs) == 0 {
		sevs = incident.DefaultSeverities
	}
	for _, sv := range sevs {
		n := strconv.Itoa(sv.Level)
		v.Severities = append(v.Severities, choice{Value: n, Selected: n == v.Severity})
	}
	for _, st := range []string{"open", "mitigated", "resolved", "postmortem-done"} {
		v.Statuses = append(v.Statuses, choice{Value: st, Selected: st == v.Status})
	}
	v.CurlOpen = `curl -s -X POST localhost:9797/api/v1/incidents -d '{"title": "Checkout errors", "services": ["checkout"], "severity": 2}'`
	v.CurlAlertmanager = `receivers: [{name: nines, webhook_configs: [{url: "http://localhost:9797/api/v1/alertmanager"}]}]`
	u.render(w, r, http.StatusOK, "incidents", &layout{Title: "Incidents", Nav: "incidents", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

type ttxRow struct {
	Metric, About, Value, Goal string
	Known, HasGoal, Missed     bool
}

type milestone struct {
	At         time.Time
	Kind, Text string
	Author     string
	Milestone  bool
}

type burnRow struct {
	SLO, URL, Error string
	Share           float64
	Spent, Total    float64
	Unit            string
	Strip           template.HTML
}

type repairRow struct {
	Title, Term, Phase, Owner, Status, Link string
	Due                                     time.Time
	Overdue                                 bool
}

type incidentView struct {
	Inc        *incident.Incident
	Services   string
	TTx        []ttxRow
	Phases     template.HTML
	Timeline   []milestone
	Responders []incident.Responder
	Hops       string
	Repairs    []repairRow
	Burn       []burnRow
	Links      []incident.Link
	Postmortem template.HTML
	Drafted    bool
}

var ttxAbout = map[incident.Metric]string{
	incident.TTD: "impact start → detected",
	incident.TTE: "detected → engaged",
	incident.TTF: "engaged → mitigated",
	incident.TTM: "impact start → mitigated",
}

// incident serves /incidents/{id}.
func (u *UI) incident(w http.ResponseWriter, r *http.Request) {
	svc, err := u.incidentService()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	notFound := &pageError{status: http.StatusNotFound, msg: "There is no incident " + quote(r.PathValue("id")) + ".",
		hints: []string{"The list at /incidents shows every incident recorded."}}
	if err != nil || id <= 0 {
		u.fail(w, r, notFound)
		return
	}
	inc, err := svc.Get(r.Context(), id)
	if err != nil {
		if isNotFound(err) {
			err = notFound
		}
		u.fail(w, r, err)
		return
	}
	v, err := u.buildIncident(r.Context(), svc, inc)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "incident", &layout{Title: fmt.Sprintf("#%d %s", inc.ID, inc.Title), Nav: "incidents", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

func isNotFound(err error) bool {
	return errors.Is(err, incident.ErrNotFound) || errors.Is(err, store.ErrNotFound)
}

func (u *UI) buildIncident(ctx context.Context, svc IncidentReader, inc *incident.Incident) (*incidentView, error) {
	v := &incidentView{Inc: inc, Services: strings.Join(inc.Services, ", "), Responders: inc.Responders, Links: inc.Links}
	goals := svc.Config().GoalsFor(inc.Service())
	times := inc.Times()
	for _, m := range incident.Metrics {
		row := ttxRow{Metric: strings.ToUpper(string(m)), About: ttxAbout[m], Value: "–", Goal: "–"}
		var d *incident.Dur
		switch m {
		case incident.TTD:
			d = times.TTD
		case incident.TTE:
			d = times.TTE
		case incident.TTF:
			d = times.TTF
		default:
			d = times.TTM
		}
		g := goals.Get(m)
		if g > 0 {
			row.HasGoal, row.Goal = true, formatDuration(g)
		}
		if d != nil {
			row.Known, row.Value = true, formatDuration(time.Duration(*d))
			row.Missed = g > 0 && time.Duration(*d) > g
		}
		v.TTx = append(v.TTx, row)
	}
	v.Hops = "–"
	if times.Hops != nil {
		v.Hops = strconv.Itoa(*times.Hops)
	}
	v.Phases = phasesChart(inc, goals)

	for _, m := range []struct {
		at   time.Time
		text string
	}{{inc.ImpactStart, "impact starts"}, {inc.Detected, "detected (" + string(inc.DetectedBy) + ")"}, {inc.Engaged, "engaged"}, {inc.Mitigated, "mitigated"}, {inc.Resolved, "resolved"}} {
		if !m.at.IsZero() {
			v.Timeline = append(v.Timeline, milestone{At: m.at, Kind: "milestone", Text: m.text, Milestone: true})
		}
	}
	for _, e := range inc.Timeline {
		v.Timeline = append(v.Timeline, milestone{At: e.At, Kind: string(e.Kind), Text: e.Text, Author: e.Author})
	}
	slices.SortStableFunc(v.Timeline, func(a, b milestone) int { return a.At.Compare(b.At) })

	now := u.cfg.SLOs.Now()
	for _, it := range inc.Repairs {
		row := repairRow{Title: it.Title, Term: string(it.Term), Phase: string(it.Phase), Owner: it.Owner, Status: string(it.Status), Due: it.Due}
		if safeURL(it.Link) {
			row.Link = it.Link
		}
		row.Overdue = it.Closed.IsZero() && !it.Due.IsZero() && now.After(it.Due)
		v.Repairs = append(v.Repairs, row)
	}
	from, to := inc.ImpactStart, inc.Mitigated
	if from.IsZero() {
		from = inc.Detected
	}
	if to.IsZero() {
		to = now
	}
	for _, name := range inc.SLOs {
		row := burnRow{SLO: name, URL: "/slos/" + url.PathEscape(name), Share: math.NaN(), Error: "not computed"}
		for _, b := range inc.Burn {
			if b.SLO == name {
				row.Error, row.Share, row.Spent, row.Total, row.Unit = b.Error, b.Share, b.Spent, b.Total, b.Unit
			}
		}
		// The SLO's quanta around the incident, a quarter of its length
		// (at least 30 minutes) either side.
		if s, err := u.cfg.SLOs.SLO(name); err == nil && !from.IsZero() && from.Before(to) {
			pad := max(30*time.Minute, to.Sub(from)/4)
			// An incident left open for months (or with a wrong impact
			// start) shows its last month, not years of quanta.
			from = maxTime(from, to.Add(-maxIncidentStrip))
			lo := time.Unix(0, slo.QuantumStart(from.Add(-pad).UnixNano(), s.Quantum)).UTC()
			hi := time.Unix(0, slo.QuantumStart(to.Add(pad).UnixNano(), s.Quantum)).UTC()
			at := u.cfg.SLOs.EvalTime(s, now)
			if strip, err := u.strip(ctx, s, lo, hi, minTime(hi, at), "burn-"+s.Name, 960, 40); err == nil {
				row.Strip = strip
			}
		}
		v.Burn = append(v.Burn, row)
	}
	text, stored, err := svc.Postmortem(ctx, inc.ID)
	if err != nil {
		return nil, err
	}
	v.Drafted = !stored
	if v.Postmortem, err = renderMarkdown(text); err != nil {
		return nil, err
	}
	return v, nil
}

// maxIncidentStrip bounds the span of an incident's budget strip.
const maxIncidentStrip = 31 * 24 * time.Hour

// strip draws the good/bad/unmeasured strip of s over [from, to), judged
// up to end; quanta from end until now are pending.
func (u *UI) strip(ctx context.Context, s *slo.SLO, from, to, end time.Time, id string, width, height float64) (template.HTML, error) {
	series, err := u.counts(ctx, s, from, to, u.cfg.SLOs.Now())
	if err != nil {
		return "", err
	}
	bucket := chart.BucketFor(from, to, s.Quantum, int(width/2))
	cells, sum := stripCells(s, series.Rollups, series.Since, from, to, end, u.cfg.SLOs.Now(), bucket)
	desc := fmt.Sprintf("%s from %s to %s: %d bad quanta.", s.Name, from.Format(time.RFC3339), to.Format(time.RFC3339), sum.Bad)
	if sum.Pending > 0 {
		desc += fmt.Sprintf(" %d pending (not judged yet).", sum.Pending)
	}
	st := chart.NewStrip(chart.Frame{W: width, H: height, Left: 8, Right: 8, Top: 2, Bottom: 18},
		chart.Text{ID: id, Title: "Good and bad quanta of " + s.Name + " around the incident", Desc: desc}, from, bucket, cells)
	st.Zoom = sloPath(s.Name)
	return st.SVG(), nil
}

// phasesChart draws the incident's phases on a time line: detect, engage,
// fix, each hatched when over its goal.
func phasesChart(inc *incident.Incident, goals incident.Goals) template.HTML {
	type phase struct {
		name     string
		from, to time.Time
		goal     time.Duration
	}
	ps := []phase{
		{"detect", inc.ImpactStart, inc.Detected, goals.Get(incident.TTD)},
		{"engage", inc.Detected, inc.Engaged, goals.Get(incident.TTE)},
		{"fix", inc.Engaged, inc.Mitigated, goals.Get(incident.TTF)},
	}
	var first, last time.Time
	for _, p := range ps {
		for _, t := range []time.Time{p.from, p.to} {
			if t.IsZero() {
				continue
			}
			if first.IsZero() || t.Before(first) {
				first = t
			}
			if t.After(last) {
				last = t
			}
		}
	}
	if first.IsZero() || !first.Before(last) {
		return ""
	}
	f := chart.Frame{W: 960, H: 70, Left: 60, Right: 12, Top: 6, Bottom: 20}
	x := chart.Linear{D0: float64(first.Unix()), D1: float64(last.Unix()), R0: f.X0(), R1: f.X1()}
	var b strings.Builder
	var desc []string
	fmt.Fprintf(&b, `<svg class="chart phases" viewBox="0 0 %g %g" role="img" aria-labelledby="phases-t phases-d">`, f.W, f.H)
	for i, p := range ps {
		if p.from.IsZero() || p.to.IsZero() || !p.from.Before(p.to) {
			continue
		}
		d := p.to.Sub(p.from)
		cls := "good"
		word := "within goal"
		if p.goal > 0 && d > p.goal {
			cls, word = "bad", "over its "+formatDuration(p.goal)+" goal"
		} else if p.goal == 0 {
			word = "no goal"
		}
		desc = append(desc, fmt.Sprintf("%s %s (%s)", p.name, formatDuration(d), word))
		x0, x1 := x.Map(float64(p.from.Unix())), x.Map(float64(p.to.Unix()))
		y := f.Y0() + float64(i)*14
		fmt.Fprintf(&b, `<text class="tick" x="%g" y="%g" text-anchor="end">%s</text>`, f.X0()-6, y+10, p.name)
		fmt.Fprintf(&b, `<rect class="bar %s" x="%.2f" y="%g" width="%.2f" height="12"><title>%s: %s, %s</title></rect>`,
			cls, x0, y, math.Max(1, x1-x0), p.name, formatDuration(d), template.HTMLEscapeString(word))
	}
	for _, t := range chart.TimeTicks(x, first, last, 6, nil) {
		fmt.Fprintf(&b, `<text class="tick" x="%.2f" y="%g" text-anchor="middle">%s</text>`, t.Pos, f.Y1()+14, t.Label)
	}
	fmt.Fprintf(&b, `<title id="phases-t">Incident phases</title><desc id="phases-d">%s.</desc></svg>`, template.HTMLEscapeString(strings.Join(desc, "; ")))
	return template.HTML(b.String())
}

// markdown renders postmortems: GitHub-flavoured tables and task lists,
// and, goldmark's default, no raw HTML (it is dropped) and no dangerous
// link destinations.
var markdown = goldmark.New(goldmark.WithExtensions(extension.GFM))

// renderMarkdown renders a postmortem safely. Goldmark leaves raw HTML
// out and neutralises javascript: links; the result is checked once more
// for anything that could run, so a change of library default cannot
// open a hole unnoticed.
func renderMarkdown(src string) (template.HTML, error) {
	var buf bytes.Buffer
	if err := markdown.Convert([]byte(src), &buf); err != nil {
		return "", fmt.Errorf("rendering the postmortem: %w", err)
	}
	out := buf.String()
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script", "<iframe", "<object", "<embed", "<style", `href="javascript:`, `src="javascript:`, `href="data:`} {
		if strings.Contains(lower, bad) {
			return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>"), nil
		}
	}
	return template.HTML(out), nil
}

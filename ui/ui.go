// Package ui is nines' web UI: server-rendered HTML pages with
// hand-written SVG charts (package ui/chart), served by nines serve at /.
// Pages read the SLOs through the engine, as the API does, the daily
// counts of the charts from the stored rollups and incidents from the
// incident service, each through the small interface of needs.go; the
// only state the UI keeps itself is frozen snapshots, in the store's
// key-value state (package ui/snapshot). Templates, the stylesheet and a
// little plain JavaScript (hover read-outs, range selection, the theme
// toggle) are embedded, so there is no front-end build.
package ui

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/ui/snapshot"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Config configures the UI: what its pages call (ui/needs.go). SLOs,
// Rollups and Snapshots are required.
type Config struct {
	// SLOs answers what the pages show (nines serve gives its engine).
	SLOs SLOReader
	// Rollups reads the stored rollups that the charts count by day
	// (counts.go): the store.
	Rollups RollupReader
	// Incidents, when set, serves the incident and review pages; nil
	// turns them off (404, and no link to them).
	Incidents IncidentReader
	Logger    *slog.Logger
	// Snapshots keeps frozen pages (in the store's key-value state,
	// under ui/snapshot/<id>). The API lists and deletes through the
	// same Shelf, so give both one.
	Snapshots *snapshot.Shelf
	// Token is the write token of nines serve, asked for by the form
	// that deletes a snapshot; empty leaves that open, as the API's
	// writes are.
	Token string
	// FreezeBurst and FreezeEvery limit the freezes of one client (an
	// address; an IPv6 /64): FreezeBurst at once (default 10), then one
	// every FreezeEvery (default 1 minute). Freezing needs no token
	// while reads are open.
	FreezeBurst int
	FreezeEvery time.Duration
	// Sources, when set, says how the SLOs read from a query API (package
	// pull) are read: the SLO page shows it under the heading.
	Sources SourceNoter
	// Scorecards, when set, serves the scorecards page (scorecards.go);
	// nil turns it off (404, and no link to it).
	Scorecards ScorecardReader
	// Catalog, when set, serves the service pages and the dependency
	// graph (ui/catalog.go); Observed, when set, colours the graph's edges
	// by the error rates traces show.
	Catalog  *catalog.Catalog
	Observed EdgeObserver
	// OnCall, when set, serves the on-call load page (oncall.go).
	OnCall OnCallReporter
	// Chaos, when set, serves the chaos experiment pages (chaos.go).
	Chaos ChaosRunner
	// ThirdParties, when set, serves the third-party pages
	// (thirdparty.go).
	ThirdParties ThirdPartyBoard
	// Forecasts, when set, serves the forecasts page (forecast.go).
	Forecasts Forecaster
	// Probes, when set, serves the probes page (probes.go).
	Probes ProbeLister
}

// UI is an http.Handler serving the pages. It is safe for concurrent use.
type UI struct {
	cfg   Config
	mux   *http.ServeMux
	pages map[string]*template.Template
	cache countsCache
	// freezes limits snapshots per client.
	freezes *limiter
	// refreshes are the cache's refresh-ahead reads running; Wait waits
	// for them.
	refreshes sync.WaitGroup
}

// Wait waits for the background reads that refresh cached counts: call it
// before closing the store, which they read.
func (u *UI) Wait() { u.refreshes.Wait() }

// New parses the templates and returns the UI.
func New(cfg Config) (*UI, error) {
	if cfg.SLOs == nil || cfg.Rollups == nil || cfg.Snapshots == nil {
		return nil, errors.New("ui: the SLO reader, the rollup reader and the snapshot shelf are required")
	}
	if cfg.FreezeBurst == 0 {
		cfg.FreezeBurst = 10
	}
	if cfg.FreezeEvery == 0 {
		cfg.FreezeEvery = time.Minute
	}
	if cfg.FreezeBurst < 0 || cfg.FreezeEvery < 0 {
		return nil, fmt.Errorf("ui: a freeze limit of %d at once and one every %s: want both above zero", cfg.FreezeBurst, cfg.FreezeEvery)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	u := &UI{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		freezes: &limiter{burst: cfg.FreezeBurst, every: cfg.FreezeEvery}}
	for _, name := range []string{"overview", "slo", "error", "snapshot", "snapshots", "incidents", "incident", "review", "scorecards", "services", "service", "graph", "oncall", "experiments", "experiment", "thirdparties", "forecasts", "probes"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		u.pages[name] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.FileServerFS(static)
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(time.Hour, files)))
	u.mux.HandleFunc("GET /{$}", u.overview)
	u.mux.HandleFunc("GET /slos/{name}", u.sloPage)
	u.mux.HandleFunc("POST /slos/{name}/freeze", u.freeze)
	u.mux.HandleFunc("GET /snapshots/{id}", u.snapshot)
	u.mux.HandleFunc("GET /snapshots", u.snapshots)
	u.mux.HandleFunc("POST /snapshots/{id}/delete", u.deleteSnapshot)
	u.mux.HandleFunc("GET /incidents", u.incidents)
	u.mux.HandleFunc("GET /incidents/{id}", u.incident)
	u.mux.HandleFunc("GET /review", u.review)
	u.mux.HandleFunc("GET /scorecards", u.scorecards)
	u.mux.HandleFunc("GET /services", u.services)
	u.mux.HandleFunc("GET /services/{name}", u.service)
	u.mux.HandleFunc("GET /graph", u.graph)
	u.mux.HandleFunc("GET /oncall", u.oncallPage)
	u.mux.HandleFunc("GET /forecasts", u.forecastsPage)
	u.mux.HandleFunc("GET /experiments", u.experiments)
	u.mux.HandleFunc("GET /experiments/{name}", u.experiment)
	u.mux.HandleFunc("POST /experiments/{name}/runs", u.startRun)
	u.mux.HandleFunc("POST /experiments/{name}/stop", u.stopRun)
	u.mux.HandleFunc("GET /probes", u.probesPage)
	u.mux.HandleFunc("GET /thirdparties", u.thirdParties)
	u.mux.HandleFunc("GET /thirdparties/{vendor}", u.thirdParty)
	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: fmt.Sprintf("There is no page at %s.", r.URL.Path),
			hints: []string{"The overview at / lists every SLO; each links to its own page."}})
	})
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	u.mux.ServeHTTP(w, r)
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(d.Seconds())))
		h.ServeHTTP(w, r)
	})
}

// layout is what every page's frame needs.
type layout struct {
	Title string
	// Nav is the section the page belongs to, for the highlighted link.
	Nav string
	// Generated is when the page's data was read (the engine's clock).
	Generated time.Time
	// Snapshot is set on a frozen page.
	Snapshot *snapshot.Meta
	// Incidents, Scorecards, Catalog, OnCall, Chaos, ThirdParties,
	// Forecasts and Probes say whether the incident, scorecard, service,
	// on-call load, experiment, third-party, forecast and probe pages are
	// served.
	Incidents, Scorecards, Catalog, OnCall, Chaos, ThirdParties, Forecasts, Probes bool
	Page                                                                           any
}

// render executes a page into a buffer first, so a template error becomes
// a 500 page rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, l *layout) {
	var buf bytes.Buffer
	l.Incidents, l.OnCall = u.cfg.Incidents != nil, u.cfg.OnCall != nil
	l.Scorecards = u.cfg.Scorecards != nil
	l.Catalog = u.cfg.Catalog != nil
	l.Chaos = u.cfg.Chaos != nil
	l.ThirdParties = u.cfg.ThirdParties != nil
	l.Forecasts = u.cfg.Forecasts != nil
	l.Probes = u.cfg.Probes != nil
	if err := u.pages[name].Execute(&buf, l); err != nil {
		// Not the error page: rendering that may fail the same way.
		err = fmt.Errorf("ui: rendering page %s: %w", name, err)
		status, msg, _ := httpx.Reply(err, httpx.RequestID(r.Context()))
		httpx.Log(u.cfg.Logger, r, status, err)
		http.Error(w, msg, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageError is an error with the status and advice its page shows.
type pageError struct {
	status int
	msg    string
	hints  []string
}

func (e *pageError) Error() string { return e.msg }

// HTTPStatus is the status httpx.Status gives the page.
func (e *pageError) HTTPStatus() int { return e.status }

type errorPage struct {
	Status     int
	StatusText string
	Message    string
	Hints      []string
	// RequestID names a failure of nines in its log.
	RequestID string
}

// fail answers with an error page, with the status httpx.Status gives
// err, as the API would: a helpful 4xx for bad input; for a 5xx a plain
// sentence and the request id, the cause going to the log only.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	id := httpx.RequestID(r.Context())
	status, msg, retry := httpx.Reply(err, "")
	httpx.Log(u.cfg.Logger, r, status, err)
	httpx.SetRetryAfter(w.Header(), retry)
	p := errorPage{Status: status, Message: msg, StatusText: http.StatusText(status)}
	if status >= 500 {
		p.RequestID = id
	}
	var pe *pageError
	switch {
	case errors.As(err, &pe):
		p.Hints = pe.hints
	case errors.Is(err, engine.ErrUnknownSLO):
		p.Message = "There is no SLO called " + quote(r.PathValue("name")) + "."
		p.Hints = []string{"The overview at / lists the SLOs nines serve has loaded.",
			"SLOs come from the spec files given with --slos; POST /api/v1/-/reload re-reads them."}
	}
	u.render(w, r, p.Status, "error", &layout{Title: p.StatusText, Page: p, Generated: u.cfg.SLOs.Now().UTC()})
}

func quote(s string) string { return "“" + s + "”" }

// funcs are the templates' helpers: formatting only, no logic.
var funcs = template.FuncMap{
	"pct": func(share float64, digits int) string {
		if math.IsNaN(share) || math.IsInf(share, 0) {
			return "–"
		}
		return fmt.Sprintf("%.*f %%", digits, share*100)
	},
	"burn": func(b float64) string {
		if math.IsNaN(b) {
			return "–"
		}
		return fmt.Sprintf("%.2f×", b)
	},
	// time writes an instant for people, in UTC or in the zone given
	// (an SLO page's: its calendar window's zone) with its abbreviation.
	"time": func(t time.Time, zone ...*time.Location) string {
		if t.IsZero() {
			return "–"
		}
		if len(zone) == 1 && zone[0] != nil {
			return t.In(zone[0]).Format("2006-01-02 15:04 MST")
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"states":  joinStates,
	"dur": func(v any) string {
		switch d := v.(type) {
		case time.Duration:
			return formatDuration(d)
		case incident.Dur:
			return formatDuration(time.Duration(d))
		}
		return fmt.Sprint(v)
	},
	"width": func(share float64) string {
		if math.IsNaN(share) {
			return "0"
		}
		return fmt.Sprintf("%.1f", math.Max(0, math.Min(1, share))*100)
	},
	"join": strings.Join,
	// pp writes a difference of shares in percentage points, signed.
	"pp": func(d float64) string {
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return "–"
		}
		return fmt.Sprintf("%+.3f pp", d*100)
	},
	"figure": figure,
	"rate":   rateText,
}

// figure writes a count or amount for people: whole numbers grouped by
// thousands (43,200), small amounts with one decimal (4.3).
func figure(x any) string {
	var v float64
	switch n := x.(type) {
	case float64:
		v = n
	case int:
		v = float64(n)
	case int64:
		v = float64(n)
	case uint64:
		v = float64(n)
	default:
		return fmt.Sprint(x)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if math.Abs(v) < 100 && v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	s := strconv.FormatFloat(math.Abs(math.Round(v)), 'f', 0, 64)
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatDuration writes a duration the way an SRE says it: 4m, 2h 5m,
// 3d 4h.
func formatDuration(d time.Duration) string {
	if d < 0 {
		return "–"
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m != 0 {
			return fmt.Sprintf("%dh %dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	}
	days := int(d.Hours()) / 24
	if h := int(d.Hours()) % 24; h != 0 {
		return fmt.Sprintf("%dd %dh", days, h)
	}
	return fmt.Sprintf("%dd", days)
}

// Package server is nines' HTTP face: the JSON API (docs/api.md), the
// ingestion endpoints and /metrics. Handlers stay thin: decode the
// request, call the engine (or the store, the incident service, the
// dispatcher) through the small interfaces of needs.go, encode the
// answer. Package httpx maps error classes to HTTP status codes, for the
// API and the UI alike; guard.go keeps other sites and other host names
// out, limits.go bounds what requests hold.
package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/ui/snapshot"
)

// Config configures a Server: what each group of endpoints calls
// (server/needs.go). SLOs, Writes and Annotations are required.
type Config struct {
	// SLOs answers the reads; Writes takes the writes (nines serve gives
	// its engine for both).
	SLOs   SLOReader
	Writes Writer
	// Annotations lists and deletes stored annotations (the store).
	Annotations AnnotationStore
	// Size, when set, reports the store's size on /metrics.
	Size Sizer
	// Logger receives every 5xx with its cause and request id.
	Logger *slog.Logger
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// write and admin endpoints, and on reads too when ProtectReads.
	Token        string
	ProtectReads bool
	// Hosts are the host names, beside IP addresses and localhost, that
	// clients reach the server by (nines serve --web.external-host and a
	// named --listen host). A request for any other Host is refused, so a
	// page whose name an attacker re-points at this server (DNS
	// rebinding) can neither read nor write.
	Hosts []string
	// MaxBody bounds a request body (default 32 MiB): a larger one is
	// refused with 413 before it is read whole.
	MaxBody int64
	// MaxBodyMemory bounds the request bodies held in memory at once, over
	// all requests (default 256 MiB, at least MaxBody): past it a request
	// gets 503 with Retry-After rather than growing the process without
	// bound.
	MaxBodyMemory int64
	// MaxSeries bounds the series of one remote-write or OTLP request
	// (default 200,000), so one request cannot make the collector hold
	// millions of baselines.
	MaxSeries int
	// Reload re-reads the SLO specs (POST /api/v1/-/reload) and returns
	// its warnings, among them what was re-judged or restarted; nil
	// disables it.
	Reload func() ([]string, error)
	// Version is shown by /api/v1/status/buildinfo.
	Version string
	// Notify, when set, routes alerts to notifiers (server/notify.go);
	// nil turns the silence and notification endpoints off.
	Notify Notifier
	// Incidents, when set, records incidents (server/incidents.go); nil
	// turns the incident endpoints off (404).
	Incidents *incident.Service
	// UI, when set, serves every path the API does not (the web UI), under the read rule.
	UI http.Handler
	// Snapshots, when set, are the UI's frozen pages, listed and deleted
	// at /api/v1/snapshots (server/snapshots.go).
	Snapshots *snapshot.Shelf
	// Sources, when set, reports on the SLI sources nines reads itself
	// (package pull): GET /api/v1/slos/{name} shows it as "source".
	Sources SourceReporter
	// Traces, when set, takes OTLP traces into the observed call graph
	// (POST /v1/traces) and shows it (GET /api/v1/edges); nil turns both
	// off (server/traces.go).
	Traces CallGraph
	// DeclaredEdges, when set, lists the dependencies the service catalog
	// declares, which GET /api/v1/edges compares with the observed ones.
	DeclaredEdges func() ([]callgraph.Edge, error)
	// OnCall, when set, computes on-call load (server/oncall.go); nil
	// turns GET /api/v1/oncall off (404).
	OnCall OnCallReporter
	// Chaos, when set, runs the chaos experiments (server/chaos.go); nil
	// answers 404.
	Chaos Chaos
	// Replica, when set, says this process's role among several on one
	// database, on /healthz, /readyz and /metrics (server/replica.go).
	Replica Replica
	// Scorecards and Readiness, when set, answer /api/v1/scorecards and
	// /api/v1/readiness (server/scorecards.go); nil answers 404.
	Scorecards ScorecardReader
	Readiness  ReadinessReader
	// Catalog, when set, is the service catalog served at
	// /api/v1/services and judged at /api/v1/deps/check (server/catalog.go);
	// Observed, when set, adds the edges seen in traces to the checks.
	Catalog  *catalog.Catalog
	Observed ObservedEdges
	// ThirdParties, when set, answers /api/v1/thirdparties
	// (server/thirdparty.go); nil answers 404.
	ThirdParties ThirdParties
	// Probes, when set, answers /api/v1/probes (server/probes.go); nil
	// answers 404.
	Probes Probes
	// Forecasts, when set, answers /api/v1/forecasts and
	// /api/v1/slos/{name}/forecast (server/forecast.go); nil answers 404.
	Forecasts Forecaster
	// Verifiers, when set, takes reported objects and shows the
	// durability verifiers (server/verifiers.go); nil answers 404.
	Verifiers Verifiers
}

// DefaultMaxBody is the largest request body taken unless Config.MaxBody
// says otherwise: 32 MiB, as promrw.MaxDecodedSize for a decompressed
// remote-write request.
const DefaultMaxBody = 32 << 20

// Server serves the API. It is safe for concurrent use.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	bodies  bodyBudget
	origins *http.CrossOriginProtection
	// forwards sends metric samples on to the leader (forward.go).
	forwards *forwarding
}

// New returns a Server with its routes.
func New(cfg Config) (*Server, error) {
	if cfg.SLOs == nil || cfg.Writes == nil || cfg.Annotations == nil {
		return nil, errors.New("server: the SLO reader, the writer and the annotation store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxBodyMemory == 0 {
		cfg.MaxBodyMemory = max(256<<20, cfg.MaxBody)
	}
	if cfg.MaxBodyMemory < cfg.MaxBody {
		return nil, fmt.Errorf("server: the memory for request bodies (%d bytes) is less than one largest body (%d bytes): such a request could never be served", cfg.MaxBodyMemory, cfg.MaxBody)
	}
	if cfg.MaxSeries == 0 {
		cfg.MaxSeries = 200_000
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), bodies: bodyBudget{max: cfg.MaxBodyMemory}, origins: http.NewCrossOriginProtection(), forwards: newForwarding()}
	for _, h := range cfg.Hosts {
		if err := checkHostName(h); err != nil {
			return nil, fmt.Errorf("server: host %q: %w", h, err)
		}
		// Browsers that send no Sec-Fetch-Site are judged by Origin, which
		// names the external host when a proxy rewrote Host.
		for _, scheme := range []string{"http://", "https://"} {
			if err := s.origins.AddTrustedOrigin(scheme + h); err != nil {
				return nil, fmt.Errorf("server: host %q: %w", h, err)
			}
		}
	}
	read := s.readAuth
	write := func(body mediaTypes, h http.Handler) http.Handler { return s.writeAuth(s.accept(body, s.holding(h))) }
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", read(http.HandlerFunc(s.metrics)))
	s.mux.Handle("GET /api/v1/slos", read(s.api(s.listSLOs)))
	s.mux.Handle("GET /api/v1/slos/{name}", read(s.api(s.getSLO)))
	s.mux.Handle("GET /api/v1/slos/{name}/status", read(s.api(s.status)))
	s.mux.Handle("GET /api/v1/slos/{name}/quanta", read(s.api(s.quanta)))
	s.mux.Handle("GET /api/v1/slos/{name}/histogram", read(s.api(s.histogram)))
	s.mux.Handle("GET /api/v1/slos/{name}/budget", read(s.api(s.budget)))
	s.mux.Handle("GET /api/v1/slos/{name}/alerts", read(s.api(s.sloAlerts)))
	s.mux.Handle("GET /api/v1/alerts", read(s.api(s.alerts)))
	s.mux.Handle("GET /api/v1/slos/{name}/gate", read(s.api(s.gate)))
	s.mux.Handle("GET /api/v1/slos/{name}/annotations", read(s.api(s.sloAnnotations)))
	s.mux.Handle("GET /api/v1/annotations", read(s.api(s.annotations)))
	s.mux.Handle("POST /api/v1/annotations", write(jsonBody, s.api(s.addAnnotation)))
	s.mux.Handle("DELETE /api/v1/annotations/{id}", write(noBody, s.api(s.deleteAnnotation)))
	s.mux.Handle("POST /api/v1/events", write(eventsBody, s.api(s.events)))
	s.mux.Handle("POST /api/v1/rollups", write(jsonBody, s.api(s.rollups)))
	s.mux.Handle("POST /api/v1/write", write(remoteWriteBody, http.HandlerFunc(s.remoteWrite)))
	s.mux.Handle("POST /v1/metrics", write(otlpBody, http.HandlerFunc(s.otlpMetrics)))
	s.mux.Handle("POST /api/v1/otlp/v1/metrics", write(otlpBody, http.HandlerFunc(s.otlpMetrics)))
	s.mux.Handle("POST /api/v1/-/reload", write(noBody, s.api(s.reload)))
	s.notifyRoutes(read, write)
	s.incidentRoutes(read, write)
	s.traceRoutes(read, write)
	s.snapshotRoutes(read, write)
	s.scorecardRoutes(read)
	s.catalogRoutes(read)
	s.mux.Handle("GET /api/v1/oncall", read(s.api(s.oncallReport)))
	s.chaosRoutes(read, write)
	s.thirdPartyRoutes(read)
	s.mux.Handle("GET /api/v1/probes", read(s.api(s.probes)))
	s.mux.Handle("GET /api/v1/probes/file", s.writeAuth(http.HandlerFunc(s.probesFile)))
	s.forecastRoutes(read)
	s.verifierRoutes(read, write)
	s.mux.Handle("/api/", s.api(func(r *http.Request) (any, error) {
		return nil, httpx.Errorf(http.StatusNotFound, "no endpoint %s %s (see docs/api.md)", r.Method, r.URL.Path)
	}))
	if cfg.UI != nil {
		s.mux.Handle("/", read(cfg.UI))
	}
	s.handler = httpx.WithRequestID(s.guard(s.mux))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// api adapts a handler that returns data or an error to http.Handler:
// data is encoded as JSON with 200, errors as {"error": {...}}.
func (s *Server) api(h func(r *http.Request) (any, error)) http.Handler {
	return s.apiStatus(http.StatusOK, h)
}

// apiStatus is api answering status on success.
func (s *Server) apiStatus(status int, h func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := h(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if rp, ok := data.(replayed); ok {
			w.Header().Set(replayedHeader, "true")
			data = rp.reply
		}
		if st := s.stale(); st != nil && r.Method == http.MethodGet {
			w.Header().Set(staleHeader, "since "+st.Since.Format(time.RFC3339))
		}
		writeJSON(w, status, data)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if st, ok := v.(streamedJSON); ok {
		st.writeIndentedJSON(w)
		return
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// fail answers err as {"error": {"status", "message", "request_id"}}, with
// the status httpx.Status gives it; a 5xx is logged with its cause and
// answered without it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	id := httpx.RequestID(r.Context())
	status, msg, retry := httpx.Reply(err, id)
	httpx.Log(s.cfg.Logger, r, status, err)
	httpx.SetRetryAfter(w.Header(), retry)
	type body struct {
		Status    int    `json:"status"`
		Message   string `json:"message"`
		RequestID string `json:"request_id,omitempty"`
	}
	writeJSON(w, status, map[string]body{"error": {status, msg, id}})
}

// parseTime reads a query time: RFC 3339 or Unix seconds, within the
// range of times nines stores.
func parseTime(name, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		sec, perr := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if perr != nil || !(sec > 0 && sec < math.MaxInt64/1e9) {
			return time.Time{}, httpx.BadRequest("%s=%q: want an RFC 3339 time (2026-11-25T10:00:00Z) or Unix seconds", name, v)
		}
		t = time.Unix(0, int64(sec*1e9)).UTC()
	}
	if err := httpx.CheckTime(name, t); err != nil {
		return time.Time{}, httpx.BadRequest("%v", err)
	}
	return t, nil
}

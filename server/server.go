// Package server is nines' HTTP face: the JSON API (docs/api.md), the
// ingestion endpoints and /metrics. Handlers stay thin: decode the request,
// call the engine, encode the answer; one function maps error classes to
// HTTP status codes.
package server

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/ingest/otlp"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/store"
)

// Config configures a Server. Engine and Store are required.
type Config struct {
	Engine *engine.Engine
	Store  store.Store
	Logger *slog.Logger
	// Token, when set, is required as "Authorization: Bearer TOKEN" on
	// write and admin endpoints, and on reads too when ProtectReads.
	Token        string
	ProtectReads bool
	// MaxBody bounds a request body (default 32 MiB): a larger one is
	// refused with 413 before it is read whole.
	MaxBody int64
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
	// Notify, when set, routes alerts to notifiers (server/notify.go).
	Notify *Notifier
	// Incidents records incidents (server/incidents.go); nil makes one on Store with the default configuration.
	Incidents *incident.Service
	// UI, when set, serves every path the API does not (the web UI), under the read rule.
	UI http.Handler
}

// Server serves the API. It is safe for concurrent use.
type Server struct {
	cfg Config
	mux *http.ServeMux
}

// New returns a Server with its routes.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil || cfg.Store == nil {
		return nil, errors.New("server: engine and store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 32 << 20
	}
	if cfg.MaxSeries == 0 {
		cfg.MaxSeries = 200_000
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	read, write := s.readAuth, s.writeAuth
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.Handle("GET /metrics", read(http.HandlerFunc(s.metrics)))
	s.mux.Handle("GET /api/v1/slos", read(api(s.listSLOs)))
	s.mux.Handle("GET /api/v1/slos/{name}", read(api(s.getSLO)))
	s.mux.Handle("GET /api/v1/slos/{name}/status", read(api(s.status)))
	s.mux.Handle("GET /api/v1/slos/{name}/quanta", read(api(s.quanta)))
	s.mux.Handle("GET /api/v1/slos/{name}/histogram", read(api(s.histogram)))
	s.mux.Handle("GET /api/v1/slos/{name}/budget", read(api(s.budget)))
	s.mux.Handle("GET /api/v1/slos/{name}/alerts", read(api(s.sloAlerts)))
	s.mux.Handle("GET /api/v1/alerts", read(api(s.alerts)))
	s.mux.Handle("GET /api/v1/slos/{name}/gate", read(api(s.gate)))
	s.mux.Handle("GET /api/v1/slos/{name}/annotations", read(api(s.sloAnnotations)))
	s.mux.Handle("GET /api/v1/annotations", read(api(s.annotations)))
	s.mux.Handle("POST /api/v1/annotations", write(api(s.addAnnotation)))
	s.mux.Handle("DELETE /api/v1/annotations/{id}", write(api(s.deleteAnnotation)))
	s.mux.Handle("POST /api/v1/events", write(api(s.events)))
	s.mux.Handle("POST /api/v1/rollups", write(api(s.rollups)))
	s.mux.Handle("POST /api/v1/write", write(http.HandlerFunc(s.remoteWrite)))
	s.mux.Handle("POST /v1/metrics", write(http.HandlerFunc(s.otlpMetrics)))
	s.mux.Handle("POST /api/v1/otlp/v1/metrics", write(http.HandlerFunc(s.otlpMetrics)))
	s.mux.Handle("POST /api/v1/-/reload", write(api(s.reload)))
	s.notifyRoutes(read, write)
	s.incidentRoutes(read, write)
	s.mux.Handle("/api/", api(func(r *http.Request) (any, error) {
		return nil, &apiError{http.StatusNotFound, fmt.Sprintf("no endpoint %s %s (see docs/api.md)", r.Method, r.URL.Path)}
	}))
	if cfg.UI != nil {
		s.mux.Handle("/", read(cfg.UI))
	}
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// apiError is an error with the HTTP status it answers with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

// statusOf maps an error to its HTTP status: the one place that knows.
func statusOf(err error) int {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae.status
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, engine.ErrUnknownSLO), errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrInvalid), errors.Is(err, store.ErrInvalid), errors.Is(err, engine.ErrUnknownService):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, store.ErrClosed), errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, promrw.ErrUnsupportedEncoding), errors.Is(err, otlp.ErrUnsupportedContentType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, promrw.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, promrw.ErrSnappy), errors.Is(err, promrw.ErrProtobuf), errors.Is(err, otlp.ErrMalformed):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// api adapts a handler that returns data or an error to http.Handler:
// data is encoded as JSON with 200, errors as {"error": {...}}.
func api(h func(r *http.Request) (any, error)) http.Handler {
	return apiStatus(http.StatusOK, h)
}

// apiStatus is api answering status on success.
func apiStatus(status int, h func(r *http.Request) (any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := h(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if rp, ok := data.(replayed); ok {
			w.Header().Set(replayedHeader, "true")
			data = rp.reply
		}
		writeJSON(w, status, data)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status := statusOf(err)
	switch status {
	case http.StatusServiceUnavailable:
		// Nothing of the request was kept: a retry (Prometheus' remote
		// write retries every 5xx, waiting this long) is counted once.
		w.Header().Set("Retry-After", "5")
	case http.StatusInsufficientStorage:
		w.Header().Set("Retry-After", "30")
	}
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "internal error: " + msg
	}
	type body struct {
		Status  int    `json:"status"`
		Message string `json:"message"`
	}
	writeJSON(w, status, map[string]body{"error": {status, msg}})
}

func (s *Server) readAuth(h http.Handler) http.Handler {
	if !s.cfg.ProtectReads {
		return h
	}
	return s.writeAuth(h)
}

func (s *Server) writeAuth(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nines"`)
			writeError(w, &apiError{http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// readBody reads a request body up to the configured limit.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes; send smaller batches", s.cfg.MaxBody)}
		}
		return nil, badRequest("reading body: %v", err)
	}
	return body, nil
}

// parseTime reads a query time: RFC 3339 or Unix seconds.
func parseTime(name, v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if sec, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && sec > 0 && sec < 1e11 {
		return time.Unix(0, int64(sec*1e9)).UTC(), nil
	}
	return time.Time{}, badRequest("%s=%q: want an RFC 3339 time (2026-11-25T10:00:00Z) or Unix seconds", name, v)
}

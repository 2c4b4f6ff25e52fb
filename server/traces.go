package server

import (
	"fmt"
	"math"
	"mime"
	"net/http"
	"time"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest/otlp"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/server/promtext"
	"github.com/nines-sre/nines/slo"
)

// CallGraph is the observed call graph the trace endpoints feed and show
// (*callgraph.Graph).
type CallGraph interface {
	Join(spans []callgraph.Span) *callgraph.Tx
	Edges(now time.Time, span time.Duration) []callgraph.EdgeFigures
	Stats() callgraph.Stats
	Window() time.Duration
}

var _ CallGraph = (*callgraph.Graph)(nil)

// traceRoutes adds the OTLP traces endpoint and the edges API when the
// server has a call graph.
func (s *Server) traceRoutes(read func(http.Handler) http.Handler, write func(mediaTypes, http.Handler) http.Handler) {
	if s.cfg.Traces == nil {
		return
	}
	s.mux.Handle("POST /v1/traces", write(otlpBody, http.HandlerFunc(s.otlpTraces)))
	s.mux.Handle("POST /api/v1/otlp/v1/traces", write(otlpBody, http.HandlerFunc(s.otlpTraces)))
	s.mux.Handle("GET /api/v1/edges", read(s.api(s.edges)))
}

// otlpTraces takes OTLP/HTTP traces, protobuf or JSON, gzip or not. The
// spans are joined into the call graph; the calls along edges that SLOs
// name are stored as those SLOs' rollups, in one transaction, before the
// answer: a 2xx means they are committed. If storing fails, the join is
// undone, so the sender's retry counts each call once.
func (s *Server) otlpTraces(w http.ResponseWriter, r *http.Request) {
	body, ct, err := s.otlpBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	batch, err := otlp.DecodeTraces(body, ct)
	if err != nil {
		s.cfg.Writes.Counters().Reject("otlp traces: undecodable", 1)
		s.fail(w, r, fmt.Errorf("OTLP: %w", err))
		return
	}
	counters := s.cfg.Writes.Counters()
	counters.Reject("otlp traces: no service.name", int64(batch.NoService))
	counters.Reject("otlp traces: invalid span", int64(batch.Invalid))
	tx := s.cfg.Traces.Join(batch.Spans)
	counters.Reject("otlp traces: too many services", int64(tx.Refused))
	series, err := callgraph.Rollups(tx.Calls, s.cfg.SLOs.SLOs())
	if err == nil && len(series) > 0 {
		_, _, err = s.commit(r.Context(), &engine.Batch{Source: "traces", Series: series})
	}
	if err != nil {
		tx.Rollback()
		s.fail(w, r, fmt.Errorf("traces: %w", err))
		return
	}
	tx.Commit()
	rejected := int64(batch.Rejected() + tx.Refused)
	msg := ""
	switch {
	case len(batch.Problems) > 0:
		msg = batch.Problems[0].Error()
	case tx.Refused > 0:
		msg = fmt.Sprintf("%d spans of services past the limit of distinct service names refused", tx.Refused)
	}
	mt, _, _ := mime.ParseMediaType(ct)
	jsonBody := mt == otlp.ContentTypeJSON
	w.Header().Set("Content-Type", otlp.ContentTypeProtobuf)
	if jsonBody {
		w.Header().Set("Content-Type", otlp.ContentTypeJSON)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(otlp.TraceResponse(rejected, msg, jsonBody))
}

// edgeJSON is one edge of GET /api/v1/edges.
type edgeJSON struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	// ErrorRate and P99Seconds are null with no call (or no timed call).
	ErrorRate  *float64 `json:"error_rate"`
	P99Seconds *float64 `json:"p99_seconds"`
	// TotalCalls and TotalErrors count since nines started.
	TotalCalls  uint64 `json:"total_calls"`
	TotalErrors uint64 `json:"total_errors"`
	// SLOs are the SLOs fed by the edge, with the share of its timed calls
	// at or under each one's latency threshold.
	SLOs []edgeSLO `json:"slos,omitempty"`
}

type edgeSLO struct {
	SLO              string   `json:"slo"`
	ThresholdSeconds *float64 `json:"threshold_seconds,omitempty"`
	ShareUnder       *float64 `json:"share_under_threshold,omitempty"`
}

// edges answers GET /api/v1/edges[?window=1h]: the observed call graph
// over the last window (default and longest: the graph's, 1h), and, when the
// server knows the declared edges, which of them traces never showed and
// which observed edges nobody declared.
func (s *Server) edges(r *http.Request) (any, error) {
	window := s.cfg.Traces.Window()
	if v := r.URL.Query().Get("window"); v != "" {
		d, err := slo.ParseDuration(v)
		if err != nil || d < time.Minute || d > window || d%time.Minute != 0 {
			return nil, httpx.BadRequest("window=%q: want whole minutes from 1m to %s (the figures nines keeps per edge), such as 15m", v, slo.FormatDuration(window))
		}
		window = d
	}
	now := s.cfg.SLOs.Now()
	figs := s.cfg.Traces.Edges(now, window)
	bySLO := map[callgraph.Edge][]*slo.SLO{}
	for _, o := range s.cfg.SLOs.SLOs() {
		if e := o.SLI.Edge; e != nil {
			k := callgraph.Edge{From: e.From, To: e.To}
			bySLO[k] = append(bySLO[k], o)
		}
	}
	out := struct {
		Window string     `json:"window"`
		Edges  []edgeJSON `json:"edges"`
		// Null when the server knows no declared edges.
		Undeclared []callgraph.Edge `json:"undeclared"`
		Unobserved []callgraph.Edge `json:"unobserved"`
		Stats      callgraph.Stats  `json:"stats"`
	}{Window: slo.FormatDuration(window), Edges: make([]edgeJSON, 0, len(figs)), Stats: s.cfg.Traces.Stats()}
	observed := make([]callgraph.Edge, 0, len(figs))
	for _, f := range figs {
		observed = append(observed, f.Edge)
		e := edgeJSON{From: f.From, To: f.To, Calls: f.Calls, Errors: f.Failed, TotalCalls: f.TotalCalls, TotalErrors: f.TotalFailed,
			ErrorRate: finite(f.ErrorRate)}
		if f.Latency.Count() > 0 {
			e.P99Seconds = finite(f.Latency.Quantile(0.99))
		}
		for _, o := range bySLO[f.Edge] {
			es := edgeSLO{SLO: o.Name}
			if l := o.SLI.Latency; l != nil {
				es.ThresholdSeconds = finite(l.Threshold)
				if f.Latency.Count() > 0 {
					share := f.Latency.FractionBelow(l.Threshold)
					if l.Inclusive {
						share = f.Latency.FractionAtOrBelow(l.Threshold)
					}
					es.ShareUnder = finite(share)
				}
			}
			e.SLOs = append(e.SLOs, es)
		}
		out.Edges = append(out.Edges, e)
	}
	if s.cfg.DeclaredEdges != nil {
		declared, err := s.cfg.DeclaredEdges()
		if err != nil {
			return nil, err
		}
		d := callgraph.Compare(declared, observed)
		out.Undeclared = append(make([]callgraph.Edge, 0, len(d.Undeclared)), d.Undeclared...)
		out.Unobserved = append(make([]callgraph.Edge, 0, len(d.Unobserved)), d.Unobserved...)
	}
	return out, nil
}

// finite returns a pointer to v, or nil for NaN and infinities, which
// JSON cannot hold.
func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// writeTraceMetrics adds the call graph's counters to /metrics. Spans
// refused at decoding (no service.name, invalid) are in
// nines_ingest_rejected_total with the other refusals.
func (s *Server) writeTraceMetrics(ex *promtext.Exposition) {
	if s.cfg.Traces == nil {
		return
	}
	st := s.cfg.Traces.Stats()
	ex.Family("nines_trace_spans_total", "counter", "Spans joined into the observed call graph.")
	ex.Sample("nines_trace_spans_total", nil, float64(st.Spans))
	ex.Family("nines_trace_spans_duplicate_total", "counter", "Spans received again (a retried request) and skipped.")
	ex.Sample("nines_trace_spans_duplicate_total", nil, float64(st.Duplicates))
	ex.Family("nines_trace_calls_total", "counter", "Calls counted on edges of the observed call graph.")
	ex.Sample("nines_trace_calls_total", nil, float64(st.Calls))
	ex.Family("nines_trace_buffer_evicted_total", "counter", "Entries pushed out of the join buffers: spans kept as possible parents, and children that waited for a parent in vain (their calls are lost).")
	ex.Sample("nines_trace_buffer_evicted_total", []string{"buffer", "spans"}, float64(st.SpansEvicted))
	ex.Sample("nines_trace_buffer_evicted_total", []string{"buffer", "pending"}, float64(st.PendingLost))
	ex.Family("nines_trace_calls_dropped_total", "counter", "Calls not counted because the graph holds its most edges.")
	ex.Sample("nines_trace_calls_dropped_total", nil, float64(st.TooManyEdges))
	ex.Family("nines_trace_pending_spans", "gauge", "Child spans waiting for their parent.")
	ex.Sample("nines_trace_pending_spans", nil, float64(st.Pending))
	ex.Family("nines_trace_edges", "gauge", "Edges in the observed call graph.")
	ex.Sample("nines_trace_edges", nil, float64(st.Edges))
}

package ship

import (
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/nines-sre/nines/server/promtext"
)

// metrics are the shipper's own counters, exposed in the Prometheus text
// format. Counters are safe for concurrent use.
type metrics struct {
	linesRead, bytesRead     atomic.Int64
	linesSent, linesRefused  atomic.Int64
	linesLost                atomic.Int64
	quantaLate, quantaFuture atomic.Int64
	stateWrites              atomic.Int64
	// Gauges, set by the reading goroutine.
	lagMillis, behindBytes, files atomic.Int64

	mu        sync.Mutex
	malformed map[string]int64 // by reason
	requests  map[string]int64 // by status code, "error" for no answer
	batches   map[string]int64 // by outcome
}

func newMetrics() *metrics {
	return &metrics{malformed: map[string]int64{}, requests: map[string]int64{}, batches: map[string]int64{}}
}

func (m *metrics) bump(set map[string]int64, key string, n int64) {
	m.mu.Lock()
	set[key] += n
	m.mu.Unlock()
}

func (m *metrics) request(status int) {
	key := "error"
	if status > 0 {
		key = strconv.Itoa(status)
	}
	m.bump(m.requests, key, 1)
}

// Snapshot is what the shipper has done so far; tests and the command
// read it.
type Snapshot struct {
	LinesRead, BytesRead, LinesSent, LinesRefused, LinesLost int64
	QuantaLate, QuantaFuture, StateWrites                    int64
	Malformed, Requests, Batches                             map[string]int64
	LagSeconds                                               float64
	BehindBytes, Files                                       int64
}

func (m *metrics) snapshot() Snapshot {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Snapshot{
		LinesRead: m.linesRead.Load(), BytesRead: m.bytesRead.Load(), LinesSent: m.linesSent.Load(),
		LinesRefused: m.linesRefused.Load(), LinesLost: m.linesLost.Load(),
		QuantaLate: m.quantaLate.Load(), QuantaFuture: m.quantaFuture.Load(), StateWrites: m.stateWrites.Load(),
		Malformed: maps.Clone(m.malformed), Requests: maps.Clone(m.requests), Batches: maps.Clone(m.batches),
		LagSeconds: float64(m.lagMillis.Load()) / 1000, BehindBytes: m.behindBytes.Load(), Files: m.files.Load(),
	}
}

// writeTo writes the exposition.
func (s *Snapshot) writeTo(w io.Writer) {
	var x promtext.Exposition
	counter := func(name, help string, v int64) {
		x.Family(name, "counter", help)
		x.Sample(name, nil, float64(v))
	}
	labelled := func(name, help, label string, set map[string]int64) {
		x.Family(name, "counter", help)
		for _, k := range slices.Sorted(maps.Keys(set)) {
			x.Sample(name, []string{label, k}, float64(set[k]))
		}
	}
	gauge := func(name, help string, v float64) {
		x.Family(name, "gauge", help)
		x.Sample(name, nil, v)
	}
	counter("nines_ship_lines_read_total", "Lines read from the log files, blank and malformed ones included.", s.LinesRead)
	counter("nines_ship_bytes_read_total", "Bytes of log read (decompressed).", s.BytesRead)
	counter("nines_ship_lines_sent_total", "Lines whose events the server acknowledged (stored now or before).", s.LinesSent)
	labelled("nines_ship_lines_malformed_total", "Lines that could not be read as events, by reason; they are not sent.", "reason", s.Malformed)
	counter("nines_ship_lines_refused_total", "Lines of batches the server refused for good (400, 413): dropped.", s.LinesRefused)
	counter("nines_ship_lines_lost_total", "Lines in flight at a restart whose file was gone: they may or may not have been stored.", s.LinesLost)
	labelled("nines_ship_requests_total", "Requests to the server by status code; error when no answer came.", "code", s.Requests)
	labelled("nines_ship_batches_total", "Batches by outcome: stored, replayed (stored before), conflict (stored before with another body), refused.", "outcome", s.Batches)
	counter("nines_ship_quanta_late_total", "Quanta the server refused as older than its --ingest.max-lag.", s.QuantaLate)
	counter("nines_ship_quanta_future_total", "Quanta the server refused as stamped in the future.", s.QuantaFuture)
	counter("nines_ship_state_writes_total", "Checkpoints written to the state file.", s.StateWrites)
	gauge("nines_ship_lag_seconds", "How long the oldest line read and not yet acknowledged by the server has waited; 0 when all is sent.", s.LagSeconds)
	gauge("nines_ship_behind_bytes", "Bytes written to the followed files and not yet acknowledged.", float64(s.BehindBytes))
	gauge("nines_ship_files", "Files followed.", float64(s.Files))
	io.WriteString(w, x.String())
}

// handler serves /metrics and /healthz.
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		s := m.snapshot()
		s.writeTo(w)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return mux
}

// setLag records the lag gauge in milliseconds.
func (m *metrics) setLag(sec float64) {
	if math.IsNaN(sec) || sec < 0 {
		sec = 0
	}
	m.lagMillis.Store(int64(sec * 1000))
}

package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BenchmarkListSLOs is GET /api/v1/slos over 10,000 SLOs from a reader
// that answers at once: what the server itself spends on the list, the
// engine's part measured apart (engine.BenchmarkAlertCycle and
// scripts/scale.sh).
func BenchmarkListSLOs(b *testing.B) {
	slos := make([]*slo.SLO, 10000)
	for i := range slos {
		slos[i] = &slo.SLO{Name: fmt.Sprintf("slo-%05d", i), Service: fmt.Sprintf("svc-%03d", i%300), Owner: "team-payments",
			Description: "Checkout answers without a server error", Labels: map[string]string{"tier": "1", "team": "payments"},
			Objective: slo.Ratio{Num: 999, Den: 1000}, Method: slo.Method(i % 4), Quantum: time.Minute,
			Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}}
	}
	s := &Server{cfg: Config{SLOs: stubSLOs{slos: slos}}}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/slos", nil)
	var size int
	for b.Loop() {
		data, err := s.listSLOs(req)
		if err != nil {
			b.Fatal(err)
		}
		w := &countingWriter{header: http.Header{}}
		writeJSON(w, http.StatusOK, data)
		size = w.n
	}
	b.ReportMetric(float64(size)/(1<<20), "MiB/answer")
}

// countingWriter is a ResponseWriter that counts what is written, as a
// connection takes it, without keeping it.
type countingWriter struct {
	header http.Header
	n      int
}

func (c *countingWriter) Header() http.Header         { return c.header }
func (c *countingWriter) WriteHeader(int)             {}
func (c *countingWriter) Write(b []byte) (int, error) { c.n += len(b); return len(b), nil }

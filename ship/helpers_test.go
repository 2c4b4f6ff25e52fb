package ship

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store/sqlite"
)

// shipSpec is the SLO the tests ship to: errors are 503s, slow is over
// 250 ms.
const shipSpec = `name: checkout
service: checkout
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99
method: transactions
window:
  rolling: 1h
`

// testServer is a real nines serve in process, behind a proxy that can
// lose answers.
type testServer struct {
	t   testing.TB
	url string
	eng *engine.Engine
	// fault, when set, is asked about every write: drop refuses it with
	// 503 before the server sees it, lose passes it to the server and
	// answers 502 instead of the server's answer.
	fault func(n int64) (drop, lose bool)
	// hang makes every write wait until the request is cancelled.
	hang atomic.Bool
	// hung counts the writes stored under hang.
	hung atomic.Int64
	// status, when set, answers every write with it, unstored.
	status atomic.Int32
	writes atomic.Int64
	mu     sync.Mutex
	keys   map[string]int // idempotency keys seen, with their count
}

func newTestServer(t testing.TB, spec string) *testServer {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng, err := engine.New(ctx, engine.Config{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(spec)}); err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, eng: eng, keys: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			s.ServeHTTP(w, r)
			return
		}
		n := ts.writes.Add(1)
		ts.mu.Lock()
		ts.keys[r.Header.Get("Idempotency-Key")]++
		ts.mu.Unlock()
		if ts.hang.Load() {
			// Stored, and the answer never comes: the shipper dies
			// waiting.
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, r)
			ts.hung.Add(1)
			<-r.Context().Done()
			return
		}
		if st := ts.status.Load(); st != 0 {
			http.Error(w, `{"error": {"status": 0, "message": "refused by the test"}}`, int(st))
			return
		}
		var drop, lose bool
		if ts.fault != nil {
			drop, lose = ts.fault(n)
		}
		switch {
		case drop:
			w.Header().Set("Retry-After", "0")
			http.Error(w, `{"error": {"status": 503, "message": "the store cannot serve for now"}}`, http.StatusServiceUnavailable)
		case lose:
			s.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "bad gateway", http.StatusBadGateway)
		default:
			s.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	ts.url = srv.URL
	return ts
}

// counts are the events the server holds for the SLO over the last hour.
type counts struct{ attempted, good, errors, slow uint64 }

func (ts *testServer) counts(slo string) counts {
	ts.t.Helper()
	resp, err := http.Get(ts.url + "/api/v1/slos/" + slo + "/quanta?range=1h")
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Quanta []struct {
			Attempted, Good, Errors, Slow uint64
		} `json:"quanta"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		ts.t.Fatal(err)
	}
	var c counts
	for _, q := range doc.Quanta {
		c.attempted += q.Attempted
		c.good += q.Good
		c.errors += q.Errors
		c.slow += q.Slow
	}
	return c
}

// logWriter appends numbered JSON lines to a log, as a server would.
type logWriter struct {
	t    testing.TB
	path string
	f    *os.File
	n    int
	want counts
}

func newLogWriter(t testing.TB, path string) *logWriter {
	w := &logWriter{t: t, path: path}
	w.reopen()
	t.Cleanup(func() { w.f.Close() })
	return w
}

// reopen opens the log's path again, as a server does after a rename.
func (w *logWriter) reopen() {
	w.t.Helper()
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

// write appends n lines: every 10th a 503, every 7th slow.
func (w *logWriter) write(n int) {
	w.t.Helper()
	var b strings.Builder
	for range n {
		w.n++
		status, ms := 200, 3
		if w.n%10 == 0 {
			status = 503
		}
		if w.n%7 == 0 {
			ms = 400
		}
		w.want.attempted++
		switch {
		case status >= 500:
			w.want.errors++
		case ms > 250:
			w.want.slow++
		default:
			w.want.good++
		}
		fmt.Fprintf(&b, `{"time":%q,"status":%d,"latency_ms":%d,"seq":%d}`+"\n", time.Now().UTC().Format(time.RFC3339Nano), status, ms, w.n)
	}
	if _, err := w.f.WriteString(b.String()); err != nil {
		w.t.Fatal(err)
	}
}

// writePadded appends one good event padded to over n bytes.
func (w *logWriter) writePadded(n int) {
	w.t.Helper()
	w.n++
	w.want.attempted++
	w.want.good++
	line := fmt.Sprintf(`{"time":%q,"status":200,"latency_ms":3,"pad":%q}`+"\n",
		time.Now().UTC().Format(time.RFC3339Nano), strings.Repeat("x", n))
	if _, err := w.f.WriteString(line); err != nil {
		w.t.Fatal(err)
	}
}

// gzipFile compresses src into dst and removes src, as logrotate's
// compress does.
func gzipFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to dst, as logrotate's copytruncate does before
// it truncates src.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// testConfig is a shipper configuration that polls often and sends
// soon, for the tests' small logs.
func testConfig(t testing.TB, ts *testServer, dir string, patterns ...string) Config {
	t.Helper()
	p, err := ingest.NewParser(ingest.Config{Format: "jsonl"})
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Server: ts.url, SLOs: []string{"checkout"}, Patterns: patterns, Parser: p,
		StatePath: filepath.Join(dir, "ship.state"), ReadFromBeginning: true,
		Poll: 10 * time.Millisecond, BatchWait: 30 * time.Millisecond, BatchLines: 300,
		RotateWait: 100 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		DefinitionsEvery: 50 * time.Millisecond,
		Logger:           slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// testWriter sends a logger's lines to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// running is a shipper started in the background.
type running struct {
	s    *Shipper
	stop context.CancelFunc
	done chan error
}

func startShipper(t testing.TB, cfg Config) *running {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{s: s, stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- s.Run(ctx) }()
	t.Cleanup(func() { r.halt(t) })
	return r
}

// halt stops the shipper and returns what Run returned.
func (r *running) halt(t testing.TB) error {
	t.Helper()
	r.stop()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the shipper did not stop within 10s")
	}
	return nil
}

// waitCounts waits until the server holds want, then makes sure no more
// arrives.
func waitCounts(t testing.TB, ts *testServer, want counts, r *running) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var got counts
	for time.Now().Before(deadline) {
		if got = ts.counts("checkout"); got == want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("the server holds %+v, want %+v (shipper: %+v)", got, want, r.s.Metrics())
	}
	time.Sleep(150 * time.Millisecond)
	if got = ts.counts("checkout"); got != want {
		t.Fatalf("the server holds %+v after a while, want %+v: lines were sent twice", got, want)
	}
}

func rename(t testing.TB, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// truncate empties a file in place, as copytruncate does after its copy.
func truncate(t testing.TB, path string) {
	t.Helper()
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

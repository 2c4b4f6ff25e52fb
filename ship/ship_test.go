package ship

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestShipFollowsRotation writes a log while it is rotated in each way
// logrotate rotates, and checks that the server ends with every line
// once.
func TestShipFollowsRotation(t *testing.T) {
	cases := []struct {
		name    string
		pattern string // relative to the log directory
		rotate  func(t *testing.T, dir string, w *logWriter)
	}{
		{"Lines appended to one file are all sent.", "access.log*", func(t *testing.T, dir string, w *logWriter) {}},
		{"A log renamed to access.log.1 is read to its end and the new access.log from its start.", "access.log*",
			func(t *testing.T, dir string, w *logWriter) {
				rename(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1"))
				w.write(50) // written to the renamed file before the server reopens
				w.reopen()
			}},
		{"A renamed log that is then compressed and removed is not sent again.", "access.log*",
			func(t *testing.T, dir string, w *logWriter) {
				rename(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1"))
				w.reopen()
				w.write(20)
				gzipFile(t, filepath.Join(dir, "access.log.1"), filepath.Join(dir, "access.log.1.gz"))
			}},
		{"A log copied and truncated in place is read on in the copy, then from the start of the truncated file.", "access.log*",
			func(t *testing.T, dir string, w *logWriter) {
				copyFile(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1"))
				truncate(t, filepath.Join(dir, "access.log"))
			}},
		{"A copy compressed right after copytruncate is read on through gzip.", "access.log*",
			func(t *testing.T, dir string, w *logWriter) {
				copyFile(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1"))
				truncate(t, filepath.Join(dir, "access.log"))
				gzipFile(t, filepath.Join(dir, "access.log.1"), filepath.Join(dir, "access.log.1.gz"))
			}},
		{"A log renamed out of the pattern is still read to its end from the open file.", "access.log",
			func(t *testing.T, dir string, w *logWriter) {
				rename(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "old.log"))
				w.write(30)
				w.reopen()
			}},
		{"A log truncated without a copy is read again from its start.", "access.log",
			func(t *testing.T, dir string, w *logWriter) {
				time.Sleep(100 * time.Millisecond) // let the shipper read what there was
				truncate(t, filepath.Join(dir, "access.log"))
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, shipSpec)
			dir := t.TempDir()
			w := newLogWriter(t, filepath.Join(dir, "access.log"))
			w.write(200)
			r := startShipper(t, testConfig(t, ts, dir, filepath.Join(dir, tc.pattern)))
			time.Sleep(20 * time.Millisecond)
			w.write(300)
			tc.rotate(t, dir, w)
			w.write(250)
			waitCounts(t, ts, w.want, r)
			if m := r.s.Metrics(); m.LinesSent != int64(w.want.attempted) {
				t.Errorf("lines sent %d, want %d", m.LinesSent, w.want.attempted)
			}
		})
	}
}

// TestShipPicksUpNewFiles: a file that starts to match the pattern
// later is read from its start, even when the first start read from the
// end.
func TestShipPicksUpNewFiles(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	dir := t.TempDir()
	old := newLogWriter(t, filepath.Join(dir, "a.log"))
	old.write(100) // there before the first start: history, not sent
	cfg := testConfig(t, ts, dir, filepath.Join(dir, "*.log"))
	cfg.ReadFromBeginning = false
	r := startShipper(t, cfg)
	time.Sleep(50 * time.Millisecond)
	old.want = counts{}
	old.write(40)
	nw := newLogWriter(t, filepath.Join(dir, "b.log"))
	nw.write(60)
	want := counts{old.want.attempted + nw.want.attempted, old.want.good + nw.want.good,
		old.want.errors + nw.want.errors, old.want.slow + nw.want.slow}
	waitCounts(t, ts, want, r)
}

// TestShipRetriesLostAnswers: the server stores a batch but its answer
// is lost, or it cannot store for a while; every retry carries the
// batch's key, and each line counts once.
func TestShipRetriesLostAnswers(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	ts.fault = func(n int64) (drop, lose bool) { return n%3 == 1, n%3 == 2 }
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	r := startShipper(t, testConfig(t, ts, dir, filepath.Join(dir, "access.log")))
	for range 5 {
		w.write(200)
		time.Sleep(30 * time.Millisecond)
	}
	waitCounts(t, ts, w.want, r)
	m := r.s.Metrics()
	if m.Batches["replayed"] == 0 || m.Requests["503"] == 0 || m.Requests["502"] == 0 {
		t.Errorf("want replays, 503s and 502s; got batches %v, requests %v", m.Batches, m.Requests)
	}
}

// TestShipResendsPendingBatches: a shipper that stops while a batch is
// on its way (the server stored it, the answer never came) sends it again
// first thing after a restart, under the same key; the server stores it
// once.
func TestShipResendsPendingBatches(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	w.write(500)
	cfg := testConfig(t, ts, dir, filepath.Join(dir, "access.log"))
	ts.hang.Store(true)
	r := startShipper(t, cfg)
	deadline := time.Now().Add(5 * time.Second)
	for ts.hung.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.halt(t)
	doc, ok, err := loadState(cfg.StatePath, "slo=checkout")
	if err != nil || !ok || len(doc.Pending) == 0 {
		t.Fatalf("after a stop mid-send the state has %v pending batches (%v, %v); want the one on its way", doc, ok, err)
	}
	ts.hang.Store(false)
	w.write(100)
	r = startShipper(t, cfg)
	waitCounts(t, ts, w.want, r)
	if m := r.s.Metrics(); m.Batches["replayed"] == 0 {
		t.Errorf("the batch sent again should be a replay: %v", m.Batches)
	}
}

// TestShipRollups counts rollups locally and sends them: the server ends
// with the counts it would have had from every line.
func TestShipRollups(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	ts.fault = func(n int64) (drop, lose bool) { return false, n%4 == 2 }
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	cfg := testConfig(t, ts, dir, filepath.Join(dir, "access.log*"))
	cfg.Rollup = true
	cfg.BatchLines = 1000
	r := startShipper(t, cfg)
	for i := range 4 {
		w.write(300)
		if i == 1 {
			rename(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1"))
			w.reopen()
		}
		time.Sleep(40 * time.Millisecond)
	}
	waitCounts(t, ts, w.want, r)
	m := r.s.Metrics()
	if m.Requests["502"] == 0 || m.Batches["replayed"] == 0 {
		t.Errorf("want lost answers replayed: %v, %v", m.Requests, m.Batches)
	}
}

// TestShipRollupsFollowAnEditedSLI: after the SLO's latency threshold is
// edited on the server, rollups are counted by the new one.
func TestShipRollupsFollowAnEditedSLI(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	cfg := testConfig(t, ts, dir, filepath.Join(dir, "access.log"))
	cfg.Rollup = true
	r := startShipper(t, cfg)
	w.write(100)
	waitCounts(t, ts, w.want, r)
	edited := strings.Replace(shipSpec, `latency: "<=250ms"`, `latency: "<=500ms"`, 1)
	if _, err := ts.eng.Load(t.Context(), map[string][]byte{"checkout.yaml": []byte(edited)}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the shipper asks every 50ms in tests
	w.write(100)
	// Under 500 ms nothing is slow: the server re-judged what it had,
	// and the new rollups were counted by the new threshold.
	want := counts{attempted: w.want.attempted, errors: w.want.errors, good: w.want.attempted - w.want.errors}
	waitCounts(t, ts, want, r)
}

// TestShipStateErrors: a state file that cannot be trusted stops the
// shipper before it sends anything, with the path and how to reset it.
func TestShipStateErrors(t *testing.T) {
	good := func(t *testing.T, path string) {
		doc := &stateDoc{Nonce: "0123456789abcdef", Target: "slo=checkout", NextID: 1,
			Files:   []fileState{{ID: "f1", Path: "/var/log/a", Offset: 100, Acked: 40, Head: []byte("x\n")}},
			Pending: []pendingState{{Ranges: []rangeState{{ID: "f1", Start: 40, End: 100}}}}}
		doc.Pending[0].Key = batchKey(doc.Nonce, doc.Pending[0].Ranges)
		b, err := encodeState(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit := func(old, new string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			good(t, path)
			b, _ := os.ReadFile(path)
			if !strings.Contains(string(b), old) {
				t.Fatalf("%q not in %s", old, b)
			}
			os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600)
		}
	}
	resign := func(mutate func(d *stateDoc)) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			good(t, path)
			b, _ := os.ReadFile(path)
			var env envelope
			strictJSON(b, &env)
			var d stateDoc
			strictJSON(env.State, &d)
			mutate(&d)
			inner, _ := jsonMarshal(&d)
			env.State = inner
			env.SHA256 = sha256Hex(inner)
			out, _ := jsonMarshal(&env)
			os.WriteFile(path, out, 0o600)
		}
	}
	resignRaw := func(old, new string) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			good(t, path)
			b, _ := os.ReadFile(path)
			var env envelope
			if err := strictJSON(b, &env); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(env.State), old) {
				t.Fatalf("%q not in %s", old, env.State)
			}
			env.State = []byte(strings.Replace(string(env.State), old, new, 1))
			env.SHA256 = sha256Hex(env.State)
			out, _ := jsonMarshal(&env)
			os.WriteFile(path, out, 0o600)
		}
	}
	cases := []struct {
		name  string
		write func(t *testing.T, path string)
		want  string
	}{
		{"A file cut short is corrupt.", func(t *testing.T, path string) {
			good(t, path)
			b, _ := os.ReadFile(path)
			os.WriteFile(path, b[:len(b)/2], 0o600)
		}, "not valid JSON"},
		{"A changed byte breaks the checksum.", edit(`"offset":100`, `"offset":900`), "checksum"},
		{"Another version is refused.", edit(`"version":1`, `"version":7`), "version 7"},
		{"Pending batches must cover what was read and not acknowledged.", resign(func(d *stateDoc) { d.Files[0].Offset = 120 }),
			"pending batches end at byte 100, its offset is 120"},
		{"A pending batch's key must be the key of its ranges.", resign(func(d *stateDoc) { d.Pending[0].Key = "nines-ship-x" }),
			"is not the one of its ranges"},
		{"Acknowledged beyond what was read is refused.", resign(func(d *stateDoc) { d.Files[0].Acked = 200 }), "acked (200)"},
		{"An unknown field is refused, even under a valid checksum.", resignRaw(`"nonce":`, `"offsets":{},"nonce":`), `unknown field "offsets"`},
		{"An empty file is corrupt.", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }, "not valid JSON"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, shipSpec)
			dir := t.TempDir()
			cfg := testConfig(t, ts, dir, filepath.Join(dir, "*.log"))
			tc.write(t, cfg.StatePath)
			s, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Run(t.Context())
			var cs *CorruptStateError
			if !errors.As(err, &cs) {
				t.Fatalf("Run: %v, want a CorruptStateError", err)
			}
			msg := err.Error()
			for _, w := range []string{tc.want, cfg.StatePath, "mv " + cfg.StatePath, "nothing was sent"} {
				if !strings.Contains(msg, w) {
					t.Errorf("the error should say %q: %s", w, msg)
				}
			}
			if n := ts.writes.Load(); n != 0 {
				t.Errorf("%d writes reached the server", n)
			}
		})
	}
}

// TestShipStopsWhenRefused: a server that refuses the shipper's token
// stops it with the reason, the batch stays pending, and once the token
// is fixed a restart sends every line once.
func TestShipStopsWhenRefused(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	w.write(200)
	cfg := testConfig(t, ts, dir, filepath.Join(dir, "access.log"))
	ts.status.Store(401)
	r := startShipper(t, cfg)
	var err error
	select {
	case err = <-r.done:
		close(r.done)
	case <-time.After(10 * time.Second):
		t.Fatal("the shipper did not stop on a 401")
	}
	var re *ServerRefusedError
	if !errors.As(err, &re) || re.Status != 401 || !strings.Contains(err.Error(), "--token-file") {
		t.Fatalf("Run: %v, want a ServerRefusedError for 401 that names --token-file", err)
	}
	doc, ok, err := loadState(cfg.StatePath, "slo=checkout")
	if err != nil || !ok || len(doc.Pending) == 0 {
		t.Fatalf("the refused batch should be pending in the state: %+v, %v, %v", doc, ok, err)
	}
	ts.status.Store(0)
	w.write(100)
	r = startShipper(t, cfg)
	waitCounts(t, ts, w.want, r)
}

// TestShipMetrics: /metrics says what was read, sent and malformed (by
// reason) and how far behind the shipper is, in the Prometheus text
// format.
func TestShipMetrics(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	w.write(120)
	w.f.WriteString("not json at all\n{\"status\":200}\n\n")
	w.write(30)
	r := startShipper(t, testConfig(t, ts, dir, filepath.Join(dir, "access.log")))
	waitCounts(t, ts, w.want, r)
	h := r.s.MetricsHandler()
	get := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
			t.Errorf("Content-Type %q", ct)
		}
		return rec.Body.String()
	}
	// Sent is counted when the acknowledgement is applied, just after
	// the server stored the batch.
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if text = get(); strings.Contains(text, "\nnines_ship_lines_sent_total 150\n") {
			break
		}
	}
	sample := regexp.MustCompile(`^[a-z_]+(\{[a-z_]+="(\\.|[^"\\])*"\})? -?[0-9.e+-]+$`)
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if !strings.HasPrefix(line, "# HELP ") && !strings.HasPrefix(line, "# TYPE ") && !sample.MatchString(line) {
			t.Errorf("not a Prometheus text line: %q", line)
		}
	}
	for _, want := range []string{
		"\nnines_ship_lines_read_total 153\n", // blank lines are read, and neither sent nor malformed
		"\nnines_ship_lines_sent_total 150\n",
		"nines_ship_lines_malformed_total{reason=",
		"\nnines_ship_lag_seconds 0\n",
		"# TYPE nines_ship_lag_seconds gauge\n",
		"nines_ship_requests_total{code=\"200\"}",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, text)
		}
	}
	m := r.s.Metrics()
	var malformed int64
	for _, n := range m.Malformed {
		malformed += n
	}
	if malformed != 2 || len(m.Malformed) != 2 {
		t.Errorf("malformed by reason %v, want 2 lines under 2 reasons", m.Malformed)
	}
}

// TestStateFileWrites: the state file is replaced whole, leaves no
// temporary files behind, reads back as written, and is bound to one
// shipper and one target.
func TestStateFileWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ship.state")
	doc := &stateDoc{Nonce: "0123456789abcdef", Target: "slo=checkout", NextID: 1,
		Files: []fileState{{ID: "f1", Path: "/var/log/a", Offset: 100, Acked: 100, Head: []byte("x\n")}}}
	for i := range 3 {
		doc.Files[0].Offset = int64(100 * (i + 1))
		doc.Files[0].Acked = doc.Files[0].Offset
		b, err := encodeState(doc)
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(path, b); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("the directory holds %v, want the state file alone", names)
	}
	got, ok, err := loadState(path, "slo=checkout")
	if err != nil || !ok || got.Files[0].Offset != 300 {
		t.Fatalf("loadState: %+v, %v, %v; want offset 300", got, ok, err)
	}
	// A temporary file left by a crash mid-write changes nothing.
	os.WriteFile(filepath.Join(dir, ".ship.state.tmp-123"), []byte("{half"), 0o600)
	if _, _, err := loadState(path, "slo=checkout"); err != nil {
		t.Errorf("a stray temporary file broke loading: %v", err)
	}
	if _, _, err := loadState(path, "slo=payments"); err == nil || !strings.Contains(err.Error(), "give each target its own --state") {
		t.Errorf("a state file of another target: %v, want a refusal", err)
	}
	lock, err := lockState(path)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lockState(path); err == nil || !strings.Contains(err.Error(), "in use by another nines ship") {
		t.Errorf("a second shipper on one state file: %v, want a refusal", err)
	}
}

// TestShipLongFirstLine: a log whose first line is longer than the
// fingerprint is still recognised in its copy after copytruncate, and in
// its gzip of that copy.
func TestShipLongFirstLine(t *testing.T) {
	ts := newTestServer(t, shipSpec)
	dir := t.TempDir()
	w := newLogWriter(t, filepath.Join(dir, "access.log"))
	w.writePadded(3000)
	w.write(100)
	r := startShipper(t, testConfig(t, ts, dir, filepath.Join(dir, "access.log*")))
	time.Sleep(20 * time.Millisecond)
	w.write(100)
	copyFile(t, filepath.Join(dir, "access.log"), filepath.Join(dir, "access.log.1"))
	truncate(t, filepath.Join(dir, "access.log"))
	gzipFile(t, filepath.Join(dir, "access.log.1"), filepath.Join(dir, "access.log.1.gz"))
	w.write(100)
	waitCounts(t, ts, w.want, r)
}

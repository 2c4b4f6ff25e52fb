package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the server goroutine to write
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestServeEndToEnd runs nines serve in-process on a free port with specs
// from a directory, sends events, reads the status, reloads a broken spec
// set (refused, old set kept), and shuts down on cancel.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	slos := filepath.Join(dir, "slos")
	os.Mkdir(slos, 0o755)
	spec, err := os.ReadFile("testdata/rolling.yaml")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(slos, "search.yaml"), spec, 0o644)
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("t0ken\n"), 0o600)

	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
			"--slos", slos, "--token-file", tokenFile}, strings.NewReader(""), io.Discard, &stderr)
	}()
	addr := ""
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(10 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	post := func(path, body string, token bool) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+addr+path, strings.NewReader(body))
		if token {
			req.Header.Set("Authorization", "Bearer t0ken")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	now := time.Now().UTC().Add(-3 * time.Minute).Format(time.RFC3339) // settled, within the lag
	events := `{"time": "` + now + `", "ok": true, "latency_ms": 12}` + "\n" + `{"time": "` + now + `", "ok": false}` + "\n"
	if code, body := post("/api/v1/events?slo=search-latency", events, false); code != 401 {
		t.Fatalf("without the token: %d %s", code, body)
	}
	if code, body := post("/api/v1/events?slo=search-latency", events, true); code != 200 || !strings.Contains(body, `"events": 2`) {
		t.Fatalf("events: %d %s", code, body)
	}
	resp, err := http.Get("http://" + addr + "/api/v1/slos/search-latency/status")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"failed": 1`) {
		t.Fatalf("status: %d %s", resp.StatusCode, b)
	}
	os.WriteFile(filepath.Join(slos, "broken.yaml"), []byte("name: broken\nmethod: nope\n"), 0o644)
	if code, body := post("/api/v1/-/reload", "", true); code != 400 || !strings.Contains(body, "previous SLOs stay") {
		t.Fatalf("reload of a broken set: %d %s", code, body)
	}
	if code, body := post("/api/v1/events?slo=search-latency", events, true); code != 200 {
		t.Fatalf("after a refused reload the old set serves: %d %s", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

func TestServeFlagsFromEnvironment(t *testing.T) {
	t.Setenv("NINES_LISTEN", "not-an-address")
	t.Setenv("NINES_DATA", t.TempDir())
	err := Run(context.Background(), []string{"serve", "--slos", "testdata/rolling.yaml"}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Fatalf("NINES_LISTEN must reach --listen: %v", err)
	}
	t.Setenv("NINES_INGEST_MAX_LAG", "soon")
	err = Run(context.Background(), []string{"serve"}, strings.NewReader(""), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "NINES_INGEST_MAX_LAG") {
		t.Fatalf("a bad environment value must be named: %v", err)
	}
}

func TestServeRefusesASnapshotCapOutOfRange(t *testing.T) {
	for _, v := range []string{"-1", "100001"} {
		err := Run(context.Background(), []string{"serve", "--data", t.TempDir(), "--ui.max-snapshots", v}, strings.NewReader(""), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--ui.max-snapshots "+v+": want 0 (no snapshots) to 100000") {
			t.Errorf("--ui.max-snapshots %s: %v", v, err)
		}
	}
}

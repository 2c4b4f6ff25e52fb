package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
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
		if body != "" {
			req.Header.Set("Content-Type", "application/x-ndjson")
		}
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

// TestServeRefusesUnsafeSettings: settings that would leave nines open
// without saying so refuse to start, with a message that says how to fix
// them; --insecure-no-auth starts with a warning in the log.
func TestServeRefusesUnsafeSettings(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("t0ken\n"), 0o600)
	base := []string{"serve", "--data", filepath.Join(dir, "data"), "--slos", "testdata/rolling.yaml"}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"protected reads without a token", []string{"--listen", "127.0.0.1:0", "--protect-reads"}, "--protect-reads needs --token-file"},
		{"every interface without a token", []string{"--listen", ":0"}, "no --token-file is set"},
		{"an unspecified address without a token", []string{"--listen", "0.0.0.0:0"}, "--insecure-no-auth"},
		{"a body budget below one body", []string{"--listen", "127.0.0.1:0", "--web.max-body-memory", "1MiB"}, "less than the largest request body"},
		{"a size without a unit nines knows", []string{"--listen", "127.0.0.1:0", "--web.max-body-memory", "1GB"}, "want a positive size"},
		{"an external host that is a URL", []string{"--listen", "127.0.0.1:0", "--web.external-host", "https://nines.example.com/"}, "want host names"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Run(ctx, append(slices.Clone(base), c.args...), strings.NewReader(""), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("serve %v: %v; want an error saying %q", c.args, err, c.want)
			}
		})
	}
	for _, c := range []struct {
		name string
		args []string
		warn bool
	}{
		{"every interface with a token", []string{"--listen", "0.0.0.0:0", "--token-file", tokenFile}, false},
		{"every interface with --insecure-no-auth", []string{"--listen", "0.0.0.0:0", "--insecure-no-auth"}, true},
		{"protected reads with a token", []string{"--listen", "127.0.0.1:0", "--protect-reads", "--token-file", tokenFile}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			var stderr syncBuffer
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, append(slices.Clone(base), c.args...), strings.NewReader(""), io.Discard, &stderr)
			}()
			for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), "nines serve: http://"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("serve did not start: %s", stderr.String())
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve: %v", err)
			}
			if warned := strings.Contains(stderr.String(), "level=WARN msg=\"serving without a token"); warned != c.warn {
				t.Errorf("warned %v, want %v:\n%s", warned, c.warn, stderr.String())
			}
		})
	}
}

// TestSlowClientsAreCutOff: clients that trickle their headers or their
// body a byte at a time are cut off at the read timeouts, so that they
// cannot hold connections open; without the timeouts every one of them
// would stay open for as long as it trickles.
func TestSlowClientsAreCutOff(t *testing.T) {
	w := &webFlags{readHeaderTimeout: 300 * time.Millisecond, readTimeout: 600 * time.Millisecond}
	hs := httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }), w, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	const clients = 40
	start := time.Now()
	closed := make(chan time.Duration, clients)
	for i := range clients {
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				closed <- 0
				return
			}
			defer c.Close()
			// Half send their headers a byte at a time, half their body.
			head := "POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
			trickle := strings.Repeat("x", 1000)
			if i%2 == 0 {
				trickle = head
			} else {
				io.WriteString(c, head)
			}
			go func() {
				for j := range len(trickle) {
					if _, err := io.WriteString(c, trickle[j:j+1]); err != nil || time.Since(start) > 5*time.Second {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c) // until the server closes the connection, or the deadline
			closed <- time.Since(start)
		}()
	}
	for range clients {
		if d := <-closed; d == 0 || d > 2*time.Second {
			t.Errorf("a trickling client was still connected after %s; the read timeout is %s", d.Round(time.Millisecond), w.readTimeout)
		}
	}
}

func TestHostListsAndSizes(t *testing.T) {
	var h hostList
	for _, v := range []string{"nines.example.com", "a.example, b.example:8443"} {
		if err := h.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if got := allowedHosts("nines-1.internal:9797", h); !slices.Equal(got, []string{"nines.example.com", "a.example", "b.example:8443", "nines-1.internal"}) {
		t.Errorf("allowed hosts %q", got)
	}
	if got := allowedHosts("10.0.0.1:9797", nil); len(got) != 0 {
		t.Errorf("an IP --listen adds %q", got)
	}
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "512 KiB": 512 << 10, "1048576": 1 << 20} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("%q: %d %v, want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1.5GiB", "1GB", "9999999999999GiB"} {
		var b byteSize
		if err := b.Set(in); err == nil {
			t.Errorf("%q taken as %d", in, b)
		}
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

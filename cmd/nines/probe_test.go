package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// maskDurations hides what changes from run to run: durations and times.
var maskDurations = regexp.MustCompile(`\d+(\.\d+)?(µs|ms|s)\b|"(ms|latency_ms)": [0-9.e-]+|"start": "[^"]+"`)

func TestProbeCheckPrintsResultsWithPhases(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fine") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"token":"t1"}`) })
	mux.HandleFunc("/me", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t1" {
			w.WriteHeader(401)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	file := filepath.Join(t.TempDir(), "probes.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf(`probes:
  - name: home
    locations: [local, eu]
    http: {url: '%[1]s/ok', expect: {bodyContains: fine}}
  - name: status-page
    locations: [local]
    http: {url: '%[1]s/down'}
  - name: login
    locations: [eu]
    http:
      steps:
        - {name: login, method: POST, url: '%[1]s/login', capture: {token: {jsonPath: $.token}}}
        - {name: me, url: '%[1]s/me', headers: {Authorization: 'Bearer ${token}'}}
  - name: db
    locations: [eu]
    tcp: {address: '%[2]s'}
`, srv.URL, l.Addr())), 0o600)
	for _, c := range []struct {
		name, args string
		code       int
	}{
		{"probe-check", "probe check --probes " + file, 1},
		{"probe-check-eu-json", "probe check --probes " + file + " --location eu --json", 0},
		{"probe-check-no-such-location", "probe check --probes " + file + " --location mars", 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Run(context.Background(), strings.Fields(c.args), strings.NewReader(""), &out, &errOut)
			if code := exitOf(err); code != c.code {
				t.Fatalf("exit %d (%v), want %d; stderr %s", code, err, c.code, errOut.String())
			}
			if err != nil && c.code == 2 {
				fmt.Fprintln(&errOut, err)
			}
			got := maskDurations.ReplaceAllString(out.String()+errOut.String(), "D")
			got = strings.ReplaceAll(got, file, "PROBES")
			if !strings.Contains(c.args, "--json") {
				// Columns follow the widest duration; squeeze runs of spaces.
				got = regexp.MustCompile(` {2,}`).ReplaceAllString(got, "  ")
			}
			golden := filepath.Join("testdata", c.name+".golden")
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestProbeAgentPushesResultsAsEvents runs two agents at different
// locations against a stand-in for nines serve's events API.
func TestProbeAgentPushesResultsAsEvents(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	var mu sync.Mutex
	lines := map[string]int{}
	keys := map[string]bool{}
	nines := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if k := r.Header.Get("Idempotency-Key"); !keys[k] {
			keys[k] = true
			lines[r.URL.Query().Get("slo")] += bytes.Count(body, []byte("\n"))
		}
		io.WriteString(w, `{"slos":[]}`)
	}))
	defer nines.Close()
	file := filepath.Join(t.TempDir(), "probes.yaml")
	os.WriteFile(file, []byte(fmt.Sprintf("probes:\n  - {name: home, interval: 1s, locations: [eu, us], http: {url: '%s/'}}\n", target.URL)), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for _, loc := range []string{"eu", "us"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out, errOut bytes.Buffer
			err := Run(ctx, []string{"probe", "agent", "--server", nines.URL, "--location", loc, "--probes", file}, strings.NewReader(""), &out, &errOut)
			if err != nil {
				t.Errorf("%s: %v\n%s", loc, err, errOut.String())
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	for _, slo := range []string{"home.eu", "home.us"} {
		if n := lines[slo]; n < 2 || n > 3 {
			t.Errorf("%s got %d events in 2.5 s at 1 s; want 2 or 3 (all: %v)", slo, n, lines)
		}
	}
	if lines["home.cert"] != 0 {
		t.Errorf("a certificate SLO for plain HTTP: %v", lines)
	}
}

package ui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestMountedInServer: nines serve's server answers the UI at / and keeps
// the API, /metrics and /healthz as they are; with protected reads the UI
// needs the token like any read.
func TestMountedInServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	for _, protect := range []bool{false, true} {
		srv, err := server.New(server.Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, UI: f.ui, Token: "s3cret", ProtectReads: protect})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		defer hs.Close()
		get := func(path, token string) (int, string) {
			req, _ := http.NewRequest("GET", hs.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b strings.Builder
			buf := make([]byte, 4096)
			for {
				n, err := resp.Body.Read(buf)
				b.Write(buf[:n])
				if err != nil {
					break
				}
			}
			return resp.StatusCode, b.String()
		}
		want := http.StatusOK
		if protect {
			want = http.StatusUnauthorized
		}
		if code, _ := get("/", ""); code != want {
			t.Errorf("protect=%v: GET / without a token: %d, want %d", protect, code, want)
		}
		if code, body := get("/", "s3cret"); code != 200 || !strings.Contains(body, "Service level objectives") {
			t.Errorf("protect=%v: GET / with the token: %d", protect, code)
		}
		if code, body := get("/api/v1/slos", "s3cret"); code != 200 || !strings.HasPrefix(strings.TrimSpace(body), "{") {
			t.Errorf("API answers %d %.80s", code, body)
		}
		if code, body := get("/api/v1/nope", "s3cret"); code != 404 || !strings.Contains(body, `"error"`) {
			t.Errorf("an unknown API path is the API's JSON 404, got %d %.80s", code, body)
		}
		if code, body := get("/healthz", ""); code != 200 || body != "ok\n" {
			t.Errorf("/healthz: %d %q", code, body)
		}
		if code, body := get("/metrics", "s3cret"); code != 200 || !strings.Contains(body, "nines_") {
			t.Errorf("/metrics: %d", code)
		}
		if code, body := get("/slos/checkout-availability", "s3cret"); code != 200 || !strings.Contains(body, "Error budget burn-down") {
			t.Errorf("SLO page through the server: %d", code)
		}
	}
}

// TestRangesAreBoundedAlikeInTheAPIAndThePages: a range is accepted or
// refused the same on an SLO page and by the API, whether it is given as
// range= or as from= and to= with edges off the quanta: the span asked
// for is bounded (400 days), before its edges move out to whole quanta.
func TestRangesAreBoundedAlikeInTheAPIAndThePages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	srv, err := server.New(server.Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, UI: f.ui})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	status := func(path string) int {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	name := f.eng.SLOs()[0].Name
	for _, c := range []struct {
		query string
		want  int
	}{
		{"range=400d", 200},
		{"range=401d", 400},
		{"from=2025-10-21T14:59:30Z&to=2026-11-25T14:59:30Z", 200},
		{"from=2025-10-21T14:59:29Z&to=2026-11-25T14:59:30Z", 400},
		{"from=9999-01-01T00:00:00Z&to=9999-01-02T00:00:00Z", 400},
	} {
		api, page := status("/api/v1/slos/"+name+"/budget?"+c.query), status("/slos/"+name+"?"+c.query)
		if api != c.want || page != c.want {
			t.Errorf("%s: the API answers %d, the page %d; want %d from both", c.query, api, page, c.want)
		}
	}
}

// unavailableState fails reads of key-value state, as a store that cannot
// be reached for a moment would.
type unavailableState struct{ *sqlite.DB }

func (unavailableState) GetState(context.Context, string) ([]byte, error) {
	return nil, fmt.Errorf("sqlite: select from state (/var/lib/nines/nines.db): %w", store.ErrUnavailable)
}

// TestAPageThatFailsNamesItsRequestID: a page that fails for the store's
// sake has the status the API would answer (503 with Retry-After here),
// says what kind of failure it is and the request id, and none of the
// cause, which is in the log under that id.
func TestAPageThatFailsNamesItsRequestID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	var log syncBuffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	st := unavailableState{f.db}
	u := newUI(t, f.eng, st, logger)
	srv, err := server.New(server.Config{SLOs: f.eng, Writes: f.eng, Annotations: st, Size: st, UI: u, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/snapshots/0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id, page := resp.Header.Get("X-Request-Id"), string(b)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !strings.Contains(page, "unavailable for now") {
		t.Errorf("%d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
	if id == "" || !strings.Contains(page, "<code>"+id+"</code>") || strings.Contains(page, "/var/lib") {
		t.Errorf("the page must name request id %q and not the cause:\n%s", id, page)
	}
	if l := log.String(); !strings.Contains(l, "request_id="+id) || !strings.Contains(l, "/var/lib/nines/nines.db") {
		t.Errorf("the log does not hold the cause under %s:\n%s", id, l)
	}
}

// syncBuffer is a bytes.Buffer safe for the server to write while the
// test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

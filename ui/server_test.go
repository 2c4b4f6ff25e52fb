package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nines-sre/nines/server"
)

// TestMountedInServer: nines serve's server answers the UI at / and keeps
// the API, /metrics and /healthz as they are; with protected reads the UI
// needs the token like any read.
func TestMountedInServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	for _, protect := range []bool{false, true} {
		srv, err := server.New(server.Config{Engine: f.eng, Store: f.db, UI: f.ui, Token: "s3cret", ProtectReads: protect})
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

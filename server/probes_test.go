package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/probe"
)

// fakeProbes answers the probes endpoints with one view and a file.
type fakeProbes struct{}

func (fakeProbes) Probes(context.Context, time.Time) ([]probe.View, error) {
	return []probe.View{{Name: "web-home", Kind: "http", SLO: "home", Consensus: probe.ConsensusView{K: 2, N: 3, Window: "1m30s"}}}, nil
}
func (fakeProbes) Text() []byte { return []byte("probes:\n  - name: web-home\n") }

// TestProbesEndpoints serves the probes, and their file only with the
// token, even where reads are open: it may hold a transaction's
// credentials.
func TestProbesEndpoints(t *testing.T) {
	db, c := newStore(t)
	eng, err := engine.New(context.Background(), engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	for _, probes := range []Probes{nil, fakeProbes{}} {
		s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Token: "s3cret", Probes: probes})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s)
		get := func(path, token string) (int, string) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		if probes == nil {
			if st, body := get("/api/v1/probes", ""); st != 404 || !strings.Contains(body, "give --probes FILE") {
				t.Errorf("without probes: %d %s", st, body)
			}
			if st, _ := get("/api/v1/probes/file", "s3cret"); st != 404 {
				t.Errorf("file without probes: %d", st)
			}
			srv.Close()
			continue
		}
		if st, body := get("/api/v1/probes", ""); st != 200 || !strings.Contains(body, `"name": "web-home"`) || !strings.Contains(body, `"k": 2`) {
			t.Errorf("probes: %d %s", st, body)
		}
		if st, _ := get("/api/v1/probes/file", ""); st != 401 {
			t.Errorf("file without the token: %d, want 401", st)
		}
		if st, body := get("/api/v1/probes/file", "s3cret"); st != 200 || body != "probes:\n  - name: web-home\n" {
			t.Errorf("file with the token: %d %q", st, body)
		}
		srv.Close()
	}
}

// TestEventsSkipProbeSLOs: a service's events never reach the SLO its
// probe's consensus feeds, and events sent to that SLO by name are
// refused, naming where a location's results go.
func TestEventsSkipProbeSLOs(t *testing.T) {
	f := newFixture(t, "")
	if _, err := f.eng.Load(context.Background(), map[string][]byte{
		"checkout.yaml": []byte(testSpec),
		"home.yaml":     []byte("name: checkout-home\nservice: checkout\nsli: {probes: home}\nobjective: 99\nwindow: {rolling: 1h}\n"),
	}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		SLOs []struct {
			SLO string `json:"slo"`
		} `json:"slos"`
	}
	f.do("POST", "/api/v1/events?service=checkout", `{"time": "2026-11-25T09:59:10Z", "status": 200}`, nil, 200, &res)
	for _, r := range res.SLOs {
		if r.SLO == "checkout-home" {
			t.Errorf("the service's events went to %+v; want them kept from the probe's SLO", res.SLOs)
		}
	}
	if len(res.SLOs) == 0 {
		t.Error("the service's events went nowhere")
	}
	got := f.do("POST", "/api/v1/events?slo=checkout-home", `{"time": "2026-11-25T09:59:10Z", "status": 200}`, nil, 400, nil)
	if !strings.Contains(got, "fed by the consensus of probe home") || !strings.Contains(got, "home.LOCATION") {
		t.Errorf("events to the consensus SLO: %s", got)
	}
}

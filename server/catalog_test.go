package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nines-sre/nines/catalog"
)

type edgesOf []catalog.Edge

func (e edgesOf) ObservedEdges() []catalog.Edge { return e }

// TestCatalogAPI: the catalog's services, one service with its links, and
// the dependency checks with the SLOs loaded and the edges observed.
func TestCatalogAPI(t *testing.T) {
	f := newFixture(t, "")
	c, err := catalog.LoadPath("../examples/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	get := func(cfg Config, path string) (int, string) {
		t.Helper()
		cfg.SLOs, cfg.Writes, cfg.Annotations = f.eng, f.eng, f.db
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(s)
		defer hs.Close()
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("The list names every service with its dependencies.", func(t *testing.T) {
		code, body := get(Config{Catalog: c}, "/api/v1/services")
		var list struct {
			Services []struct {
				Name, Owner  string
				Dependencies []string
			}
		}
		if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list.Services) != 7 {
			t.Fatalf("%d %v %s", code, err, body)
		}
		if s := list.Services[0]; s.Name != "checkout" || s.Owner != "team-shop" || strings.Join(s.Dependencies, ",") != "payments,inventory,mail" {
			t.Fatalf("first service %+v", s)
		}
	})
	t.Run("A service shows its callers, its SLOs and its chain's bottleneck.", func(t *testing.T) {
		code, body := get(Config{Catalog: c}, "/api/v1/services/transformer")
		var v struct {
			Name       string
			Callers    []string
			SLOs       []string
			Bottleneck struct{ Service string }
		}
		if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil || v.Name != "transformer" ||
			strings.Join(v.Callers, ",") != "receiver" || v.Bottleneck.Service != "distributor" {
			t.Fatalf("%d %v %s", code, err, body)
		}
		code, body = get(Config{Catalog: c}, "/api/v1/services/checkout")
		if err := json.Unmarshal([]byte(body), &v); code != 200 || err != nil || strings.Join(v.SLOs, ",") != "checkout-availability,checkout-transactions" {
			t.Fatalf("checkout: %d %v %s", code, err, body)
		}
	})
	t.Run("An unknown service is a 404 that says where the list is.", func(t *testing.T) {
		if code, body := get(Config{Catalog: c}, "/api/v1/services/nope"); code != 404 || !strings.Contains(body, "GET /api/v1/services") {
			t.Fatalf("%d %s", code, body)
		}
	})
	t.Run("Without a catalog the endpoints say how to give one.", func(t *testing.T) {
		for _, p := range []string{"/api/v1/services", "/api/v1/deps/check"} {
			if code, body := get(Config{}, p); code != 404 || !strings.Contains(body, "--services") {
				t.Errorf("%s: %d %s", p, code, body)
			}
		}
	})
	t.Run("The checks judge the SLOs loaded and the edges observed.", func(t *testing.T) {
		code, body := get(Config{Catalog: c, Observed: edgesOf{{From: "checkout", To: "payments", Calls: 10}, {From: "checkout", To: "fraud", Calls: 3}}}, "/api/v1/deps/check")
		var rep catalog.Report
		if err := json.Unmarshal([]byte(body), &rep); code != 200 || err != nil {
			t.Fatalf("%d %v %s", code, err, body)
		}
		var got []string
		for _, f := range rep.Findings {
			got = append(got, string(f.Check)+" "+strings.Join(f.Path, ">"))
		}
		// checkout-availability allows 5ms, less than checkout's own work.
		want := "unjudged checkout>payments|latency |undeclared checkout>fraud|unobserved checkout>inventory|unobserved checkout>mail"
		if strings.Join(got, "|") != want || rep.SLOs != 2 || rep.Bottleneck.Service != "distributor" {
			t.Fatalf("findings %v, want %s; report %s", got, want, body)
		}
	})
}

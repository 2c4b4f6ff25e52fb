package ui

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/ui/snapshot"
)

// testCatalog is the demo's services with a gateway in front, a session
// store behind login, and a cycle between login and accounts.
const testCatalog = `
services:
  - name: gateway
    owner: team-edge
    tier: 1
    dependencies: [{service: checkout}, {service: search}, {service: login}]
  - name: checkout
    description: Takes the order <b>and</b> the money.
    owner: team-shop
    ownWork: 2ms
    dependencies:
      - {service: login, latency: 1ms}
      - {service: search, strength: soft, call: async}
  - name: search
    capacity: {forecastPeakRPS: 1000, testedRPS: 1100}
  - name: login
    dependencies: [{service: accounts}]
  - name: accounts
    dependencies: [{service: login, call: async}]
`

type observedEdges []catalog.Edge

func (o observedEdges) ObservedEdges() []catalog.Edge { return o }

// newCatalogUI is the fixture's UI with a catalog and, when given,
// observed edges.
func newCatalogUI(t testing.TB, f *fixture, c *catalog.Catalog, obs EdgeObserver) *UI {
	t.Helper()
	shelf, err := snapshot.New(f.db, snapshot.DefaultMax)
	if err != nil {
		t.Fatal(err)
	}
	incidents, err := incident.New(server.IncidentOptions(f.eng, f.db, nil))
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Config{SLOs: f.eng, Rollups: f.db, Incidents: incidents, Snapshots: shelf, Catalog: c, Observed: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Wait)
	return u
}

// newCatalogServer serves newCatalogUI and returns its URL.
func newCatalogServer(t *testing.T, f *fixture, c *catalog.Catalog, obs EdgeObserver) string {
	t.Helper()
	srv := httptest.NewServer(newCatalogUI(t, f, c, obs))
	t.Cleanup(srv.Close)
	return srv.URL
}

// render serves path in-process and returns the page.
func render(t testing.TB, u *UI, path string) string {
	t.Helper()
	w := httptest.NewRecorder()
	u.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %.300s", path, w.Code, w.Body.String())
	}
	return w.Body.String()
}

func fetch(t *testing.T, url string, want int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: status %d, want %d: %.600s", url, resp.StatusCode, want, b)
	}
	return string(b)
}

func TestCatalogPages(t *testing.T) {
	f := newFixture(t, 0)
	c, err := catalog.Load("services.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	obs := observedEdges{
		{From: "gateway", To: "checkout", Calls: 10000, Errors: 2},
		{From: "gateway", To: "search", Calls: 1000, Errors: 5},
		{From: "gateway", To: "login", Calls: 100, Errors: 9},
		{From: "checkout", To: "login", Calls: 500},
	}
	base := newCatalogServer(t, f, c, obs)
	for _, tc := range []struct {
		golden, path string
		status       int
	}{
		{"services.html", "/services", 200},
		{"service-checkout.html", "/services/checkout", 200},
		{"graph.html", "/graph", 200},
		{"graph-login.html", "/graph?service=login&depth=1", 200},
		{"error-unknown-service.html", "/services/nope", 404},
		{"error-bad-depth.html", "/graph?depth=99", 400},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			golden(t, tc.golden, fetch(t, base+tc.path, tc.status))
		})
	}

	t.Run("The graph puts callers above what they call, and marks cycles and error rates.", func(t *testing.T) {
		page := fetch(t, base+"/graph", 200)
		y := func(name string) int {
			m := regexp.MustCompile(`<title>` + name + `</title><rect x="\d+" y="(\d+)"`).FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no box for %s", name)
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		if !(y("gateway") < y("checkout") && y("checkout") < y("login") && y("login") == y("accounts")) {
			t.Errorf("rows: gateway %d, checkout %d, login %d, accounts %d; want gateway above checkout above login, login beside accounts (a cycle)",
				y("gateway"), y("checkout"), y("login"), y("accounts"))
		}
		for _, class := range []string{"e-ok", "e-warn", "e-bad", "e-none cycle"} {
			if !strings.Contains(page, `class="edge `+class+`"`) {
				t.Errorf("no edge of class %q", class)
			}
		}
		if strings.Contains(page, "<b>") {
			t.Error("a description reached the page unescaped")
		}
	})
	t.Run("The service page shows callers, SLOs, dependencies, findings and observations.", func(t *testing.T) {
		page := fetch(t, base+"/services/login", 200)
		for _, want := range []string{`href="/slos/login-availability"`, `href="/services/gateway"`, `href="/services/checkout"`,
			"dependency cycle accounts → login → accounts", "never observed"} {
			if !strings.Contains(page, want) {
				t.Errorf("the login page lacks %q", want)
			}
		}
	})
	t.Run("Without a catalog the pages say how to give one, and the menu has no link to them.", func(t *testing.T) {
		for _, p := range []string{"/services", "/services/checkout", "/graph"} {
			if page := f.get(p, 404); !strings.Contains(page, "--services") {
				t.Errorf("%s does not say how to give a catalog", p)
			}
		}
		if strings.Contains(f.get("/", 200), `href="/services"`) {
			t.Error("the menu links to the service pages without a catalog")
		}
	})
}

package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probesDoc is the part of GET /api/v1/probes the test reads.
type probesDoc struct {
	Probes []struct {
		Name      string `json:"name"`
		Consensus struct {
			Latest *struct {
				Start     time.Time `json:"start"`
				Attempted uint64    `json:"attempted"`
				Good      uint64    `json:"good"`
			} `json:"latest"`
			Failing   []string `json:"failing"`
			Reporting []string `json:"reporting"`
		} `json:"consensus"`
		Locations []struct {
			Name   string `json:"name"`
			Latest *struct {
				Attempted uint64 `json:"attempted"`
				Good      uint64 `json:"good"`
			} `json:"latest"`
		} `json:"locations"`
	} `json:"probes"`
}

// TestProbesFromThreeLocations runs a probe from nines serve (location c)
// and from two nines probe agent processes (a and b, which reads the
// probes from nines serve) against a target in the test. Their results reach the server through the events API, each
// location as its own SLO; the consensus SLO turns bad once the target
// fails from at least two locations, the vendor whose data plane it
// watches goes down, and the change is notified through the routes; when
// the target recovers, the state's alert resolves.
func TestProbesFromThreeLocations(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("welcome"))
	}))
	defer target.Close()
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()

	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	probes := write("probes.yaml", `probes:
  - name: web-home
    locations: [a, b, c]
    interval: 2s
    timeout: 1s
    consensus: {k: 2, window: 10s}
    http:
      url: `+target.URL+`/
      expect: {bodyContains: welcome}
      cacheBust: true
`)
	vendors := write("thirdparties.yaml", `thirdParties:
  - vendor: edgecdn
    stale: 2m
    dataPlane: [home]
`)
	notifyFile := write("notify.yaml", `receivers:
  - {name: hook, webhook: {url: "`+hook.URL+`/hook"}}
route:
  receiver: hook
  group_by: [alert, vendor]
  group_wait: 0s
  group_interval: 1s
`)
	slos := writeSpecs(t, map[string]string{"home.yaml": `name: home
service: web
sli:
  probes: web-home
objective: 99
quantum: 10s
window: {rolling: 1h}
alerting: {noData: off}
`})
	n := startNines(t, t.TempDir(), slos, "--probes", probes, "--probe-location", "c", "--thirdparties", vendors,
		"--notify", notifyFile, "--ingest.max-lag", "10s")
	// Agent a reads the probes file; agent b reads the probes from nines
	// serve, as an agent at a remote vantage point does.
	startProc(t, "nines probe agent a", exec.Command(ninesBinary(t), "probe", "agent", "--server", n.url, "--location", "a",
		"--probes", probes, "--max-lag", "10s"))
	startProc(t, "nines probe agent b", exec.Command(ninesBinary(t), "probe", "agent", "--server", n.url, "--location", "b", "--max-lag", "10s"))

	consensus := func(wantGood uint64, wantReporting int) func() (bool, string) {
		return func() (bool, string) {
			var doc probesDoc
			getJSON(t, n.url+"/api/v1/probes", &doc)
			if len(doc.Probes) != 1 {
				return false, "no probe listed"
			}
			c := doc.Probes[0].Consensus
			if c.Latest == nil {
				return false, "no consensus quantum yet"
			}
			b, _ := json.Marshal(doc.Probes[0])
			return c.Latest.Good == wantGood && c.Latest.Attempted == 1 && len(c.Reporting) == wantReporting, string(b)
		}
	}
	waitFor(t, 90*time.Second, "a good consensus quantum with all three locations reporting", consensus(1, 3), n.proc)
	waitFor(t, 60*time.Second, "the vendor to be operational", vendorState(t, n, "operational"), n.proc)

	failing.Store(true)
	waitFor(t, 90*time.Second, "a bad consensus quantum", consensus(0, 3), n.proc)
	waitFor(t, 60*time.Second, "the vendor to be down", vendorState(t, n, "down"), n.proc)
	waitFor(t, 30*time.Second, "the state's alert at the webhook", func() (bool, string) {
		m, _, ok := sink.find("firing")
		if !ok {
			return false, "nothing firing yet"
		}
		for _, a := range m.Alerts {
			if a.Labels["alert"] == "ThirdPartyState" && a.Labels["vendor"] == "edgecdn" && a.Labels["state"] == "down" && a.Labels["severity"] == "page" {
				return true, ""
			}
		}
		b, _ := json.Marshal(m)
		return false, string(b)
	}, n.proc)

	failing.Store(false)
	waitFor(t, 90*time.Second, "the vendor to be operational again", vendorState(t, n, "operational"), n.proc)
	waitFor(t, 30*time.Second, "the down alert to resolve", func() (bool, string) {
		m, _, ok := sink.find("resolved")
		if !ok {
			return false, "nothing resolved yet"
		}
		for _, a := range m.Alerts {
			if a.Labels["alert"] == "ThirdPartyState" && a.Labels["state"] == "down" {
				return true, ""
			}
		}
		return false, "resolved, but not the down state"
	}, n.proc)

	// Each location is an SLO of its own, fed by its agent or by serve.
	for _, loc := range []string{"a", "b", "c"} {
		ev := n.status(t, "web-home."+loc, time.Time{})
		if ev.Total == 0 || ev.Failed == 0 || ev.Good == 0 {
			t.Errorf("location %s: %+v; want its checks counted, good and failed", loc, ev)
		}
	}
	if log := n.log.String(); strings.Contains(log, "level=ERROR") {
		t.Errorf("nines serve logged errors:\n%s", n.log.tail(40))
	}
}

// vendorState waits for the vendor edgecdn's overall state.
func vendorState(t *testing.T, n *nines, want string) func() (bool, string) {
	return func() (bool, string) {
		var doc struct {
			Vendors []struct {
				Vendor string `json:"vendor"`
				State  string `json:"state"`
			} `json:"vendors"`
		}
		getJSON(t, n.url+"/api/v1/thirdparties", &doc)
		if len(doc.Vendors) != 1 {
			return false, "no vendor listed"
		}
		return doc.Vendors[0].State == want, "state " + doc.Vendors[0].State
	}
}

package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The SLOs of the differential test: each pair reads the same series,
// one by remote write, the other from Prometheus' query API.
const pullPairSpecs = `name: rw-latency
service: e2e
sli:
  good: {status: "<500", latency: "<=250ms"}
  source:
    histogram: 'http_request_duration_seconds{job="e2e"}'
    statusLabel: code
objective: 99
quantum: 10s
window: {rolling: 1h}
---
name: rw-requests
service: e2e
sli:
  good: {status: "<500"}
  source:
    bad: 'http_requests_total{job="e2e", code=~"5.."}'
    total: 'http_requests_total{job="e2e"}'
objective: 99
quantum: 10s
window: {rolling: 1h}
`

const pullSpecs = `name: pull-latency
service: e2e
sli:
  good: {status: "<500", latency: "<=250ms"}
  source:
    prometheus:
      url: {{url}}
      histogram: 'http_request_duration_seconds{job="e2e"}'
      statusLabel: code
      headers: {X-Scope-OrgID: e2e}
objective: 99
quantum: 10s
window: {rolling: 1h}
---
name: pull-requests
service: e2e
sli:
  good: {status: "<500"}
  source:
    prometheus:
      url: {{url}}
      bad: 'http_requests_total{job="e2e", code=~"5.."}'
      total: 'http_requests_total{job="e2e"}'
objective: 99
quantum: 10s
window: {rolling: 1h}
`

// TestPullSourceEqualsRemoteWrite is the differential test of the pull
// source: a real Prometheus scrapes a target every second and
// remote-writes to nines, and the same nines reads the same series from
// that Prometheus' query API for a second pair of SLOs. Every settled
// quantum must be identical: the same counter and histogram rules read
// the same samples, one way pushed, the other pulled. The pull SLOs are
// loaded after Prometheus has run a while, so their first step is a
// backfill and the rest are minute-by-minute (here 10 s) advances.
func TestPullSourceEqualsRemoteWrite(t *testing.T) {
	needPrometheus(t)
	t.Parallel()
	specs := writeSpecs(t, map[string]string{"rw.yaml": pullPairSpecs})
	n := startNines(t, t.TempDir(), specs, "--pull.interval", "10s", "--pull.delay", "3s")
	tg, rec, prom, promURL := promPipeline(t, n.url, 1, 500)
	t.Logf("Prometheus at %s, nines at %s", promURL, n.url)

	// Let Prometheus gather 25 s of scrapes, then load the pull SLOs: they
	// backfill those, then follow.
	time.Sleep(25 * time.Second)
	if err := os.WriteFile(filepath.Join(specs, "pull.yaml"), []byte(strings.ReplaceAll(pullSpecs, "{{url}}", promURL)), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(n.url+"/api/v1/-/reload", "application/json", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %s", resp.Status)
	}

	// Compare once the pull source has stored at least 60 s past the
	// reload: quanta read by backfill and by several advances.
	reloaded := time.Now()
	var through time.Time
	waitFor(t, 90*time.Second, "the pull source to store 60 s of quanta past the reload", func() (bool, string) {
		var state string
		state, through = sourceState(t, n, "pull-latency")
		return state == "live" && through.After(reloaded.Add(60*time.Second)), state + " through " + through.String()
	}, prom, n.proc)
	// Remote write stores a quantum 3 s (the hold) after it ends, on the
	// next tick; give it a few seconds more.
	time.Sleep(6 * time.Second)
	if snap := rec.snapshot(); len(snap.refused) > 0 {
		t.Fatalf("nines refused remote write requests: %q", snap.refused)
	}

	var from time.Time
	compared := 0
	for _, pair := range [][2]string{{"rw-latency", "pull-latency"}, {"rw-requests", "pull-requests"}} {
		rw := n.quanta(t, pair[0], through.Add(-time.Hour), through)
		pulled := n.quanta(t, pair[1], through.Add(-time.Hour), through)
		if len(rw) != len(pulled) {
			t.Fatalf("%d quanta of %s, %d of %s", len(rw), pair[0], len(pulled), pair[1])
		}
		measured := 0
		for i := range rw {
			if rw[i] != pulled[i] {
				t.Errorf("quantum %s: %s %s, %s %s", rw[i].Start.Format("15:04:05"), pair[0], rw[i], pair[1], pulled[i])
			}
			if rw[i].Measured {
				measured++
				if from.IsZero() || rw[i].Start.Before(from) {
					from = rw[i].Start
				}
			}
		}
		if measured < 6 {
			t.Fatalf("%s: %d measured quanta compared; want at least 6", pair[0], measured)
		}
		compared += measured
	}
	// The latencies too: the merged histogram of the compared range, bin
	// by bin.
	hist := func(slo string) string {
		var doc struct {
			Bins []map[string]any `json:"bins"`
		}
		getJSON(t, fmt.Sprintf("%s/api/v1/slos/%s/histogram?from=%d&to=%d", n.url, slo, from.Unix(), through.Unix()), &doc)
		if len(doc.Bins) == 0 {
			t.Fatalf("%s: no latency bins from %s to %s", slo, from, through)
		}
		return fmt.Sprint(doc.Bins)
	}
	if rw, pulled := hist("rw-latency"), hist("pull-latency"); rw != pulled {
		t.Errorf("latency bins differ:\nremote write %s\npulled       %s", rw, pulled)
	}
	t.Logf("%d measured quanta identical from %s through %s; target scraped %d times", compared, from.Format("15:04:05"), through.Format("15:04:05"), tg.scraped())
}

// sourceState reads the pull source's state of an SLO and the end of its
// stored rollups, failing the test when the source reports an error.
func sourceState(t testing.TB, n *nines, slo string) (state string, through time.Time) {
	t.Helper()
	var doc struct {
		Source struct {
			State   string    `json:"state"`
			Through time.Time `json:"through"`
			Error   string    `json:"error"`
		} `json:"source"`
	}
	getJSON(t, n.url+"/api/v1/slos/"+slo, &doc)
	if doc.Source.Error != "" {
		t.Fatalf("SLO %s: the pull source failed: %s", slo, doc.Source.Error)
	}
	return doc.Source.State, doc.Source.Through
}

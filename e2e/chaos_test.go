package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const chaosSLO = `name: checkout-availability
service: checkout
sli: {good: {status: "<500", latency: "<=300ms"}}
objective: 99
window: {rolling: 1h}
`

// chaosExperiment is an experiment file on the proxy "checkout": the
// cohorts are a fifth of the users each, to decide in seconds.
func chaosExperiment(name, faults, extra string) string {
	return `name: ` + name + `
slo: checkout-availability
proxy: checkout
cohort: {key: {header: X-User-Id}, share: 20%}
faults:
` + faults + `
minEffect: 1%
maxDuration: 2m
` + extra
}

var proxyRE = regexp.MustCompile(`nines chaos proxy: http://(\S+) `)

// TestChaosExperimentsJudgedBySLIs runs a real Go service behind
// nines chaos proxy, a load generator with many user keys, and nines
// serve with three experiments: 2 % errors injected into the experiment
// cohort must be disproved, a 5 ms delay the service's SLO absorbs must
// hold, and a fault past the harm bound must stop its run within about a
// second. A run sending its cohort to another cluster shows every user
// sticking to one cluster, and a person's stop taking effect within a
// second. A closed release gate refuses to start a run.
func TestChaosExperimentsJudgedBySLIs(t *testing.T) {
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer service.Close()
	cluster := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "experiment cluster")
	}))
	defer cluster.Close()

	dir := t.TempDir()
	for name, text := range map[string]string{
		"errors.yaml":   chaosExperiment("two-percent-errors", "  - {name: errors, percentage: 2%, abort: {status: 503}, maxActive: 1000}", ""),
		"absorbed.yaml": chaosExperiment("absorbed-delay", "  - {name: delay, delay: {fixed: 5ms}, maxActive: 1000}", ""),
		"harm.yaml":     chaosExperiment("harmful", "  - {name: outage, abort: {status: 503}, maxActive: 1000}", "abort: {experimentBadShare: 20%}\n"),
		// Sent to another cluster that answers as well: nothing to
		// disprove, and a minimum effect too small to hold in seconds.
		"reroute.yaml": strings.Replace(chaosExperiment("reroute", "  - {name: other-cluster, upstream: \""+cluster.URL+"\", maxActive: 1000}", ""), "minEffect: 1%", "minEffect: 0.01%", 1),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := startNines(t, t.TempDir(), writeSpecs(t, map[string]string{"checkout.yaml": chaosSLO}), "--experiments", dir)
	proxy := startProc(t, "nines chaos proxy", exec.Command(ninesBinary(t), "chaos", "proxy", "--listen", "127.0.0.1:0",
		"--upstream", service.URL, "--server", n.url, "--name", "checkout"))
	var proxyURL string
	waitFor(t, 20*time.Second, "the proxy to listen", func() (bool, string) {
		m := proxyRE.FindStringSubmatch(proxy.log.String())
		if m == nil {
			return false, "no address yet"
		}
		proxyURL = "http://" + m[1]
		return true, ""
	}, proxy)

	// The load: 8 clients, 5,000 users, each request from a user drawn at
	// random; what each user got is kept to check that cohorts stick.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var sent, failed atomic.Int64
	var rerouted atomic.Int64 // Unix ns of the last answer from the other cluster
	var watching atomic.Bool
	var seenMu sync.Mutex
	seen := map[string]map[string]bool{} // user → bodies seen while watching
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Go(func() {
			hc := &http.Client{Timeout: 5 * time.Second}
			for i := c; ctx.Err() == nil; i += 8 {
				user := fmt.Sprintf("user-%d", (i*7919)%5000)
				req, _ := http.NewRequestWithContext(ctx, "GET", proxyURL+"/api/pay", nil)
				req.Header.Set("X-User-Id", user)
				resp, err := hc.Do(req)
				if err != nil {
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(body) == "experiment cluster" {
					rerouted.Store(time.Now().UnixNano())
				}
				if watching.Load() {
					seenMu.Lock()
					if seen[user] == nil {
						seen[user] = map[string]bool{}
					}
					seen[user][string(body)] = true
					seenMu.Unlock()
				}
				sent.Add(1)
				if resp.StatusCode >= 500 {
					failed.Add(1)
				}
			}
		})
	}
	defer wg.Wait()
	defer stop()

	type run struct {
		ID        string    `json:"id"`
		Outcome   string    `json:"outcome"`
		StoppedBy string    `json:"stopped_by"`
		Reason    string    `json:"reason"`
		Started   time.Time `json:"started"`
		Ended     time.Time `json:"ended"`
		Verdict   struct {
			Effect              float64 `json:"effect"`
			Low                 float64 `json:"effect_low"`
			High                float64 `json:"effect_high"`
			Control, Experiment struct{ Requests, Bad uint64 }
		} `json:"verdict"`
	}
	start := func(name string) (run, int, string) {
		req, _ := http.NewRequest("POST", n.url+"/api/v1/experiments/"+name+"/runs", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r run
		json.Unmarshal(b, &r)
		return r, resp.StatusCode, string(b)
	}
	finish := func(name string, limit time.Duration) run {
		var last run
		waitFor(t, limit, "run of "+name+" to end", func() (bool, string) {
			var x struct {
				LastRun *run `json:"last_run"`
			}
			getJSON(t, n.url+"/api/v1/experiments/"+name, &x)
			if x.LastRun == nil {
				return false, "no run"
			}
			last = *x.LastRun
			return last.Outcome != "running", fmt.Sprintf("%+v", last)
		}, n.proc, proxy)
		return last
	}
	waitFor(t, 10*time.Second, "traffic through the proxy", func() (bool, string) { return sent.Load() > 500, fmt.Sprint(sent.Load()) })

	if _, code, body := start("two-percent-errors"); code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	r := finish("two-percent-errors", 90*time.Second)
	if r.Outcome != "disproved" || r.Verdict.Low <= 0 {
		t.Errorf("2 %% errors in the experiment cohort: %+v, want disproved with an effect above 0", r)
	}
	t.Logf("2 %% errors: %s after %s: %s", r.Outcome, r.Ended.Sub(r.Started).Round(time.Millisecond), r.Reason)

	if _, code, body := start("absorbed-delay"); code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	r = finish("absorbed-delay", 90*time.Second)
	if r.Outcome != "held" {
		t.Errorf("a delay the SLO absorbs: %+v, want held", r)
	}
	t.Logf("absorbed delay: %s after %s: %s", r.Outcome, r.Ended.Sub(r.Started).Round(time.Millisecond), r.Reason)

	failedBefore := failed.Load()
	started := time.Now()
	if _, code, body := start("harmful"); code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	r = finish("harmful", 30*time.Second)
	took := time.Since(started)
	if r.StoppedBy != "harm" {
		t.Errorf("a fault past the harm bound: %+v, want stopped by harm", r)
	}
	t.Logf("harm: stopped %s after the start (run says %s): %s", took.Round(time.Millisecond), r.Ended.Sub(r.Started).Round(time.Millisecond), r.Reason)
	if d := r.Ended.Sub(r.Started); d > 3*time.Second {
		t.Errorf("the harm bound stopped the run %s after it started, want within about a second of the harm (3 s with the first events' way in)", d)
	}
	// After the stop, the proxy injects nothing within a second.
	time.Sleep(1500 * time.Millisecond)
	after := failed.Load()
	time.Sleep(2 * time.Second)
	if more := failed.Load() - after; more > 0 {
		t.Errorf("%d requests failed more than 1.5 s after the run was stopped", more)
	}
	t.Logf("%d requests sent, %d failed (%d of them before the harmful run)", sent.Load(), failed.Load(), failedBefore)

	// Stickiness, and a person's stop: the experiment cohort goes to
	// another cluster; every user sees one cluster only, and once the
	// run is stopped no request goes there after a second.
	if _, code, body := start("reroute"); code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	time.Sleep(time.Second) // the proxy takes its orders within a quarter second
	watching.Store(true)
	time.Sleep(2 * time.Second)
	watching.Store(false)
	both, inExp := 0, 0
	seenMu.Lock()
	for _, bodies := range seen {
		if len(bodies) > 1 {
			both++
		}
		if bodies["experiment cluster"] {
			inExp++
		}
	}
	users := len(seen)
	seenMu.Unlock()
	if both > 0 || inExp == 0 || inExp == users {
		t.Errorf("of %d users, %d saw both clusters and %d the experiment's; want none both, and some but not all in the experiment", users, both, inExp)
	}
	req, _ := http.NewRequest("POST", n.url+"/api/v1/experiments/reroute/stop?by=e2e", nil)
	stopped := time.Now()
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stop: %v %v", resp, err)
	}
	resp.Body.Close()
	time.Sleep(2 * time.Second)
	last := time.Unix(0, rerouted.Load())
	if lag := last.Sub(stopped); lag > time.Second {
		t.Errorf("requests went to the experiment cluster %s after the stop, want within a second", lag)
	}
	t.Logf("stickiness: %d users, %d in the experiment cohort, none in both; the last request rerouted %s after the stop",
		users, inExp, last.Sub(stopped).Round(time.Millisecond))
	if r := finish("reroute", 5*time.Second); r.StoppedBy != "person" {
		t.Errorf("the stopped run: %+v", r)
	}

	// A spent budget closes the SLO's release gate: a run is refused.
	var bad strings.Builder
	now := time.Now().UTC()
	for i := range 200 {
		fmt.Fprintf(&bad, "{\"time\": %q, \"status\": 500, \"latency_ms\": 1}\n", now.Add(-time.Duration(i)*time.Second).Format(time.RFC3339))
	}
	resp, err = client.Post(n.url+"/api/v1/events?slo=checkout-availability", "application/x-ndjson", strings.NewReader(bad.String()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, 20*time.Second, "the gate to close and refuse a run", func() (bool, string) {
		_, code, body := start("absorbed-delay")
		return code == http.StatusConflict && strings.Contains(body, "gate"), fmt.Sprintf("%d %s", code, body)
	}, n.proc)
}

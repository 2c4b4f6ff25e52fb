package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/notify"
)

// holdingSink is a webhook receiver that holds the first request it
// gets until released, so that the test can kill the sender mid-send,
// and records every body it gets.
type holdingSink struct {
	mu      sync.Mutex
	bodies  [][]byte
	first   chan struct{} // closed when the first request arrived
	release chan struct{} // closed to answer it
	once    sync.Once
}

func (s *holdingSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	n := len(s.bodies)
	s.mu.Unlock()
	if n == 1 {
		s.once.Do(func() { close(s.first) })
		select {
		case <-s.release:
		case <-r.Context().Done():
		}
	}
}

func (s *holdingSink) messages(t *testing.T) []notify.WebhookMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []notify.WebhookMessage
	for _, b := range s.bodies {
		var m notify.WebhookMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// role reads a replica's role from /healthz: "leader", "follower", or
// "" when it does not answer.
func role(n *nines) string {
	resp, err := (&http.Client{Timeout: time.Second}).Get(n.url + "/healthz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r, _ := strings.CutPrefix(strings.TrimSpace(string(b)), "ok ")
	return r
}

// startReplicas runs three nines serve on the database at url.
func startReplicas(t *testing.T, url, slos string, extra ...string) []*nines {
	t.Helper()
	var reps []*nines
	for range 3 {
		reps = append(reps, startNines(t, t.TempDir(), slos, append([]string{"--store", url}, extra...)...))
	}
	return reps
}

// leaderOf returns the index of the replica that says it leads and how
// many say so.
func leaderOf(reps []*nines) (int, int) {
	at, n := -1, 0
	for i, r := range reps {
		if !r.exited() && role(r) == "leader" {
			at, n = i, n+1
		}
	}
	return at, n
}

// TestReplicasShareOnePostgres runs three nines serve on one PostgreSQL
// behind round-robin clients posting keyed event batches; a page fires
// (no data, or the burn of the crash SLO's events), and the leader is killed with SIGKILL while its webhook request
// is in flight. Another replica must take over within 30 s and send the
// same notification again (same fingerprint and group), never two
// leaders at once, and every replica's status must count every batch
// exactly once.
func TestReplicasShareOnePostgres(t *testing.T) {
	url := pgtest.URL(t)
	sink := &holdingSink{first: make(chan struct{}), release: make(chan struct{})}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	defer close(sink.release)
	since := time.Now().Add(-2 * time.Minute).Truncate(5 * time.Second).UTC().Format(time.RFC3339)
	slos := writeSpecs(t, map[string]string{"crash.yaml": crashSpec, "quiet.yaml": `
name: quiet
service: quiet-svc
sli: {good: {ok: true}}
objective: 99
quantum: 5s
window: {rolling: 1h}
since: ` + since + `
alerting: {noData: {after: 10s, severity: page}}
`})
	notifyFile := filepath.Join(t.TempDir(), "notify.yaml")
	if err := os.WriteFile(notifyFile, []byte(`
timeout: 30s
receivers:
  - {name: hook, webhook: {url: "`+hook.URL+`/hook"}}
route: {receiver: hook, group_wait: 0s}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	reps := startReplicas(t, url, slos, "--notify", notifyFile)
	leaderOf := func() (int, int) { return leaderOf(reps) }
	// One leader at any time, watched throughout.
	var twoLeaders atomic.Int64
	stopWatch := make(chan struct{})
	var watch sync.WaitGroup
	watch.Go(func() {
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if _, n := leaderOf(); n > 1 {
				twoLeaders.Add(1)
			}
		}
	})
	defer func() { close(stopWatch); watch.Wait() }()
	var first int
	waitFor(t, 30*time.Second, "one replica to lead", func() (bool, string) {
		at, n := leaderOf()
		first = at
		return n == 1, fmt.Sprintf("%d leaders", n)
	})
	if v := reps[first].metric(t, "nines_leader"); v != "1" {
		t.Errorf("the leader's nines_leader is %q", v)
	}
	if v := reps[(first+1)%3].metric(t, "nines_leader"); v != "0" {
		t.Errorf("a follower's nines_leader is %q", v)
	}

	// Round-robin clients: a batch that fails (its replica killed) is
	// sent again to the next with the same key, until one acknowledges it.
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	var acked atomic.Int64
	var seq atomic.Int64
	stopSend := make(chan struct{})
	var senders sync.WaitGroup
	for s := range 3 {
		senders.Go(func() {
			hc := &http.Client{Timeout: 10 * time.Second}
			at := s
			for {
				select {
				case <-stopSend:
					return
				default:
				}
				n := int(seq.Add(1))
				for try := 0; ; try++ {
					r := reps[at%3]
					at++
					req, _ := http.NewRequest("POST", r.url+"/api/v1/events?slo=crash", strings.NewReader(batchBody(n, base)))
					req.Header.Set("Idempotency-Key", fmt.Sprintf("replica-batch-%06d", n))
					req.Header.Set("Content-Type", "application/x-ndjson")
					resp, err := hc.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 200 {
							acked.Add(1)
							break
						}
					}
					if try > 50 {
						t.Errorf("batch %d: no replica took it", n)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}

	// The page fires; the leader sends it and is killed mid-send.
	select {
	case <-sink.first:
	case <-time.After(60 * time.Second):
		t.Fatal("no notification within 60 s")
	}
	killedAt := time.Now()
	reps[first].kill()
	var next int
	waitFor(t, 30*time.Second, "another replica to lead", func() (bool, string) {
		at, n := leaderOf()
		next = at
		return n == 1, fmt.Sprintf("%d leaders", n)
	})
	takeover := time.Since(killedAt)
	t.Logf("takeover %s after kill -9 of the leader", takeover.Round(100*time.Millisecond))
	// The notification held is whichever page came first: the quiet
	// SLO's no-data page or the crash SLO's burn-rate page (both fire
	// within seconds of each other). The new leader must send that one
	// again, with the same group and fingerprint; the other page is
	// another notification, not compared.
	var heldSLO string
	if first := sink.messages(t); len(first) > 0 && len(first[0].Alerts) > 0 {
		heldSLO = first[0].Alerts[0].Labels["slo"]
	}
	held := func() []notify.WebhookMessage {
		var out []notify.WebhookMessage
		for _, m := range sink.messages(t) {
			if len(m.Alerts) > 0 && m.Alerts[0].Labels["slo"] == heldSLO {
				out = append(out, m)
			}
		}
		return out
	}
	waitFor(t, 20*time.Second, "the notification to be sent again by the new leader", func() (bool, string) {
		n := len(held())
		return n >= 2, fmt.Sprintf("%d of SLO %q received", n, heldSLO)
	})
	msgs := held()
	fp := notify.Fingerprint(msgs[0].Alerts[0].Labels)
	for i, m := range msgs {
		if m.GroupKey != msgs[0].GroupKey || len(m.Alerts) != 1 || m.Alerts[0].Fingerprint != fp {
			t.Errorf("notification %d of SLO %q: group %q, alerts %+v; want the first one's group %q and fingerprint %s", i, heldSLO, m.GroupKey, m.Alerts, msgs[0].GroupKey, fp)
		}
	}

	time.Sleep(2 * time.Second)
	close(stopSend)
	senders.Wait()
	want := batchEvents(int(acked.Load()))
	start := time.Now()
	for i, r := range reps {
		if i == first {
			continue
		}
		waitFor(t, 10*time.Second, fmt.Sprintf("replica %d to count every batch", i), func() (bool, string) {
			got := r.status(t, "crash", time.Time{})
			return got == want, fmt.Sprintf("%+v, want %+v", got, want)
		}, r.proc)
	}
	t.Logf("%d batches over three replicas; the survivors agreed %s after the last write; leader %d → %d",
		acked.Load(), time.Since(start).Round(10*time.Millisecond), first, next)
	if n := twoLeaders.Load(); n > 0 {
		t.Errorf("two replicas said they lead at once, %d times", n)
	}
	if takeover > 30*time.Second {
		t.Errorf("takeover took %s, want ≤ 30s", takeover)
	}
}

// roundRobin forwards each request to the next live replica in turn, as
// a load balancer without stickiness does.
type roundRobin struct {
	reps []*nines
	next atomic.Int64
}

func (rr *roundRobin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	target := rr.reps[int(rr.next.Add(1))%len(rr.reps)]
	fwd, _ := http.NewRequestWithContext(r.Context(), r.Method, target.url+r.URL.RequestURI(), bytes.NewReader(body))
	fwd.Header = r.Header.Clone()
	resp, err := client.Do(fwd)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// TestReplicasTakePrometheusRemoteWrite has a real Prometheus
// remote-write to three replicas in turn through a round-robin balancer,
// and kills the leader with SIGKILL midway: followers send the requests
// they get on to the leader of the moment (503 while none leads, and
// Prometheus retries), and the new leader goes on from the counter
// baselines the last one recorded. Every replica must then show, for
// the whole run, exactly the increases of the samples acknowledged.
func TestReplicasTakePrometheusRemoteWrite(t *testing.T) {
	needPrometheus(t)
	url := pgtest.URL(t)
	// The hold outlasts a take-over (18 s at most): the buckets of a
	// histogram that Prometheus sends in several requests, some of them
	// retried until a new leader takes them, still meet in one quantum.
	const hold = 25 * time.Second
	reps := startReplicas(t, url, writeSpecs(t, map[string]string{"e2e.yaml": promSpecs}), "--ingest.remote-write-hold", hold.String())
	var first int
	waitFor(t, 30*time.Second, "one replica to lead", func() (bool, string) {
		at, n := leaderOf(reps)
		first = at
		return n == 1, fmt.Sprintf("%d leaders", n)
	})
	lb := httptest.NewServer(&roundRobin{reps: reps})
	defer lb.Close()
	// Two shards, small batches: a histogram's buckets come in several
	// requests, as from a busy Prometheus.
	tg, rec, prom, _ := promPipeline(t, lb.URL, 2, 50)
	scrapes := func() int {
		seen := map[int64]bool{}
		for _, s := range rec.snapshot().series {
			for _, smp := range s.Samples {
				seen[smp.T] = true
			}
		}
		return len(seen)
	}
	waitFor(t, 60*time.Second, "10 scrapes acknowledged", func() (bool, string) {
		return scrapes() >= 10, fmt.Sprintf("%d scrapes acknowledged of %d", scrapes(), tg.scraped())
	}, prom)
	reps[first].kill()
	killed := time.Now()
	waitFor(t, 30*time.Second, "another replica to lead", func() (bool, string) {
		_, n := leaderOf(reps)
		return n == 1, fmt.Sprintf("%d leaders", n)
	})
	t.Logf("takeover %s after kill -9 of the leader", time.Since(killed).Round(100*time.Millisecond))
	before := scrapes()
	waitFor(t, 60*time.Second, "10 more scrapes acknowledged", func() (bool, string) {
		return scrapes() >= before+10, fmt.Sprintf("%d scrapes acknowledged", scrapes())
	}, prom)
	prom.stop(t, 20*time.Second)
	time.Sleep(time.Until(time.Now().Truncate(promQuantum).Add(promQuantum + hold + 2*time.Second)))

	snap := rec.snapshot()
	refused := 0
	for _, r := range snap.refused {
		if !strings.Contains(r, "does not lead") && !strings.Contains(r, "could not reach the leader") && !strings.Contains(r, "502") {
			t.Errorf("refused for another reason than a take-over or a dead replica: %s", r)
		}
		refused++
	}
	var total expectedQuantum
	total.latency.Measured, total.requests.Measured = true, true
	last := time.Time{}
	for q, e := range expect(snap.series, promQuantum) {
		total.latency.add(e.latency)
		total.requests.add(e.requests)
		if q.After(last) {
			last = q
		}
	}
	at := last.Add(promQuantum)
	sleepUntil(at)
	want := map[string]events{
		"e2e-latency": {Total: total.latency.Attempted, Good: total.latency.Good,
			Failed: total.latency.Errors + total.latency.Slow, Errors: total.latency.Errors, Slow: total.latency.Slow},
		"e2e-requests": {Total: total.requests.Attempted, Good: total.requests.Good,
			Failed: total.requests.Errors, Errors: total.requests.Errors},
	}
	for i, r := range reps {
		if r.exited() {
			continue
		}
		for slo, w := range want {
			if got := r.status(t, slo, at); got != w {
				t.Errorf("replica %d, %s over the run: %+v, want %+v", i, slo, got, w)
			}
		}
	}
	forwarded := 0
	for _, r := range reps {
		if r.exited() {
			continue
		}
		n, _ := strconv.Atoi(r.metric(t, `nines_forwarded_requests_total{outcome="committed"}`))
		forwarded += n
	}
	if forwarded == 0 {
		t.Errorf("no follower sent a request on to the leader: the round robin should have made them")
	}
	t.Logf("%d remote write requests acknowledged (%d of them sent on by a follower to the leader), %d refused during the take-over or by the dead leader and retried; latency SLO %s",
		snap.requests-refused, forwarded, refused, total.latency)
}

// TestReplicaLosesItsDatabase cuts a replica (alone, so the leader) off
// from PostgreSQL and lets it back: meanwhile writes get 503 and nothing
// is acknowledged that was not committed, reads answer from what the
// replica last knew, marked stale, /readyz says not ready and the
// replica steps down; once the database answers again it leads and takes
// writes by itself, and its counts are exactly the batches acknowledged.
func TestReplicaLosesItsDatabase(t *testing.T) {
	url := pgtest.URL(t)
	n := startNines(t, t.TempDir(), writeSpecs(t, map[string]string{"crash.yaml": crashSpec}), "--store", url)
	waitFor(t, 30*time.Second, "the replica to lead", func() (bool, string) {
		r := role(n)
		return r == "leader", r
	})
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	hc := &http.Client{Timeout: 10 * time.Second}
	post := func(seq int) int {
		req, _ := http.NewRequest("POST", n.url+"/api/v1/events?slo=crash", strings.NewReader(batchBody(seq, base)))
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := hc.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	type staleDoc struct {
		Stale *struct {
			Since  time.Time `json:"since"`
			Reason string    `json:"reason"`
		} `json:"stale"`
		Windows []struct {
			Events events `json:"events"`
		} `json:"windows"`
	}
	read := func() (staleDoc, string) {
		var doc staleDoc
		resp, err := hc.Get(n.url + "/api/v1/slos/crash/status")
		if err != nil {
			t.Fatalf("status: %v", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status: %s %s", resp.Status, b)
		}
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc, resp.Header.Get("X-Nines-Stale")
	}
	acked := 0
	for seq := range 5 {
		if code := post(seq); code != 200 {
			t.Fatalf("batch %d before the cut: %d", seq, code)
		}
		acked++
	}
	waitFor(t, 10*time.Second, "the batches in the status", func() (bool, string) {
		doc, _ := read()
		return doc.Windows[0].Events.Total == batchEvents(acked).Total, fmt.Sprint(doc.Windows[0].Events)
	})

	restore := pgtest.CutOff(t, url)
	cut := time.Now()
	refused := 0
	for seq := 100; seq < 105; seq++ {
		switch code := post(seq); code {
		case 200:
			t.Errorf("batch %d acknowledged while the database refuses every connection", seq)
		case http.StatusServiceUnavailable:
			refused++
		default:
			t.Errorf("batch %d while cut off: %d, want 503", seq, code)
		}
	}
	waitFor(t, 10*time.Second, "reads marked stale", func() (bool, string) {
		doc, hdr := read()
		return doc.Stale != nil && hdr != "", fmt.Sprintf("stale %v, header %q", doc.Stale, hdr)
	})
	if doc, _ := read(); doc.Windows[0].Events != batchEvents(acked) {
		t.Errorf("stale status %+v, want what was acknowledged: %+v", doc.Windows[0].Events, batchEvents(acked))
	}
	waitFor(t, 10*time.Second, "/readyz to say not ready", func() (bool, string) {
		resp, err := hc.Get(n.url + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable, resp.Status
	})
	waitFor(t, 25*time.Second, "the replica to step down", func() (bool, string) {
		r := role(n)
		return r == "follower", r
	})
	t.Logf("stepped down %s after the cut; %d batches refused with 503", time.Since(cut).Round(100*time.Millisecond), refused)

	restore()
	healed := time.Now()
	waitFor(t, 30*time.Second, "the replica to lead again", func() (bool, string) {
		r := role(n)
		return r == "leader", r
	})
	waitFor(t, 30*time.Second, "writes to be taken again", func() (bool, string) {
		code := post(200 + acked)
		if code == 200 {
			acked++
		}
		return code == 200, fmt.Sprint(code)
	})
	t.Logf("leading and taking writes %s after the database came back", time.Since(healed).Round(100*time.Millisecond))
	waitFor(t, 10*time.Second, "fresh, exact reads", func() (bool, string) {
		doc, hdr := read()
		return doc.Stale == nil && hdr == "" && doc.Windows[0].Events == batchEvents(acked), fmt.Sprintf("stale %v %q, %+v want %+v", doc.Stale, hdr, doc.Windows[0].Events, batchEvents(acked))
	})
}

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The crash suite: nines serve is killed with SIGKILL at a random moment
// while it takes each kind of write, restarted on the same data
// directory, and checked to have kept every write it acknowledged and to
// have counted none twice. crashKinds says how many trials each kind
// gets: 20 in all per run.

const crashSpec = `name: crash
service: crash
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99
method: transactions
window:
  rolling: 1h
`

// Every batch holds the same mix, so that what a restart shows can be
// checked to be a whole number of batches.
const (
	batchSize   = 100
	batchErrors = 3 // status 503, fast
	batchSlow   = 5 // status 200, 400 ms
)

// batchEvents returns the mix of n batches per status field.
func batchEvents(n int) events {
	return events{Total: uint64(n * batchSize), Good: uint64(n * (batchSize - batchErrors - batchSlow)),
		Failed: uint64(n * (batchErrors + batchSlow)), Errors: uint64(n * batchErrors), Slow: uint64(n * batchSlow)}
}

// batchBody is batch seq as JSON lines stamped over the minute from base.
func batchBody(seq int, base time.Time) string {
	var b strings.Builder
	for i := range batchSize {
		ts := base.Add(time.Duration((seq*batchSize+i)*997%60_000) * time.Millisecond)
		status, ms := 200, 3.5
		switch {
		case i < batchErrors:
			status = 503
		case i < batchErrors+batchSlow:
			ms = 400
		}
		fmt.Fprintf(&b, `{"time": %q, "status": %d, "latency_ms": %g}`+"\n", ts.Format(time.RFC3339Nano), status, ms)
	}
	return b.String()
}

// crashKinds are the writes the suite kills nines under, with their
// number of trials.
var crashKinds = []struct {
	name   string
	trials int
	run    func(t *testing.T, trials int)
}{
	{"events", 3, crashEvents},
	{"rollups", 2, crashRollups},
	{"remote write from a client", 4, crashRemoteWrite},
	{"remote write from Prometheus", 3, crashPrometheus},
	{"OTLP", 3, crashOTLP},
	{"incident changes", 3, crashIncidents},
	{"reloads", 2, crashReloads},
}

// TestCrashSuite runs every kind of write's kill -9 trials, the kinds at
// once.
func TestCrashSuite(t *testing.T) {
	t.Parallel()
	total := 0
	for _, k := range crashKinds {
		total += k.trials
	}
	if total != 20 {
		t.Fatalf("the suite has %d trials, want 20", total)
	}
	for _, k := range crashKinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			k.run(t, k.trials)
		})
	}
}

// killAfter is a random moment to kill nines at, long enough for some
// writes to be acknowledged.
func killAfter(rng *rand.Rand) time.Duration {
	return time.Duration(500+rng.IntN(1200)) * time.Millisecond
}

func newRNG(t *testing.T) *rand.Rand {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	return rand.New(rand.NewPCG(seed, 7))
}

// ledger records what became of numbered requests sent to a server that
// may die under them.
type ledger struct {
	mu sync.Mutex
	// acked were answered 2xx, and their answers checked; unknown were
	// sent but got no answer (the server died under them); refused got
	// no connection.
	acked, unknown []int
	refused        int
	problems       []string
}

func (l *ledger) snapshot() (acked, unknown []int, problems []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acked), slices.Clone(l.unknown), slices.Clone(l.problems)
}

// sendUntil sends numbered requests, one after the other, until stop is
// closed or the server stops answering. check judges a 2xx answer's body.
func sendUntil(stop <-chan struct{}, l *ledger, next func() int, req func(seq int) (*http.Request, error), check func(body []byte) error) {
	c := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		seq := next()
		r, err := req(seq)
		if err != nil {
			l.mu.Lock()
			l.problems = append(l.problems, err.Error())
			l.mu.Unlock()
			return
		}
		resp, err := c.Do(r)
		l.mu.Lock()
		switch {
		case err != nil && errors.Is(err, syscall.ECONNREFUSED):
			l.refused++
		case err != nil:
			l.unknown = append(l.unknown, seq)
		default:
			body, readErr := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch {
			case readErr != nil && resp.StatusCode/100 == 2:
				// The status line goes out only after the commit, so a
				// 2xx whose body a kill cut short is still an
				// acknowledgement; only its body cannot be checked.
				l.acked = append(l.acked, seq)
				err = readErr
			case readErr != nil:
				l.unknown = append(l.unknown, seq)
				err = readErr
			case resp.StatusCode/100 != 2:
				l.problems = append(l.problems, fmt.Sprintf("%s: %s", resp.Status, body))
			case check(body) != nil:
				l.problems = append(l.problems, fmt.Sprintf("acknowledged, but: %v", check(body)))
			default:
				l.acked = append(l.acked, seq)
			}
		}
		l.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// counter numbers requests from 1 across goroutines.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) next() int { c.mu.Lock(); defer c.mu.Unlock(); c.n++; return c.n }

// killUnder runs senders (each a func of the stop channel) against n,
// kills n at a random moment, and returns once every sender has
// returned.
func killUnder(t *testing.T, n *nines, rng *rand.Rand, senders ...func(stop <-chan struct{})) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range senders {
		wg.Go(func() { s(stop) })
	}
	time.Sleep(killAfter(rng))
	if n.exited() {
		t.Fatalf("nines exited by itself: %v", n.err)
	}
	n.kill()
	close(stop)
	wg.Wait()
}

// landedCount checks a count of whole batches after a restart: every
// acknowledged batch and at most the ones in flight.
func landedCount(t *testing.T, trial int, what string, got, per uint64, acked, unknown int) int {
	t.Helper()
	if got%per != 0 {
		t.Fatalf("trial %d: %d %s is not a whole number of batches of %d", trial, got, what, per)
	}
	landed := int(got/per) - acked
	switch {
	case landed < 0:
		t.Fatalf("trial %d: after restart %d %s, fewer than the %d acknowledged batches hold: acknowledged writes were lost", trial, got, what, acked)
	case landed > unknown:
		t.Fatalf("trial %d: after restart %d %s: %d batches beyond the %d acknowledged, but only %d were in flight: counted twice", trial, got, what, landed, acked, unknown)
	}
	return landed
}

// eventsTaken checks the answer to a batch: every event taken.
func eventsTaken(body []byte) error {
	var ans struct {
		Events int64
		SLOs   []struct {
			Accepted int `json:"quanta_accepted"`
			Late     int `json:"quanta_late"`
			Future   int `json:"quanta_future"`
		}
	}
	if json.Unmarshal(body, &ans) != nil || ans.Events != batchSize || len(ans.SLOs) != 1 || ans.SLOs[0].Late+ans.SLOs[0].Future > 0 {
		return fmt.Errorf("not every event taken: %s", body)
	}
	return nil
}

// crashEvents: event batches from three clients.
func crashEvents(t *testing.T, trials int) {
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"crash.yaml": crashSpec})
	// A minute that has settled (it is judged a minute after it ends), so
	// the status shows it at once, and that stays within --ingest.max-lag
	// (5m) while the trials run.
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	rng := newRNG(t)
	var seqs counter
	counted := 0 // batches counted for certain, over all trials so far
	n := startNines(t, data, slos)
	for trial := 1; trial <= trials; trial++ {
		var l ledger
		send := func(stop <-chan struct{}) {
			sendUntil(stop, &l, seqs.next, func(seq int) (*http.Request, error) {
				return eventsRequest(n.url, batchBody(seq, base))
			}, eventsTaken)
		}
		killUnder(t, n, rng, send, send, send)
		acked, unknown, problems := l.snapshot()
		if len(problems) > 0 || len(acked) == 0 {
			t.Fatalf("trial %d: %d acknowledged; problems %q", trial, len(acked), problems)
		}
		counted += len(acked)
		n = startNines(t, data, slos)
		got := n.status(t, "crash", time.Time{})
		landed := landedCount(t, trial, "events", got.Total, batchSize, counted, len(unknown))
		if got != batchEvents(counted+landed) {
			t.Fatalf("trial %d: events %+v, want %+v: whole batches or nothing", trial, got, batchEvents(counted+landed))
		}
		t.Logf("trial %d: %d batches acknowledged, %d in flight of which %d landed", trial, len(acked), len(unknown), landed)
		counted += landed
	}
	// A clean stop and start changes nothing, and the quanta hold what
	// the status says.
	before := n.status(t, "crash", time.Time{})
	n.stop(t, 15*time.Second)
	n = startNines(t, data, slos)
	if after := n.status(t, "crash", time.Time{}); after != before {
		t.Fatalf("after a clean restart events %+v, before %+v", after, before)
	}
	if q := n.sumQuanta(t, "crash", base, base.Add(time.Minute)); q != before {
		t.Fatalf("the quanta sum to %+v, the status says %+v", q, before)
	}
}

// sumQuanta adds up the stored quanta of an SLO in [from, to).
func (n *nines) sumQuanta(t testing.TB, slo string, from, to time.Time) events {
	t.Helper()
	var e events
	for _, q := range n.quanta(t, slo, from, to) {
		e.Total += q.Attempted
		e.Good += q.Good
		e.Errors += q.Errors
		e.Slow += q.Slow
	}
	e.Failed = e.Errors + e.Slow
	return e
}

// crashRollups: pre-aggregated quanta, 10 requests in each.
func crashRollups(t *testing.T, trials int) {
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"crash.yaml": crashSpec})
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	body := fmt.Sprintf(`{"slo": "crash", "rollups": [{"start": %q, "attempted": 10, "good": 8, "errors": 1, "slow": 1}]}`, base.Format(time.RFC3339))
	per := events{Total: 10, Good: 8, Failed: 2, Errors: 1, Slow: 1}
	rng := newRNG(t)
	var seqs counter
	counted := 0
	n := startNines(t, data, slos)
	for trial := 1; trial <= trials; trial++ {
		var l ledger
		send := func(stop <-chan struct{}) {
			sendUntil(stop, &l, seqs.next, func(int) (*http.Request, error) {
				r, err := http.NewRequest("POST", n.url+"/api/v1/rollups", strings.NewReader(body))
				if err == nil {
					r.Header.Set("Content-Type", "application/json")
				}
				return r, err
			}, func(b []byte) error {
				var ans struct {
					Accepted int `json:"quanta_accepted"`
				}
				if json.Unmarshal(b, &ans) != nil || ans.Accepted != 1 {
					return fmt.Errorf("the quantum was not taken: %s", b)
				}
				return nil
			})
		}
		killUnder(t, n, rng, send, send)
		acked, unknown, problems := l.snapshot()
		if len(problems) > 0 || len(acked) == 0 {
			t.Fatalf("trial %d: %d acknowledged; problems %q", trial, len(acked), problems)
		}
		counted += len(acked)
		n = startNines(t, data, slos)
		got := n.sumQuanta(t, "crash", base, base.Add(time.Minute))
		landed := landedCount(t, trial, "requests", got.Total, per.Total, counted, len(unknown))
		if want := (events{per.Total * uint64(counted+landed), per.Good * uint64(counted+landed), per.Failed * uint64(counted+landed),
			per.Errors * uint64(counted+landed), per.Slow * uint64(counted+landed)}); got != want {
			t.Fatalf("trial %d: quanta hold %+v, want %+v", trial, got, want)
		}
		t.Logf("trial %d: %d rollups acknowledged, %d in flight of which %d landed", trial, len(acked), len(unknown), landed)
		counted += landed
	}
}

// crashIncidents: incidents opened and timeline entries added to one, by
// two clients. Each carries a unique text, so a write counted twice
// shows as the text twice.
func crashIncidents(t *testing.T, trials int) {
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"crash.yaml": crashSpec})
	rng := newRNG(t)
	n := startNines(t, data, slos)
	post := func(path, body string) (*http.Request, error) {
		r, err := http.NewRequest("POST", n.url+path, strings.NewReader(body))
		if err == nil {
			r.Header.Set("Content-Type", "application/json")
		}
		return r, err
	}
	created := func(body []byte) error {
		var ans struct {
			ID  int64 `json:"id"`
			Seq int64 `json:"seq"`
		}
		if json.Unmarshal(body, &ans) != nil || ans.ID+ans.Seq == 0 {
			return fmt.Errorf("no id in %s", body)
		}
		return nil
	}
	r, _ := post("/api/v1/incidents", `{"title": "timeline", "services": ["crash"], "severity": 2, "detected_by": "monitoring"}`)
	resp, err := client.Do(r)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("opening the incident to add entries to: %v %v", resp, err)
	}
	resp.Body.Close()
	var titles, texts counter
	ackedTitles, ackedTexts := map[string]bool{}, map[string]bool{}
	for trial := 1; trial <= trials; trial++ {
		var opens, entries ledger
		killUnder(t, n, rng,
			func(stop <-chan struct{}) {
				sendUntil(stop, &opens, titles.next, func(seq int) (*http.Request, error) {
					return post("/api/v1/incidents", fmt.Sprintf(`{"title": "crash-%d", "services": ["crash"], "severity": 2, "detected_by": "monitoring"}`, seq))
				}, created)
			},
			func(stop <-chan struct{}) {
				sendUntil(stop, &entries, texts.next, func(seq int) (*http.Request, error) {
					return post("/api/v1/incidents/1/timeline", fmt.Sprintf(`{"kind": "note", "text": "entry-%d"}`, seq))
				}, created)
			})
		n = startNines(t, data, slos)

		var list struct {
			Incidents []struct {
				Title string `json:"title"`
			} `json:"incidents"`
		}
		getJSON(t, n.url+"/api/v1/incidents?limit=10000", &list)
		var inc struct {
			Timeline []struct {
				Text string `json:"text"`
			} `json:"timeline"`
		}
		getJSON(t, n.url+"/api/v1/incidents/1", &inc)
		var stored, storedTexts []string
		for _, i := range list.Incidents {
			if i.Title != "timeline" {
				stored = append(stored, i.Title)
			}
		}
		for _, e := range inc.Timeline {
			if strings.HasPrefix(e.Text, "entry-") {
				storedTexts = append(storedTexts, e.Text)
			}
		}
		for _, c := range []struct {
			what   string
			l      *ledger
			prefix string
			acked  map[string]bool
			stored []string
		}{
			{"incidents", &opens, "crash-", ackedTitles, stored},
			{"timeline entries", &entries, "entry-", ackedTexts, storedTexts},
		} {
			acked, unknown, problems := c.l.snapshot()
			if len(problems) > 0 || len(acked) == 0 {
				t.Fatalf("trial %d: %d %s acknowledged; problems %q", trial, len(acked), c.what, problems)
			}
			for _, seq := range acked {
				c.acked[fmt.Sprintf("%s%d", c.prefix, seq)] = true
			}
			inFlight := map[string]bool{}
			for _, seq := range unknown {
				inFlight[fmt.Sprintf("%s%d", c.prefix, seq)] = true
			}
			seen := map[string]bool{}
			for _, s := range c.stored {
				switch {
				case seen[s]:
					t.Fatalf("trial %d: %s %q stored twice", trial, c.what, s)
				case !c.acked[s] && !inFlight[s]:
					t.Fatalf("trial %d: %s %q stored, but never acknowledged nor in flight at a kill", trial, c.what, s)
				}
				seen[s] = true
				// What landed unacknowledged is counted from now on.
				c.acked[s] = true
			}
			for s := range c.acked {
				if !seen[s] {
					t.Fatalf("trial %d: %s %q was acknowledged and is lost", trial, c.what, s)
				}
			}
			t.Logf("trial %d: %d %s acknowledged, %d in flight; %d stored in all", trial, len(acked), c.what, len(unknown), len(c.stored))
		}
	}
}

// eventsRequest posts JSON lines of events to the crash SLO.
func eventsRequest(url, body string) (*http.Request, error) {
	r, err := http.NewRequest("POST", url+"/api/v1/events?slo=crash", strings.NewReader(body))
	if err == nil {
		r.Header.Set("Content-Type", "application/x-ndjson")
	}
	return r, err
}

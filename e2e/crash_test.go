package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

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

// batchEvents returns the mix of one batch per status field.
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

// outcomes counts what became of the batches sent to one server.
type outcomes struct {
	mu sync.Mutex
	// acked got a 2xx with every event accepted; unknown were sent but
	// got no answer (the server died under them); refused got no
	// connection at all.
	acked, unknown, refused int
	problems                []string
}

// sender posts batches to url until stop is closed or the server stops
// answering, and records each outcome.
func sender(url string, base time.Time, seqs func() int, out *outcomes, stop <-chan struct{}) {
	c := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := c.Post(url+"/api/v1/events?slo=crash", "application/x-ndjson", strings.NewReader(batchBody(seqs(), base)))
		out.mu.Lock()
		switch {
		case err != nil && errors.Is(err, syscall.ECONNREFUSED):
			out.refused++
		case err != nil:
			out.unknown++
		default:
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var ans struct {
				Events int64
				SLOs   []struct {
					Accepted int `json:"quanta_accepted"`
					Late     int `json:"quanta_late"`
					Future   int `json:"quanta_future"`
				}
			}
			switch {
			case resp.StatusCode/100 != 2:
				out.problems = append(out.problems, fmt.Sprintf("%s: %s", resp.Status, body))
			case json.Unmarshal(body, &ans) != nil || ans.Events != batchSize || len(ans.SLOs) != 1 || ans.SLOs[0].Late+ans.SLOs[0].Future > 0:
				out.problems = append(out.problems, fmt.Sprintf("acknowledged, but not every event taken: %s", body))
			default:
				out.acked++
			}
		}
		out.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// TestKillNineKeepsAcknowledgedEvents streams event batches to nines
// serve from several clients, kills it with SIGKILL in the middle of the
// stream, restarts it on the same store, and checks that every batch it
// acknowledged is counted, and at most the ones it was killed under on top.
// Three such crashes, then a clean SIGTERM restart that must change nothing.
func TestKillNineKeepsAcknowledgedEvents(t *testing.T) {
	t.Parallel()
	const (
		crashes = 3
		senders = 3
	)
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"crash.yaml": crashSpec})
	// A minute that has settled (it is judged a minute after it ends), so
	// the status shows it at once, and that stays within --ingest.max-lag
	// (5m) for at least two more minutes.
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	var seqMu sync.Mutex
	seq := 0
	next := func() int { seqMu.Lock(); defer seqMu.Unlock(); seq++; return seq }

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	acked := 0 // batches counted for certain, over all crashes so far
	n := startNines(t, data, slos)
	for crash := 1; crash <= crashes; crash++ {
		var out outcomes
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() { sender(n.url, base, next, &out, stop) })
		}
		// Let batches flow, then kill it under them.
		time.Sleep(time.Duration(800+rng.IntN(1500)) * time.Millisecond)
		if n.exited() {
			t.Fatalf("crash %d: nines exited by itself: %v", crash, n.err)
		}
		n.kill()
		close(stop)
		wg.Wait()
		if len(out.problems) > 0 {
			t.Fatalf("crash %d: nines answered wrongly: %q", crash, out.problems)
		}
		if out.acked == 0 {
			t.Fatalf("crash %d: no batch acknowledged before the kill", crash)
		}
		acked += out.acked

		n = startNines(t, data, slos)
		got := n.status(t, "crash", time.Time{})
		landed := int(got.Total/batchSize) - acked
		t.Logf("crash %d: %d batches acknowledged before SIGKILL, %d in flight, %d refused; after restart %d events (%d batches beyond the acknowledged)",
			crash, out.acked, out.unknown, out.refused, got.Total, landed)
		switch {
		case got.Total < uint64(acked*batchSize):
			t.Fatalf("crash %d: after restart %d events counted, fewer than the %d acknowledged (%d batches): acknowledged writes were lost",
				crash, got.Total, acked*batchSize, acked)
		case landed > out.unknown:
			t.Fatalf("crash %d: after restart %d events counted: %d batches beyond the %d acknowledged, but only %d were in flight",
				crash, got.Total, landed, acked, out.unknown)
		case got != batchEvents(acked+landed):
			t.Fatalf("crash %d: after restart events %+v, want %+v: whole batches or nothing", crash, got, batchEvents(acked+landed))
		}
		// What landed unacknowledged is counted from now on; the rest of
		// what was in flight is lost for good, as the client was told.
		acked += landed
	}

	// A clean stop and start changes nothing.
	before := n.status(t, "crash", time.Time{})
	n.stop(t, 15*time.Second)
	n = startNines(t, data, slos)
	if after := n.status(t, "crash", time.Time{}); after != before {
		t.Fatalf("after a clean restart events %+v, before %+v", after, before)
	}
	// The quanta hold the same events: the stored rollups, not only the
	// running sums rebuilt from them.
	var fromQuanta events
	for _, q := range n.quanta(t, "crash", base, base.Add(time.Minute)) {
		fromQuanta.Total += q.Attempted
		fromQuanta.Good += q.Good
		fromQuanta.Errors += q.Errors
		fromQuanta.Slow += q.Slow
	}
	fromQuanta.Failed = fromQuanta.Errors + fromQuanta.Slow
	if fromQuanta != before {
		t.Fatalf("the quanta sum to %+v, the status says %+v", fromQuanta, before)
	}
}

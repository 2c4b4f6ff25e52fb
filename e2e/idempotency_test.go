package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKillNineRetriesWithKeysCountOnce streams keyed event batches to
// nines serve, kills it with SIGKILL under them, restarts it on the same
// store and retries every batch it sent, acknowledged or not, with the
// same Idempotency-Key: each batch must then be counted exactly once, and
// every acknowledged one must be answered as a replay.
func TestKillNineRetriesWithKeysCountOnce(t *testing.T) {
	t.Parallel()
	const senders = 3
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"crash.yaml": crashSpec})
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	n := startNines(t, data, slos)

	post := func(url string, seq int) (status int, replay string, err error) {
		req, err := http.NewRequest("POST", url+"/api/v1/events?slo=crash", strings.NewReader(batchBody(seq, base)))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Idempotency-Key", fmt.Sprintf("crash-batch-%06d", seq))
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return resp.StatusCode, "", fmt.Errorf("%s: %s", resp.Status, body)
		}
		return resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), nil
	}

	var (
		mu       sync.Mutex
		seq      int
		acked    []int // answered 200
		inFlight []int // sent, no answer: the server died under them or before
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				seq++
				s := seq
				mu.Unlock()
				_, _, err := post(n.url, s)
				mu.Lock()
				// Even a refused connection may follow an attempt that
				// landed: Go's transport resends a request with an
				// Idempotency-Key when a kept-alive connection dies.
				if err == nil {
					acked = append(acked, s)
				} else {
					inFlight = append(inFlight, s)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	time.Sleep(1200 * time.Millisecond)
	if n.exited() {
		t.Fatalf("nines exited by itself: %v", n.err)
	}
	n.kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no batch acknowledged before the kill")
	}

	n = startNines(t, data, slos)
	for _, s := range acked {
		if status, replay, err := post(n.url, s); err != nil || replay != "true" {
			t.Fatalf("retry of acknowledged batch %d after SIGKILL: %d, replay header %q, %v; want a replay", s, status, replay, err)
		}
	}
	landed := 0
	for _, s := range inFlight {
		_, replay, err := post(n.url, s)
		if err != nil {
			t.Fatalf("retry of batch %d that was in flight at the kill: %v", s, err)
		}
		if replay == "true" {
			landed++
		}
	}
	got := n.status(t, "crash", time.Time{})
	t.Logf("%d batches acknowledged before SIGKILL, %d in flight (%d of them had landed); all retried after restart: %d events",
		len(acked), len(inFlight), landed, got.Total)
	if want := batchEvents(len(acked) + len(inFlight)); got != want {
		t.Fatalf("after retrying every batch: events %+v, want %+v: each batch exactly once", got, want)
	}
}

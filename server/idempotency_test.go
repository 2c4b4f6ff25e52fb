package server

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// send posts body to path with headers and returns the status, the
// replay header and the body.
func (f *fixture) send(path, body string, header map[string]string) (status int, replay, answer string) {
	f.t.Helper()
	status, h, b := f.roundTrip("POST", path, body, header)
	return status, h.Get("Idempotent-Replayed"), string(b)
}

// eventsCounted is the events the checkout-transactions SLO has counted
// in its window.
func (f *fixture) eventsCounted() uint64 {
	f.t.Helper()
	var st statusDoc
	f.do("GET", "/api/v1/slos/checkout-transactions/status", "", nil, 200, &st)
	return st.Windows[0].Events.Total
}

func TestIdempotentEvents(t *testing.T) {
	f := newFixture(t, "")
	at := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	body := minuteOfEvents(at, 100, 3, 0)
	const path = "/api/v1/events?slo=checkout-transactions"
	key := map[string]string{"Idempotency-Key": "batch-0001"}
	f.clock.Set(at.Add(3 * time.Minute))

	status, replay, first := f.send(path, body, key)
	if status != 200 || replay != "" {
		t.Fatalf("first post: %d, replay header %q: %s", status, replay, first)
	}
	if got := f.eventsCounted(); got != 100 {
		t.Fatalf("after the first post: %d events counted, want 100", got)
	}
	// The retry comes a minute later, when the same body would be judged
	// differently if it were stored again; it is answered as the first was.
	f.clock.Set(at.Add(7 * time.Minute)) // 09:59 is past the 5-minute max lag
	status, replay, again := f.send(path, body, key)
	if status != 200 || replay != "true" || again != first {
		t.Fatalf("retry: %d, replay header %q:\n%s\nwant 200, true and the first answer:\n%s", status, replay, again, first)
	}
	f.clock.Set(at.Add(3 * time.Minute))
	// The key in quotes, as the IETF draft writes the header, is the same key.
	if status, replay, _ := f.send(path, body, map[string]string{"Idempotency-Key": `"batch-0001"`}); status != 200 || replay != "true" {
		t.Errorf("quoted key: %d, replay header %q; want a replay", status, replay)
	}
	if got := f.eventsCounted(); got != 100 {
		t.Fatalf("after the retries: %d events counted, want 100", got)
	}
	// Another key is another batch; no key keeps the additive meaning.
	if status, replay, _ := f.send(path, body, map[string]string{"Idempotency-Key": "batch-0002"}); status != 200 || replay != "" {
		t.Fatalf("another key: %d, replay header %q", status, replay)
	}
	if status, replay, _ := f.send(path, body, nil); status != 200 || replay != "" {
		t.Fatalf("no key: %d, replay header %q", status, replay)
	}
	if got := f.eventsCounted(); got != 300 {
		t.Fatalf("after another key and a plain post: %d events counted, want 300", got)
	}
	// The key of a batch used for different data is refused, not replayed.
	status, _, msg := f.send(path, minuteOfEvents(at, 50, 0, 0), key)
	if status != 422 || !strings.Contains(msg, `Idempotency-Key \"batch-0001\" was used at`) {
		t.Errorf("a used key with another body: %d %s; want 422 naming the key", status, msg)
	}
	if status, _, _ := f.send("/api/v1/events?slo=checkout-availability", body, key); status != 422 {
		t.Errorf("a used key for another SLO: %d, want 422", status)
	}
	if got := f.eventsCounted(); got != 300 {
		t.Fatalf("after refused reuses: %d events counted, want 300", got)
	}
}

func TestIdempotentEventsRacingRetries(t *testing.T) {
	f := newFixture(t, "")
	at := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	body := minuteOfEvents(at, 100, 0, 0)
	const senders = 8
	type answer struct {
		status         int
		replay, answer string
	}
	answers := make([]answer, senders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			<-start
			s, r, a := f.send("/api/v1/events?slo=checkout-transactions", body, map[string]string{"Idempotency-Key": "raced"})
			answers[i] = answer{s, r, a}
		})
	}
	close(start)
	wg.Wait()
	firsts := 0
	for i, a := range answers {
		if a.status != 200 || a.answer != answers[0].answer {
			t.Errorf("sender %d: %d %s; want 200 and the answer all got", i, a.status, a.answer)
		}
		if a.replay == "" {
			firsts++
		}
	}
	if firsts != 1 {
		t.Errorf("%d answers without the replay header, want exactly 1", firsts)
	}
	f.clock.Set(at.Add(3 * time.Minute))
	if got := f.eventsCounted(); got != 100 {
		t.Errorf("%d events counted after %d racing retries, want 100", got, senders)
	}
}

func TestIdempotentRollups(t *testing.T) {
	f := newFixture(t, "")
	f.clock.Set(time.Date(2026, 11, 25, 10, 2, 30, 0, time.UTC))
	rollups := `"slo": "checkout-transactions", "rollups": [{"start": "2026-11-25T09:59:00Z", "attempted": 40, "good": 39, "errors": 1}]`
	withField := `{"idempotency_key": "exp-7/10:00", ` + rollups + `}`
	status, replay, first := f.send("/api/v1/rollups", withField, nil)
	if status != 200 || replay != "" || !strings.Contains(first, `"quanta_accepted": 1`) {
		t.Fatalf("first post: %d %q %s", status, replay, first)
	}
	// The same body again, now also with the header: a replay.
	status, replay, again := f.send("/api/v1/rollups", withField, map[string]string{"Idempotency-Key": "exp-7/10:00"})
	if status != 200 || replay != "true" || again != first {
		t.Fatalf("retry: %d %q %s", status, replay, again)
	}
	// The header alone names a batch too.
	plain := `{` + rollups + `}`
	for i, want := range []string{"", "true"} {
		if status, replay, _ := f.send("/api/v1/rollups", plain, map[string]string{"Idempotency-Key": "exp-7/10:01"}); status != 200 || replay != want {
			t.Fatalf("header-only post %d: %d, replay header %q; want %q", i+1, status, replay, want)
		}
	}
	if got := f.eventsCounted(); got != 80 {
		t.Errorf("%d events counted, want 80: each key once", got)
	}
}

func TestIdempotencyKeyRefused(t *testing.T) {
	f := newFixture(t, "")
	at := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.clock.Set(at.Add(3 * time.Minute))
	events := minuteOfEvents(at, 10, 0, 0)
	rollups := func(extra string) string {
		return `{` + extra + `"slo": "checkout-transactions", "rollups": [{"start": "2026-11-25T09:59:00Z", "attempted": 4, "good": 4}]}`
	}
	long := strings.Repeat("k", 129)
	for _, c := range []struct {
		name, path, body string
		header           map[string]string
		want             string
	}{
		{"A header key over 128 bytes.", "/api/v1/events?slo=checkout-transactions", events, map[string]string{"Idempotency-Key": long}, "Idempotency-Key header: store: invalid argument: idempotency key of 129 bytes; at most 128"},
		{"A header key that is not ASCII.", "/api/v1/events?slo=checkout-transactions", events, map[string]string{"Idempotency-Key": "café"}, "Idempotency-Key header: store: invalid argument: idempotency key: byte 3 is 0xc3"},
		{"An empty header key.", "/api/v1/events?slo=checkout-transactions", events, map[string]string{"Idempotency-Key": ""}, "Idempotency-Key header: store: invalid argument: empty idempotency key"},
		{"A body key over 128 bytes.", "/api/v1/rollups", rollups(`"idempotency_key": "` + long + `", `), nil, "idempotency_key: store: invalid argument: idempotency key of 129 bytes"},
		{"A body key with a control character.", "/api/v1/rollups", rollups(`"idempotency_key": "a\tb", `), nil, "idempotency_key: store: invalid argument: idempotency key: byte 1 is 0x09"},
		{"A header and a body key that differ.", "/api/v1/rollups", rollups(`"idempotency_key": "a", `), map[string]string{"Idempotency-Key": "b"}, `Idempotency-Key header \"b\" and idempotency_key \"a\" differ`},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, _, msg := f.send(c.path, c.body, c.header)
			if status != 400 || !strings.Contains(msg, c.want) {
				t.Errorf("%d %s; want 400 saying %s", status, msg, c.want)
			}
		})
	}
	if got := f.eventsCounted(); got != 0 {
		t.Errorf("%d events counted after refused keys, want none stored", got)
	}
}

package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestIdempotentCommitCountsOnce: a retried batch is answered with the
// first commit's results, even when the same batch would now be judged
// differently (its minute has grown late), and neither the store nor the
// tracker counts it twice.
func TestIdempotentCommitCountsOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New(ctx, Config{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(apiSpec)}); err != nil {
		t.Fatal(err)
	}
	m := now.Truncate(time.Minute).Add(-2 * time.Minute)
	batch := func(key string) *Batch {
		return &Batch{Source: "test", Series: map[string]*slo.Series{"api": minute(m, 100, 90)}, Idempotency: &Idempotency{Key: key, Request: []byte("req-" + key)}}
	}
	first, err := e.Commit(ctx, batch("b-1"))
	if err != nil || first["api"] != (AppendResult{Accepted: 1}) {
		t.Fatalf("first commit: %+v, %v", first, err)
	}
	now = now.Add(10 * time.Minute) // the minute is past MaxLag now
	_, err = e.Commit(ctx, batch("b-1"))
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("retry: error %v, want one wrapping store.ErrDuplicate", err)
	}
	rp, err := DuplicateOf(err)
	if err != nil {
		t.Fatal(err)
	}
	if rp.Key != "b-1" || string(rp.Request) != "req-b-1" || !rp.At.Equal(now.Add(-10*time.Minute)) || len(rp.Results) != 1 || rp.Results["api"] != first["api"] {
		t.Errorf("replay %+v, want the first commit's results %+v at its time", rp, first)
	}
	if _, err := DuplicateOf(errors.New("disk full")); err == nil || err.Error() != "disk full" {
		t.Errorf("Replayed of another error: %v, want it back unchanged", err)
	}
	total := func() uint64 {
		t.Helper()
		res, err := e.Summary("api")
		if err != nil {
			t.Fatal(err)
		}
		return res.Events.Total
	}
	if got := total(); got != 100 {
		t.Errorf("tracker counts %d events after the retry, want 100", got)
	}
	// A new key is a new batch: refused as late now, but not a replay.
	res, err := e.Commit(ctx, batch("b-2"))
	if err != nil || res["api"] != (AppendResult{Late: 1}) {
		t.Errorf("a new key: %+v, %v; want the minute refused as late", res, err)
	}
	// An invalid key stores nothing.
	now = now.Add(-10 * time.Minute)
	if _, err := e.Commit(ctx, batch(strings.Repeat("k", 129))); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("a 129-byte key: %v, want ErrInvalid", err)
	}
	if got := total(); got != 100 {
		t.Errorf("tracker counts %d events after an invalid key, want 100", got)
	}
}

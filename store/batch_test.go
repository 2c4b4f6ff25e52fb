package store

import (
	"errors"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

func TestBatch(t *testing.T) {
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	r := func() *slo.Rollup { return &slo.Rollup{Start: start, Attempted: 2, Good: 1, Errors: 1, Measured: true} }
	t.Run("Appends to one quantum merge, and a batch keeps its own copy.", func(t *testing.T) {
		var b Batch
		in := r()
		for range 2 {
			if err := b.Append("checkout", time.Minute, in); err != nil {
				t.Fatal(err)
			}
		}
		in.Attempted = 99
		got := b.Rollups[RollupKey{"checkout", time.Minute, start}]
		if got.Attempted != 4 || got.Good != 2 || b.Empty() {
			t.Errorf("merged %+v, empty %v", got, b.Empty())
		}
	})
	t.Run("Appending to and setting the counts of one quantum in a batch is refused, either way round.", func(t *testing.T) {
		var b Batch
		if err := b.Append("checkout", time.Minute, r()); err != nil {
			t.Fatal(err)
		}
		if err := b.SetCounts("checkout", time.Minute, r()); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetCounts after Append = %v, want ErrInvalid", err)
		}
		b.Reset()
		if err := b.SetCounts("checkout", time.Minute, r()); err != nil {
			t.Fatal(err)
		}
		if err := b.Append("checkout", time.Minute, r()); !errors.Is(err, ErrInvalid) {
			t.Errorf("Append after SetCounts = %v, want ErrInvalid", err)
		}
	})
	t.Run("A key twice in a batch is a duplicate; a bad key or state key is invalid.", func(t *testing.T) {
		var b Batch
		id := Idempotency{Key: "k1", At: time.Unix(0, start)}
		if err := b.Idempotent(id); err != nil {
			t.Fatal(err)
		}
		var dup *DuplicateError
		if err := b.Idempotent(id); !errors.As(err, &dup) || dup.Key != "k1" {
			t.Errorf("second Idempotent = %v, want a *DuplicateError", err)
		}
		if err := b.Idempotent(Idempotency{Key: "bad\nkey", At: time.Unix(0, start)}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Idempotent with a newline = %v, want ErrInvalid", err)
		}
		if err := b.SetState("", nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetState with an empty key = %v, want ErrInvalid", err)
		}
	})
	t.Run("Keys sort by SLI, quantum and start.", func(t *testing.T) {
		m := map[RollupKey]*slo.Rollup{{"b", time.Minute, 0}: nil, {"a", time.Hour, 0}: nil, {"a", time.Minute, 60}: nil, {"a", time.Minute, 0}: nil}
		got := SortedKeys(m)
		want := []RollupKey{{"a", time.Minute, 0}, {"a", time.Minute, 60}, {"a", time.Hour, 0}, {"b", time.Minute, 0}}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("SortedKeys = %v, want %v", got, want)
			}
		}
	})
}

package store

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nines-sre/nines/slo"
)

// RollupKey names the quantum of one series: an SLI at one quantum size.
type RollupKey struct {
	SLI     string
	Quantum time.Duration
	Start   int64
}

// Compare orders keys by SLI, quantum and start: the order a backend
// writes a batch in, which keeps its index visits local.
func (k RollupKey) Compare(o RollupKey) int {
	return cmp.Or(cmp.Compare(k.SLI, o.SLI), cmp.Compare(k.Quantum, o.Quantum), cmp.Compare(k.Start, o.Start))
}

// Batch is the in-memory half of an Appender, which backends share: it
// checks what a batch is given as the Appender's methods document, and
// merges it, so that Commit writes each quantum once however many sources
// fed it. Its errors name the operation ("append: …"); a backend wraps
// them with its own name. The zero Batch is empty and ready.
type Batch struct {
	Rollups map[RollupKey]*slo.Rollup // Append: merged rollups
	Counts  map[RollupKey]*slo.Rollup // SetCounts: the verdicts to write
	State   map[string][]byte
	Stats   map[IngestKey]int64
	Keys    map[string]Idempotency
}

// Append implements Appender.Append's checks and merge.
func (b *Batch) Append(sli string, quantum time.Duration, r *slo.Rollup) error {
	if err := CheckRollup(sli, quantum, r); err != nil {
		return fmt.Errorf("append: %w", err)
	}
	k := RollupKey{sli, quantum, r.Start}
	if _, ok := b.Counts[k]; ok {
		return fmt.Errorf("append %s@%d: %w: the batch sets this quantum's counts already; commit it first", sli, r.Start, ErrInvalid)
	}
	if b.Rollups == nil {
		b.Rollups = make(map[RollupKey]*slo.Rollup)
	}
	dst := b.Rollups[k]
	if dst == nil {
		dst = &slo.Rollup{Start: r.Start}
		b.Rollups[k] = dst
	}
	if err := dst.Merge(r); err != nil {
		return fmt.Errorf("append %s: %w: %w", sli, ErrInvalid, err)
	}
	return nil
}

// SetCounts implements Appender.SetCounts' checks; only the counts of r
// are kept.
func (b *Batch) SetCounts(sli string, quantum time.Duration, r *slo.Rollup) error {
	if err := CheckCounts(sli, quantum, r); err != nil {
		return fmt.Errorf("set counts: %w", err)
	}
	k := RollupKey{sli, quantum, r.Start}
	if _, ok := b.Rollups[k]; ok {
		return fmt.Errorf("set counts %s@%d: %w: the batch appends to this quantum already; commit it first", sli, r.Start, ErrInvalid)
	}
	if b.Counts == nil {
		b.Counts = make(map[RollupKey]*slo.Rollup)
	}
	b.Counts[k] = CountsOf(r)
	return nil
}

// SetState implements Appender.SetState: value is copied.
func (b *Batch) SetState(key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("set state: %w: empty key", ErrInvalid)
	}
	if b.State == nil {
		b.State = make(map[string][]byte)
	}
	b.State[key] = append([]byte{}, value...)
	return nil
}

// AddIngestStats implements Appender.AddIngestStats.
func (b *Batch) AddIngestStats(source, reason string, n int64) {
	if b.Stats == nil {
		b.Stats = make(map[IngestKey]int64)
	}
	b.Stats[IngestKey{Source: source, Reason: reason}] += n
}

// Idempotent implements Appender.Idempotent's checks: id is copied.
func (b *Batch) Idempotent(id Idempotency) error {
	if err := CheckIdempotencyKey(id.Key); err != nil {
		return fmt.Errorf("idempotent: %w", err)
	}
	if err := CheckTime("idempotency key time", id.At); err != nil {
		return fmt.Errorf("idempotent %q: %w", id.Key, err)
	}
	if first, ok := b.Keys[id.Key]; ok {
		return fmt.Errorf("idempotent: twice in one batch: %w", &DuplicateError{Idempotency: first})
	}
	if b.Keys == nil {
		b.Keys = make(map[string]Idempotency)
	}
	id.Request = append([]byte{}, id.Request...)
	id.Reply = append([]byte{}, id.Reply...)
	b.Keys[id.Key] = id
	return nil
}

// Empty reports whether the batch holds nothing to write.
func (b *Batch) Empty() bool {
	return len(b.Rollups) == 0 && len(b.Counts) == 0 && len(b.State) == 0 && len(b.Stats) == 0 && len(b.Keys) == 0
}

// Reset drops everything the batch holds.
func (b *Batch) Reset() { *b = Batch{} }

// SortedKeys returns the keys of m in RollupKey.Compare order.
func SortedKeys(m map[RollupKey]*slo.Rollup) []RollupKey {
	return slices.SortedFunc(maps.Keys(m), RollupKey.Compare)
}

// Package store is where nines keeps what must outlive a process: the
// per-quantum rollups of every SLI, the SLO definitions, and the little
// state ingestion needs across restarts. Evaluation, alerting and the UI
// only ever read rollups, so the store is the seam between the write path
// (ingest → Appender) and the read path (Querier → slo).
//
// The interfaces are small and split by direction, after Prometheus'
// storage package: take the narrowest one that does the job. store/sqlite
// implements them for one process on one disk, store/postgres in a
// PostgreSQL database, and store/storetest is the contract both pass.
//
// Times are Unix nanoseconds (int64) wherever a rollup's quantum is
// concerned, as in slo.Rollup.Start, and time.Time only for bookkeeping.
// Nothing here calls time.Now: callers pass the time in.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
)

// Sentinel errors. Backends wrap them with context, so test with errors.Is.
var (
	// ErrNotFound is returned for an SLO or state key that is not stored.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by every method (and iterator) used after the
	// Store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrAppenderDone is returned by an Appender used after Commit or
	// Rollback.
	ErrAppenderDone = errors.New("store: appender already committed or rolled back")
	// ErrConflict is returned by a Commit whose SetCounts judged events
	// the stored rollup no longer holds exactly: its Attempted or its
	// statuses' counts changed since it was read (a late append). Read the
	// rollup again and judge it again.
	ErrConflict = errors.New("store: the stored rollup changed since it was read")
	// ErrInvalid is returned for arguments no backend could store: an empty
	// SLI name, a quantum that is not positive, a rollup start that is not
	// on a quantum boundary, an empty key or name, a time outside the range
	// nines stores (ErrTimeRange), counts that would overflow
	// (ErrOverflow). Servers map it to 400.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnavailable is returned when the store cannot take or give data
	// for now, though the request was fine: an I/O error (a failed write
	// or fsync), a lock another process held past the busy timeout, no
	// memory. Nothing of the failed write was stored, and the same write
	// may succeed once the fault clears. Servers map it to 503 with
	// Retry-After.
	ErrUnavailable = errors.New("store: unavailable")
	// ErrFull is returned when a write failed for lack of space: the disk
	// or the database's size limit is full. Nothing of the write was
	// stored; it may succeed once space is freed. Servers map it to 507.
	ErrFull = errors.New("store: no space left")
)

// Failing reports whether err says the store itself is failing
// (ErrUnavailable, ErrFull) rather than refusing what it was given: the
// same write may succeed later, as it is.
func Failing(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrFull)
}

// Appendable hands out Appenders. It is safe for concurrent use.
type Appendable interface {
	// Appender starts a batch of writes. ctx bounds the whole batch:
	// Commit fails once ctx is done.
	Appender(ctx context.Context) Appender
}

// Appender collects writes in memory and applies them all or none at
// Commit, in one transaction: 10,000 appends cost one transaction, and a
// crash never leaves half a batch behind. Everything a batch changes
// becomes visible to readers at once.
//
// An Appender is not safe for concurrent use; give each goroutine its own.
// It is finished by Commit or Rollback and never reused: every later call
// returns ErrAppenderDone. Appenders of one Store may run and commit
// concurrently; commits are serialised.
type Appender interface {
	// Append merges r into the rollup stored for (sli, quantum, r.Start),
	// or stores it if there is none: counts add and histograms merge
	// exactly (slo.Rollup.Merge), so late samples update their quantum and
	// several sources may feed one SLI. Rollups appended twice to one batch
	// merge too. r.Start must be on a quantum boundary (slo.QuantumStart)
	// and in the range of times nines stores (CheckTimeNs).
	// r is copied; the caller may reuse it when Append returns.
	//
	// A count of one quantum never passes 2^64−1: an Append that would
	// take the batch's rollup of a quantum past it fails at once, and a
	// batch that would take the stored rollup past it fails at Commit,
	// storing nothing; both errors wrap ErrInvalid and ErrOverflow.
	//
	// r.Statuses merge by code (slo.Rollup.Merge) and must pass
	// slo.Rollup.CheckStatuses. A quantum whose histograms were compacted
	// keeps the statuses' counts and drops their histograms, late ones
	// too.
	Append(sli string, quantum time.Duration, r *slo.Rollup) error
	// SetCounts replaces, at Commit, the verdicts of the rollup stored for
	// (sli, quantum, r.Start) with r's: Good, Errors, Slow, OverThreshold
	// and the Over of each status. Everything that describes the events
	// stays as stored: Attempted, Measured, the statuses' Count and Timed,
	// every histogram. This is what re-judging an edited SLI writes
	// (slo.SLI.Rejudge).
	//
	// r must describe the stored events: the same Attempted and the same
	// statuses with the same counts, or Commit fails with ErrConflict; a
	// quantum with no stored rollup fails it with ErrNotFound. Either way
	// nothing of the batch is stored. Verdicts that cannot describe r's
	// events (more than Attempted, an Over above Timed) are refused with
	// ErrInvalid at once, as is a SetCounts and an Append of one quantum
	// in one batch: which should come first is not clear. r is copied.
	SetCounts(sli string, quantum time.Duration, r *slo.Rollup) error
	// SetState stores value under key at Commit, so collector state (the
	// last counter value of a series) commits atomically with the rollups
	// derived from it: after a crash, either both are there or neither,
	// and a counter increase is never counted twice or lost. value is
	// copied.
	SetState(key string, value []byte) error
	// AddIngestStats adds n to the counter of (source, reason) at Commit.
	AddIngestStats(source, reason string, n int64) error
	// Idempotent makes the batch conditional on id.Key (see Idempotency):
	// Commit stores the batch with id if no batch with that key was
	// committed, and otherwise stores nothing and fails with a
	// *DuplicateError holding what was stored with the key. The key is
	// checked and stored in the batch's own transaction, so of two
	// batches with one key committing at once exactly one is stored, and
	// a crash never keeps the key without the batch or the batch without
	// the key. A batch may carry several keys, all of which must be new;
	// the same key twice in one batch fails here with a *DuplicateError.
	// A key is remembered until Compact forgets it
	// (Retention.IdempotencyKeys). An invalid key (CheckIdempotencyKey)
	// or an id.At outside the range of times nines stores (CheckTime) is
	// refused with ErrInvalid. id is copied.
	Idempotent(id Idempotency) error
	// Commit applies the batch durably: once it returns nil the batch
	// survives a crash of the process. On error nothing of the batch is
	// stored.
	Commit() error
	// Rollback drops the batch. Nothing of it was ever visible.
	Rollback() error
}

// Querier reads rollups. It is safe for concurrent use.
type Querier interface {
	// Rollups returns the rollups of (sli, quantum) whose Start is in the
	// half-open range [from, to), Unix nanoseconds, ascending by Start.
	// Quanta without a rollup were not measured and are absent. The range
	// is read as one consistent snapshot.
	//
	// Rollups older than the retention's Full horizon (see Compact) come
	// back with their counts and empty Latency histograms, their own and
	// their statuses': their latencies live on in HourlyHistograms, and
	// their statuses keep Count, Timed and Over.
	Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) RollupIterator
	// HourlyHistograms returns, for every hour H in [from, to) that has
	// latencies, the merge of the Latency histograms of all quanta of
	// (sli, quantum) starting in [H, H+1h), ascending by H. It is exact
	// whether those quanta were compacted yet or not (and during a Compact),
	// so it is the way to ask for latency over ranges longer than the Full
	// retention. Align from and to on hours for exact windows; quanta that
	// straddle an hour count in the hour they start in.
	HourlyHistograms(ctx context.Context, sli string, quantum time.Duration, from, to int64) HistogramIterator
}

// RollupIterator walks rollups in ascending Start order.
//
// An iterator belongs to one goroutine. It holds a read snapshot (and, in
// SQLite, keeps the write-ahead log from being checkpointed past it) until
// Next returns false or Close is called: do not keep one open across slow
// work.
type RollupIterator interface {
	// Next advances to the next rollup and reports whether there is one.
	Next() bool
	// At returns the current rollup. It is valid until the next call of
	// Next or Close; the iterator reuses it (including its histograms' and
	// its statuses' storage), so copy what you keep (slo.Rollup.CopyTo).
	At() *slo.Rollup
	// Err returns the error that ended the iteration, if any. It wraps
	// ctx.Err() when the context ended it and ErrClosed when the Store did.
	Err() error
	// Close releases the iterator. It may be called more than once, and
	// after Next returned false.
	Close() error
}

// HistogramIterator walks hourly histograms in ascending order of hour.
// Its lifetime rules are those of RollupIterator.
type HistogramIterator interface {
	Next() bool
	// At returns the hour's start (Unix ns) and its merged histogram, valid
	// until the next call of Next or Close.
	At() (start int64, h *hist.Histogram)
	Err() error
	Close() error
}

// SLODef is a stored SLO definition: the spec document as the user wrote
// it. Parsing it is the spec package's business, not the store's.
type SLODef struct {
	Name    string
	Def     []byte
	Updated time.Time
}

// SLOs keeps SLO definitions by name. It is safe for concurrent use.
type SLOs interface {
	// PutSLO creates or replaces the definition called name. updated
	// must be in the range of times nines stores (CheckTime), or the
	// error wraps ErrInvalid.
	PutSLO(ctx context.Context, name string, def []byte, updated time.Time) error
	// GetSLO returns the definition called name, or an error wrapping
	// ErrNotFound.
	GetSLO(ctx context.Context, name string) (SLODef, error)
	// ListSLOs returns every definition, sorted by name.
	ListSLOs(ctx context.Context) ([]SLODef, error)
	// DeleteSLO removes the definition called name, or returns an error
	// wrapping ErrNotFound. Rollups are kept: they belong to SLIs, which
	// other SLOs may share.
	DeleteSLO(ctx context.Context, name string) error
}

// IngestKey names a counter of ingestion bookkeeping: where samples came
// from and why they were not folded into a rollup ("late", "invalid", …).
type IngestKey struct {
	Source, Reason string
}

// State is the bookkeeping ingestion needs across restarts: a key-value
// map of opaque values (last counter values per series, cursors) and
// counters of rejected or late samples. It is safe for concurrent use.
// Use Appender.SetState to change state atomically with rollups.
type State interface {
	// PutState stores value under key, replacing any value.
	PutState(ctx context.Context, key string, value []byte) error
	// GetState returns the value of key, or an error wrapping ErrNotFound.
	GetState(ctx context.Context, key string) ([]byte, error)
	// RangeState calls fn for every key starting with prefix, in ascending
	// byte order, and stops at the first error fn returns, returning it.
	// fn may keep value; it must not write to the Store (the iteration
	// holds a read snapshot).
	RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
	// DeleteStatePrefix deletes every key starting with prefix ("" deletes
	// all) and returns how many there were.
	DeleteStatePrefix(ctx context.Context, prefix string) (int64, error)
	// AddIngestStats adds n to the counter of (source, reason).
	AddIngestStats(ctx context.Context, source, reason string, n int64) error
	// IngestStats returns every counter.
	IngestStats(ctx context.Context) (map[IngestKey]int64, error)
}

// Annotation marks a moment that explains a change in an SLO: a deploy, a
// configuration push, a feature flag, so a burn can be traced to its
// cause. It applies to one SLO when SLO is set, to every SLO of a service
// when only Service is set, and to every SLO when neither is.
type Annotation struct {
	ID  int64
	At  time.Time
	SLO string
	// Service is the service it applies to; empty with SLO set means the
	// SLO alone.
	Service string
	// Kind classifies it ("deploy", "config", "flag", "note", …).
	Kind  string
	Title string
	Text  string
	// URL links to the change (a pipeline run, a commit, a ticket).
	URL    string
	Labels map[string]string
}

// AnnotationQuery selects annotations with From <= At < To; a bound
// outside the range of times nines stores (the zero time, say) selects
// everything on its side. A set SLO or
// Service also admits the annotations that apply more widely: an SLO's
// query sees its own annotations, its service's and the global ones.
type AnnotationQuery struct {
	From, To     time.Time
	SLO, Service string
	// Limit caps the answer to the newest Limit annotations (0: no cap).
	Limit int
}

// Annotations keeps annotations. It is safe for concurrent use.
type Annotations interface {
	// AddAnnotation stores a (its ID is ignored) and returns its new ID.
	// At must be in the range of times nines stores (CheckTime: the zero
	// time is refused too) and Kind and Title non-empty, or the error
	// wraps ErrInvalid.
	AddAnnotation(ctx context.Context, a Annotation) (int64, error)
	// Annotations returns the annotations q selects, oldest first.
	Annotations(ctx context.Context, q AnnotationQuery) ([]Annotation, error)
	// DeleteAnnotation removes one, or returns an error wrapping
	// ErrNotFound.
	DeleteAnnotation(ctx context.Context, id int64) error
}

// Compactor applies retention.
type Compactor interface {
	// Compact enforces p as of now (see Retention) and returns what it did:
	// old histograms move to their hours, rollups and hours past their
	// horizons go, and idempotency keys older than p.IdempotencyKeys are
	// forgotten.
	//
	// It works in batches of one transaction each, so readers and writers
	// are held up for one batch at most and a crash loses at most the batch
	// in progress, which the next Compact redoes. It is idempotent: a
	// second call with the same arguments changes nothing. Appends that
	// race with it are never lost: an Append to a quantum whose histogram
	// was already moved merges its histogram into the hourly one.
	Compact(ctx context.Context, now time.Time, p Retention) (CompactStats, error)
}

// Store is everything nines keeps. It is safe for concurrent use.
type Store interface {
	Appendable
	Querier
	SLOs
	State
	Annotations
	Compactor
	// Size returns the bytes the store occupies on disk (or in its
	// database), including logs not yet folded into the main file.
	Size(ctx context.Context) (int64, error)
	// Close waits for running writes, ends open iterators (their Err
	// becomes ErrClosed) and releases the store. Every later call returns
	// ErrClosed; a second Close returns nil.
	Close() error
}

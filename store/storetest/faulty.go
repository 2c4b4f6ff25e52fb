package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nines-sre/nines/store"
)

// Faults a store.Store can fail writes with, worded as the SQLite store
// words them and wrapping the sentinels it classifies them as.
var (
	// FaultIO is an fsync that failed with EIO.
	FaultIO = fmt.Errorf("sqlite: commit: %w: disk I/O error (SQLITE_IOERR_FSYNC)", store.ErrUnavailable)
	// FaultFull is a full disk.
	FaultFull = fmt.Errorf("sqlite: commit: %w: database or disk is full (SQLITE_FULL)", store.ErrFull)
	// FaultBusy is a lock another process held past the busy timeout.
	FaultBusy = fmt.Errorf("sqlite: commit: %w: database is locked (SQLITE_BUSY)", store.ErrUnavailable)
)

// Faulty wraps a store.Store and fails every write with a fault while one
// is set, as a failing disk would: the write stores nothing. An
// Appender's writes collect in memory and fail at Commit, as SQLite's
// do. Reads pass through. It is safe for concurrent use.
type Faulty struct {
	store.Store

	mu     sync.Mutex
	fault  error
	failed int
	// deletes fails DeleteStatePrefix alone.
	deletes error
	// hold, when set, is how long a failing commit waits before failing,
	// as one does that waits out a busy timeout.
	hold time.Duration
}

// NewFaulty wraps s.
func NewFaulty(s store.Store) *Faulty { return &Faulty{Store: s} }

// Fail makes every write fail with err from now on, each after waiting
// hold; nil ends the fault.
func (f *Faulty) Fail(err error, hold time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault, f.hold = err, hold
}

// FailDeletes makes DeleteStatePrefix alone fail with err from now on
// (nil ends it): a process that dies between two writes leaves what the
// first wrote and the second would have deleted.
func (f *Faulty) FailDeletes(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = err
}

// Failed is the number of writes failed so far.
func (f *Faulty) Failed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// check returns the fault, if one is set, after its hold.
func (f *Faulty) check(ctx context.Context) error {
	f.mu.Lock()
	err, hold := f.fault, f.hold
	if err != nil {
		f.failed++
	}
	f.mu.Unlock()
	if err == nil {
		return nil
	}
	if hold > 0 {
		select {
		case <-time.After(hold):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// Appender implements store.Appendable: its Commit fails while a fault is
// set, storing nothing.
func (f *Faulty) Appender(ctx context.Context) store.Appender {
	return &faultyAppender{Appender: f.Store.Appender(ctx), f: f, ctx: ctx}
}

type faultyAppender struct {
	store.Appender
	f   *Faulty
	ctx context.Context
}

func (a *faultyAppender) Commit() error {
	if err := a.f.check(a.ctx); err != nil {
		return errors.Join(err, a.Appender.Rollback())
	}
	return a.Appender.Commit()
}

// PutSLO implements store.SLOs.
func (f *Faulty) PutSLO(ctx context.Context, name string, def []byte, updated time.Time) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.PutSLO(ctx, name, def, updated)
}

// DeleteSLO implements store.SLOs.
func (f *Faulty) DeleteSLO(ctx context.Context, name string) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.DeleteSLO(ctx, name)
}

// PutState implements store.State.
func (f *Faulty) PutState(ctx context.Context, key string, value []byte) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.PutState(ctx, key, value)
}

// DeleteStatePrefix implements store.State.
func (f *Faulty) DeleteStatePrefix(ctx context.Context, prefix string) (int64, error) {
	f.mu.Lock()
	err := f.deletes
	f.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.Store.DeleteStatePrefix(ctx, prefix)
}

// AddIngestStats implements store.State.
func (f *Faulty) AddIngestStats(ctx context.Context, source, reason string, n int64) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.AddIngestStats(ctx, source, reason, n)
}

// AddAnnotation implements store.Annotations.
func (f *Faulty) AddAnnotation(ctx context.Context, a store.Annotation) (int64, error) {
	if err := f.check(ctx); err != nil {
		return 0, err
	}
	return f.Store.AddAnnotation(ctx, a)
}

// DeleteAnnotation implements store.Annotations.
func (f *Faulty) DeleteAnnotation(ctx context.Context, id int64) error {
	if err := f.check(ctx); err != nil {
		return err
	}
	return f.Store.DeleteAnnotation(ctx, id)
}

// Compact implements store.Compactor.
func (f *Faulty) Compact(ctx context.Context, now time.Time, p store.Retention) (store.CompactStats, error) {
	if err := f.check(ctx); err != nil {
		return store.CompactStats{}, err
	}
	return f.Store.Compact(ctx, now, p)
}

var _ store.Store = (*Faulty)(nil)

package engine

import (
	"fmt"
	"sync"
	"time"

	"github.com/nines-sre/nines/store"
)

// storeHealth remembers whether the store's last commit failed for a
// reason of its own (a failing disk, a full one, a lock held too long:
// store.Failing). While it does, one write at a time goes to the store to
// find out whether the fault cleared, and the others are refused at once
// with the same error, rather than each waiting out a busy timeout or
// piling up in memory. Nothing is held in memory for a refused write: its
// sender retries it.
type storeHealth struct {
	mu      sync.Mutex
	err     error     // the last failure; nil once a commit succeeded
	since   time.Time // when the store began failing
	probing bool      // a write is under way to find out
	// readSince is when reads began failing (readFailed), readLast the
	// latest failure: a failure older than staleReadFor no longer makes
	// answers stale, for no read may have come since to find the store
	// well again.
	readSince, readLast time.Time
}

// staleReadFor is how long a failed read marks answers stale.
const staleReadFor = 10 * time.Second

// admit says whether a commit may go to the store: nil, with probe set
// when it is the one that finds out whether a failure cleared, or the
// error to refuse it with.
func (h *storeHealth) admit() (probe bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.err == nil:
		return false, nil
	case h.probing:
		return false, fmt.Errorf("the store has been failing since %s; try again later: %w",
			h.since.UTC().Format(time.RFC3339), h.err)
	}
	h.probing = true
	return true, nil
}

// done records how a commit admitted by admit ended. Errors that are not
// the store's own (bad input, a conflict, a cancelled request) say
// nothing of its health.
func (h *storeHealth) done(probe bool, err error, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if probe {
		h.probing = false
	}
	switch {
	case err == nil:
		h.err = nil
	case store.Failing(err):
		if h.err == nil {
			h.since = now
		}
		h.err = err
	}
}

// abandon records that a commit admitted by admit never reached the
// store.
func (h *storeHealth) abandon(probe bool) {
	if probe {
		h.mu.Lock()
		h.probing = false
		h.mu.Unlock()
	}
}

// failing returns the store's last failure, or nil when its last commit
// succeeded.
func (h *storeHealth) failing() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.err
}

// readFailed records since when the store has failed reads that an
// answer fell back on memory for (Status); zero while reads succeed.
func (h *storeHealth) readFailed(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.readSince.IsZero() {
		h.readSince = now
	}
	h.readLast = now
}

func (h *storeHealth) readOK() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.readSince = time.Time{}
}

// staleSince is the earlier of the times since when the store has failed
// writes and reads, and false while it fails neither.
func (h *storeHealth) staleSince(now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var since time.Time
	if h.err != nil {
		since = h.since
	}
	if now.Sub(h.readLast) >= staleReadFor {
		h.readSince = time.Time{}
	}
	if !h.readSince.IsZero() && (since.IsZero() || h.readSince.Before(since)) {
		since = h.readSince
	}
	return since, !since.IsZero()
}

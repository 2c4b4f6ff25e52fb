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
}

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

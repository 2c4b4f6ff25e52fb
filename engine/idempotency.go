package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nines-sre/nines/store"
)

// Idempotency names a batch that must count once (store.Idempotency): a
// Commit with a key committed before stores nothing, folds nothing into
// the trackers, and fails with an error DuplicateOf reads.
type Idempotency struct {
	// Key is the sender's name for the batch (store.CheckIdempotencyKey).
	Key string
	// Request fingerprints what the batch was made from, kept with the key
	// so that a retry can be told from a new request reusing it.
	Request []byte
}

// Duplicate is what a batch whose key was committed before is told: what the
// first commit of the key stored and answered.
type Duplicate struct {
	Key string
	// At is when the key was first committed, by the engine's clock.
	At time.Time
	// Request is the first commit's fingerprint.
	Request []byte
	// Results are what the first commit returned.
	Results map[string]AppendResult
}

// resultWire is an AppendResult as kept with an idempotency key.
type resultWire struct {
	Accepted int `json:"accepted"`
	Late     int `json:"late"`
	Future   int `json:"future"`
}

// idempotent makes app's batch conditional on id, keeping results as the
// answer a retry gets.
func idempotent(app store.Appender, id *Idempotency, results map[string]AppendResult, now time.Time) error {
	if id == nil {
		return nil
	}
	wire := make(map[string]resultWire, len(results))
	for name, r := range results {
		wire[name] = resultWire(r)
	}
	reply, err := json.Marshal(wire)
	if err != nil {
		return fmt.Errorf("idempotency key %q: %w", id.Key, err)
	}
	return app.Idempotent(store.Idempotency{Key: id.Key, Request: id.Request, Reply: reply, At: now})
}

// DuplicateOf reads the error of a Commit whose idempotency key was
// committed before: it returns what that first commit stored. Any other
// error comes back as it is, with a nil Duplicate.
func DuplicateOf(err error) (*Duplicate, error) {
	var dup *store.DuplicateError
	if !errors.As(err, &dup) {
		return nil, err
	}
	var wire map[string]resultWire
	if err := json.Unmarshal(dup.Reply, &wire); err != nil {
		return nil, fmt.Errorf("idempotency key %q: the stored answer of its first commit: %w", dup.Key, err)
	}
	rp := &Duplicate{Key: dup.Key, At: dup.At, Request: dup.Request, Results: make(map[string]AppendResult, len(wire))}
	for name, r := range wire {
		rp.Results[name] = AppendResult(r)
	}
	return rp, nil
}

package store

import (
	"errors"
	"fmt"
	"time"
)

// ErrDuplicate is wrapped by *DuplicateError: a batch's idempotency key
// was committed before, so the batch was not stored again.
var ErrDuplicate = errors.New("store: idempotency key already committed")

// MaxIdempotencyKey is the longest idempotency key, in bytes: room for a
// UUID or a hash with a prefix, and small enough that a day of keys costs
// little.
const MaxIdempotencyKey = 128

// DefaultIdempotencyKeys is how long keys are remembered by default: a
// sender retrying across a long outage of either side, or a night's
// queue drained in the morning, is still recognised.
const DefaultIdempotencyKeys = 24 * time.Hour

// Idempotency names a batch that must be stored at most once. A sender
// that retries (its answer was lost, it timed out, either side
// restarted) sends the same Key again, and is told what the first
// attempt got instead of being counted twice.
type Idempotency struct {
	// Key is the sender's name for the batch (see CheckIdempotencyKey).
	Key string
	// Request fingerprints what the batch was made from (a hash of the
	// request), so that a caller can tell a retry from a new request that
	// reused the key. The store keeps it and never reads it.
	Request []byte
	// Reply is what the first batch answered, returned to retries. The
	// store keeps it and never reads it.
	Reply []byte
	// At is when the key was committed, by the caller's clock: Compact
	// forgets keys older than Retention.IdempotencyKeys.
	At time.Time
}

// DuplicateError says that a batch's key was committed before. It holds
// what was stored with the key then.
type DuplicateError struct {
	Idempotency
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("store: idempotency key %q already committed at %s", e.Key, e.At.UTC().Format(time.RFC3339Nano))
}

// Unwrap makes errors.Is(err, ErrDuplicate) hold.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// CheckIdempotencyKey returns an ErrInvalid error unless key can name a
// batch: 1 to MaxIdempotencyKey bytes of printable ASCII (space to
// tilde), the characters an HTTP header carries unchanged through every
// proxy.
func CheckIdempotencyKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty idempotency key", ErrInvalid)
	case len(key) > MaxIdempotencyKey:
		return fmt.Errorf("%w: idempotency key of %d bytes; at most %d", ErrInvalid, len(key), MaxIdempotencyKey)
	}
	for i := range len(key) {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return fmt.Errorf("%w: idempotency key: byte %d is %#02x; use printable ASCII (a UUID, a hash)", ErrInvalid, i, c)
		}
	}
	return nil
}

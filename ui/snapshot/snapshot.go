// Package snapshot keeps the web UI's frozen pages: an SLO page rendered
// once for a fixed range, kept under a permanent link for a postmortem.
// Snapshots live in the store's key-value state under ui/snapshot/<id>;
// a Shelf counts them in memory, so that the cap on how many are kept
// holds exactly under concurrent freezes and costs nothing to check.
package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/store"
)

// Prefix is where snapshots live in the store's state.
const Prefix = "ui/snapshot/"

// MaxLimit bounds the cap a Shelf accepts. A snapshot is about 100 KB and
// its entry in the index a few hundred bytes, so 100,000 snapshots are
// about 10 GB on disk and tens of MB in memory.
const MaxLimit = 100_000

// DefaultMax is the cap nines serve uses unless told otherwise.
const DefaultMax = 2000

// ErrFull is returned by Put when the shelf holds its cap.
var ErrFull = errors.New("snapshot: the cap on kept snapshots is reached")

// Meta says what a frozen page shows.
type Meta struct {
	ID    string    `json:"id"`
	SLO   string    `json:"slo"`
	Taken time.Time `json:"taken"`
	From  time.Time `json:"from"`
	To    time.Time `json:"to"`
	// Live is the link to the same range of the live page.
	Live string `json:"live"`
}

// Doc is what the store keeps: the page's content as rendered when
// frozen. Keeping the rendered charts rather than the rollups means a
// postmortem link shows exactly what the author saw, even after retention
// has compacted the quanta or the SLO was changed.
type Doc struct {
	Meta Meta   `json:"meta"`
	Body string `json:"body"`
}

// State is the part of the store a Shelf uses.
type State interface {
	PutState(ctx context.Context, key string, value []byte) error
	GetState(ctx context.Context, key string) ([]byte, error)
	RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
	DeleteStatePrefix(ctx context.Context, prefix string) (int64, error)
}

// Shelf stores, lists and deletes snapshots, at most Max of them. It is
// safe for concurrent use. The count is kept by the Shelf, so two
// processes sharing one store each hold their own cap.
type Shelf struct {
	st  State
	max int

	mu sync.Mutex
	// index holds every stored snapshot's Meta, read from the store at
	// first use; nil until then.
	index map[string]Meta
}

// New returns a Shelf keeping at most max snapshots in st; max 0 turns
// freezing off (Put always fails with ErrFull), and it must not exceed
// MaxLimit.
func New(st State, max int) (*Shelf, error) {
	if st == nil {
		return nil, errors.New("snapshot: a store is required")
	}
	if max < 0 || max > MaxLimit {
		return nil, fmt.Errorf("snapshot: a cap of %d snapshots: want 0 (no snapshots) to %d", max, MaxLimit)
	}
	return &Shelf{st: st, max: max}, nil
}

// Max is the cap.
func (s *Shelf) Max() int { return s.max }

// ValidID reports whether id has the form of a snapshot's ID: 16 lower-case
// hex digits.
func ValidID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// loadLocked reads the index from the store once. A snapshot that does
// not decode still counts, under its key, so that it can be listed and
// deleted.
func (s *Shelf) loadLocked(ctx context.Context) error {
	if s.index != nil {
		return nil
	}
	index := map[string]Meta{}
	err := s.st.RangeState(ctx, Prefix, func(key string, value []byte) error {
		id := strings.TrimPrefix(key, Prefix)
		var d struct {
			Meta Meta `json:"meta"`
		}
		if json.Unmarshal(value, &d) != nil || d.Meta.ID != id {
			d.Meta = Meta{ID: id}
		}
		index[id] = d.Meta
		return nil
	})
	if err != nil {
		return fmt.Errorf("snapshot: reading the stored snapshots: %w", err)
	}
	s.index = index
	return nil
}

// Put stores a snapshot of body described by m and returns m with its ID,
// which is derived from the content: freezing the same page twice keeps
// one snapshot. It fails with ErrFull when the shelf holds Max snapshots;
// the check and the write are one step, so concurrent freezes never go
// past the cap.
func (s *Shelf) Put(ctx context.Context, m Meta, body string) (Meta, error) {
	sum := sha256.Sum256([]byte(m.SLO + "\x00" + m.Taken.UTC().Format(time.RFC3339Nano) + "\x00" + body))
	m.ID = hex.EncodeToString(sum[:8])
	doc, err := json.Marshal(Doc{Meta: m, Body: body})
	if err != nil {
		return Meta{}, fmt.Errorf("snapshot: encoding: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(ctx); err != nil {
		return Meta{}, err
	}
	if _, again := s.index[m.ID]; !again && len(s.index) >= s.max {
		return Meta{}, fmt.Errorf("%w (%d of %d)", ErrFull, len(s.index), s.max)
	}
	if err := s.st.PutState(ctx, Prefix+m.ID, doc); err != nil {
		return Meta{}, fmt.Errorf("snapshot: storing %s: %w", m.ID, err)
	}
	s.index[m.ID] = m
	return m, nil
}

// Get returns the snapshot id, or an error wrapping store.ErrNotFound.
func (s *Shelf) Get(ctx context.Context, id string) (Doc, error) {
	if !ValidID(id) {
		return Doc{}, fmt.Errorf("snapshot %q: %w", id, store.ErrNotFound)
	}
	raw, err := s.st.GetState(ctx, Prefix+id)
	if err != nil {
		return Doc{}, fmt.Errorf("snapshot %s: %w", id, err)
	}
	var d Doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return Doc{}, fmt.Errorf("snapshot %s: decoding: %w", id, err)
	}
	return d, nil
}

// List returns every snapshot's Meta, the most recently frozen first.
func (s *Shelf) List(ctx context.Context) ([]Meta, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(ctx); err != nil {
		return nil, err
	}
	out := make([]Meta, 0, len(s.index))
	for _, m := range s.index {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Meta) int {
		if c := b.Taken.Compare(a.Taken); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Delete removes the snapshot id, or fails with an error wrapping
// store.ErrNotFound.
func (s *Shelf) Delete(ctx context.Context, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("snapshot %q: %w", id, store.ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(ctx); err != nil {
		return err
	}
	// The key is exact: IDs have one length, so no other snapshot's key
	// starts with this one.
	n, err := s.st.DeleteStatePrefix(ctx, Prefix+id)
	if err != nil {
		return fmt.Errorf("snapshot: deleting %s: %w", id, err)
	}
	delete(s.index, id)
	if n == 0 {
		return fmt.Errorf("snapshot %s: %w", id, store.ErrNotFound)
	}
	return nil
}

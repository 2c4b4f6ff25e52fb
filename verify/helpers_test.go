package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/verify/blobtest"
)

// memState is State in a map, as store.State behaves.
type memState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemState() *memState { return &memState{m: map[string][]byte{}} }

func (s *memState) PutState(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = append([]byte(nil), v...)
	return nil
}

func (s *memState) GetState(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return nil, fmt.Errorf("state %q: %w", k, store.ErrNotFound)
	}
	return v, nil
}

func (s *memState) RangeState(_ context.Context, prefix string, fn func(string, []byte) error) error {
	s.mu.Lock()
	var keys []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	vals := make([][]byte, len(keys))
	for i, k := range keys {
		vals[i] = s.m[k]
	}
	s.mu.Unlock()
	for i, k := range keys {
		if err := fn(k, vals[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *memState) DeleteStatePrefix(_ context.Context, prefix string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			delete(s.m, k)
			n++
		}
	}
	return n, nil
}

func (s *memState) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	return n
}

// sink keeps events by ID as the engine's idempotency keys do, and counts
// the IDs sent twice.
type sink struct {
	mu     sync.Mutex
	byID   map[string]Event
	order  []Event
	resent int
	fail   error
}

func newSink() *sink { return &sink{byID: map[string]Event{}} }

func (s *sink) Record(_ context.Context, evs []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return s.fail
	}
	for _, e := range evs {
		if _, dup := s.byID[e.ID]; dup {
			s.resent++
			continue
		}
		s.byID[e.ID] = e
		s.order = append(s.order, e)
	}
	return nil
}

func (s *sink) events(slo string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.order {
		if e.SLO == slo {
			out = append(out, e)
		}
	}
	return out
}

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var epoch = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// rig is a verifier against a blob server on a fake clock.
type rig struct {
	t     *testing.T
	clock *clock
	blob  *blobtest.Server
	state *memState
	sink  *sink
	def   *Definition
	v     *Verifier
	tgt   Target
}

// testDef is a verifier definition as Parse would make it.
func testDef(t *testing.T, yaml string) *Definition {
	t.Helper()
	defs, err := Parse("verifiers.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return defs[0]
}

func newRig(t *testing.T, def *Definition) *rig {
	t.Helper()
	c := &clock{t: epoch}
	b := blobtest.New(c.Now)
	t.Cleanup(b.Close)
	r := &rig{t: t, clock: c, blob: b, state: newMemState(), sink: newSink(), def: def}
	r.tgt = &BlobTarget{Base: b.URL + "/", Client: b.Client(), MaxObject: def.MaxObjectSize}
	r.restart()
	return r
}

// restart builds a new Verifier on the same state, as a new process would.
func (r *rig) restart() {
	r.t.Helper()
	v, err := New(r.def, Options{Target: r.tgt, State: r.state, Sink: r.sink, Clock: r.clock.Now, Random: rand.NewChaCha8([32]byte{1})})
	if err != nil {
		r.t.Fatal(err)
	}
	r.v = v
}

// run steps the verifier every step until d has passed.
func (r *rig) run(d, step time.Duration) {
	r.t.Helper()
	for end := r.clock.Now().Add(d); r.clock.Now().Before(end); {
		r.clock.Add(step)
		if err := r.v.Step(context.Background()); err != nil {
			r.t.Fatalf("step at %s: %v", r.clock.Now().Sub(epoch), err)
		}
	}
}

func (r *rig) status() Status {
	r.t.Helper()
	s, err := r.v.Status(context.Background())
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// put stores data as the application would, and returns its report.
func (r *rig) put(key string, data []byte) Reported {
	r.t.Helper()
	if err := r.tgt.Put(context.Background(), key, data); err != nil {
		r.t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return Reported{Key: key, SHA256: hex.EncodeToString(sum[:]), Size: size(int64(len(data)))}
}

func size(n int64) *int64 { return &n }

func since(e Event) time.Duration { return e.Time.Sub(epoch) }

// hangingTarget answers nothing until its context ends.
type hangingTarget struct{}

func (hangingTarget) Put(ctx context.Context, _ string, _ []byte) error {
	<-ctx.Done()
	return ctx.Err()
}
func (hangingTarget) Get(ctx context.Context, _ string) ([]byte, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (hangingTarget) Delete(ctx context.Context, _ string) error { <-ctx.Done(); return ctx.Err() }

// healingTarget serves canaries with the bytes their record expects: a
// verifier that compared nothing would look the same.
type healingTarget struct{ Target }

func (h healingTarget) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := h.Target.Get(ctx, key)
	if err == nil && strings.Contains(key, "canary-") && len(b) > 0 {
		b[0] ^= 0xFF
	}
	return b, err
}

var _ = errors.New
var _ = http.StatusOK

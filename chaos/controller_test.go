package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/chaos/verdict"
	"github.com/nines-sre/nines/hist"
)

// fakeMeasure answers counts by SLO name.
type fakeMeasure struct {
	mu     sync.Mutex
	counts map[string]verdict.Counts
	frozen error
}

func (f *fakeMeasure) Counts(ctx context.Context, name string, from, to time.Time) (verdict.Counts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[name], nil
}

func (f *fakeMeasure) Budget(ctx context.Context, name string) (float64, float64, error) {
	return 0.9, 0.99, nil
}
func (f *fakeMeasure) Frozen(name string) error { return f.frozen }

// Latency: control requests take 10 ms, experiment ones 500 ms, against
// a 300 ms threshold.
func (f *fakeMeasure) Latency(ctx context.Context, name string, from, to time.Time) (*hist.Histogram, float64, error) {
	h := hist.New()
	v := 0.01
	if strings.HasSuffix(name, ".experiment") {
		v = 0.5
	}
	if err := h.InsertN(v, 100); err != nil {
		return nil, 0, err
	}
	return h, 0.3, nil
}

// memState is the store's state in memory.
type memState struct {
	mu sync.Mutex
	kv map[string][]byte
}

func (m *memState) GetState(ctx context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kv[key], nil
}

func (m *memState) PutState(ctx context.Context, key string, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv[key] = append([]byte(nil), value...)
	return nil
}

func (m *memState) RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.kv {
		if strings.HasPrefix(k, prefix) {
			if err := fn(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestController(t *testing.T) {
	ctx := context.Background()
	def := testDefinition(t)
	other := *testDefinition(t)
	other.Name = "other-on-the-same-proxy"
	m := &fakeMeasure{counts: map[string]verdict.Counts{}}
	st := &memState{kv: map[string][]byte{}}
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := NewController(ctx, []*Definition{def, &other}, m, st, clock, logger)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Start(ctx, def.Name)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.Assignment(def.Proxy); a.Run != r.ID || a.Share != 0.01 || len(a.Faults) != 1 || a.SLOs.Experiment != CohortSLO(def.Name, Experiment) {
		t.Errorf("assignment %+v", a)
	}
	if _, err := c.Start(ctx, other.Name); !errors.Is(err, ErrBusy) {
		t.Errorf("a second run on the proxy: %v, want ErrBusy", err)
	}
	if _, err := c.Start(ctx, "nope"); !errors.Is(err, ErrUnknownExperiment) {
		t.Errorf("an unknown experiment: %v", err)
	}

	// A restart finds the run going on, and goes on judging it.
	c2, err := NewController(ctx, []*Definition{def, &other}, m, st, clock, logger)
	if err != nil {
		t.Fatal(err)
	}
	if a := c2.Assignment(def.Proxy); a.Run != r.ID {
		t.Fatalf("after a restart the proxy is told %+v, want run %s", a, r.ID)
	}
	m.mu.Lock()
	m.counts[CohortSLO(def.Name, Control)] = verdict.Counts{Requests: 5000, Bad: 50}
	m.counts[CohortSLO(def.Name, Experiment)] = verdict.Counts{Requests: 5000, Bad: 300}
	m.mu.Unlock()
	now = now.Add(10 * time.Minute)
	c2.Step(ctx)
	runs, _ := c2.Runs(def.Name)
	if runs[0].Outcome != verdict.Disproved || c2.Assignment(def.Proxy).Run != "" {
		t.Errorf("after the step: %+v; assignment %+v", runs[0], c2.Assignment(def.Proxy))
	}
	if lc := runs[0].Latency; lc == nil || *lc.ControlUnder != 1 || *lc.ExperimentUnder != 0 || lc.Rank.Superiority != 1 {
		t.Errorf("latency comparison %+v", lc)
	}
	if _, err := c2.Stop(ctx, def.Name, "ana"); err == nil {
		t.Error("stopping an ended run succeeded")
	}

	m.frozen = errors.New("budget spent")
	if _, err := c2.Start(ctx, other.Name); !errors.Is(err, ErrRefused) {
		t.Errorf("a start under a closed gate: %v, want ErrRefused", err)
	}
}

func TestAgentEventLinesAreJSON(t *testing.T) {
	a, err := NewAgent(AgentConfig{Server: "http://127.0.0.1:1", Name: "p"})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.UTC)
	a.Record(Outcome{SLO: "x.control", Start: at, Status: 503, Latency: 1500 * time.Microsecond})
	a.Record(Outcome{SLO: "x.control", Start: at, Latency: time.Second})
	a.Record(Outcome{Start: at, Status: 200})
	want := `{"time":"2026-12-07T10:00:00.123456789Z","latency_ms":1.5,"status":503}` + "\n" +
		`{"time":"2026-12-07T10:00:00.123456789Z","latency_ms":1000,"ok":false}` + "\n"
	if got := a.pending["x.control"].String(); got != want {
		t.Errorf("lines\n%s\nwant\n%s", got, want)
	}
	if s := a.Stats(); s.Outside != 1 {
		t.Errorf("outside %d, want 1", s.Outside)
	}
	for _, line := range strings.Split(strings.TrimSpace(a.pending["x.control"].String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not JSON: %s", line)
		}
	}
}

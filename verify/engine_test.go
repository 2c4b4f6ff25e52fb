package verify

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/verify/blobtest"
)

// engineSink commits each event to nines' engine as the events API
// does, with the event's ID as its idempotency key: the sink nines serve
// needs, in the shape cmd/nines wires it.
type engineSink struct {
	e    *engine.Engine
	mu   sync.Mutex
	sent int
	dups int
}

func (s *engineSink) Record(ctx context.Context, evs []Event) error {
	for _, ev := range evs {
		o, err := s.e.SLO(ev.SLO)
		if err != nil {
			return err
		}
		series, _, err := ingest.Read(ctx, strings.NewReader(string(ev.AppendLine(nil))), ingest.Options{Format: ingest.JSONL, SLI: &o.SLI, Quantum: o.Quantum, KeepStatuses: true})
		if err != nil {
			return err
		}
		_, err = s.e.Commit(ctx, &engine.Batch{Source: "verifier", Series: map[string]*slo.Series{ev.SLO: series}, Idempotency: &engine.Idempotency{Key: ev.ID}})
		if dup, derr := engine.DuplicateOf(err); dup != nil {
			s.dups++ // counted when first sent
			continue
		} else if derr != nil {
			return derr
		}
		s.mu.Lock()
		s.sent++
		s.mu.Unlock()
	}
	return nil
}

// TestAStoppedVerifierRaisesItsHeartbeatAlert runs a verifier into nines'
// engine with the SLOs SLOSpecs makes, stops it for 10 minutes, and
// watches the heartbeat SLO's no-data alert fire.
func TestAStoppedVerifierRaisesItsHeartbeatAlert(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: epoch}
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	def := testDef(t, reportedYAML)
	if _, err := e.Load(ctx, map[string][]byte{"verifiers.yaml": SLOSpecs([]*Definition{def})}); err != nil {
		t.Fatal(err)
	}
	blob := blobtest.New(c.Now)
	defer blob.Close()
	sink := &engineSink{e: e}
	v, err := New(def, Options{Target: &BlobTarget{Base: blob.URL + "/", Client: blob.Client(), MaxObject: def.MaxObjectSize}, State: db, Sink: sink, Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	firing := func() []string {
		st, _, err := e.Alerts(HeartbeatSLO("uploads"))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range st.Alerts {
			out = append(out, a.Name)
		}
		return out
	}
	// minute steps the verifier (when running) and ticks the engine every
	// 10 seconds, as nines serve does.
	minute := func(running bool) {
		for range 6 {
			c.Add(10 * time.Second)
			e.Tick(c.Now())
		}
		if running {
			if err := v.Step(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 20 {
		minute(true)
	}
	// Each heartbeat is a minute's only event: all good.
	res, err := e.Summary(HeartbeatSLO("uploads"))
	if err != nil || res.Availability != 1 {
		t.Fatalf("heartbeat availability %v, %v", res, err)
	}
	if got := firing(); len(got) != 0 {
		t.Fatalf("a running verifier's heartbeat SLO fires %v", got)
	}
	for m := range 10 {
		minute(false)
		if got := firing(); slices.Contains(got, alert.NoDataAlert) {
			t.Logf("the no-data alert fired %d minutes after the verifier stopped", m+1)
			break
		}
	}
	if got := firing(); !slices.Contains(got, alert.NoDataAlert) {
		t.Fatalf("after 10 silent minutes the heartbeat SLO fires %v; want %s", got, alert.NoDataAlert)
	}
	// It runs again, but cannot reach its target: its heartbeats turn
	// bad, and the heartbeat SLO's burn-rate alert pages.
	blob.FailWith(503)
	for range 50 { // the next canary is due an hour after the first
		minute(true)
	}
	got := firing()
	if !slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "page") }) || slices.Contains(got, alert.NoDataAlert) {
		t.Errorf("a verifier that cannot reach its target: firing %v; want a page and no more the no-data alert", got)
	}
	if st, _ := v.Status(ctx); !strings.Contains(st.LastError, "503") {
		t.Errorf("status: last error %q; want the target's 503", st.LastError)
	}
	if sink.sent < 20 || sink.dups != 0 {
		t.Errorf("%d events committed, %d duplicates", sink.sent, sink.dups)
	}
}

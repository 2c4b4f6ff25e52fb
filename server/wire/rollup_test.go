package wire_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/server/wire"
	"github.com/nines-sre/nines/slo"
)

func testSLI(t *testing.T) *slo.SLI {
	t.Helper()
	st, err := slo.ParseStatusRule("<500")
	if err != nil {
		t.Fatal(err)
	}
	lat, err := slo.ParseLatencyRule("<=10ms")
	if err != nil {
		t.Fatal(err)
	}
	return &slo.SLI{Status: st, Latency: &lat}
}

// What a sender writes with FromRollup, the server decodes to the same
// rollup: counts, histogram and the statuses that let it be re-judged.
func TestFromRollupDecodesToTheSameRollup(t *testing.T) {
	sli := testSLI(t)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	agg := slo.NewAggregator(sli, time.Minute)
	for i, e := range []slo.Event{
		{Status: 200, Latency: 0.003, Count: 40},
		{Status: 200, Latency: 0.020, Count: 2},
		{Status: 503, Latency: 0.001, Count: 1},
		{Status: slo.NoStatus, Latency: math.NaN(), Count: 1},
		{OK: slo.FlagTrue, Status: slo.NoStatus, Latency: 0.004, Count: 3},
	} {
		e.Time = start.Add(time.Duration(i) * time.Second).UnixNano()
		if err := agg.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	want := &agg.Series().Rollups[0]
	b, err := json.Marshal(wire.FromRollup(want))
	if err != nil {
		t.Fatal(err)
	}
	var ri wire.Rollup
	if err := json.Unmarshal(b, &ri); err != nil {
		t.Fatal(err)
	}
	got, err := ri.Decode(sli, time.Minute)
	if err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	if got.Start != want.Start || got.Attempted != want.Attempted || got.Good != want.Good || got.Errors != want.Errors ||
		got.Slow != want.Slow || got.OverThreshold != want.OverThreshold || got.Measured != want.Measured ||
		!got.Latency.Equal(&want.Latency) || len(got.Statuses) != len(want.Statuses) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
	for i := range want.Statuses {
		g, w := &got.Statuses[i], &want.Statuses[i]
		if g.Code != w.Code || g.Count != w.Count || g.Timed != w.Timed || g.Over != w.Over || !g.Latency.Equal(&w.Latency) {
			t.Errorf("status %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestDecodeRefusesWhatDoesNotAddUp(t *testing.T) {
	sli := testSLI(t)
	for _, c := range []struct{ name, body, want string }{
		{"no start", `{"attempted": 1, "good": 1}`, "start is missing"},
		{"start off the quantum", `{"start": "2026-11-25T10:00:30Z", "attempted": 1, "good": 1}`, "quantum boundary"},
		{"start before 1970", `{"start": "1969-12-31T23:59:00Z", "attempted": 1, "good": 1}`, "start"},
		{"more good than attempted", `{"start": "2026-11-25T10:00:00Z", "attempted": 1, "good": 2}`, "exceeds attempted"},
		{"more failures than failed", `{"start": "2026-11-25T10:00:00Z", "attempted": 2, "good": 1, "errors": 1, "slow": 1}`, "exceed the 1 failed"},
		{"statuses that judge otherwise", `{"start": "2026-11-25T10:00:00Z", "attempted": 1, "good": 1, "statuses": [{"code": 503, "count": 1}]}`, "judged by the SLI"},
		{"code and ok both", `{"start": "2026-11-25T10:00:00Z", "attempted": 1, "good": 1, "statuses": [{"code": 200, "ok": true, "count": 1}]}`, "both code and ok"},
		{"a status twice", `{"start": "2026-11-25T10:00:00Z", "attempted": 2, "good": 2, "statuses": [{"code": 200, "count": 1}, {"code": 200, "count": 1}]}`, "twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ri wire.Rollup
			if err := json.Unmarshal([]byte(c.body), &ri); err != nil {
				t.Fatal(err)
			}
			_, err := ri.Decode(sli, time.Minute)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode(%s) = %v, want an error with %q", c.body, err, c.want)
			}
		})
	}
}

package server

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// storedRollup returns the rollup stored for one quantum of an SLO.
func (f *fixture) storedRollup(name string, start time.Time) slo.Rollup {
	f.t.Helper()
	s, err := store.LoadSeriesStatuses(context.Background(), f.db, name, time.Minute, start.UnixNano(), start.Add(time.Minute).UnixNano())
	if err != nil || len(s.Rollups) != 1 {
		f.t.Fatalf("stored rollups of %s at %s: %+v, %v", name, start, s, err)
	}
	return s.Rollups[0]
}

func TestEventsAreStoredWithTheirStatuses(t *testing.T) {
	f := newFixture(t, "")
	start := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability", minuteOfEvents(start, 100, 2, 1)+
		`{"time": "2026-11-25T09:59:30Z", "status": 404, "latency_ms": 3}`+"\n", nil, 200, nil)
	r := f.storedRollup("checkout-availability", start)
	want := []slo.StatusCount{{Code: 200, Count: 98, Timed: 98, Over: 1}, {Code: 404, Count: 1, Timed: 1}, {Code: 503, Count: 2, Timed: 2}}
	if len(r.Statuses) != len(want) {
		t.Fatalf("statuses %+v", r.Statuses)
	}
	for i, w := range want {
		g := r.Statuses[i]
		if g.Code != w.Code || g.Count != w.Count || g.Timed != w.Timed || g.Over != w.Over || g.Latency.Count() != w.Timed {
			t.Errorf("status %d: %+v, want %+v", i, g, w)
		}
	}
	// What an edit of the SLI to "<400" and "<=10ms" would make of them.
	st, _ := slo.ParseStatusRule("<400")
	lat, _ := slo.ParseLatencyRule("<=10ms")
	if _, err := (&slo.SLI{Status: st, Latency: &lat}).Rejudge(&r); err != nil {
		t.Fatal(err)
	}
	if r.Good != 98 || r.Errors != 3 || r.Slow != 0 {
		t.Errorf("re-judged %d good, %d errors, %d slow; want 98, 3, 0", r.Good, r.Errors, r.Slow)
	}
}

func b64(h *hist.Histogram) string { return base64.StdEncoding.EncodeToString(h.AppendBinary(nil)) }

func histOf(vals ...float64) *hist.Histogram {
	var h hist.Histogram
	for _, v := range vals {
		_ = h.Insert(v)
	}
	return &h
}

func TestRollupsWithStatuses(t *testing.T) {
	f := newFixture(t, "")
	// checkout-availability judges "<500" and "<=5ms": 3 good at 1 ms,
	// one 404 at 1 ms (good), one slow at 7 ms, one 503 at 7 ms (an
	// error, and over the threshold), one event without a status or a
	// latency (an error), one with ok=true and no latency (good).
	all := histOf(0.001, 0.001, 0.001, 0.001, 0.007, 0.007)
	body := fmt.Sprintf(`{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:59:00Z",
	  "attempted": 8, "good": 5, "errors": 2, "slow": 1, "over_threshold": 2, "histogram": %q,
	  "statuses": [
	    {"code": 503, "count": 1, "timed": 1, "over": 1, "histogram": %q},
	    {"code": 200, "count": 4, "timed": 4, "over": 1, "histogram": %q},
	    {"code": 404, "count": 1, "timed": 1, "histogram": %q},
	    {"count": 1},
	    {"ok": true, "count": 1}]}]}`,
		b64(all), b64(histOf(0.007)), b64(histOf(0.001, 0.001, 0.001, 0.007)), b64(histOf(0.001)))
	f.do("POST", "/api/v1/rollups", body, nil, 200, nil)
	r := f.storedRollup("checkout-availability", time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC))
	codes := []int{}
	for _, s := range r.Statuses {
		codes = append(codes, s.Code)
	}
	if fmt.Sprint(codes) != fmt.Sprint([]int{slo.StatusOKTrue, slo.NoStatus, 200, 404, 503}) || r.Statuses[2].Over != 1 {
		t.Fatalf("stored statuses %+v", r.Statuses)
	}

	const pre = `{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:58:00Z", `
	one := b64(histOf(0.001))
	bad := []struct{ name, rollup, msg string }{
		{"A code beyond 999 is refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 1000, "count": 1}]`, "not a status code"},
		{"A code with an ok flag is refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 200, "ok": true, "count": 1}]`, "both code and ok"},
		{"Counts short of attempted are refused.",
			`"attempted": 2, "good": 2, "statuses": [{"code": 200, "count": 1}]`, "statuses count 1 of 2"},
		{"More timed than counted is refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 200, "count": 1, "timed": 2}]`, "≤ count"},
		{"More over than timed is refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 200, "count": 1, "over": 1}]`, "≤ timed"},
		{"A histogram that is not the timed events is refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 200, "count": 1, "timed": 1}]`, "holds 0 latencies, timed says 1"},
		{"Histograms that are not the rollup's are refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 200, "count": 1, "timed": 1, "histogram": "` + one + `"}]`, "not bin for bin"},
		{"A status twice is refused.",
			`"attempted": 2, "good": 2, "statuses": [{"code": 200, "count": 1}, {"code": 200, "count": 1}]`, "200 twice"},
		{"Counts the SLI would judge otherwise are refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 503, "count": 1}]`, "errors 1"},
		{"A corrupt status histogram is refused.",
			`"attempted": 1, "good": 1, "statuses": [{"code": 200, "count": 1, "timed": 1, "histogram": "AAEC"}]`, "statuses[0]: histogram"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got := f.do("POST", "/api/v1/rollups", pre+tc.rollup+`}]}`, nil, 400, nil)
			if !strings.Contains(got, tc.msg) {
				t.Fatalf("answer %s does not say %q", got, tc.msg)
			}
		})
	}
}

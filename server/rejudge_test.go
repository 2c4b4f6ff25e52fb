package server

import (
	"strings"
	"testing"
	"time"
)

// TestAnEditedThresholdIsRejudged: 100 requests at 7 ms fail a "<=5ms"
// SLI. Once the spec says "<=10ms", the stored minute is judged again
// from its per-status latencies: 100 good, inverse quantile 1, and the
// reload's reply says what was re-judged. The SLO's definition says so
// too, with a mark.
func TestAnEditedThresholdIsRejudged(t *testing.T) {
	f := newFixtureReload(t, "", true)
	at := time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability", minuteOfEvents(at, 100, 0, 100), nil, 200, nil)
	var st statusDoc
	f.do("GET", "/api/v1/slos/checkout-availability/status", "", nil, 200, &st)
	if w := st.Windows[0]; w.Events.Good != 0 || w.Events.Total != 100 {
		t.Fatalf("under <=5ms: %+v", w.Events)
	}
	f.spec = strings.Replace(testSpec, `latency: "<=5ms"`, `latency: "<=10ms"`, 1)
	var reply struct {
		Reloaded bool
		Warnings []string
	}
	f.do("POST", "/api/v1/-/reload", "", nil, 200, &reply)
	if !reply.Reloaded || !hasWarning(reply.Warnings, "SLO checkout-availability: sli: the SLI's latency threshold <=5ms → <=10ms changed: re-judged 1 stored quanta") {
		t.Fatalf("reload reply %+v", reply)
	}
	f.do("GET", "/api/v1/slos/checkout-availability/status", "", nil, 200, &st)
	w := st.Windows[0]
	if w.Events.Good != 100 || w.Latency.InverseQuantile != 1 {
		t.Fatalf("under <=10ms: events %+v, inverse quantile %v", w.Events, w.Latency.InverseQuantile)
	}
	var def struct{ Marks []struct{ Kind, Note string } }
	f.do("GET", "/api/v1/slos/checkout-availability", "", nil, 200, &def)
	if len(def.Marks) != 1 || def.Marks[0].Kind != "rejudged" {
		t.Fatalf("marks %+v", def.Marks)
	}
	// A changed quantum cannot be re-judged: the history restarts.
	f.spec = strings.Replace(f.spec, "method: quanta", "method: quanta\nquantum: 5m", 1)
	f.do("POST", "/api/v1/-/reload", "", nil, 200, &reply)
	if !hasWarning(reply.Warnings, "history restarts at 2026-11-25T10:05:00Z") {
		t.Fatalf("reload reply %+v", reply)
	}
}

func hasWarning(ws []string, want string) bool {
	for _, w := range ws {
		if strings.Contains(w, want) {
			return true
		}
	}
	return false
}

package server

import (
	"strings"
	"testing"
	"time"
)

// TestEventsReplyCountsRequestsApartFromLines: an event with a count
// stands for that many requests, so the reply says how many lines were
// read, how many held events, how many requests those events are, and how
// many lines were malformed, each under its own name.
func TestEventsReplyCountsRequestsApartFromLines(t *testing.T) {
	f := newFixture(t, "")
	at := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.clock.Set(at.Add(3 * time.Minute))
	ts := at.Add(10 * time.Second).Format(time.RFC3339)
	body := strings.Join([]string{
		`{"time": "` + ts + `", "status": 200, "latency_ms": 2, "count": 50}`,
		``,
		`not json`,
		`{"time": "` + ts + `", "status": 200, "count": 0}`,
		`{"time": "` + ts + `", "status": 503, "latency_ms": 1}`,
	}, "\n") + "\n"
	var res struct {
		Lines      int64 `json:"lines"`
		EventLines int64 `json:"event_lines"`
		Events     int64 `json:"events"`
		Malformed  int64 `json:"malformed"`
		Errors     []string
	}
	f.do("POST", "/api/v1/events?slo=checkout-transactions", body, nil, 200, &res)
	if res.Lines != 5 || res.EventLines != 3 || res.Events != 51 || res.Malformed != 1 || len(res.Errors) != 1 || !strings.HasPrefix(res.Errors[0], "line 3:") {
		t.Fatalf("reply %+v; want 5 lines, 3 event lines, 51 events (requests), 1 malformed, named as line 3", res)
	}
	if got := f.eventsCounted(); got != 51 {
		t.Errorf("status counts %d events, want the 51 the reply named", got)
	}
	if m := f.do("GET", "/metrics", "", nil, 200, nil); !strings.Contains(m, "nines_ingest_events_total 51\n") {
		t.Errorf("/metrics does not count the 51 requests as events")
	}
}

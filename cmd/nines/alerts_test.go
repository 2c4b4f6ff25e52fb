package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// alertsSpec is a 30-day SLO with no alerting section: the workbook's
// tiers, page-fast at 14.4× over 1h and 5m.
const alertsSpec = `name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
objective: 99.9
method: quanta
window:
  rolling: 30d
noData: good
---
name: checkout-latency
service: checkout
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99
method: quanta
window:
  rolling: 30d
noData: good
`

// TestAlertsSession runs nines alerts against an in-process nines serve
// through a two-minute outage and a silent SLO, and compares the session with
// testdata/alerts-session.golden (go test -update rewrites it). Minutes
// after the outage the page still fires on its long window while its 5m
// window burns 0×: the output says which figures are now and which were
// the moment it fired.
func TestAlertsSession(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The specs load an hour before the live minutes, as the history
	// below begins: a store keeps no time before 1970.
	start := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	now := start.Add(-time.Hour)
	clock := func() time.Time { return now }
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(alertsSpec)}); err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()

	// An hour of good history, so nothing is young or silent, then live
	// minutes of 100 requests each: 12:00 and 12:01 half failed.
	history := &slo.Series{Quantum: time.Minute}
	for m := start.Add(-time.Hour); m.Before(start); m = m.Add(time.Minute) {
		history.Rollups = append(history.Rollups, slo.Rollup{Start: m.UnixNano(), Attempted: 100, Good: 100, Measured: true})
	}
	now = start
	// checkout-latency hears nothing after its history: its no-data
	// ticket fires once 10 minutes went unmeasured.
	for _, name := range []string{"checkout-availability", "checkout-latency"} {
		if _, err := eng.Backfill(ctx, name, history, "test"); err != nil {
			t.Fatal(err)
		}
	}
	next := start
	liveTo := func(to time.Time) {
		t.Helper()
		for ; next.Before(to); next = next.Add(time.Minute) {
			now = next.Add(30 * time.Second)
			failed := 0
			if next.Before(start.Add(2 * time.Minute)) {
				failed = 50
			}
			var body strings.Builder
			for i := range 100 {
				status := 200
				if i < failed {
					status = 503
				}
				fmt.Fprintf(&body, `{"time": %q, "status": %d}`+"\n", next.Add(time.Duration(i)*100*time.Millisecond).Format(time.RFC3339Nano), status)
			}
			resp, err := http.Post(hs.URL+"/api/v1/events?slo=checkout-availability", "application/x-ndjson", strings.NewReader(body.String()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("events of %s: status %d", next, resp.StatusCode)
			}
			eng.Tick(now)
		}
	}

	var session bytes.Buffer
	run := func(args string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := Run(ctx, strings.Fields(strings.ReplaceAll(args, "SERVER", hs.URL)), strings.NewReader(""), &stdout, &stderr)
		if err != nil {
			t.Fatalf("nines %s: %v\n%s", args, err, stderr.String())
		}
		fmt.Fprintf(&session, "# %s\n$ nines %s\n%s\n", now.Format("15:04:05Z"), args, strings.ReplaceAll(stdout.String(), hs.URL, "SERVER"))
	}
	liveTo(start.Add(3 * time.Minute)) // 12:02:30: judged to 12:01, the page fires
	run("alerts --server SERVER")
	liveTo(start.Add(9 * time.Minute)) // 12:08:30: judged to 12:07, the outage out of the 5m window
	run("alerts --server SERVER")
	run("alerts --server SERVER --json")
	liveTo(start.Add(15 * time.Minute)) // the 5-minute hold is over
	run("alerts --server SERVER")

	checkGolden(t, "alerts-session", session.String())
}

// TestAlertsOutputWithoutBurnRates: a no-data alert has no burn rates,
// only whether data came back; an answer from a server that does not
// send the figures of now still prints what it has.
func TestAlertsOutputWithoutBurnRates(t *testing.T) {
	for _, c := range []struct{ name, answer, want string }{
		{"A no-data alert measured again says when it resolves.",
			`{"slo": "s", "alert": "no-data", "severity": "ticket", "since": "2026-11-25T10:00:00Z", "factor": 0, "long_window": "10m",
			  "burn_rate_long": null, "burn_rate_short": null, "reason": "nothing measured for 10m",
			  "now": {"evaluated_at": "2026-11-25T10:20:00Z", "status": "resolving", "burn_rate_long": null, "burn_rate_short": null,
			          "clear_since": "2026-11-25T10:18:00Z", "resolves_at": "2026-11-25T10:23:00Z"}}`,
			"ticket s  no-data  since 2026-11-25 10:00Z\n" +
				"       now (10:20Z)         resolving: measured again since 10:18Z, resolves at 10:23Z unless it fires again\n" +
				"       fired: nothing measured for 10m\n"},
		{"An answer without the figures of now prints those at firing.",
			`{"slo": "s", "alert": "page-fast", "severity": "page", "since": "2026-11-24T23:59:00Z", "factor": 14.4, "long_window": "1h", "short_window": "5m",
			  "burn_rate_long": 16.666, "burn_rate_short": 200, "reason": "burning"}`,
			"page   s  page-fast  since 2026-11-24 23:59Z\n" +
				"       burn rate            over 1h   over 5m\n" +
				"       at firing (23:59Z)   16.7×     200×      above 14.4× over both windows\n" +
				"       fired: burning\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var a firingAlert
			if err := json.Unmarshal([]byte(c.answer), &a); err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := writeAlert(&b, &a); err != nil {
				t.Fatal(err)
			}
			if b.String() != c.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), c.want)
			}
		})
	}
}

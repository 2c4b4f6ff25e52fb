package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

const incidentTestSpec = `name: checkout-availability
service: checkout
owner: team-payments
sli:
  good:
    status: "<500"
objective: 99.9
method: transactions
window:
  calendar: day
`

// incidentServer is nines serve's API on a temporary store, with its
// clock at 11:00 on 25 November 2026 and the incidents configuration of
// examples/incidents.yaml.
func incidentServer(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := func() time.Time { return time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC) }
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(incidentTestSpec)}); err != nil {
		t.Fatal(err)
	}
	// An hour of 1,000 requests a minute from 10:00, one of them failing
	// each minute from 10:02 to 10:40: the incident burns 39 events of
	// the day's budget so far, 0.1 % of 60,000 (65 %).
	series := &slo.Series{Quantum: time.Minute}
	for m := range 60 {
		start := time.Date(2026, 11, 25, 10, m, 0, 0, time.UTC)
		var failed uint64
		if m >= 2 && m <= 40 {
			failed = 1
		}
		series.Rollups = append(series.Rollups, slo.Rollup{Start: start.UnixNano(), Attempted: 1000, Good: 1000 - failed, Errors: failed, Measured: true})
	}
	if _, err := eng.Backfill(ctx, "checkout-availability", series, "test"); err != nil {
		t.Fatal(err)
	}
	cfgText, err := os.ReadFile("../../examples/incidents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := incident.ParseConfig("examples/incidents.yaml", cfgText)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := incident.New(server.IncidentOptions(eng, db, cfg))
	if err != nil {
		t.Fatal(err)
	}
	s, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Incidents: svc})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestIncidentCLIEndToEnd runs the session of nines incident
// commands against a running server and compares the transcript, and
// the postmortem, with goldens (go test -update rewrites them).
func TestIncidentCLIEndToEnd(t *testing.T) {
	url := incidentServer(t)
	dir := t.TempDir()
	pm := filepath.Join(dir, "pm-1.md")
	steps := []struct {
		args []string
		code int
	}{
		{[]string{"open", "--service", "checkout", "--severity", "2", "--title", "5xx on pay", "--impact-start", "2026-11-25T10:02Z", "--detected-by", "customer", "--detected", "2026-11-25T10:09Z"}, 0},
		{[]string{"update", "1", "--paged", "bob", "--engaged", "10:19Z", "--responder", "alice:commander", "--mitigated", "10:41Z"}, 0},
		{[]string{"timeline", "1", "--at", "10:25Z", "--kind", "sacrifice", "shed 20% of traffic"}, 0},
		{[]string{"timeline", "1", "--at", "10:12Z", "--kind", "decode", "--author", "bob", "customer reports match the 5xx on the pay endpoint"}, 0},
		{[]string{"repair", "1", "--title", "alert on pay 5xx", "--phase", "detection", "--due", "7d"}, 0},
		{[]string{"repair", "1", "--title", "Alert on pay 5xx!", "--phase", "detection"}, 2},
		{[]string{"update", "1", "--mitigated", "10:05Z"}, 2},
		{[]string{"open", "--service", "payments", "--severity", "2", "--title", "x"}, 2},
		{[]string{"open", "--service", "checkout", "--severity", "7", "--title", "x"}, 2},
		{[]string{"open", "--service", "checkout", "--severity", "major", "--title", "x"}, 2},
		{[]string{"open", "--service", "checkout", "--severity", "3", "--title", "slow pages", "--impact-start", "2026-11-20T08:00Z", "--detected", "2026-11-20T08:04Z"}, 0},
		{[]string{"show", "1"}, 0},
		{[]string{"list"}, 0},
		{[]string{"metrics", "--service", "checkout", "--by", "month"}, 0},
		{[]string{"debt", "--group", "owner"}, 0},
		{[]string{"debt", "--by", "owner"}, 2},
		{[]string{"open", "--service", "checkout", "--severity", "3", "--title", "recorded late", "--impact-start", "2026-11-02T08:00Z"}, 2},
	}
	var transcript bytes.Buffer
	run := func(args []string, code int) string {
		t.Helper()
		full := append([]string{"incident"}, args...)
		full = append(full, "--server", url)
		var stdout, stderr bytes.Buffer
		err := Run(context.Background(), full, strings.NewReader(""), &stdout, &stderr)
		var ee *exitError
		if err != nil && !(errors.As(err, &ee) && ee.silent) {
			fmt.Fprintln(&stderr, "nines:", strings.ReplaceAll(err.Error(), url, "http://nines"))
		}
		fmt.Fprintf(&transcript, "$ nines incident %s\n%s", quoteArgs(args), stdout.String())
		if stderr.Len() > 0 {
			fmt.Fprintf(&transcript, "--- stderr\n%s", stderr.String())
		}
		fmt.Fprintf(&transcript, "--- exit %d\n\n", exitOf(err))
		if got := exitOf(err); got != code {
			t.Errorf("nines incident %s: exit %d, want %d (%v)", quoteArgs(args), got, code, err)
		}
		return stdout.String()
	}
	for _, s := range steps {
		run(s.args, s.code)
	}
	generated := run([]string{"postmortem", "1"}, 0)
	checkGolden(t, "incident-postmortem", generated)

	// Edit and store the postmortem, close the incident: it takes no
	// more edits until reopened.
	edited := strings.Replace(generated, "_The conditions that together allowed this to happen", "A deploy raised the pay service's connection pool limit past the database's.\n\n_The conditions", 1)
	if err := os.WriteFile(pm, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	run([]string{"postmortem", "1", "--set", pm, "--done"}, 0)
	if got := run([]string{"postmortem", "1"}, 0); got != edited {
		t.Errorf("stored postmortem differs from the edited file")
	}
	run([]string{"update", "1", "--title", "late edit"}, 2)
	run([]string{"update", "1", "--reopen", "--status", "resolved", "--title", "5xx on pay (reopened)"}, 0)
	checkGolden(t, "incident-session", strings.ReplaceAll(transcript.String(), pm, "pm-1.md"))
}

func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " %!") {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	golden := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/nines -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./cmd/nines -update rewrites it):\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

const scorecardSpecs = `name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
objective: 99.9
window:
  rolling: 28d
---
name: search-availability
service: search
sli:
  good:
    status: "<500"
objective: 99
window:
  rolling: 28d
`

// scorecardStore is a store with four weeks (2026-W45 to W48) of one
// rollup a day: checkout at 99.9 % then 99 % in its last week, search
// at 99.9 % throughout.
func scorecardStore(t *testing.T) (dir, services string) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "data"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(scorecardSpecs, "---\n") {
		name := strings.TrimPrefix(strings.SplitN(doc, "\n", 2)[0], "name: ")
		if err := db.PutSLO(ctx, name, []byte(doc), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	app := db.Appender(ctx)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // Monday of 2026-W45
	for d := range 28 {
		day := start.AddDate(0, 0, d)
		good := uint64(999)
		if d >= 21 {
			good = 990
		}
		if err := app.Append("checkout-availability", time.Minute, &slo.Rollup{Start: day.UnixNano(), Attempted: 1000, Good: good, Errors: 1000 - good, Measured: true}); err != nil {
			t.Fatal(err)
		}
		if err := app.Append("search-availability", time.Minute, &slo.Rollup{Start: day.UnixNano(), Attempted: 1000, Good: 999, Errors: 1, Measured: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	services = filepath.Join(dir, "services.yaml")
	os.WriteFile(services, []byte(`rotations:
  - {name: payments-primary, members: [ana, bo], shift: 12h, handoff: "09:00", start: 2026-11-02, time_zone: Europe/Berlin}
services:
  - name: checkout
    owner: payments
    oncall: payments-primary
    dependencies: [{service: search}]
  - name: search
    owner: discovery
`), 0o600)
	return filepath.Join(dir, "data"), services
}

func runNines(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestScorecardCommand(t *testing.T) {
	data, services := scorecardStore(t)
	base := []string{"--services", services, "--data", data, "--week", "2026-W48"}
	t.Run("The text shows each service's colour, rate and goal and why it is sent", func(t *testing.T) {
		out, stderr, err := runNines(t, append([]string{"scorecard"}, base...)...)
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		for _, want := range []string{"week 2026-W48", "checkout  red     99.000%  99.900%  99.900%", "missed the goal; worse than the 21 days before",
			"search    green   99.900%  99.000%  99.900%", "7000   no"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("The JSON holds the drill-down to the dependencies", func(t *testing.T) {
		out, _, err := runNines(t, append([]string{"scorecard", "--json", "--service", "checkout"}, base...)...)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Scorecards []struct {
				Service, Colour string
				History         []struct{ Rate *float64 }
				Dependencies    []struct {
					Service string
					Calls   int
					From    string
				}
			}
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		c := doc.Scorecards
		if len(c) != 1 || c[0].Colour != "red" || len(c[0].History) != 12 || len(c[0].Dependencies) != 1 ||
			c[0].Dependencies[0].Service != "search" || c[0].Dependencies[0].Calls != 7000 || c[0].Dependencies[0].From != "scorecard" {
			t.Errorf("%s", out)
		}
	})
	t.Run("A week that is not an ISO week is a usage error", func(t *testing.T) {
		_, _, err := runNines(t, "scorecard", "--services", services, "--data", data, "--week", "2026-48")
		if err == nil || exitCode2(err) != exitUsage || !strings.Contains(err.Error(), "ISO week") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("Push sends only the card worth sending, to its owner, once", func(t *testing.T) {
		var mu sync.Mutex
		var got []string
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
		}))
		defer hook.Close()
		notifyFile := filepath.Join(t.TempDir(), "notify.yaml")
		os.WriteFile(notifyFile, []byte(`receivers:
  - {name: log, log: {}}
  - {name: payments, webhook: {url: "`+hook.URL+`"}}
route:
  receiver: log
  routes:
    - {matchers: [kind=scorecard, owner=payments], receiver: payments}
`), 0o600)
		push := append([]string{"scorecard", "push", "--notify", notifyFile}, base...)
		out, _, err := runNines(t, append(push, "--dry-run")...)
		if err != nil || !strings.Contains(out, "checkout → payments via payments: would send red") ||
			!strings.Contains(out, "search: not sent: nothing changed") || len(got) != 0 {
			t.Fatalf("dry run: %v\n%s\n%d sent", err, out, len(got))
		}
		out, stderr, err := runNines(t, push...)
		if err != nil || !strings.Contains(out, "checkout → payments via payments: sent red") || len(got) != 1 ||
			!strings.Contains(got[0], `"owner":"payments"`) || !strings.Contains(got[0], `"service":"checkout"`) {
			t.Fatalf("push: %v %s\n%s\n%q", err, stderr, out, got)
		}
		out, _, err = runNines(t, push...)
		if err != nil || !strings.Contains(out, "checkout → payments: not sent: already sent this week") || len(got) != 1 {
			t.Errorf("second push: %v\n%s\n%d sent", err, out, len(got))
		}
	})
	t.Run("Readiness shows the level and how to fix each failing check", func(t *testing.T) {
		out, stderr, err := runNines(t, "readiness", "--services", services, "--data", data, "--service", "checkout")
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		for _, want := range []string{"checkout: bronze, next silver", "ok   owner", "FAIL playbooks", "fix: set playbook:", "FAIL dependencies"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
}

func exitCode2(err error) int {
	if ee, ok := err.(*exitError); ok {
		return ee.code
	}
	return -1
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/oncall"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store/sqlite"
)

// fixedReport reports a constructed history: rotation payments in
// Berlin, a night page during the fall-back shift of 2026-10-25.
type fixedReport struct{ rots []oncall.Rotation }

func (f fixedReport) Report(_ context.Context, m oncall.Month, now time.Time) (*oncall.Report, error) {
	pages := []oncall.Page{{At: time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), Service: "checkout", GroupKey: "g"}}
	return oncall.Compute(f.rots, map[string]string{"checkout": "payments"}, pages, nil, m, oncall.Options{Now: now})
}

// TestOncallReport runs nines oncall report against an in-process nines
// serve: the text is the report's own, --json is the API's answer, and a
// month that is not one is refused before asking.
func TestOncallReport(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("rotations:\n  - {name: payments, members: [ana, ben], shift: 12h, handoff: '09:00', start: 2026-10-01, time_zone: Europe/Berlin}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	rots, err := oncall.ParseRotations("services.yaml", &doc)
	if err != nil {
		t.Fatal(err)
	}
	src := fixedReport{rots}
	s, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, OnCall: src})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	run := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := Run(ctx, append(args, "--server", hs.URL), strings.NewReader(""), &stdout, &stderr)
		return stdout.String(), err
	}

	t.Run("The text is the report of the month asked for.", func(t *testing.T) {
		out, err := run("oncall", "report", "--month", "2026-10")
		if err != nil {
			t.Fatal(err)
		}
		rep, _ := src.Report(ctx, oncall.Month{Year: 2026, Month: time.October}, now)
		var want bytes.Buffer
		oncall.WriteText(&want, rep)
		if out != want.String() {
			t.Errorf("output\n%s\nwant\n%s", out, want.String())
		}
	})
	t.Run("--json prints the API's answer.", func(t *testing.T) {
		out, err := run("oncall", "report", "--month", "2026-10", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var rep oncall.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatal(err)
		}
		// 10-25 01:30 UTC is 02:30 CET, in the 13-hour night shift 47
		// (10-24 21:00 CEST to 10-25 09:00 CET), ben's.
		if len(rep.Rotations) != 1 || rep.Rotations[0].Month.Night != 1 || rep.Rotations[0].People[1].Month.Pages != 1 {
			t.Errorf("report %+v", rep)
		}
	})
	t.Run("A month that is not one is a usage error.", func(t *testing.T) {
		_, err := run("oncall", "report", "--month", "Oct")
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "want a month such as 2026-11") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("A month not started is refused by the server.", func(t *testing.T) {
		if _, err := run("oncall", "report", "--month", "2027-03"); err == nil || !strings.Contains(err.Error(), "has not started") {
			t.Errorf("err %v", err)
		}
	})
}

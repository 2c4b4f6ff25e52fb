package incident_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

var now = time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)

func service(t *testing.T, st incident.Store, mod func(*incident.Options)) *incident.Service {
	t.Helper()
	opt := incident.Options{Store: st, Now: func() time.Time { return now },
		Config: &incident.Config{Services: map[string]incident.ServiceConfig{"checkout": {}, "search": {}}}}
	if mod != nil {
		mod(&opt)
	}
	svc, err := incident.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func openStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func minute(m int) time.Time { return now.Add(time.Duration(m-60) * time.Minute) }

// wantRefused checks that err wraps ErrInvalid (and the other targets)
// and says what.
func wantRefused(t *testing.T, what string, err error, says string, targets ...error) {
	t.Helper()
	for _, target := range append(targets, incident.ErrInvalid) {
		if !errors.Is(err, target) {
			t.Errorf("%s: %v, want an error wrapping %v", what, err, target)
		}
	}
	if err != nil && !strings.Contains(err.Error(), says) {
		t.Errorf("%s: %q, want it to say %q", what, err, says)
	}
}

// A time outside 1970–2200 once came back wrapped around (9999 read as
// 1816, after which every change to the incident failed), and the zero
// time was taken as absent. Each is refused with what to fix, and the
// incident stays as it was.
func TestTimesOutsideTheRangeAreRefused(t *testing.T) {
	ctx := context.Background()
	svc := service(t, openStore(t), nil)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "slow search", Services: []string{"search"}, Severity: 3, ImpactStart: minute(0), Detected: minute(5)})
	if err != nil {
		t.Fatal(err)
	}
	future, past, zero := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}
	for _, tc := range []struct {
		name string
		do   func() error
		says string
	}{
		{"a mitigation in 9999", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Mitigated: &future})
			return err
		}, "mitigated 9999-12-31T00:00:00Z"},
		{"an impact start in the year 1000", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{ImpactStart: &past})
			return err
		}, "impact_start 1000-01-01T00:00:00Z"},
		{"a zero engaged time, which does not clear it", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Engaged: &zero})
			return err
		}, "engaged 0001-01-01T00:00:00Z"},
		{"a new incident detected in 9999", func() error {
			_, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"search"}, Severity: 3, Detected: future})
			return err
		}, "detected 9999-12-31T00:00:00Z"},
		{"a timeline entry in 9999", func() error {
			_, err := svc.AddEntry(ctx, inc.ID, 0, incident.Entry{At: future, Text: "x"})
			return err
		}, "timeline entry time 9999-12-31T00:00:00Z"},
		{"a repair item due in 9999", func() error {
			_, err := svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: "x", Phase: incident.Detection, Due: future})
			return err
		}, "repair item due 9999-12-31T00:00:00Z"},
		{"a responder paged in the year 1000", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Responders: []incident.Responder{{Name: "bob", Paged: past}}})
			return err
		}, "responders[0].paged 1000-01-01T00:00:00Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefused(t, tc.name, tc.do(), tc.says, store.ErrTimeRange)
		})
	}
	got, err := svc.Get(ctx, inc.ID)
	if err != nil || got.Version != 1 || len(got.Timeline) != 0 || len(got.Repairs) != 0 || !got.ImpactStart.Equal(minute(0)) {
		t.Fatalf("after the refused changes: %+v, %v; want the incident as opened", got, err)
	}
	if list, _ := svc.List(ctx, incident.Filter{}); len(list) != 1 {
		t.Errorf("%d incidents, want the refused one not stored", len(list))
	}
}

// Decoded, "0001-01-01T00:00:00Z" is the zero time, which an OpenInput
// reads as "not given"; Open refuses it instead.
func TestOpenRefusesTheZeroTimeGivenInJSON(t *testing.T) {
	ctx := context.Background()
	svc := service(t, openStore(t), nil)
	var in incident.OpenInput
	body := `{"title": "x", "services": ["search"], "severity": 3, "detected": "2026-11-25T10:00:00Z", "mitigated": "0001-01-01T00:00:00Z"}`
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	_, err := svc.Open(ctx, in)
	wantRefused(t, "Open with a zero mitigated time", err, "mitigated 0001-01-01T00:00:00Z", store.ErrTimeRange)

	in = incident.OpenInput{}
	if err := json.Unmarshal([]byte(`{"title": "x", "services": ["search"], "severity": 3, "detected": "2026-11-25T10:00:00Z"}`), &in); err != nil {
		t.Fatal(err)
	}
	if inc, err := svc.Open(ctx, in); err != nil || !inc.Detected.Equal(minute(0)) || !inc.Mitigated.IsZero() {
		t.Fatalf("Open from JSON: %+v, %v", inc, err)
	}
	if err := json.Unmarshal([]byte(`{"title": "x", "mitigatd": "2026-11-25T10:00:00Z"}`), &in); err == nil || !strings.Contains(err.Error(), "mitigatd") {
		t.Errorf("a misspelt field: %v, want it refused", err)
	}
}

// An incident and its parts are bounded: 30 MB of timeline text once
// made a 63 MB incident page.
func TestIncidentLimits(t *testing.T) {
	ctx := context.Background()
	svc := service(t, openStore(t), nil)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"search"}, Severity: 3})
	if err != nil {
		t.Fatal(err)
	}
	long := func(n int) *string { s := strings.Repeat("a", n); return &s }
	links := make([]incident.Link, incident.MaxLinks+1)
	for i := range links {
		links[i] = incident.Link{URL: fmt.Sprintf("https://chat.example/%d", i)}
	}
	for _, tc := range []struct {
		name string
		do   func() error
		says string
	}{
		{"a title over the limit", func() error {
			_, err := svc.Open(ctx, incident.OpenInput{Title: *long(incident.MaxTitle + 1), Services: []string{"search"}, Severity: 3})
			return err
		}, "title: 301 bytes, over the limit of 300; shorten it"},
		{"a summary over the limit", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Summary: long(incident.MaxSummary + 1)})
			return err
		}, "summary: 16385 bytes, over the limit of 16384"},
		{"more links than the limit", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{AddLinks: links})
			return err
		}, "links: 65 links, over the limit of 64"},
		{"a link address over the limit", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{AddLinks: []incident.Link{{URL: "https://x.example/" + *long(incident.MaxURL)}}})
			return err
		}, "links[0].url: 2066 bytes, over the limit of 2048"},
		{"an owner over the limit", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Owner: long(incident.MaxName + 1)})
			return err
		}, "owner: 201 bytes"},
		{"a timeline entry over the limit", func() error {
			_, err := svc.AddEntry(ctx, inc.ID, 0, incident.Entry{Text: *long(incident.MaxEntryText + 1)})
			return err
		}, "timeline entry text: 16385 bytes, over the limit of 16384"},
		{"a repair item title over the limit", func() error {
			_, err := svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: *long(incident.MaxTitle + 1), Phase: incident.Detection})
			return err
		}, "repair item title: 301 bytes"},
		{"a postmortem over the limit", func() error {
			_, err := svc.SetPostmortem(ctx, inc.ID, 0, *long(incident.MaxPostmortem + 1), false)
			return err
		}, "postmortem: 1048577 bytes, over the limit of 1048576"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantRefused(t, tc.name, tc.do(), tc.says)
		})
	}

	// The timeline takes entries up to its total, then refuses with why.
	entry := *long(incident.MaxEntryText)
	for i := range incident.MaxTimelineText / incident.MaxEntryText {
		if _, err := svc.AddEntry(ctx, inc.ID, 0, incident.Entry{Text: entry}); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	_, err = svc.AddEntry(ctx, inc.ID, 0, incident.Entry{Text: "one more"})
	wantRefused(t, "an entry past the timeline's text", err, "the timeline holds 1048576 bytes of text, 8 more would pass the limit of 1048576; summarise in the postmortem")

	// The incident still takes other changes, alerts included: they add
	// no lines to a full timeline, and still mitigate.
	title := "renamed"
	if _, err := svc.Update(ctx, inc.ID, incident.Patch{Title: &title}); err != nil {
		t.Fatalf("a change to an incident whose timeline is full: %v", err)
	}
}

// An incident stored before a limit existed stays editable and keeps
// what it has, but does not grow past the limit.
func TestIncidentsOverALimitStayEditable(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	svc := service(t, db, nil)
	old := &incident.Incident{Title: strings.Repeat("t", 2*incident.MaxTitle), Services: []string{"search"}, Severity: 3, Status: incident.Open,
		DetectedBy: incident.ByOther, Detected: minute(0), Created: minute(0), Updated: minute(0)}
	if err := db.CreateIncident(ctx, old); err != nil {
		t.Fatal(err)
	}
	m := minute(30)
	if _, err := svc.Update(ctx, old.ID, incident.Patch{Mitigated: &m}); err != nil {
		t.Fatalf("mitigating an incident whose title is over the limit: %v", err)
	}
	longer := old.Title + "!"
	_, err := svc.Update(ctx, old.ID, incident.Patch{Title: &longer})
	wantRefused(t, "a longer title", err, "title: 601 bytes, over the limit of 300")
}

func TestAlertsOutsideTheLimitsStillOpenTheirIncident(t *testing.T) {
	ctx := context.Background()
	svc := service(t, openStore(t), nil)
	sig := incident.AlertSignal{Service: "checkout", GroupKey: "checkout/page", Title: strings.Repeat("é", incident.MaxTitle),
		DetectedAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), ImpactStart: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}
	inc, err := svc.OpenFromAlert(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Title) > incident.MaxTitle || !utf8.ValidString(inc.Title) || !strings.HasSuffix(inc.Title, "…") {
		t.Errorf("title of %d bytes %q: want it cut to %d bytes of valid UTF-8, marked", len(inc.Title), inc.Title, incident.MaxTitle)
	}
	if !inc.Detected.Equal(now) || !inc.ImpactStart.IsZero() {
		t.Errorf("detected %s, impact start %s: want now and none", inc.Detected, inc.ImpactStart)
	}
	var notes []string
	for _, e := range inc.Timeline {
		notes = append(notes, e.Text)
	}
	text := strings.Join(notes, "\n")
	for _, want := range []string{"the alert's start 9999-01-01T00:00:00Z is outside the times nines stores",
		"the alert puts the impact start at 1000-01-01T00:00:00Z, outside the times nines stores"} {
		if !strings.Contains(text, want) {
			t.Errorf("timeline %q: want a line saying %q", text, want)
		}
	}

	sig.GroupKey = strings.Repeat("k", incident.MaxGroupKey+1)
	_, err = svc.OpenFromAlert(ctx, sig)
	wantRefused(t, "a group key over the limit", err, "alert group key: 4097 bytes")
}

// failingBurns is a store whose budget-burned writes fail, as a full
// disk would make them.
type failingBurns struct{ incident.Store }

func (failingBurns) SetBurns(context.Context, int64, int64, []incident.Burn) (bool, error) {
	return false, errors.New("database or disk is full")
}

// A budget burned that cannot be stored does not fail the change it
// follows, but it is logged and counted.
func TestBurnWriteErrorsAreLoggedAndCounted(t *testing.T) {
	ctx := context.Background()
	var log bytes.Buffer
	svc := service(t, failingBurns{openStore(t)}, func(o *incident.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&log, nil))
		o.Budget = func(context.Context, string, time.Time, time.Time) (incident.Burn, error) {
			return incident.Burn{Unit: "events", Spent: 1, Total: 10, Share: 0.1}, nil
		}
	})
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"search"}, Severity: 3, SLOs: []string{"search-latency"}, Detected: minute(0)})
	if err != nil {
		t.Fatal(err)
	}
	m := minute(30)
	if _, err := svc.Update(ctx, inc.ID, incident.Patch{Mitigated: &m}); err != nil {
		t.Fatalf("the change itself: %v", err)
	}
	if n := svc.BurnWriteErrors(); n != 1 {
		t.Errorf("BurnWriteErrors = %d, want 1", n)
	}
	if !strings.Contains(log.String(), "database or disk is full") || !strings.Contains(log.String(), fmt.Sprintf("incident=%d", inc.ID)) {
		t.Errorf("log %q: want the cause and the incident", log.String())
	}
}

package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/oncall"
)

// fakeOnCall reports a constructed history: a Berlin rotation short of
// people whose shift 101 (11-20 21:00, cem: 101 mod 3 = 2) takes three
// incidents, over the limit, and a Dublin one across two sites.
type fakeOnCall struct{ rots []oncall.Rotation }

func (f fakeOnCall) Report(_ context.Context, m oncall.Month, now time.Time) (*oncall.Report, error) {
	at := func(s string) time.Time { t, _ := time.Parse(time.RFC3339, s); return t }
	pages := []oncall.Page{
		{At: at("2026-11-20T23:30:00Z"), Service: "checkout", GroupKey: "a"},
		{At: at("2026-11-21T02:00:00Z"), Service: "checkout", GroupKey: "b"},
		{At: at("2026-10-21T12:00:00Z"), Service: "checkout", GroupKey: "c"},
		{At: at("2026-11-22T12:00:00Z"), Service: "billing", GroupKey: "d"},
	}
	var incs []oncall.Incident
	for i, s := range []string{"2026-11-21T00:00:00Z", "2026-11-21T01:00:00Z", "2026-11-21T03:00:00Z"} {
		incs = append(incs, oncall.Incident{ID: int64(i + 1), Services: []string{"checkout"}, Start: at(s), Detected: at(s),
			Engaged: at(s).Add(5 * time.Minute), Mitigated: at(s).Add(35 * time.Minute), Resolved: at(s).Add(time.Hour), Acted: true})
	}
	return oncall.Compute(f.rots, map[string]string{"checkout": "payments", "search": "search<script>"}, pages, incs, m, oncall.Options{Now: now})
}

func newFakeOnCall(t testing.TB) fakeOnCall {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(`rotations:
  - {name: payments, members: [ana, ben, cem], shift: 12h, handoff: "09:00", start: 2026-10-01, time_zone: Europe/Berlin}
  - name: search<script>
    members: [{name: eve, site: dublin}, {name: fay, site: sydney}]
    sites: [dublin, sydney]
    min_people: 1
    shift: 1w
    handoff: "10:00"
    start: 2026-11-02
    time_zone: Europe/Dublin
`), &doc); err != nil {
		t.Fatal(err)
	}
	rots, err := oncall.ParseRotations("services.yaml", &doc)
	if err != nil {
		t.Fatal(err)
	}
	return fakeOnCall{rots}
}

func TestOnCallPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	f.get("/oncall", 404)
	f.ui.cfg.OnCall = newFakeOnCall(t)
	page := f.get("/oncall?month=2026-11", 200)
	golden(t, "oncall.html", page)
	for _, want := range []string{"On-call load, November 2026", "Short of people: 3 people, fewer than 6", "shifts over the limit",
		"2026-11-20 21:00 CET to 2026-11-21 09:00 CET: cem, 3 incidents", "dublin 1, sydney 1 people, at least 1 per site", "billing: 1",
		`href="/oncall"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "search<script>") {
		t.Error("a rotation name was not escaped")
	}
	if cur := f.get("/oncall", 200); !strings.Contains(cur, "November 2026") || strings.Contains(cur, "month after") {
		t.Error("the current month is the default and has no month after")
	}
	f.get("/oncall?month=2027-05", 400)
	f.get("/oncall?month=soon", 400)
}

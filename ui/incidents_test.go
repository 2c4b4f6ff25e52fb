package ui

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/ui/snapshot"
)

// withIncidents records two incidents on checkout and search with the
// example goals, one with an evil title and postmortem.
func withIncidents(t *testing.T, f *fixture) *incident.Service {
	t.Helper()
	ctx := context.Background()
	raw, err := os.ReadFile("../examples/incidents.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := incident.ParseConfig("incidents.yaml", raw)
	if err != nil {
		t.Fatal(err)
	}
	opts := server.IncidentOptions(f.eng, f.db, cfg)
	opts.Now = func() time.Time { return testNow }
	// Incidents link only the SLOs they name, so that the search incident
	// shows the page of an incident without one.
	opts.SLOsOf = nil
	svc, err := incident.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	start := testNow.Add(-20 * time.Hour).Truncate(time.Minute)
	inc, err := svc.Open(ctx, incident.OpenInput{
		Title: "Checkout errors after deploy", Summary: "Card payments failed for 20 minutes.",
		Services: []string{"checkout"}, Severity: 2, DetectedBy: incident.ByMonitoring,
		SLOs:        []string{"checkout-availability"},
		ImpactStart: start, Detected: start.Add(4 * time.Minute), Engaged: start.Add(20 * time.Minute), Mitigated: start.Add(40 * time.Minute),
		Responders: []incident.Responder{{Name: "ana", Order: 1}, {Name: "bo", Order: 2, Engaged: true, Role: incident.Commander}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddEntry(ctx, inc.ID, 0, incident.Entry{At: start.Add(25 * time.Minute), Kind: incident.KeepWorking, Text: "rolled back v2.3.1", Author: "bo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: "alert on card decline rate", Phase: incident.Phase("detection"), Owner: "team-payments", Link: "https://tracker.example/PAY-1"}); err != nil {
		t.Fatal(err)
	}
	// The service now refuses a javascript: link; one stored before it did
	// must still not become a link on the pages.
	if _, err := f.db.UpdateIncident(ctx, inc.ID, func(inc *incident.Incident) error {
		inc.Repairs[0].Link = "javascript:alert(5)"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	evil, err := svc.Open(ctx, incident.OpenInput{
		Title: `Search <script>alert(6)</script> slow`, Services: []string{"search"}, Severity: 3, DetectedBy: incident.ByCustomer,
		ImpactStart: start.Add(-30 * 24 * time.Hour), Detected: start.Add(-30*24*time.Hour + time.Hour), Engaged: start.Add(-30*24*time.Hour + 2*time.Hour),
		Mitigated: start.Add(-30*24*time.Hour + 3*time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	pm := "# What happened\n\nSearch was slow. <script>alert(7)</script>\n\n<img src=x onerror=alert(8)>\n\n[click](javascript:alert(9))\n\n| phase | time |\n|---|---|\n| detect | 1h |\n"
	if _, err := svc.SetPostmortem(ctx, evil.ID, 0, pm, false); err != nil {
		t.Fatal(err)
	}
	f.ui.cfg.Incidents = svc
	return svc
}

func TestIncidentPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	golden(t, "incidents-empty.html", f.get("/incidents", 200))
	withIncidents(t, f)
	for _, c := range []struct{ golden, path string }{
		{"incidents.html", "/incidents"},
		{"incident-1.html", "/incidents/1"},
		{"incident-2.html", "/incidents/2"},
		{"review.html", "/review"},
		{"review-checkout.html", "/review?group=service&key=checkout"},
	} {
		t.Run(c.golden, func(t *testing.T) { golden(t, c.golden, f.get(c.path, 200)) })
	}
	page := f.get("/incidents/1", 200)
	for _, want := range []string{"TTD", "4m", "✓ within 5m", "TTE", "16m", "✗ over the 10m goal", "rolled back v2.3.1", "bo", "Error budget burned", `class="chart strip"`, "Postmortem"} {
		if !strings.Contains(page, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if strings.Contains(page, `href="javascript`) {
		t.Error("a javascript: repair link became a link")
	}
	evil := f.get("/incidents/2", 200)
	for _, bad := range []string{"<script>", "<img src=x", `href="javascript`, "onerror=alert(8)>"} {
		if strings.Contains(evil, bad) {
			t.Errorf("incident 2: unescaped %q", bad)
		}
	}
	if !strings.Contains(evil, "<h1>What happened</h1>") || !strings.Contains(evil, "<table>") {
		t.Error("postmortem Markdown not rendered")
	}
	// The review of one service or owner lists its own repair items only.
	for _, path := range []string{"/review?group=service&key=search", "/review?group=owner&key=team-search"} {
		if page := f.get(path, 200); strings.Contains(page, "alert on card decline rate") {
			t.Errorf("%s lists checkout's repair item", path)
		}
	}
	for _, path := range []string{"/review?group=service&key=checkout", "/review?group=owner&key=team-payments"} {
		if page := f.get(path, 200); !strings.Contains(page, "alert on card decline rate") {
			t.Errorf("%s lacks checkout's repair item", path)
		}
	}
	f.get("/incidents/99", 404)
	f.get("/incidents/abc", 404)
	f.get("/incidents?status=bogus", 400)
	f.get("/review?group=planet", 400)
	list := f.get("/incidents?service=checkout", 200)
	if !strings.Contains(list, "Checkout errors after deploy") || strings.Contains(list, "Search &lt;script") {
		t.Error("service filter")
	}
}

func TestRenderMarkdown(t *testing.T) {
	for _, src := range []string{
		"<script>alert(1)</script>",
		"<img src=x onerror=alert(1)>",
		"[x](javascript:alert(1))",
		"![x](javascript:alert(1))",
		"<a href=\"javascript:alert(1)\">x</a>",
		"<iframe src=//evil></iframe>",
	} {
		out, err := renderMarkdown(src)
		if err != nil {
			t.Fatal(err)
		}
		low := strings.ToLower(string(out))
		for _, bad := range []string{"<script", "<img src=x", "javascript:alert", "<iframe", "onerror="} {
			if strings.Contains(low, bad) && !strings.Contains(low, "<pre>") {
				t.Errorf("%q rendered as %q", src, out)
			}
		}
	}
	out, _ := renderMarkdown("**bold** and `code`")
	if !strings.Contains(string(out), "<strong>bold</strong>") {
		t.Errorf("plain Markdown: %s", out)
	}
}

// TestPartsLeftOut: the UI refuses to start without a part every page
// needs, and without an incident service it has no incident pages and
// links to none.
func TestPartsLeftOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	shelf, err := snapshot.New(f.db, snapshot.DefaultMax)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"Without an SLO reader the UI does not start.", Config{Rollups: f.db, Snapshots: shelf}},
		{"Without a rollup reader the UI does not start.", Config{SLOs: f.eng, Snapshots: shelf}},
		{"Without a snapshot shelf the UI does not start.", Config{SLOs: f.eng, Rollups: f.db}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), "required") {
				t.Errorf("New = %v, want an error naming what is required", err)
			}
		})
	}
	u, err := New(Config{SLOs: f.eng, Rollups: f.db, Snapshots: shelf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Wait)
	srv := httptest.NewServer(u)
	defer srv.Close()
	off := &fixture{t: t, srv: srv}
	for _, path := range []string{"/incidents", "/incidents/1", "/review"} {
		if page := off.get(path, 404); !strings.Contains(page, "Incidents are not enabled here.") {
			t.Errorf("%s does not say that incidents are off", path)
		}
	}
	if page := off.get("/", 200); strings.Contains(page, `href="/incidents"`) {
		t.Error("the overview links to incident pages that are off")
	}
	if page := f.get("/", 200); !strings.Contains(page, `href="/incidents"`) {
		t.Error("with an incident service the overview does not link to its pages")
	}
}

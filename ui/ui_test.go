package ui

import (
	"flag"
	"html"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

var update = flag.Bool("update", false, "rewrite the golden pages in testdata")

// golden compares a page with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ui -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d:\n got: %.300s\nwant: %.300s\n(go test ./ui -update rewrites it)", name, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d (go test ./ui -update rewrites it)", name, len(gl), len(wl))
	}
}

// TestGoldenPages renders every page on fixed data and a fixed clock.
func TestGoldenPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	for _, c := range []struct {
		golden, path string
		status       int
	}{
		{"overview.html", "/", 200},
		{"overview-filtered.html", "/?service=checkout&sort=name", 200},
		{"slo-checkout.html", "/slos/checkout-availability", 200},
		{"slo-search-1d.html", "/slos/search-latency?range=1d", 200},
		{"slo-login-zoom.html", "/slos/login-availability?from=2026-11-25T09:00:00Z&to=2026-11-25T11:00:00Z", 200},
		{"slo-evil.html", "/slos/evil.slo_1", 200},
		{"error-unknown-slo.html", "/slos/no-such-slo", 404},
		{"error-bad-range.html", "/slos/checkout-availability?from=2026-11-25T10:00:00Z&to=2026-11-24T10:00:00Z", 400},
		{"error-no-page.html", "/nothing/here", 404},
	} {
		t.Run(c.golden, func(t *testing.T) {
			golden(t, c.golden, f.get(c.path, c.status))
		})
	}
}

func TestOverviewShowsEverySLO(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	page := f.get("/", 200)
	for _, want := range []string{"checkout-availability", "search-latency", "login-availability", "evil.slo_1",
		"budget left", "30 days", `role="img"`, "<desc id=\"spark-checkout-availability-d\">Availability of each of the last 30 days"} {
		if !strings.Contains(page, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	// Sorted by budget left, least first: the order of the cards follows it.
	filtered := f.get("/?owner=team-payments", 200)
	if !strings.Contains(filtered, "checkout-availability") || strings.Contains(filtered, `data-slo="search-latency"`) {
		t.Error("owner filter")
	}
	if page := f.get("/?label=tier%3D%3Cb%3E1%3C%2Fb%3E", 200); !strings.Contains(page, `data-slo="evil.slo_1"`) || strings.Contains(page, `data-slo="search-latency"`) {
		t.Error("label filter")
	}
	f.get("/?sort=random", 400)
	f.get("/?label=novalue", 400)
}

// TestEscaping: every user-provided text (service, owner, description,
// labels, annotation titles and links) reaches the page as text.
func TestEscaping(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	for _, path := range []string{"/", "/slos/evil.slo_1", "/slos/checkout-availability?range=2d", "/slos/%3Cscript%3E", "/%3Cscript%3Ealert(1)%3C/script%3E"} {
		status := 200
		if strings.Contains(path, "%3Cscript") {
			status = 404
		}
		page := f.get(path, status)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>1</b>", "javascript:alert", `"><img`} {
			if strings.Contains(page, bad) {
				t.Errorf("%s: unescaped %q", path, bad)
			}
		}
	}
	page := f.get("/slos/evil.slo_1", 200)
	if !strings.Contains(page, "&lt;/p&gt;&lt;script&gt;alert(3)&lt;/script&gt; &amp; more") {
		t.Error("description not shown escaped")
	}
	cp := f.get("/slos/checkout-availability?range=2d", 200)
	if !strings.Contains(cp, "checkout v2.3.1 &lt;script&gt;") {
		t.Error("annotation title not shown escaped")
	}
	if strings.Contains(cp, `href="javascript`) {
		t.Error("a javascript: annotation URL became a link")
	}
}

func TestParseRange(t *testing.T) {
	s := &slo.SLO{Name: "x", Quantum: time.Minute, Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}}
	at := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	ok := func(query string, from, to time.Time) {
		t.Helper()
		q, _ := url.ParseQuery(query)
		tr, err := parseRange(q, s, at, time.UTC)
		if err != nil {
			t.Fatalf("%q: %v", query, err)
		}
		if !tr.From.Equal(from) || !tr.To.Equal(to) {
			t.Errorf("%q: %s – %s, want %s – %s", query, tr.From, tr.To, from, to)
		}
	}
	ok("", at.Add(-30*24*time.Hour), at)
	ok("range=7d", at.Add(-7*24*time.Hour), at)
	ok("range=90m", at.Add(-90*time.Minute), at)
	ok("from=2026-11-20T10:00:30Z&to=2026-11-20T11:00:10Z", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 11, 1, 0, 0, time.UTC))
	ok("from=2026-11-25T14:00:00Z", at.Add(-time.Hour), at)
	bad := func(query, says string) {
		t.Helper()
		q, _ := url.ParseQuery(query)
		_, err := parseRange(q, s, at, time.UTC)
		pe, isPage := err.(*pageError)
		if !isPage || pe.status != http.StatusBadRequest || !strings.Contains(pe.msg, says) || len(pe.hints) == 0 {
			t.Errorf("%q: %v, want a 400 saying %q", query, err, says)
		}
	}
	bad("range=abc", "not a duration")
	bad("range=-5m", "not a duration")
	bad("range=500d", "longer than the 400 days")
	bad("range=7d&from=2026-11-20T10:00:00Z", "either")
	bad("from=yesterday", "not an RFC 3339")
	bad("from=2026-11-20T10:00:00Z&to=noon", "not an RFC 3339")
	bad("to=2026-11-20T10:00:00Z", "needs a from")
	bad("from=2026-11-21T10:00:00Z&to=2026-11-20T10:00:00Z", "not before")
	bad("from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "longer than the 400 days")
	// Times a page cannot hold in Unix nanoseconds wrapped round to a span
	// centuries away and showed it as the one asked for.
	bad("from=1000-01-01T00:00:00Z&to=1000-01-02T00:00:00Z", "outside")
	bad("from=2300-01-01T00:00:00Z&to=2300-01-02T00:00:00Z", "outside")
	bad("from=2026-11-20T10:00:00Z&to=2300-01-02T00:00:00Z", "outside")
	// The range a link carries is the one shown: a fraction of a second
	// dropped from to= made the page's own links (the Freeze form) empty.
	q, _ := url.ParseQuery("from=2026-11-25T14:00:00Z&to=2026-11-25T14:00:00.5Z")
	tr, err := parseRange(q, s, at, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := url.ParseQuery(tr.Query)
	if tr2, err := parseRange(again, s, at, time.UTC); err != nil || !tr2.From.Equal(tr.From) || !tr2.To.Equal(tr.To) {
		t.Errorf("the link %q reads as %s – %s, %v; want %s – %s", tr.Query, tr2.From, tr2.To, err, tr.From, tr.To)
	}
	// A span inside one quantum shows that quantum.
	ok("from=2026-11-20T10:00:10Z&to=2026-11-20T10:00:20Z", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 20, 10, 1, 0, 0, time.UTC))
}

func FuzzParseRange(f *testing.F) {
	for _, seed := range []string{"", "range=7d", "range=1h30m", "from=2026-11-20T10:00:00Z&to=2026-11-21T10:00:00Z", "from=0001-01-01T00:00:00Z", "range=99999999999d", "from=9999-12-31T23:59:59Z"} {
		f.Add(seed)
	}
	s := &slo.SLO{Name: "x", Quantum: time.Minute, Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}}
	at := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		tr, err := parseRange(q, s, at, time.UTC)
		if err != nil {
			return
		}
		if !tr.From.Before(tr.To) || tr.To.Sub(tr.From) > httpx.MaxRange+s.Quantum {
			t.Fatalf("%q: accepted %s – %s", query, tr.From, tr.To)
		}
		if tr.From.UnixNano()%int64(s.Quantum) != 0 || tr.To.UnixNano()%int64(s.Quantum) != 0 {
			t.Fatalf("%q: edges off quanta: %s – %s", query, tr.From, tr.To)
		}
	})
}

// TestFreeze stores a snapshot and serves it at a permanent URL that
// shows the same numbers after the live data moved on.
func TestFreeze(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Post(f.srv.URL+"/slos/checkout-availability/freeze?range=6h", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`^/snapshots/[0-9a-f]{16}$`).MatchString(loc) {
		t.Fatalf("freeze: %d, Location %q", resp.StatusCode, loc)
	}
	// The engine evaluates at 14:59, the end of the last settled quantum.
	live := f.get("/slos/checkout-availability?from=2026-11-25T08:59:00Z&to=2026-11-25T14:59:00Z", 200)
	snap := f.get(loc, 200)
	for _, want := range []string{"Snapshot", "frozen 2026-11-25 15:00 UTC", "Open the same range live", `href="/slos/checkout-availability?from=2026-11-25T08%3A59%3A00Z&amp;to=2026-11-25T14%3A59%3A00Z"`} {
		if !strings.Contains(snap, want) {
			t.Errorf("snapshot lacks %q", want)
		}
	}
	golden(t, "snapshot.html", snap)
	if strings.Contains(snap, "❄ Freeze") {
		t.Error("a snapshot offers to freeze itself")
	}
	// The charts are the live page's for the same absolute range.
	chart := regexp.MustCompile(`(?s)<svg class="chart bars".*?</svg>`)
	if a, b := chart.FindString(live), chart.FindString(snap); a == "" || a != b {
		t.Error("the snapshot's availability chart differs from the live page's for the same range")
	}
	// A cross-site form post is refused.
	req, _ := http.NewRequest("POST", f.srv.URL+"/slos/checkout-availability/freeze", nil)
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site freeze: %v %v", resp.StatusCode, err)
	}
	// A snapshot may sit behind the read token: no shared cache may keep it.
	if resp, err := http.Get(f.srv.URL + loc); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "private") || strings.Contains(cc, "public") {
			t.Errorf("snapshot Cache-Control %q, want private", cc)
		}
	}
	f.get("/snapshots/0123456789abcdef", 404)
	f.get("/snapshots/..%2F..%2Fetc", 404)
}

func TestFigure(t *testing.T) {
	f := func(v float64, want string) {
		t.Helper()
		if got := figure(v); got != want {
			t.Errorf("figure(%v) = %q, want %q", v, got, want)
		}
	}
	f(43200, "43,200")
	f(43.2, "43.2")
	f(31710, "31,710")
	f(-1234567, "-1,234,567")
	f(107, "107")
	f(0, "0")
}

// TestCachedLatencyIsExact: the latency a page shows, merged from the
// day cache in the same pass as the counts, equals the engine's, before
// and after compaction moved old histograms into hourly ones.
func TestCachedLatencyIsExact(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	ctx := t.Context()
	s, err := f.eng.SLO("checkout-availability")
	if err != nil {
		t.Fatal(err)
	}
	from, to := testNow.Add(-70*time.Hour).Truncate(time.Hour), testNow.Truncate(time.Minute)
	want, err := f.eng.Latency(ctx, s.Name, from, to)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // cold, then from the cache
		got, err := f.ui.latency(ctx, s, from, to, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Fatalf("cached latency of %d samples, engine %d", got.Count(), want.Count())
		}
	}
	if _, err := f.db.Compact(ctx, testNow, store.Retention{Full: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	f.ui.cache.mu.Lock()
	f.ui.cache.days = nil
	f.ui.cache.mu.Unlock()
	// A day whose histograms were compacted is cached without latency, so
	// the page asks the hourly histograms for it.
	old := testNow.UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	if _, err := f.ui.day(ctx, s, old, testNow); err != nil {
		t.Fatal(err)
	}
	f.ui.cache.mu.Lock()
	dc := f.ui.cache.days[dayKey{s.Name, s.Quantum, old.UnixNano()}]
	f.ui.cache.mu.Unlock()
	if dc == nil || len(dc.rollups) == 0 || dc.latency != nil {
		t.Fatalf("compacted day cached as %+v; want its counts without latency", dc)
	}
	got, err := f.ui.latency(ctx, s, from, to, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(want) {
		t.Fatalf("after compaction: cached latency of %d samples, engine had %d", got.Count(), want.Count())
	}
}

// TestCacheFollowsBackfill: a past day's counts are reused until a write
// to a past day (a backfill) or the end of cacheTTL; a backfill shows at
// once.
func TestCacheFollowsBackfill(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	ctx := t.Context()
	s, err := f.eng.SLO("checkout-availability")
	if err != nil {
		t.Fatal(err)
	}
	day := testNow.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	attempted := func() uint64 {
		t.Helper()
		rs, err := f.ui.day(ctx, s, day, f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, r := range rs {
			n += r.Attempted
		}
		return n
	}
	// A day nothing reported for yet is read again each time, so a
	// history being backfilled shows at once.
	empty := day.Add(-5 * 24 * time.Hour)
	if rs, err := f.ui.day(ctx, s, empty, f.clock.Now()); err != nil || len(rs) != 0 {
		t.Fatalf("empty day: %d rollups, %v", len(rs), err)
	}
	if _, err := f.eng.Backfill(ctx, s.Name, &slo.Series{Quantum: s.Quantum, Rollups: []slo.Rollup{{Start: empty.UnixNano(), Attempted: 5, Good: 5, Measured: true}}}, "test"); err != nil {
		t.Fatal(err)
	}
	if rs, err := f.ui.day(ctx, s, empty, f.clock.Now()); err != nil || len(rs) != 1 {
		t.Fatalf("a backfilled empty day: %d rollups, %v; want the new one at once", len(rs), err)
	}
	before := attempted()
	extra := &slo.Series{Quantum: s.Quantum, Rollups: []slo.Rollup{{Start: day.Add(10 * time.Minute).UnixNano(), Attempted: 1000, Measured: true}}}
	if got := attempted(); got != before {
		t.Fatalf("a cached day changed without a write: %d, want %d", got, before)
	}
	// A backfill into the cached day shows at once: the engine's count of
	// writes to past days moved.
	if _, err := f.eng.Backfill(ctx, s.Name, extra, "test"); err != nil {
		t.Fatal(err)
	}
	if got := attempted(); got != before+1000 {
		t.Fatalf("after a backfill: %d, want %d", got, before+1000)
	}
	// Past half its life an entry in use is read again in the background,
	// and past its life in the request.
	f.clock.Add(cacheTTL/2 + time.Second)
	if got := attempted(); got != before+1000 {
		t.Fatalf("half-life: %d", got)
	}
	f.clock.Add(cacheTTL + time.Second)
	if got := attempted(); got != before+1000 {
		t.Fatalf("expired entry read again: %d, want %d", got, before+1000)
	}
}

// TestWarmFillsTheCache: after Warm every past day of the last month with
// data is in the cache, latency included, so the first view reads no
// past day from the store.
func TestWarmFillsTheCache(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 2)
	f.ui.Warm(t.Context())
	f.ui.cache.mu.Lock()
	defer f.ui.cache.mu.Unlock()
	if len(f.ui.cache.days) == 0 {
		t.Fatal("nothing cached")
	}
	for k, dc := range f.ui.cache.days {
		if len(dc.rollups) == 0 || dc.gen != f.eng.PastDayWrites() {
			t.Errorf("%+v: %d rollups, gen %d", k, len(dc.rollups), dc.gen)
		}
	}
}

// TestZoomLinks: each longest violation's zoom link opens that span; the
// template once escaped its query a second time, so it opened the
// default window instead.
func TestZoomLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 3)
	page := f.get("/slos/checkout-availability", 200)
	links := regexp.MustCompile(`<a href="([^"]*)">zoom</a>`).FindAllStringSubmatch(page, -1)
	if len(links) == 0 {
		t.Fatal("no zoom links")
	}
	for _, l := range links {
		u, err := url.Parse(html.UnescapeString(l[1]))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		from, err1 := time.Parse(time.RFC3339, q.Get("from"))
		to, err2 := time.Parse(time.RFC3339, q.Get("to"))
		if err1 != nil || err2 != nil || !from.Before(to) {
			t.Errorf("zoom link %q names no span", l[1])
		}
	}
}

// TestLabelFilterEmptyValue: label=k= shows the SLOs whose label k is
// empty, not every SLO without k.
func TestLabelFilterEmptyValue(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	const blank = "name: blank-team\nservice: blank\nlabels:\n  team: \"\"\n  tier: \"2\"\nsli:\n  good:\n    status: \"<500\"\nobjective: 99\nmethod: quanta\nwindow:\n  rolling: 1d\n"
	if _, err := f.eng.Load(t.Context(), map[string][]byte{"demo.yaml": []byte(demo.Specs), "evil.yaml": []byte(evilSpec), "blank.yaml": []byte(blank)}); err != nil {
		t.Fatal(err)
	}
	page := f.get("/?label=team%3D", 200)
	if !strings.Contains(page, `data-slo="blank-team"`) || strings.Contains(page, `data-slo="evil.slo_1"`) {
		t.Error("label=team= shows SLOs without a team label")
	}
}

// TestContentSecurityPolicy: every page forbids inline script, framing,
// a <base> that would redirect relative links, and forms posting
// elsewhere.
func TestContentSecurityPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	for _, path := range []string{"/", "/slos/checkout-availability", "/incidents", "/nope"} {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
	}
}

package ui

import (
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/slo"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	z, err := time.LoadLocation(name)
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	return z
}

// TestPeriods: per-day bars are cut at local midnight, so a Berlin day
// is 23 hours on the day daylight saving starts and 25 on the day it
// ends; UTC days and Monday weeks are those time.Truncate gives; hours
// in a zone half an hour off UTC start at half past in UTC.
func TestPeriods(t *testing.T) {
	berlin, kolkata := mustZone(t, "Europe/Berlin"), mustZone(t, "Asia/Kolkata")
	h := time.Hour
	for _, c := range []struct {
		name     string
		from, to time.Time
		unit     time.Duration
		zone     *time.Location
		first    time.Time
		lengths  []time.Duration
	}{
		{"UTC days cover the span from midnight.", time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC), 24 * h, time.UTC,
			time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), []time.Duration{24 * h, 24 * h, 24 * h}},
		{"A Berlin December starts on Dec 1, not with an hour of Nov 30.", time.Date(2026, 12, 1, 0, 0, 0, 0, berlin), time.Date(2026, 12, 3, 0, 0, 0, 0, berlin), 24 * h, berlin,
			time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), []time.Duration{24 * h, 24 * h}},
		{"Berlin's day of the spring change is 23 hours.", time.Date(2026, 3, 28, 12, 0, 0, 0, berlin), time.Date(2026, 3, 30, 12, 0, 0, 0, berlin), 24 * h, berlin,
			time.Date(2026, 3, 27, 23, 0, 0, 0, time.UTC), []time.Duration{24 * h, 23 * h, 24 * h}},
		{"Berlin's day of the autumn change is 25 hours.", time.Date(2026, 10, 25, 0, 0, 0, 0, berlin), time.Date(2026, 10, 26, 0, 0, 0, 0, berlin), 24 * h, berlin,
			time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC), []time.Duration{25 * h}},
		{"UTC weeks start on Monday, as Truncate cuts them.", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 7 * 24 * h, time.UTC,
			time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC).Truncate(7 * 24 * h), []time.Duration{7 * 24 * h, 7 * 24 * h}},
		{"Berlin weeks start on Monday at Berlin midnight.", time.Date(2026, 3, 26, 0, 0, 0, 0, berlin), time.Date(2026, 3, 31, 0, 0, 0, 0, berlin), 7 * 24 * h, berlin,
			time.Date(2026, 3, 22, 23, 0, 0, 0, time.UTC), []time.Duration{7*24*h - h, 7 * 24 * h}},
		{"Kolkata's hours start at half past in UTC.", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), h, kolkata,
			time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC), []time.Duration{h, h}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ws := periods(c.from, c.to, c.unit, c.zone)
			var lengths []time.Duration
			for i, w := range ws {
				lengths = append(lengths, w.Duration())
				if i > 0 && !w.Start.Equal(ws[i-1].End) {
					t.Errorf("period %d starts at %s, the one before ends at %s", i, w.Start, ws[i-1].End)
				}
			}
			if len(ws) == 0 || !ws[0].Start.Equal(c.first) || !slices.Equal(lengths, c.lengths) {
				t.Fatalf("periods %v (lengths %v), want from %s lengths %v", ws, lengths, c.first, c.lengths)
			}
		})
	}
}

// TestStripCells: quanta before the evaluation time are judged, those
// from it until now are pending however bad their data, later ones are
// the future.
func TestStripCells(t *testing.T) {
	s := &slo.SLO{Name: "x", Quantum: time.Minute, Objective: slo.Ratio{Num: 99, Den: 100}, Method: slo.Quanta, Window: slo.WindowSpec{Rolling: time.Hour}}
	from := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	m := func(i int, good uint64) slo.Rollup {
		return slo.Rollup{Start: from.Add(time.Duration(i) * time.Minute).UnixNano(), Attempted: 100, Good: good, Measured: true}
	}
	rs := []slo.Rollup{m(0, 100), m(1, 0), m(3, 0), m(4, 0)}
	end, now := from.Add(3*time.Minute), from.Add(4*time.Minute+30*time.Second)
	cells, sum := stripCells(s, rs, math.MinInt64, from, from.Add(6*time.Minute), end, now, time.Minute)
	var states []string
	for _, c := range cells {
		states = append(states, c.State())
	}
	if got := strings.Join(states, " "); got != "good bad unmeasured pending pending empty" {
		t.Errorf("cells %s", got)
	}
	if sum.Good != 1 || sum.Bad != 1 || sum.Unmeasured != 1 || sum.Pending != 2 {
		t.Errorf("sum %+v", sum)
	}
	// In buckets of three minutes the second holds two pending quanta and
	// nothing judged.
	cells, _ = stripCells(s, rs, math.MinInt64, from, from.Add(6*time.Minute), end, now, 3*time.Minute)
	if len(cells) != 2 || cells[1].State() != "pending" || cells[1].Pending != 2 {
		t.Errorf("bucketed cells %+v", cells)
	}
}

// TestTrafficPoints: each step's rate is its requests over its length
// (the last step only as long as what was judged), its ratio the share
// that failed; a step nothing reported for is a gap in both, one with no
// requests is 0/s and a gap in the ratio.
func TestTrafficPoints(t *testing.T) {
	from := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	at := func(m int) int64 { return from.Add(time.Duration(m) * time.Minute).UnixNano() }
	rs := []slo.Rollup{
		{Start: at(0), Attempted: 60, Good: 60, Measured: true},
		{Start: at(1), Attempted: 60, Good: 57, Measured: true},
		{Start: at(4), Attempted: 0, Measured: true},
		{Start: at(5), Attempted: 600, Good: 0, Measured: true}, // after end: pending
	}
	rate, ratio, total := trafficPoints(rs, from, from.Add(5*time.Minute), 2*time.Minute)
	want := []struct {
		mid         time.Duration
		rate, ratio float64
	}{
		{time.Minute, 1, 0.025},
		{3 * time.Minute, math.NaN(), math.NaN()},
		{4*time.Minute + 30*time.Second, 0, math.NaN()},
	}
	if len(rate) != len(want) || len(ratio) != len(want) {
		t.Fatalf("%d and %d points, want %d", len(rate), len(ratio), len(want))
	}
	same := func(a, b float64) bool { return (math.IsNaN(a) && math.IsNaN(b)) || math.Abs(a-b) < 1e-12 }
	for i, w := range want {
		if !rate[i].T.Equal(from.Add(w.mid)) || !same(rate[i].V, w.rate) || !same(ratio[i].V, w.ratio) {
			t.Errorf("point %d: %s %v/s %v, want %s %v/s %v", i, rate[i].T, rate[i].V, ratio[i].V, from.Add(w.mid), w.rate, w.ratio)
		}
	}
	if total.Attempted != 120 || total.Failed() != 3 {
		t.Errorf("total %+v, want 120 requests, 3 failed", total)
	}
}

// TestPendingMinuteNeverShowsBad: a bad minute that is not judged yet
// changes nothing on the page (strip, figures, bars, traffic), and shows
// as pending in a range that reaches it; once it settles it is bad.
func TestPendingMinuteNeverShowsBad(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	const page = "/slos/checkout-availability?from=2026-11-25T14:00:00Z&to=2026-11-25T15:10:00Z"
	before := f.get(page, 200)
	// The engine evaluates at 14:59 (15:00:30 less the settle delay):
	// 14:59 is pending. A burst of failures lands in it.
	bad := &slo.Series{Quantum: time.Minute, Rollups: []slo.Rollup{{Start: time.Date(2026, 11, 25, 14, 59, 0, 0, time.UTC).UnixNano(), Attempted: 5000, Errors: 5000, Measured: true}}}
	if _, err := f.eng.Append(t.Context(), "checkout-availability", bad, "test"); err != nil {
		t.Fatal(err)
	}
	after := f.get(page, 200)
	if before != after {
		t.Error("a minute not judged yet changed the page")
	}
	cells := regexp.MustCompile(`data-cells="([^"]*)"`).FindStringSubmatch(after)
	if cells == nil || !strings.Contains(cells[1], ";0,0,0,1;0,0,0,1;0,0,0;") || !strings.Contains(after, `class="cell pending"`) {
		t.Fatalf("14:59 and 15:00 are not pending in the strip: %.200s", cells)
	}
	if !strings.Contains(after, "pending (not judged yet)") || !strings.Contains(after, "The last 2 quanta are pending") {
		t.Error("the strip's description does not count the pending quanta")
	}
	f.clock.Add(time.Minute)
	f.eng.Tick(f.clock.Now())
	settled := regexp.MustCompile(`data-cells="([^"]*)"`).FindStringSubmatch(f.get(page, 200))
	if settled == nil || strings.Split(settled[1], ";")[59] != "0,1,0" {
		t.Error("the settled bad minute 14:59 is not bad")
	}
}

// TestBerlinMonthHasBerlinDays: the December window of a Berlin monthly
// SLO draws Berlin days from Dec 1, lists its times in Berlin time, and
// the strip's read-out writes them there too.
func TestBerlinMonthHasBerlinDays(t *testing.T) {
	t.Parallel()
	f := newFixtureAt(t, time.Date(2026, 12, 5, 10, 0, 30, 0, time.UTC), 6)
	page := f.get("/slos/login-availability", 200)
	golden(t, "slo-login-december.html", page)
	rows := regexp.MustCompile(`<tr><td>([A-Z][a-z]{2} \d+)</td>`).FindAllStringSubmatch(page, -1)
	var days []string
	for _, r := range rows {
		days = append(days, r[1])
	}
	if strings.Join(days, " ") != "Dec 1 Dec 2 Dec 3 Dec 4 Dec 5" {
		t.Errorf("day rows %v, want Dec 1 to Dec 5", days)
	}
	for _, want := range []string{"2026-12-01 00:00 CET", `data-zone="Europe/Berlin"`, "Days are cut at midnight Europe/Berlin."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "Nov 30") {
		t.Error("the December window shows a Nov 30")
	}
}

// TestSLIEditShowsItsMark: after a reload that changes checkout's latency
// threshold, its page says the history was re-judged, and by what.
func TestSLIEditShowsItsMark(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	edited := strings.Replace(demo.Specs, `latency: "<=250ms"`, `latency: "<=300ms"`, 1)
	if _, err := f.eng.Load(t.Context(), map[string][]byte{"demo.yaml": []byte(edited), "evil.yaml": []byte(evilSpec)}); err != nil {
		t.Fatal(err)
	}
	page := f.get("/slos/checkout-availability", 200)
	for _, want := range []string{`<li class="mark-rejudged">Re-judged by the SLI in force since`, "latency threshold &lt;=250ms → &lt;=300ms changed: re-judged"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

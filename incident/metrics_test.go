package incident

import (
	"testing"
	"time"
)

func at(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func mins(n float64) Dur { return Dur(time.Duration(n * float64(time.Minute))) }

// table is a month of checkout incidents with hand-computed times
// (minutes): see the comments of each for TTD/TTE/TTF/TTM.
func table() (*Config, []Facts, []RepairItem) {
	cfg := &Config{
		Services: map[string]ServiceConfig{
			"checkout": {Owner: "team-payments", Goals: Goals{TTD: 5 * time.Minute, TTE: 10 * time.Minute, TTF: 30 * time.Minute, TTM: 45 * time.Minute}},
			"search":   {Owner: "team-search"},
		},
	}
	f := func(id int64, day string, ttd, tte, ttf float64, by DetectedBy, hops, responders int) Facts {
		start := at(day)
		x := Facts{ID: id, Title: "incident", Services: []string{"checkout"}, Severity: 2, DetectedBy: by, Hops: hops, Responders: responders, ImpactStart: start}
		x.Detected = start.Add(time.Duration(ttd * float64(time.Minute)))
		if tte >= 0 {
			x.Engaged = x.Detected.Add(time.Duration(tte * float64(time.Minute)))
			x.Mitigated = x.Engaged.Add(time.Duration(ttf * float64(time.Minute)))
		}
		return x
	}
	facts := []Facts{
		f(1, "2026-11-02 10:00", 3, 7, 20, ByMonitoring, 1, 2),  // TTM 30
		f(2, "2026-11-10 10:00", 17, 12, 22, ByCustomer, 0, 1),  // TTM 51: misses TTD (covered), TTE (missed repair), TTM
		f(3, "2026-11-20 10:00", 4, 3, 45, ByMonitoring, 2, 3),  // TTM 52: misses TTF (item won't fix: missed repair), TTM
		f(4, "2026-11-25 10:00", 6, -1, 0, ByMonitoring, -1, 0), // TTD 6 misses (missed repair); no engaged: TTE, TTF, TTM incomplete
		f(5, "2026-12-03 10:00", 2, 5, 10, ByMonitoring, 0, 1),  // TTM 17
	}
	// Incident 4 was mitigated without anyone marked engaged.
	facts[3].Mitigated = facts[3].Detected.Add(20 * time.Minute)
	repairs := []RepairItem{
		{ID: 1, IncidentID: 2, Title: "page on 5xx", Phase: Detection, Status: RepairOpen, Created: at("2026-11-11 09:00"), Due: at("2026-11-18 09:00")},
		{ID: 2, IncidentID: 3, Title: "runbook", Phase: Mitigation, Status: RepairWontfix, Created: at("2026-11-21 09:00"), Closed: at("2026-11-22 09:00")},
	}
	for _, r := range repairs {
		if r.Status != RepairWontfix {
			facts[r.IncidentID-1].Repaired.Add(r.Phase)
		}
	}
	return cfg, facts, repairs
}

func TestComputeByMonth(t *testing.T) {
	cfg, facts, _ := table()
	rep := Compute(cfg, MetricsQuery{By: Month}, facts, Burns{1: {{SLO: "checkout-availability", Share: 0.02}}, 3: {{SLO: "checkout-availability", Share: 0.05}}})
	if len(rep.Groups) != 2 {
		t.Fatalf("%d groups, want 2 (Nov, Dec): %+v", len(rep.Groups), rep.Groups)
	}
	nov := rep.Groups[0]
	if nov.Key != "checkout" || nov.Bucket != "2026-11" || nov.Count != 4 {
		t.Fatalf("first group %s %s count %d", nov.Key, nov.Bucket, nov.Count)
	}
	stat := func(name string, got Stat, want Stat) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %+v\nwant %+v", name, got, want)
		}
	}
	// TTD 3, 4, 6, 17: nearest-rank median is the 2nd, p90 the 4th.
	stat("TTD", nov.TTD, Stat{N: 4, Median: mins(4), P90: mins(17), Mean: mins(7.5), Goal: mins(5), Misses: 2})
	// TTE 3, 7, 12 (incident 4 has no engaged time).
	stat("TTE", nov.TTE, Stat{N: 3, Incomplete: 1, Median: mins(7), P90: mins(12), Mean: mins(22.0 / 3), Goal: mins(10), Misses: 1})
	stat("TTF", nov.TTF, Stat{N: 3, Incomplete: 1, Median: mins(22), P90: mins(45), Mean: mins(29), Goal: mins(30), Misses: 1})
	stat("TTM", nov.TTM, Stat{N: 3, Incomplete: 1, Median: mins(51), P90: mins(52), Mean: mins(133.0 / 3), Goal: mins(45), Misses: 2})
	if nov.Autodetected != 3 || nov.AutodetectRate != 0.75 {
		t.Errorf("autodetect %d %.2f, want 3 0.75", nov.Autodetected, nov.AutodetectRate)
	}
	if want := (CountStat{N: 3, Incomplete: 1, Median: 1, P90: 2, Mean: 1}); nov.Hops != want {
		t.Errorf("hops %+v, want %+v", nov.Hops, want)
	}
	if want := (CountStat{N: 4, Median: 1, P90: 3, Mean: 1.5}); nov.Responders != want {
		t.Errorf("responders %+v, want %+v", nov.Responders, want)
	}
	if nov.MissedRepairs != 3 {
		t.Errorf("missed repairs %d, want 3", nov.MissedRepairs)
	}
	if got := nov.BudgetShare["checkout-availability"]; got < 0.0699 || got > 0.0701 {
		t.Errorf("budget share %v, want 0.07", got)
	}
	dec := rep.Groups[1]
	stat("Dec TTM", dec.TTM, Stat{N: 1, Median: mins(17), P90: mins(17), Mean: mins(17), Goal: mins(45)})
	if len(rep.Incomplete) != 1 || rep.Incomplete[0].ID != 4 || len(rep.Incomplete[0].Missing) != 1 || rep.Incomplete[0].Missing[0] != "engaged" {
		t.Errorf("incomplete %+v, want incident 4 missing engaged", rep.Incomplete)
	}
	type mr struct {
		id     int64
		metric Metric
		phase  Phase
	}
	want := []mr{{4, TTD, Detection}, {3, TTF, Diagnosis}, {2, TTE, Engagement}} // newest first
	if len(rep.Missed) != len(want) {
		t.Fatalf("missed repairs %+v, want %v", rep.Missed, want)
	}
	for i, w := range want {
		m := rep.Missed[i]
		if (mr{m.IncidentID, m.Metric, m.Phase}) != w {
			t.Errorf("missed repair %d: %+v, want %+v", i, m, w)
		}
	}
}

func TestComputeByOwnerAndFilters(t *testing.T) {
	cfg, facts, _ := table()
	rep := Compute(cfg, MetricsQuery{Group: ByOwner}, facts, nil)
	if len(rep.Groups) != 1 || rep.Groups[0].Key != "team-payments" || rep.Groups[0].Count != 5 || rep.Groups[0].Bucket != "all" {
		t.Fatalf("groups %+v", rep.Groups)
	}
	// TTD 2, 3, 4, 6, 17: median the 3rd, p90 the 5th.
	if g := rep.Groups[0].TTD; g.Median != mins(4) || g.P90 != mins(17) || g.Misses != 2 {
		t.Errorf("TTD %+v", g)
	}
	rep = Compute(cfg, MetricsQuery{Service: "search"}, facts, nil)
	if len(rep.Groups) != 0 {
		t.Errorf("search has no incidents, got %+v", rep.Groups)
	}
	rep = Compute(cfg, MetricsQuery{From: at("2026-12-01 00:00")}, facts, nil)
	if len(rep.Groups) != 1 || rep.Groups[0].Count != 1 {
		t.Errorf("from December: %+v", rep.Groups)
	}
}

func TestNearestRank(t *testing.T) {
	f := func(xs []int, p float64, want int) {
		t.Helper()
		if got := NearestRank(xs, p); got != want {
			t.Errorf("NearestRank(%v, %v) = %d, want %d", xs, p, got, want)
		}
	}
	ten := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	f(ten, 90, 9)
	f(ten, 50, 5)
	f(ten, 100, 10)
	f(ten, 1, 1)
	f(ten, 99.9, 10)
	f([]int{1, 2, 3, 4}, 50, 2)
	f([]int{7}, 90, 7)
	f(nil, 50, 0)
}

func TestBuckets(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip(err)
	}
	// 23:30 UTC on 31 October is 00:30 on 1 November in Berlin.
	ts := time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		p     Period
		loc   *time.Location
		label string
	}{
		{Month, time.UTC, "2026-10"}, {Month, loc, "2026-11"},
		{Quarter, time.UTC, "2026-Q4"}, {Week, time.UTC, "2026-W44"},
	} {
		start := c.p.BucketStart(ts, c.loc)
		if got := c.p.Label(start); got != c.label {
			t.Errorf("%s in %s: %s, want %s", c.p, c.loc, got, c.label)
		}
		if next := c.p.Next(start); !next.After(ts) || start.After(ts) {
			t.Errorf("%s: bucket [%s, %s) does not hold %s", c.p, start, next, ts)
		}
	}
}

func TestComputeDebt(t *testing.T) {
	cfg, facts, repairs := table()
	repairs = append(repairs, RepairItem{ID: 3, IncidentID: 1, Title: "retry budget", Phase: Mitigation, Status: RepairDone,
		Created: at("2026-11-03 09:00"), Due: at("2026-11-10 09:00"), Closed: at("2026-12-05 09:00")})
	now := at("2026-12-15 12:00")
	rep := ComputeDebt(cfg, DebtQuery{By: Month}, now, facts, repairs)
	// Open now: item 1 (due 18 Nov: overdue). Item 2 won't fix, item 3 done.
	if rep.Open != 1 || rep.Overdue != 1 || len(rep.Items) != 1 || rep.Items[0].ID != 1 {
		t.Fatalf("open %d overdue %d items %+v", rep.Open, rep.Overdue, rep.Items)
	}
	if len(rep.Missed) != 3 {
		t.Fatalf("missed %+v", rep.Missed)
	}
	// Items have no owner: they are the incidents' service owner's.
	want := []DebtPoint{
		// End of November: items 1 and 3 open, both overdue (due 18 and
		// 10 Nov); item 2 closed on 22 Nov. Three missed repairs.
		{Key: "team-payments", Bucket: "2026-11", At: at("2026-12-01 00:00"), Open: 2, Overdue: 2, Missed: 3, MissedTotal: 3},
		// Now: item 3 done on 5 Dec.
		{Key: "team-payments", Bucket: "2026-12", At: now, Open: 1, Overdue: 1, Missed: 0, MissedTotal: 3},
	}
	if len(rep.Series) != len(want) {
		t.Fatalf("series %+v", rep.Series)
	}
	for i := range want {
		if rep.Series[i] != want[i] {
			t.Errorf("point %d: %+v, want %+v", i, rep.Series[i], want[i])
		}
	}
}

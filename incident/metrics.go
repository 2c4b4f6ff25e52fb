package incident

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Metric names one of the incident times.
type Metric string

const (
	TTD Metric = "ttd"
	TTE Metric = "tte"
	TTF Metric = "ttf"
	TTM Metric = "ttm"
)

// Metrics are the four times in report order.
var Metrics = []Metric{TTD, TTE, TTF, TTM}

func (f *Facts) get(m Metric) (time.Duration, bool) {
	switch m {
	case TTD:
		return f.TTD()
	case TTE:
		return f.TTE()
	case TTF:
		return f.TTF()
	case TTM:
		return f.TTM()
	}
	return 0, false
}

// needs names the timestamps a metric is computed from.
func (m Metric) needs() []string {
	switch m {
	case TTD:
		return []string{"impact_start", "detected"}
	case TTE:
		return []string{"detected", "engaged"}
	case TTF:
		return []string{"engaged", "mitigated"}
	}
	return []string{"impact_start", "detected", "engaged", "mitigated"}
}

// Period is the length of the calendar buckets figures are trended by.
type Period string

const (
	All     Period = ""
	Week    Period = "week"
	Month   Period = "month"
	Quarter Period = "quarter"
)

// ParsePeriod reads week, month, quarter, or "" / all for one bucket.
func ParsePeriod(v string) (Period, error) {
	switch p := Period(strings.ToLower(strings.TrimSpace(v))); p {
	case All, "all", "none":
		return All, nil
	case Week, Month, Quarter:
		return p, nil
	}
	return "", fmt.Errorf("%w: period %q: want week, month, quarter or all", ErrInvalid, v)
}

// BucketStart returns the start of the calendar bucket holding t in loc:
// ISO weeks start on Monday.
func (p Period) BucketStart(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	y, mo, d := t.Date()
	switch p {
	case Week:
		wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
		return time.Date(y, mo, d-wd, 0, 0, 0, 0, loc)
	case Month:
		return time.Date(y, mo, 1, 0, 0, 0, 0, loc)
	case Quarter:
		return time.Date(y, mo-(mo-1)%3, 1, 0, 0, 0, 0, loc)
	}
	return time.Time{}
}

// Next returns the start of the bucket after the one starting at start.
func (p Period) Next(start time.Time) time.Time {
	y, mo, d := start.Date()
	switch p {
	case Week:
		return time.Date(y, mo, d+7, 0, 0, 0, 0, start.Location())
	case Month:
		return time.Date(y, mo+1, 1, 0, 0, 0, 0, start.Location())
	case Quarter:
		return time.Date(y, mo+3, 1, 0, 0, 0, 0, start.Location())
	}
	return time.Time{}
}

// Label names the bucket starting at start: 2026-W48, 2026-11, 2026-Q4.
func (p Period) Label(start time.Time) string {
	switch p {
	case Week:
		y, w := start.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	case Month:
		return start.Format("2006-01")
	case Quarter:
		return fmt.Sprintf("%d-Q%d", start.Year(), (int(start.Month())+2)/3)
	}
	return "all"
}

// GroupBy says what the figures are broken down by.
type GroupBy string

const (
	ByService GroupBy = "service"
	ByOwner   GroupBy = "owner"
	ByNothing GroupBy = "all"
)

// ParseGroupBy reads service, owner or all.
func ParseGroupBy(v string) (GroupBy, error) {
	switch g := GroupBy(strings.ToLower(strings.TrimSpace(v))); g {
	case "", ByService:
		return ByService, nil
	case ByOwner, ByNothing:
		return g, nil
	}
	return "", fmt.Errorf("%w: group %q: want service, owner or all", ErrInvalid, v)
}

// Stat summarises one time over the incidents of a group.
//
// Median and P90 are nearest-rank percentiles: the p-th percentile of N
// sorted values is the value at rank ⌈p/100 · N⌉ (1-based), so it is
// always a value that occurred (the median of 4 values is the 2nd).
type Stat struct {
	// N counts the incidents the time is known for; Incomplete those
	// missing a timestamp it needs.
	N          int `json:"n"`
	Incomplete int `json:"incomplete"`
	Median     Dur `json:"median"`
	P90        Dur `json:"p90"`
	Mean       Dur `json:"mean"`
	// Goal is the group's goal (zero when none or when the group mixes
	// services with different goals); Misses counts the incidents over
	// their own service's goal.
	Goal   Dur `json:"goal"`
	Misses int `json:"misses"`
}

// CountStat summarises a count per incident (hops, responders).
type CountStat struct {
	N          int     `json:"n"`
	Incomplete int     `json:"incomplete"`
	Median     int     `json:"median"`
	P90        int     `json:"p90"`
	Mean       float64 `json:"mean"`
}

// Group is the figures of one group (a service, an owner) in one bucket.
type Group struct {
	Key    string    `json:"key"`
	Bucket string    `json:"bucket"`
	Start  time.Time `json:"start,omitzero"`
	End    time.Time `json:"end,omitzero"`
	Count  int       `json:"count"`
	TTD    Stat      `json:"ttd"`
	TTE    Stat      `json:"tte"`
	TTF    Stat      `json:"ttf"`
	TTM    Stat      `json:"ttm"`
	// Autodetected counts the incidents monitoring found first; the rate
	// is Autodetected / Count.
	Autodetected   int       `json:"autodetected"`
	AutodetectRate float64   `json:"autodetect_rate"`
	Hops           CountStat `json:"hops"`
	Responders     CountStat `json:"responders"`
	// MissedRepairs counts (incident, phase) pairs that missed a goal
	// without a repair item for the phase.
	MissedRepairs int `json:"missed_repairs"`
	// BudgetShare sums, per SLO, the share of its window's budget the
	// group's incidents burned (only where the burn is known).
	BudgetShare map[string]float64 `json:"budget_share,omitempty"`
}

// Stat returns the stat for m.
func (g *Group) Stat(m Metric) *Stat {
	switch m {
	case TTD:
		return &g.TTD
	case TTE:
		return &g.TTE
	case TTF:
		return &g.TTF
	}
	return &g.TTM
}

// Incomplete is an incident missing timestamps, listed so that nothing
// drops out of the figures unseen.
type Incomplete struct {
	ID      int64    `json:"id"`
	Title   string   `json:"title"`
	Service string   `json:"service"`
	Missing []string `json:"missing"`
}

// MissedRepair is an incident that missed a goal without a repair item
// flagged for the phase that would answer it.
type MissedRepair struct {
	IncidentID  int64     `json:"incident_id"`
	Title       string    `json:"title"`
	Service     string    `json:"service"`
	Owner       string    `json:"owner"`
	ImpactStart time.Time `json:"impact_start"`
	Metric      Metric    `json:"metric"`
	Phase       Phase     `json:"phase"`
	Value       Dur       `json:"value"`
	Goal        Dur       `json:"goal"`
}

// Report is the incident figures over a span.
type Report struct {
	By     Period  `json:"by"`
	Group  GroupBy `json:"group"`
	Groups []Group `json:"groups"`
	// Incomplete lists incidents missing a timestamp, the newest first,
	// and Missed the missed repairs, the newest impact first: at most
	// the query's ListLimit of each, out of the totals.
	Incomplete      []Incomplete   `json:"incomplete"`
	IncompleteTotal int            `json:"incomplete_total"`
	Missed          []MissedRepair `json:"missed_repairs"`
	MissedTotal     int            `json:"missed_repairs_total"`
}

// MetricsQuery selects and groups the incidents of a report.
type MetricsQuery struct {
	By    Period
	Group GroupBy
	// Service and Owner keep only the incidents of one service or owner.
	Service, Owner string
	// From and To bound the impact start, half-open; zero is unbounded.
	From, To time.Time
	// ListLimit caps the incomplete incidents and missed repairs listed
	// (the groups count them all); zero lists all.
	ListLimit int
}

// Burns gives the budget burned of incidents by ID, for the report's
// budget figures; nil leaves them out.
type Burns map[int64][]Burn

// Compute builds the report from the incidents' facts. It is pure: the
// same input, the same report.
func Compute(cfg *Config, q MetricsQuery, facts []Facts, burns Burns) *Report {
	c := newCalc(cfg, q, burns)
	for i := range facts {
		c.add(&facts[i])
	}
	return c.report()
}

type groupKey struct {
	group  string
	bucket int64
}

// calc computes a report from facts handed to it one at a time, so that
// they can be streamed from the store.
type calc struct {
	cfg   *Config
	q     MetricsQuery
	burns Burns
	acc   map[groupKey]*accum
	rep   *Report
	// incompleteCut and missedCut are the oldest entries the cut lists
	// keep (see add).
	incompleteCut int64
	missedCut     time.Time
}

func newCalc(cfg *Config, q MetricsQuery, burns Burns) *calc {
	if q.Group == "" {
		q.Group = ByService
	}
	return &calc{cfg: cfg.withDefaults(), q: q, burns: burns, acc: map[groupKey]*accum{},
		rep: &Report{By: q.By, Group: q.Group, Groups: []Group{}, Incomplete: []Incomplete{}, Missed: []MissedRepair{}}}
}

// add counts one incident. f is not kept.
func (c *calc) add(f *Facts) {
	cfg, q, rep := c.cfg, &c.q, c.rep
	if !keep(cfg, q, f) {
		return
	}
	var start time.Time
	if q.By != All && !f.ImpactStart.IsZero() {
		start = q.By.BucketStart(f.ImpactStart, cfg.Location)
	}
	// The lists keep the newest ListLimit entries: once a list has been
	// cut to size, entries older than its oldest are not even made.
	if f.incomplete() {
		rep.IncompleteTotal++
		if q.ListLimit <= 0 || f.ID > c.incompleteCut {
			rep.Incomplete = append(rep.Incomplete, Incomplete{ID: f.ID, Title: f.Title, Service: first(f.Services), Missing: f.missing()})
			if q.ListLimit > 0 && len(rep.Incomplete) >= 4*q.ListLimit+256 {
				rep.Incomplete = newestIncomplete(rep.Incomplete, q.ListLimit)
				c.incompleteCut = rep.Incomplete[len(rep.Incomplete)-1].ID
			}
		}
	}
	missed := missedRepairs(cfg, f)
	if len(missed) > 0 {
		rep.MissedTotal += len(missed)
		if q.ListLimit <= 0 || !f.ImpactStart.Before(c.missedCut) {
			rep.Missed = append(rep.Missed, missed...)
			if q.ListLimit > 0 && len(rep.Missed) >= 4*q.ListLimit+256 {
				rep.Missed = latestMissed(rep.Missed, q.ListLimit)
				c.missedCut = rep.Missed[len(rep.Missed)-1].ImpactStart
			}
		}
	}
	for _, g := range groupsOf(cfg, q.Group, f) {
		k := groupKey{g, start.UnixNano()}
		if start.IsZero() {
			k.bucket = math.MinInt64
		}
		a := c.acc[k]
		if a == nil {
			a = &accum{group: Group{Key: g, Bucket: q.By.Label(start)}}
			switch {
			case q.By != All && !start.IsZero():
				a.group.Start, a.group.End = start, q.By.Next(start)
			case q.By != All:
				// Without an impact start there is no bucket; the
				// incident is listed as incomplete too.
				a.group.Bucket = "no impact start"
			}
			c.acc[k] = a
		}
		a.add(cfg, q.Group, f, len(missed), c.burns[f.ID])
	}
}

func (c *calc) report() *Report {
	rep := c.rep
	keys := make([]groupKey, 0, len(c.acc))
	for k := range c.acc {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b groupKey) int {
		return cmp.Or(strings.Compare(a.group, b.group), cmp.Compare(a.bucket, b.bucket))
	})
	for _, k := range keys {
		rep.Groups = append(rep.Groups, c.acc[k].finish())
	}
	rep.Missed = latestMissed(rep.Missed, c.q.ListLimit)
	rep.Incomplete = newestIncomplete(rep.Incomplete, c.q.ListLimit)
	return rep
}

// newestIncomplete orders incomplete incidents newest (highest ID) first
// and keeps the first limit (all when limit ≤ 0).
func newestIncomplete(in []Incomplete, limit int) []Incomplete {
	slices.SortFunc(in, func(a, b Incomplete) int { return cmp.Compare(b.ID, a.ID) })
	if limit > 0 && len(in) > limit {
		in = in[:limit]
	}
	return in
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func keep(cfg *Config, q *MetricsQuery, f *Facts) bool {
	if q.Service != "" && !slices.Contains(f.Services, q.Service) {
		return false
	}
	if q.Owner != "" && cfg.OwnerOf(f) != q.Owner {
		return false
	}
	if !q.From.IsZero() && (f.ImpactStart.IsZero() || f.ImpactStart.Before(q.From)) {
		return false
	}
	if !q.To.IsZero() && (f.ImpactStart.IsZero() || !f.ImpactStart.Before(q.To)) {
		return false
	}
	return true
}

func (f *Facts) incomplete() bool {
	return f.ImpactStart.IsZero() || f.Detected.IsZero() || f.Engaged.IsZero() || f.Mitigated.IsZero()
}

// missing lists the timestamps TTM needs that f lacks.
func (f *Facts) missing() []string {
	var m []string
	for _, s := range []struct {
		name string
		t    time.Time
	}{{"impact_start", f.ImpactStart}, {"detected", f.Detected}, {"engaged", f.Engaged}, {"mitigated", f.Mitigated}} {
		if s.t.IsZero() {
			m = append(m, s.name)
		}
	}
	return m
}

func groupsOf(cfg *Config, by GroupBy, f *Facts) []string {
	switch by {
	case ByOwner:
		return []string{cfg.OwnerOf(f)}
	case ByNothing:
		return []string{"all"}
	}
	switch len(f.Services) {
	case 0:
		return []string{"(none)"}
	case 1:
		return f.Services
	}
	return slices.Compact(slices.Sorted(slices.Values(f.Services)))
}

// missedRepairs lists the goals f missed (TTD, TTE, TTF against its
// primary service's goals) without a repair item, other than a won't-fix,
// flagged for the matching phase.
func missedRepairs(cfg *Config, f *Facts) []MissedRepair {
	goals := cfg.GoalsFor(first(f.Services))
	var out []MissedRepair
	for _, m := range []Metric{TTD, TTE, TTF} {
		v, ok := f.get(m)
		g := goals.Get(m)
		if !ok || g <= 0 || v <= g {
			continue
		}
		ps := phasesFor(m)
		covered := false
		for _, p := range ps {
			covered = covered || f.Repaired.Has(p)
		}
		if !covered {
			out = append(out, MissedRepair{IncidentID: f.ID, Title: f.Title, Service: first(f.Services), Owner: cfg.OwnerOf(f),
				ImpactStart: f.ImpactStart, Metric: m, Phase: ps[0], Value: Dur(v), Goal: Dur(g)})
		}
	}
	return out
}

type accum struct {
	group       Group
	times       [4][]time.Duration
	goals       [4]time.Duration
	mixedGoals  [4]bool
	hops, resps []int
}

func (a *accum) add(cfg *Config, by GroupBy, f *Facts, missed int, burns []Burn) {
	g := &a.group
	g.Count++
	goals := cfg.GoalsFor(first(f.Services))
	if by == ByService && g.Key != first(f.Services) {
		goals = cfg.GoalsFor(g.Key)
	}
	for i, m := range Metrics {
		st := g.Stat(m)
		v, ok := f.get(m)
		// A group of services with different goals has no one goal.
		if gl := goals.Get(m); g.Count == 1 {
			a.goals[i] = gl
		} else if a.goals[i] != gl {
			a.mixedGoals[i] = true
		}
		if !ok {
			st.Incomplete++
			continue
		}
		a.times[i] = append(a.times[i], v)
		if gl := goals.Get(m); gl > 0 && v > gl {
			st.Misses++
		}
	}
	if f.DetectedBy == ByMonitoring {
		g.Autodetected++
	}
	if f.Hops >= 0 {
		a.hops = append(a.hops, f.Hops)
	} else {
		g.Hops.Incomplete++
	}
	a.resps = append(a.resps, f.Responders)
	g.MissedRepairs += missed
	for _, b := range burns {
		if b.Error == "" {
			if g.BudgetShare == nil {
				g.BudgetShare = map[string]float64{}
			}
			g.BudgetShare[b.SLO] += b.Share
		}
	}
}

func (a *accum) finish() Group {
	g := a.group
	for i, m := range Metrics {
		st := g.Stat(m)
		d := a.times[i]
		st.N = len(d)
		if !a.mixedGoals[i] {
			st.Goal = Dur(a.goals[i])
		}
		if len(d) == 0 {
			continue
		}
		slices.Sort(d)
		st.Median = Dur(NearestRank(d, 50))
		st.P90 = Dur(NearestRank(d, 90))
		var sum float64
		for _, x := range d {
			sum += float64(x)
		}
		st.Mean = Dur(time.Duration(math.Round(sum / float64(len(d)))))
	}
	g.Hops = countStat(a.hops, g.Hops.Incomplete)
	g.Responders = countStat(a.resps, 0)
	if g.Count > 0 {
		g.AutodetectRate = float64(g.Autodetected) / float64(g.Count)
	}
	return g
}

func countStat(xs []int, incomplete int) CountStat {
	c := CountStat{N: len(xs), Incomplete: incomplete}
	if len(xs) == 0 {
		return c
	}
	sort.Ints(xs)
	c.Median, c.P90 = NearestRank(xs, 50), NearestRank(xs, 90)
	sum := 0
	for _, x := range xs {
		sum += x
	}
	c.Mean = float64(sum) / float64(len(xs))
	return c
}

// NearestRank returns the p-th percentile (0 < p ≤ 100) of sorted, by the
// nearest-rank method: the element at rank ⌈p/100 · N⌉, 1-based. It
// returns the zero value for an empty slice.
func NearestRank[T any](sorted []T, p float64) T {
	var zero T
	n := len(sorted)
	if n == 0 {
		return zero
	}
	// Integer arithmetic for the usual whole percentiles, so that
	// 90 % of 10 is rank 9 exactly, not 9.000000000000002.
	var rank int
	if p == math.Trunc(p) {
		rank = (int(p)*n + 99) / 100
	} else {
		rank = int(math.Ceil(p / 100 * float64(n)))
	}
	return sorted[min(max(rank, 1), n)-1]
}

// latestMissed orders missed repairs newest impact first (then by
// incident and metric, so the order is total) and keeps the first limit
// (all when limit ≤ 0), in place.
func latestMissed(m []MissedRepair, limit int) []MissedRepair {
	slices.SortFunc(m, func(a, b MissedRepair) int {
		if c := b.ImpactStart.Compare(a.ImpactStart); c != 0 {
			return c
		}
		if c := cmp.Compare(a.IncidentID, b.IncidentID); c != 0 {
			return c
		}
		return strings.Compare(string(a.Metric), string(b.Metric))
	})
	if limit > 0 && len(m) > limit {
		m = m[:limit]
	}
	return m
}

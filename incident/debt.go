package incident

import (
	"cmp"
	"slices"
	"time"
)

// DebtQuery selects the repair debt report.
type DebtQuery struct {
	// By is the bucket length of the series (month when empty).
	By Period
	// Group breaks the series down by owner, service, or not at all.
	Group GroupBy
	// From and To bound the series; zero From starts at the oldest item
	// or incident, zero To is now.
	From, To time.Time
	// ListLimit caps the open items and missed repairs listed (the
	// totals and the series count them all); zero lists all.
	ListLimit int
}

// DebtPoint is the debt of one group at the end of one bucket.
type DebtPoint struct {
	Key    string    `json:"key"`
	Bucket string    `json:"bucket"`
	At     time.Time `json:"at"`
	// Open and Overdue count the repair items open (and past due) at At.
	Open    int `json:"open"`
	Overdue int `json:"overdue"`
	// Missed counts the missed repairs of incidents that started in the
	// bucket; MissedTotal all of them up to At: virtual repair debt.
	Missed      int `json:"missed"`
	MissedTotal int `json:"missed_total"`
}

// DebtReport is repair debt (open repair items over time) and virtual
// repair debt (missed repairs over time), per group, as of Now.
type DebtReport struct {
	Now     time.Time `json:"now"`
	By      Period    `json:"by"`
	Group   GroupBy   `json:"group"`
	Open    int       `json:"open"`
	Overdue int       `json:"overdue"`
	// Totals are the current figures per group.
	Totals []DebtPoint `json:"totals"`
	// Series is the debt per group at each bucket end, for charts.
	Series []DebtPoint `json:"series"`
	// Items are the repair items open now, the most overdue first.
	Items []RepairItem `json:"items"`
	// Missed are the missed repairs, the newest impact first.
	Missed      []MissedRepair `json:"missed_repairs"`
	MissedTotal int            `json:"missed_repairs_total"`
}

// maxBuckets bounds the series so that a stray date in 1970 cannot make
// a report of a million weeks.
const maxBuckets = 1000

// ComputeDebt builds the debt report at now. It is pure.
func ComputeDebt(cfg *Config, q DebtQuery, now time.Time, facts []Facts, repairs []RepairItem) *DebtReport {
	cfg = cfg.withDefaults()
	if q.By == All {
		q.By = Month
	}
	if q.Group == "" {
		q.Group = ByOwner
	}
	byID := make(map[int64]*Facts, len(facts))
	for i := range facts {
		byID[facts[i].ID] = &facts[i]
	}
	itemKey := func(r *RepairItem) string {
		f := byID[r.IncidentID]
		switch q.Group {
		case ByNothing:
			return "all"
		case ByService:
			if f != nil && len(f.Services) > 0 {
				return f.Services[0]
			}
			return "(none)"
		}
		if r.Owner != "" {
			return r.Owner
		}
		if f != nil {
			return cfg.OwnerOf(f)
		}
		return NoOwner
	}
	missedKey := func(m *MissedRepair) string {
		switch q.Group {
		case ByNothing:
			return "all"
		case ByService:
			return m.Service
		}
		return m.Owner
	}

	rep := &DebtReport{Now: now, By: q.By, Group: q.Group, Totals: []DebtPoint{}, Series: []DebtPoint{}, Items: []RepairItem{}, Missed: []MissedRepair{}}
	for i := range facts {
		rep.Missed = append(rep.Missed, missedRepairs(cfg, &facts[i])...)
	}
	keys := map[string]bool{}
	totals := map[string]*DebtPoint{}
	total := func(k string) *DebtPoint {
		if totals[k] == nil {
			totals[k] = &DebtPoint{Key: k, Bucket: "now", At: now}
			keys[k] = true
		}
		return totals[k]
	}
	from, to := q.From, q.To
	if to.IsZero() || to.After(now) {
		to = now
	}
	// Open items are sorted and cut to the list limit as pointers: copying
	// and sorting 100,000 whole items cost most of a report.
	var open []*RepairItem
	for i := range repairs {
		r := &repairs[i]
		t := total(itemKey(r))
		if r.OpenAt(now) {
			rep.Open++
			t.Open++
			open = append(open, r)
		}
		if r.OverdueAt(now) {
			rep.Overdue++
			t.Overdue++
		}
		if q.From.IsZero() && (from.IsZero() || r.Created.Before(from)) {
			from = r.Created
		}
	}
	for i := range rep.Missed {
		m := &rep.Missed[i]
		t := total(missedKey(m))
		t.Missed++
		t.MissedTotal++
		if q.From.IsZero() && !m.ImpactStart.IsZero() && (from.IsZero() || m.ImpactStart.Before(from)) {
			from = m.ImpactStart
		}
	}
	slices.SortStableFunc(open, func(a, b *RepairItem) int {
		switch {
		case a.Due.IsZero() != b.Due.IsZero():
			if a.Due.IsZero() {
				return 1
			}
			return -1
		case !a.Due.Equal(b.Due):
			return a.Due.Compare(b.Due)
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if q.ListLimit > 0 && len(open) > q.ListLimit {
		open = open[:q.ListLimit]
	}
	rep.Items = make([]RepairItem, 0, len(open))
	for _, r := range open {
		rep.Items = append(rep.Items, *r)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range keys {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range names {
		rep.Totals = append(rep.Totals, *totals[k])
	}
	defer func() {
		rep.MissedTotal = len(rep.Missed)
		rep.Missed = latestMissed(rep.Missed, q.ListLimit)
	}()
	if from.IsZero() || !from.Before(to) {
		return rep
	}
	// A series too long keeps its latest buckets: the recent end is what
	// the report is read for. Starting no earlier than maxBuckets + 1 of
	// the longest buckets before to bounds the loop.
	first := q.By.BucketStart(from, cfg.Location)
	if earliest := to.AddDate(0, 0, -(maxBuckets+1)*q.By.maxDays()); first.Before(earliest) {
		first = q.By.BucketStart(earliest, cfg.Location)
	}
	var ends []time.Time
	for b := first; b.Before(to); b = q.By.Next(b) {
		ends = append(ends, b)
	}
	if len(ends) > maxBuckets {
		ends = ends[len(ends)-maxBuckets:]
	}
	// Each series counts, at every bucket's end, the items open (and
	// overdue) then and the missed repairs so far: as intervals sorted
	// once, each point is a few binary searches instead of a pass over
	// every item.
	type counters struct{ open, overdue, missed intervals }
	per := map[string]*counters{}
	of := func(k string) *counters {
		if per[k] == nil {
			per[k] = &counters{}
		}
		return per[k]
	}
	for i := range repairs {
		r := &repairs[i]
		c := of(itemKey(r))
		c.open.add(r.Created, r.Closed)
		if !r.Due.IsZero() {
			// Overdue once past its due date (Due before t), while open.
			c.overdue.add(maxTime(r.Created, r.Due.Add(time.Nanosecond)), r.Closed)
		}
	}
	for i := range rep.Missed {
		if m := &rep.Missed[i]; !m.ImpactStart.IsZero() {
			of(missedKey(m)).missed.add(m.ImpactStart, time.Time{})
		}
	}
	for _, c := range per {
		c.open.sort()
		c.overdue.sort()
		c.missed.sort()
	}
	for _, k := range names {
		c := of(k)
		for _, start := range ends {
			at := q.By.Next(start)
			if at.After(to) {
				at = to
			}
			p := DebtPoint{Key: k, Bucket: q.By.Label(start), At: at,
				Open: c.open.at(at), Overdue: c.overdue.at(at), MissedTotal: c.missed.before(at)}
			p.Missed = p.MissedTotal - c.missed.before(start)
			rep.Series = append(rep.Series, p)
		}
	}
	return rep
}

// maxDays is the most days a bucket of p spans (a week across a DST
// change is counted as 8).
func (p Period) maxDays() int {
	switch p {
	case Week:
		return 8
	case Quarter:
		return 92
	}
	return 31
}

// intervals counts how many half-open spans [start, end) hold a time; a
// zero end never ends.
type intervals struct{ starts, ends []int64 }

func (iv *intervals) add(start, end time.Time) {
	if !end.IsZero() && !start.Before(end) {
		return // closed before it opened: never open
	}
	iv.starts = append(iv.starts, start.UnixNano())
	if !end.IsZero() {
		iv.ends = append(iv.ends, end.UnixNano())
	}
}

func (iv *intervals) sort() {
	slices.Sort(iv.starts)
	slices.Sort(iv.ends)
}

// at counts the spans that hold t: started at or before it, not ended at
// or before it.
func (iv *intervals) at(t time.Time) int {
	n := t.UnixNano()
	started, _ := slices.BinarySearch(iv.starts, n+1)
	ended, _ := slices.BinarySearch(iv.ends, n+1)
	return started - ended
}

// before counts the spans started before t.
func (iv *intervals) before(t time.Time) int {
	i, _ := slices.BinarySearch(iv.starts, t.UnixNano())
	return i
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

package incident

import (
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
	for i := range repairs {
		r := &repairs[i]
		t := total(itemKey(r))
		if r.OpenAt(now) {
			rep.Open++
			t.Open++
			rep.Items = append(rep.Items, *r)
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
	slices.SortStableFunc(rep.Items, func(a, b RepairItem) int {
		switch {
		case a.Due.IsZero() != b.Due.IsZero():
			if a.Due.IsZero() {
				return 1
			}
			return -1
		case !a.Due.Equal(b.Due):
			return a.Due.Compare(b.Due)
		}
		return int(a.ID - b.ID)
	})
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
		if q.ListLimit > 0 && len(rep.Items) > q.ListLimit {
			rep.Items = rep.Items[:q.ListLimit]
		}
	}()
	if from.IsZero() || !from.Before(to) {
		return rep
	}
	var ends []time.Time
	for b := q.By.BucketStart(from, cfg.Location); b.Before(to) && len(ends) < maxBuckets; b = q.By.Next(b) {
		ends = append(ends, b)
	}
	itemsOf := map[string][]*RepairItem{}
	for i := range repairs {
		k := itemKey(&repairs[i])
		itemsOf[k] = append(itemsOf[k], &repairs[i])
	}
	missedOf := map[string][]*MissedRepair{}
	for i := range rep.Missed {
		k := missedKey(&rep.Missed[i])
		missedOf[k] = append(missedOf[k], &rep.Missed[i])
	}
	for _, k := range names {
		for _, start := range ends {
			at := q.By.Next(start)
			if at.After(to) {
				at = to
			}
			p := DebtPoint{Key: k, Bucket: q.By.Label(start), At: at}
			for _, r := range itemsOf[k] {
				if r.OpenAt(at) {
					p.Open++
				}
				if r.OverdueAt(at) {
					p.Overdue++
				}
			}
			for _, m := range missedOf[k] {
				if m.ImpactStart.IsZero() || !m.ImpactStart.Before(at) {
					continue
				}
				p.MissedTotal++
				if !m.ImpactStart.Before(start) {
					p.Missed++
				}
			}
			rep.Series = append(rep.Series, p)
		}
	}
	return rep
}

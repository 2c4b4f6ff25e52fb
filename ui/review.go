package ui

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/ui/chart"
)

type reviewRow struct {
	Bucket                     string
	Count                      int
	TTD, TTE, TTF, TTM         string
	MissD, MissE, MissF, MissM bool
	Autodetect                 float64
	Missed                     int
}

type titledChart struct {
	Title string
	SVG   template.HTML
}

type reviewView struct {
	Group, Key    string
	Keys          []choice
	Charts        []titledChart
	Autodetect    titledChart
	Debt          template.HTML
	Rows          []reviewRow
	Open, Overdue int
	Missed        []incident.MissedRepair
	Items         []repairRow
	Empty         bool
}

// review serves /review: the reliability review, TTx per month against
// goals, the autodetect rate and repair debt, for all incidents or one
// service or owner.
func (u *UI) review(w http.ResponseWriter, r *http.Request) {
	svc, err := u.incidentService()
	if err != nil {
		u.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	v := &reviewView{Group: q.Get("group"), Key: q.Get("key")}
	group, err := incident.ParseGroupBy(v.Group)
	if err != nil || group == incident.ByNothing {
		u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf("group=%q is not a way to group incidents.", v.Group),
			hints: []string{"group=service (the default) or group=owner, with key= naming one service or owner."}})
		return
	}
	v.Group = string(group)
	ctx := r.Context()

	// The keys to choose from: every group that has incidents.
	all, err := svc.Metrics(ctx, incident.MetricsQuery{Group: group})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	keys := map[string]bool{}
	for _, g := range all.Groups {
		keys[g.Key] = true
	}
	v.Keys = choices(keys, v.Key)

	mq := incident.MetricsQuery{By: incident.Month, Group: incident.ByNothing}
	if v.Key != "" {
		mq.Group = group
		if group == incident.ByService {
			mq.Service = v.Key
		} else {
			mq.Owner = v.Key
		}
	}
	rep, err := svc.Metrics(ctx, mq)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	var groups []incident.Group
	for _, g := range rep.Groups {
		if v.Key == "" || g.Key == v.Key {
			groups = append(groups, g)
		}
	}
	v.Empty = len(groups) == 0
	who := "all incidents"
	if v.Key != "" {
		who = v.Group + " " + v.Key
	}
	var labels []string
	for _, g := range groups {
		labels = append(labels, g.Bucket)
		row := reviewRow{Bucket: g.Bucket, Count: g.Count, Autodetect: g.AutodetectRate, Missed: g.MissedRepairs}
		for _, m := range incident.Metrics {
			st := g.Stat(m)
			val, miss := "–", false
			if st.N > 0 {
				val = formatDuration(time.Duration(st.Median))
				miss = st.Goal > 0 && st.Median > st.Goal
			}
			switch m {
			case incident.TTD:
				row.TTD, row.MissD = val, miss
			case incident.TTE:
				row.TTE, row.MissE = val, miss
			case incident.TTF:
				row.TTF, row.MissF = val, miss
			default:
				row.TTM, row.MissM = val, miss
			}
		}
		v.Rows = append(v.Rows, row)
	}
	for _, m := range incident.Metrics {
		values := make([]float64, len(groups))
		goal, top := 0.0, 0.0
		mixed := false
		for i, g := range groups {
			st := g.Stat(m)
			values[i] = math.NaN()
			if st.N > 0 {
				values[i] = time.Duration(st.Median).Minutes()
				top = math.Max(top, values[i])
			}
			if st.Goal > 0 {
				gm := time.Duration(st.Goal).Minutes()
				mixed = mixed || (goal != 0 && gm != goal)
				goal = gm
			}
		}
		if mixed {
			// Months held to different goals share no line; the table
			// marks each month against its own.
			goal = 0
		}
		top = math.Max(top, goal) * 1.15
		if top == 0 {
			top = 1
		}
		name := strings.ToUpper(string(m))
		c := chart.NewScaledBars(chart.Frame{W: 460, H: 160, Left: 48, Right: 8, Top: 12, Bottom: 20},
			chart.Text{ID: "ttx-" + string(m), Title: name + " median per month, " + who, Desc: trendDesc(name, labels, values, goal)},
			labels, values, goal, 0, top, true, func(x float64) string { return formatDuration(time.Duration(x * float64(time.Minute))) })
		if goal > 0 {
			c.ThresholdLabel = "goal " + formatDuration(time.Duration(goal*float64(time.Minute)))
		}
		v.Charts = append(v.Charts, titledChart{Title: name + " " + ttxAbout[m], SVG: c.SVG()})
	}
	rates := make([]float64, len(groups))
	for i, g := range groups {
		rates[i] = g.AutodetectRate
		if g.Count == 0 {
			rates[i] = math.NaN()
		}
	}
	v.Autodetect = titledChart{Title: "autodetect rate: found by monitoring first", SVG: chart.NewScaledBars(chart.Frame{W: 460, H: 160, Left: 48, Right: 8, Top: 12, Bottom: 20},
		chart.Text{ID: "autodetect", Title: "Autodetect rate per month, " + who, Desc: "Share of incidents monitoring found first, per month: " + strings.Join(pairs(labels, rates, func(x float64) string { return chart.Percent(x, 0) }), ", ") + "."},
		labels, rates, 0, 0, 1, false, func(x float64) string { return chart.Percent(x, 0) }).SVG()}

	dq := incident.DebtQuery{By: incident.Month, Group: incident.ByNothing}
	if v.Key != "" {
		dq.Group = group
	}
	debt, err := svc.Debt(ctx, dq)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	var open, missed []chart.Point
	top := 1.0
	for _, p := range debt.Series {
		if v.Key != "" && p.Key != v.Key {
			continue
		}
		open = append(open, chart.Point{T: p.At, V: float64(p.Open)})
		missed = append(missed, chart.Point{T: p.At, V: float64(p.MissedTotal)})
		top = math.Max(top, math.Max(float64(p.Open), float64(p.MissedTotal)))
	}
	for _, t := range debt.Totals {
		if v.Key == "" || t.Key == v.Key {
			v.Open += t.Open
			v.Overdue += t.Overdue
		}
	}
	if len(open) > 0 {
		from, to := open[0].T, open[len(open)-1].T
		if !from.Before(to) {
			from = to.Add(-30 * 24 * time.Hour)
		}
		lastOpen, lastMissed := open[len(open)-1].V, missed[len(missed)-1].V
		c := chart.NewLine(chart.Frame{W: 960, H: 200, Left: 40, Right: 12, Top: 12, Bottom: 24},
			chart.Text{ID: "debt", Title: "Repair debt, " + who, Desc: fmt.Sprintf("Open repair items at each month's end (now %.0f) and missed repairs so far (now %.0f).", lastOpen, lastMissed)},
			from, to, open, nil, nil, 0, math.Ceil(top*1.1), func(x float64) string { return fmt.Sprintf("%.0f", x) })
		c.AddSecond(missed)
		v.Debt = c.SVG()
	}
	for _, m := range debt.Missed {
		if v.Key == "" || (group == incident.ByService && m.Service == v.Key) || (group == incident.ByOwner && m.Owner == v.Key) {
			v.Missed = append(v.Missed, m)
		}
	}
	now := u.cfg.SLOs.Now()
	owners := map[int64]string{}
	for _, it := range debt.Items {
		if v.Key != "" {
			k, err := itemKey(ctx, svc, group, &it, owners)
			if err != nil {
				u.fail(w, r, err)
				return
			}
			if k != v.Key {
				continue
			}
		}
		row := repairRow{Title: it.Title, Term: string(it.Term), Phase: string(it.Phase), Owner: it.Owner, Status: string(it.Status), Due: it.Due}
		if safeURL(it.Link) {
			row.Link = it.Link
		}
		row.Overdue = !it.Due.IsZero() && now.After(it.Due)
		v.Items = append(v.Items, row)
	}
	u.render(w, r, http.StatusOK, "review", &layout{Title: "Reliability review", Nav: "review", Generated: now.UTC(), Page: v})
}

func trendDesc(name string, labels []string, values []float64, goal float64) string {
	d := name + " median per month: " + strings.Join(pairs(labels, values, func(x float64) string {
		return formatDuration(time.Duration(x * float64(time.Minute)))
	}), ", ")
	if goal > 0 {
		d += "; goal " + formatDuration(time.Duration(goal*float64(time.Minute)))
	}
	return d + "."
}

func pairs(labels []string, values []float64, f func(float64) string) []string {
	out := make([]string, 0, len(values))
	for i, v := range values {
		s := "no data"
		if !math.IsNaN(v) {
			s = f(v)
		}
		out = append(out, labels[i]+" "+s)
	}
	return out
}

// itemKey is the group a repair item counts in, as the debt report counts
// it: its incident's first service, or its own owner, else its incident's.
// seen caches the key of each incident looked up.
func itemKey(ctx context.Context, svc IncidentReader, group incident.GroupBy, it *incident.RepairItem, seen map[int64]string) (string, error) {
	if group == incident.ByOwner && it.Owner != "" {
		return it.Owner, nil
	}
	if k, ok := seen[it.IncidentID]; ok {
		return k, nil
	}
	k := "(none)"
	if group == incident.ByOwner {
		k = incident.NoOwner
	}
	inc, err := svc.Get(ctx, it.IncidentID)
	switch {
	case isNotFound(err):
	case err != nil:
		return "", err
	case group == incident.ByService && len(inc.Services) > 0:
		k = inc.Services[0]
	case group == incident.ByOwner:
		f := inc.Facts()
		k = svc.Config().OwnerOf(&f)
	}
	seen[it.IncidentID] = k
	return k, nil
}

package ui

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/ui/chart"
)

// sparkDays is the span of the overview's sparklines.
const sparkDays = 30

type overviewRow struct {
	Head    sloHead
	Now     budgetNow
	Spark   template.HTML
	Firing  []firingAlert
	NoData  bool
	URL     string
	Worst30 float64
}

type firingAlert struct {
	Name, Severity, Reason string
	Since                  time.Time
}

type choice struct {
	Value    string
	Selected bool
}

type overviewView struct {
	Rows                     []overviewRow
	Total                    int
	Services, Owners, Labels []choice
	Service, Owner, Label    string
	Sort                     string
	Filtered                 bool
	Firing, Exhausted, Met   int
	CurlEvents               string
	// StaleExperiments are the chaos experiments whose confidence fell
	// below one half, or that never held.
	StaleExperiments []string
}

// overview serves /: every SLO as a row, filtered and sorted.
func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	v, err := u.buildOverview(r.Context(), r.URL.Query())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v.StaleExperiments = u.staleExperiments()
	u.render(w, r, http.StatusOK, "overview", &layout{Title: "SLOs", Nav: "slos", Generated: u.cfg.SLOs.Now().UTC(), Page: v})
}

func (u *UI) buildOverview(ctx context.Context, q url.Values) (*overviewView, error) {
	e := u.cfg.SLOs
	v := &overviewView{Service: q.Get("service"), Owner: q.Get("owner"), Label: q.Get("label"), Sort: q.Get("sort")}
	switch v.Sort {
	case "", "budget":
		v.Sort = "budget"
	case "name":
	default:
		return nil, &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf("sort=%q is not a way to sort.", v.Sort),
			hints: []string{"sort=budget puts the SLOs with the least error budget left first (the default).", "sort=name sorts by name."}}
	}
	v.Filtered = v.Service != "" || v.Owner != "" || v.Label != ""
	lk, lv, hasLabel := strings.Cut(v.Label, "=")
	if v.Label != "" && !hasLabel {
		return nil, &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf("label=%q is not key=value.", v.Label),
			hints: []string{"label=tier=1 shows the SLOs whose label tier is 1."}}
	}
	services, owners, labelSet := map[string]bool{}, map[string]bool{}, map[string]bool{}
	all := e.SLOs()
	v.Total = len(all)
	v.CurlEvents = `curl -s -X POST 'localhost:9797/api/v1/events?service=checkout' --data-binary '{"time": "2026-11-25T10:20:31Z", "status": 200, "latency_ms": 3.2}'`
	for _, s := range all {
		services[s.Service] = true
		if s.Owner != "" {
			owners[s.Owner] = true
		}
		for k, val := range s.Labels {
			labelSet[k+"="+val] = true
		}
		val, has := s.Labels[lk]
		if (v.Service != "" && s.Service != v.Service) || (v.Owner != "" && s.Owner != v.Owner) ||
			(v.Label != "" && (!has || val != lv)) {
			continue
		}
		row, err := u.overviewRow(ctx, s)
		if err != nil {
			return nil, err
		}
		if len(row.Firing) > 0 {
			v.Firing++
		}
		if row.Now.Dial.Level == "exhausted" {
			v.Exhausted++
		}
		if row.Now.Met && !row.NoData {
			v.Met++
		}
		v.Rows = append(v.Rows, row)
	}
	if v.Sort == "budget" {
		slices.SortStableFunc(v.Rows, func(a, b overviewRow) int {
			// No data sorts last: it has nothing to say about risk.
			an, bn := math.IsNaN(a.Now.Remaining), math.IsNaN(b.Now.Remaining)
			if an != bn {
				if an {
					return 1
				}
				return -1
			}
			return cmp.Compare(a.Now.Remaining, b.Now.Remaining)
		})
	}
	v.Services, v.Owners, v.Labels = choices(services, v.Service), choices(owners, v.Owner), choices(labelSet, v.Label)
	return v, nil
}

func choices(set map[string]bool, sel string) []choice {
	var out []choice
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range set {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, choice{Value: k, Selected: k == sel})
	}
	return out
}

func (u *UI) overviewRow(ctx context.Context, s *slo.SLO) (overviewRow, error) {
	e := u.cfg.SLOs
	row := overviewRow{Head: head(s), URL: "/slos/" + url.PathEscape(s.Name)}
	sum, err := e.Summary(s.Name)
	if err != nil {
		return row, err
	}
	burn, err := e.BurnRates(s.Name, []time.Duration{time.Hour})
	if err != nil {
		return row, err
	}
	rem := sum.Budget.RemainingShare()
	row.NoData = sum.Quanta.Counted() == 0 && sum.Events.Total == 0
	if row.NoData {
		rem = math.NaN()
	}
	row.Now = budgetNow{Availability: sum.Availability, Remaining: rem, Met: sum.Met, Dial: riskDial(rem),
		Unit: s.Method.BudgetUnit(), Spent: sum.Budget.Spent, Total: sum.Budget.Total, Burn1h: burn[0]}
	st, _, err := e.Alerts(s.Name)
	if err != nil {
		return row, err
	}
	for _, a := range st.Alerts {
		row.Firing = append(row.Firing, firingAlert{Name: a.Name, Severity: string(a.Severity), Reason: a.Fired.Reason, Since: a.Since})
	}
	spark, worst, err := u.sparkline(ctx, s)
	if err != nil {
		return row, err
	}
	row.Spark, row.Worst30 = spark, worst
	return row, nil
}

// sparkline draws the availability of each of the last 30 days, the
// lowest of them returned for the text alternative. Days are those of the
// SLO's page: cut in its calendar window's zone, else UTC.
func (u *UI) sparkline(ctx context.Context, s *slo.SLO) (template.HTML, float64, error) {
	e := u.cfg.SLOs
	at := e.EvalTime(s, e.Now())
	const day = 24 * time.Hour
	zone := report.Zone(s)
	if zone != time.UTC {
		return u.zonedSparkline(ctx, s, at, zone)
	}
	// UTC days, the last one today so far: past days then come straight
	// from the counts cache, one day's quanta at a time.
	first := at.UTC().Truncate(day).Add(-(sparkDays - 1) * day)
	values := make([]float64, 0, sparkDays)
	for t := first; t.Before(at); t = t.Add(day) {
		w := slo.Window{Start: t, End: t.Add(day)}
		var series *slo.Series
		if day%s.Quantum == 0 {
			rs, err := u.day(ctx, s, t, e.Now())
			if err != nil {
				return "", math.NaN(), err
			}
			series = &slo.Series{Quantum: s.Quantum, Rollups: rs}
		} else {
			w.End = time.Unix(0, slo.QuantumStart(w.End.UnixNano(), s.Quantum))
			w.Start = time.Unix(0, slo.QuantumStart(w.Start.UnixNano(), s.Quantum))
			var err error
			if series, err = u.counts(ctx, s, w.Start, w.End, e.Now()); err != nil {
				return "", math.NaN(), err
			}
		}
		a, err := dayAvailability(s, series, w, at)
		if err != nil {
			return "", math.NaN(), err
		}
		values = append(values, a)
	}
	return sparkSVG(s, values, zone)
}

// zonedSparkline is sparkline for an SLO whose days are cut in zone: the
// counts of the 30 local days are read at once (through the cache of
// UTC days) and cut at local midnights, 23 or 25 hours apart across a
// daylight-saving change.
func (u *UI) zonedSparkline(ctx context.Context, s *slo.SLO, at time.Time, zone *time.Location) (template.HTML, float64, error) {
	l := at.In(zone)
	first := time.Date(l.Year(), l.Month(), l.Day()-(sparkDays-1), 0, 0, 0, 0, zone)
	days := periods(first, at, 24*time.Hour, zone)
	series, err := u.counts(ctx, s, first, days[len(days)-1].End, u.cfg.SLOs.Now())
	if err != nil {
		return "", math.NaN(), err
	}
	values := make([]float64, 0, len(days))
	for _, w := range days {
		a, err := dayAvailability(s, series, w, at)
		if err != nil {
			return "", math.NaN(), err
		}
		values = append(values, a)
	}
	return sparkSVG(s, values, zone)
}

// dayAvailability is the availability of the day w judged up to at, NaN
// (a gap, not 0 %) when nothing reported for its judged part.
func dayAvailability(s *slo.SLO, series *slo.Series, w slo.Window, at time.Time) (float64, error) {
	judged := minTime(at, w.End)
	if !w.Start.Before(judged) || len(series.Range(w.Start.UnixNano(), judged.UnixNano())) == 0 {
		return math.NaN(), nil
	}
	res, err := slo.Evaluate(s, series, w, judged)
	if err != nil {
		return math.NaN(), err
	}
	return res.Availability, nil
}

// sparkSVG draws the daily values, the lowest returned for the text
// alternative.
func sparkSVG(s *slo.SLO, values []float64, zone *time.Location) (template.HTML, float64, error) {
	worst, missed := math.NaN(), 0
	for _, a := range values {
		if math.IsNaN(a) {
			continue
		}
		if math.IsNaN(worst) || a < worst {
			worst = a
		}
		if a < s.Objective.Float() {
			missed++
		}
	}
	lo := chart.AvailabilityFloor(values, s.Objective.Float())
	desc := fmt.Sprintf("Availability of each of the last %d days (%s), today so far; lowest %s; %d days under the %s objective.",
		sparkDays, zone, chart.Percent(worst, 3), missed, chart.Percent(s.Objective.Float(), 3))
	sp := chart.NewSparkline(chart.Frame{W: 160, H: 32, Top: 3, Bottom: 3, Left: 3, Right: 3},
		chart.Text{ID: "spark-" + s.Name, Title: s.Name + ": 30 days", Desc: desc, Zone: zone}, values, lo, 1, s.Objective.Float())
	return sp.SVG(), worst, nil
}

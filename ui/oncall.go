package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nines-sre/nines/oncall"
)

// OnCallReporter computes the on-call load of a month (oncall.Source).
type OnCallReporter interface {
	Report(ctx context.Context, month oncall.Month, now time.Time) (*oncall.Report, error)
}

// figureRow is one line of a rotation's table: this month, the month
// before and the change, as text.
type figureRow struct {
	Name, Now, Before, Change string
	// Bad marks a figure past its limit this month.
	Bad bool
}

type personRow struct {
	oncall.Person
	Engaged string
}

type oncallRotation struct {
	*oncall.RotationLoad
	People    []personRow
	Rows      []figureRow
	History   []oncall.Trend
	Months    []string
	Zone      *time.Location
	LimitText string
}

type oncallView struct {
	Month, MonthName string
	Prev, Next       string // links; Next empty for the current month
	Rotations        []oncallRotation
	Unassigned       []oncall.Unassigned
}

// oncallPage serves /oncall?month=2026-11: the load of every rotation.
func (u *UI) oncallPage(w http.ResponseWriter, r *http.Request) {
	if u.cfg.OnCall == nil {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "On-call load is not enabled here.",
			hints: []string{"nines serve shows it at /oncall once its catalog declares rotations (docs/oncall.md)."}})
		return
	}
	now := u.cfg.SLOs.Now()
	month := oncall.MonthOf(now, time.UTC)
	if v := r.URL.Query().Get("month"); v != "" {
		m, err := oncall.ParseMonth(v)
		if err != nil {
			u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: err.Error(), hints: []string{"month=2026-11 shows November 2026."}})
			return
		}
		month = m
	}
	rep, err := u.cfg.OnCall.Report(r.Context(), month, now)
	if errors.Is(err, oncall.ErrInvalid) {
		u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: err.Error(), hints: []string{"Pick a month up to the current one."}})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	first := time.Date(month.Year, month.Month, 1, 0, 0, 0, 0, time.UTC)
	v := &oncallView{Month: rep.Month, MonthName: first.Format("January 2006"), Prev: "/oncall?month=" + month.Add(-1).String(),
		Unassigned: rep.Unassigned}
	if month != oncall.MonthOf(now, time.UTC) {
		v.Next = "/oncall?month=" + month.Add(1).String()
	}
	for i := range rep.Rotations {
		v.Rotations = append(v.Rotations, oncallRotationView(&rep.Rotations[i]))
	}
	u.render(w, r, http.StatusOK, "oncall", &layout{Title: "On-call load " + rep.Month, Nav: "oncall", Generated: now, Page: v})
}

func oncallRotationView(r *oncall.RotationLoad) oncallRotation {
	loc, err := time.LoadLocation(r.Zone)
	if err != nil {
		loc = time.UTC
	}
	o := oncallRotation{RotationLoad: r, Zone: loc, LimitText: fmt.Sprintf("%g", r.Limit)}
	m, p := &r.Month, &r.Previous
	count := func(name string, a, b int, bad bool) {
		ch := ""
		if a != b {
			ch = fmt.Sprintf("%+d", a-b)
		}
		o.Rows = append(o.Rows, figureRow{name, fmt.Sprint(a), fmt.Sprint(b), ch, bad})
	}
	ratio := func(name string, a, b float64) {
		ch := ""
		if d := a - b; d >= 0.005 || d <= -0.005 {
			ch = fmt.Sprintf("%+.2f", d)
		}
		o.Rows = append(o.Rows, figureRow{name, fmt.Sprintf("%.2f", a), fmt.Sprintf("%.2f", b), ch, false})
	}
	ratio("shifts", m.Shifts, p.Shifts)
	count("pages", m.Pages, p.Pages, false)
	ratio("pages per shift", m.PagesPerShift, p.PagesPerShift)
	count("pages outside working hours", m.OffHours, p.OffHours, false)
	count("pages at night", m.Night, p.Night, false)
	count("incidents", m.Incidents, p.Incidents, false)
	ratio("incidents per shift", m.IncidentsPerShift, p.IncidentsPerShift)
	count("most incidents in one shift (limit "+o.LimitText+")", m.MaxInShift, p.MaxInShift, float64(m.MaxInShift) > r.Limit)
	count("shifts over the limit", m.OverLimit, p.OverLimit, m.OverLimit > 0)
	o.Rows = append(o.Rows, figureRow{"time engaged", engaged(m.EngagedSeconds), engaged(p.EngagedSeconds), "", false})
	count("pages that led to no incident", m.NoIncident, p.NoIncident, false)
	count("pages resolved with no action", m.NoAction, p.NoAction, false)
	o.Rows = append(o.Rows, figureRow{"noise share", pctText(m.NoiseShare, m.Pages), pctText(p.NoiseShare, p.Pages), "", false})

	for _, x := range r.People {
		o.People = append(o.People, personRow{x, engaged(x.Month.EngagedSeconds)})
	}
	for _, h := range r.History {
		o.Months = append(o.Months, h.Month)
	}
	o.History = r.Trends()
	return o
}

func engaged(s float64) string {
	if s == 0 {
		return "0"
	}
	return formatDuration(time.Duration(s * float64(time.Second)))
}

func pctText(share float64, pages int) string {
	if pages == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", share*100)
}

package ui

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/nines-sre/nines/scorecard"
	"github.com/nines-sre/nines/ui/chart"
)

// ScorecardReader gives the weekly availability scorecards
// (*scorecard.Board).
type ScorecardReader interface {
	Week(label string) (scorecard.Week, error)
	Cards(ctx context.Context, week, service string) (scorecard.Week, []scorecard.Card, error)
}

var _ ScorecardReader = (*scorecard.Board)(nil)

type scorecardRow struct {
	scorecard.Card
	URL   string
	Spark template.HTML
	// Word says the colour in words, so no one needs to tell colours
	// apart; RateText and Before21Text are the rates written out.
	Word, RateText, Before21Text string
}

type scorecardLink struct {
	scorecard.Link
	URL, RateText string
}

type drillPart struct {
	Name  string
	Links []scorecardLink
}

type scorecardsView struct {
	Week, Prev, Next string
	PrevURL, NextURL string
	Rows             []scorecardRow
	// One is the drill-down of the service asked for, with its links.
	One    *scorecardRow
	Parts  []drillPart
	AllURL string
}

// scorecards serves /scorecards: every service's card for a week, or
// with service= one card and its callers and dependencies.
func (u *UI) scorecards(w http.ResponseWriter, r *http.Request) {
	if u.cfg.Scorecards == nil {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "Scorecards need a service catalog.",
			hints: []string{"Start nines serve with --services services.yaml (docs/scorecards.md)."}})
		return
	}
	q := r.URL.Query()
	wk, cards, err := u.cfg.Scorecards.Cards(r.Context(), q.Get("week"), q.Get("service"))
	switch {
	case errors.Is(err, scorecard.ErrUnknown):
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: err.Error(), hints: []string{"/scorecards lists every service of the catalog."}})
		return
	case errors.Is(err, scorecard.ErrInput):
		u.fail(w, r, &pageError{status: http.StatusBadRequest, msg: err.Error(), hints: []string{"week= takes an ISO week such as 2026-W48; leave it out for the last complete week."}})
		return
	case err != nil:
		u.fail(w, r, err)
		return
	}
	v := &scorecardsView{Week: wk.Label, AllURL: scorecardURL(wk.Label, "")}
	service := q.Get("service")
	if prev, err := u.cfg.Scorecards.Week(scorecardPrev(wk)); err == nil {
		v.Prev, v.PrevURL = prev.Label, scorecardURL(prev.Label, service)
	}
	if next, err := u.cfg.Scorecards.Week(scorecardNext(wk)); err == nil {
		v.Next, v.NextURL = next.Label, scorecardURL(next.Label, service)
	}
	for _, c := range cards {
		v.Rows = append(v.Rows, scorecardRow{Card: c, URL: scorecardURL(wk.Label, c.Service), Spark: scorecardSpark(&c),
			Word: colourWords[c.Colour], RateText: ratePercent(c.Rate), Before21Text: ratePercent(c.Before21)})
	}
	if service != "" && len(v.Rows) == 1 {
		v.One = &v.Rows[0]
		for _, part := range []struct {
			name  string
			links []scorecard.Link
		}{{"Callers", v.One.Callers}, {"Dependencies", v.One.Dependencies}} {
			d := drillPart{Name: part.name}
			for _, l := range part.links {
				d.Links = append(d.Links, scorecardLink{Link: l, URL: scorecardURL(wk.Label, l.Service), RateText: ratePercent(l.Rate)})
			}
			v.Parts = append(v.Parts, d)
		}
	}
	title := "Scorecards " + wk.Label
	if v.One != nil {
		title = v.One.Service + " · " + title
	}
	u.render(w, r, http.StatusOK, "scorecards", &layout{Title: title, Nav: "scorecards", Generated: u.cfg.SLOs.Now(), Page: v})
}

// scorecardPrev and scorecardNext name the weeks around wk; the ISO label
// of the day a week before or after its start is the neighbour's.
func scorecardPrev(wk scorecard.Week) string { return isoLabel(wk.Start.AddDate(0, 0, -7)) }
func scorecardNext(wk scorecard.Week) string { return isoLabel(wk.Start.AddDate(0, 0, 7)) }

func isoLabel(t time.Time) string {
	y, w := t.ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}

// colourWords name each colour with what it means.
var colourWords = map[scorecard.Colour]string{
	scorecard.Green:  "green ✓ goal met",
	scorecard.Yellow: "yellow ▲ missed, better",
	scorecard.Red:    "red ✗ missed, no better",
	scorecard.None:   "no calls",
}

func ratePercent(r *float64) string {
	if r == nil {
		return "–"
	}
	return fmt.Sprintf("%.3f %%", *r*100)
}

func scorecardURL(week, service string) string {
	q := url.Values{"week": {week}}
	if service != "" {
		q.Set("service", service)
	}
	return "/scorecards?" + q.Encode()
}

// scorecardSpark draws a card's weekly rates, with a dot on each week
// under the goal.
func scorecardSpark(c *scorecard.Card) template.HTML {
	values := make([]float64, len(c.History))
	for i, p := range c.History {
		values[i] = math.NaN()
		if p.Rate != nil {
			values[i] = *p.Rate
		}
	}
	lo := chart.AvailabilityFloor(values, c.Goal)
	desc := fmt.Sprintf("Success rate of each of the last %d weeks, %s to %s, against the goal of %s.",
		len(values), c.History[0].Week, c.History[len(c.History)-1].Week, chart.Percent(c.Goal, 3))
	sp := chart.NewSparkline(chart.Frame{W: 120, H: 28, Top: 3, Bottom: 3, Left: 3, Right: 3},
		chart.Text{ID: "spark-" + c.Service, Title: c.Service + ": 12 weeks", Desc: desc}, values, lo, 1, c.Goal)
	return sp.SVG()
}

// Package scorecard computes weekly availability scorecards of services
// and their production readiness.
//
// A scorecard shows, per service and week, the success rate of calls as
// the service's clients see them, against the goal its owners agreed,
// week over week: green when the goal was met, yellow when it was missed
// but the week was better than the one before, red when it was missed and
// no better. It is worth sending only when something changed: the week
// was worse than the 21 days before it, or the goal was missed, or the
// colour changed. docs/scorecards.md gives the rule and its source.
//
// Everything here is computation: time is passed in, and what is read
// (rollups, detected calls, the state that remembers what was sent) or
// sent comes through small interfaces, so nines serve, the CLI and tests
// each give their own.
package scorecard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Service is what a scorecard needs to know of one service: the catalog
// entry reduced to the fields that matter here.
type Service struct {
	Name string
	// Owners get the service's scorecard; the first is shown as its owner.
	Owners []string
	// OnCall names the rotation answering for the service (readiness).
	OnCall string
	// Playbook is the base URL of the service's playbook (readiness):
	// each paging alert's entry is Playbook#anchor, or Playbook with
	// {alert} replaced by the anchor.
	Playbook string
	// Goal is the success rate the owners agreed, in (0, 1]: 0.9999.
	Goal float64
	// SLOs are the SLOs the service is judged by: their good and total
	// counts, summed, are its clients' view.
	SLOs []string
	// Callers and Dependencies are the services declared upstream and
	// downstream of this one, for the drill-down.
	Callers, Dependencies []string
}

// Check returns what makes s impossible to score, in words that say how
// to fix it.
func (s *Service) Check() error {
	switch {
	case s.Name == "":
		return inputError{errors.New("a service has no name")}
	case math.IsNaN(s.Goal) || s.Goal <= 0 || s.Goal > 1:
		return inputError{fmt.Errorf("service %s: availability goal %v is not in (0, 1]: give it as a share, such as 0.999", s.Name, s.Goal)}
	}
	return nil
}

// ErrInput is wrapped by errors in what was asked or given (a week that
// does not parse, a goal out of range), as opposed to failures to read.
var ErrInput = errors.New("scorecard: invalid input")

type inputError struct{ error }

func (e inputError) Is(target error) bool { return target == ErrInput }
func (e inputError) Unwrap() error        { return e.error }

// Counts are calls over a span: how many were made and how many succeeded.
type Counts struct {
	Good  uint64 `json:"good"`
	Total uint64 `json:"total"`
}

// Add adds o, saturating: a sum past 2^64−1 calls stays there rather than
// wrapping to a small number.
func (c *Counts) Add(o Counts) {
	c.Good = satAdd(c.Good, o.Good)
	c.Total = satAdd(c.Total, o.Total)
}

// Rate is Good/Total and whether there were calls to rate.
func (c Counts) Rate() (float64, bool) {
	if c.Total == 0 {
		return 0, false
	}
	return float64(c.Good) / float64(c.Total), true
}

// Less reports whether c's success rate is below o's, exactly: the
// products are compared in 128 bits, so two rates a float would round
// together are still told apart.
func (c Counts) Less(o Counts) bool {
	hi1, lo1 := bits.Mul64(c.Good, o.Total)
	hi2, lo2 := bits.Mul64(o.Good, c.Total)
	return hi1 < hi2 || hi1 == hi2 && lo1 < lo2
}

func satAdd(a, b uint64) uint64 {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return math.MaxUint64
	}
	return s
}

// Source gives a service's calls as its clients see them, per week.
type Source interface {
	// Counts returns one Counts per week, in the order of weeks
	// (ascending, contiguous).
	Counts(ctx context.Context, s *Service, weeks []Week) ([]Counts, error)
}

// Edge is the calls detected from one service to another over a span:
// the observed call graph's edge with its counts.
type Edge struct {
	Caller, Callee string
	Calls, Errors  uint64
}

// EdgeReader gives the detected edges over [from, to). The trace graph
// provides it; nil means no traces are taken.
type EdgeReader interface {
	Edges(ctx context.Context, w Week) ([]Edge, error)
}

// Colour is a scorecard's verdict on a week.
type Colour string

// Colours. None is a week without calls to rate.
const (
	Green  Colour = "green"
	Yellow Colour = "yellow"
	Red    Colour = "red"
	None   Colour = "none"
)

// ColourOf applies the rule: green when the goal was met; yellow when it
// was missed but the week was better than the week before; red when it
// was missed and the week was no better (or there is no week before to
// be better than). A week without calls has no colour.
func ColourOf(week, before Counts, goal float64) Colour {
	rate, ok := week.Rate()
	switch {
	case !ok:
		return None
	case rate >= goal:
		return Green
	case before.Total > 0 && before.Less(week):
		return Yellow
	}
	return Red
}

// Reasons to send a scorecard.
const (
	ReasonMissed  = "missed the goal"
	ReasonWorse   = "worse than the 21 days before"
	ReasonChanged = "changed colour"
)

// Verdict is the rule applied to one week: its colour, the colour of the
// week before, and why the scorecard is worth sending (none: it is not).
type Verdict struct {
	Colour, Previous Colour
	// Worse: the week's rate is below the rate of the 21 days before it.
	Worse   bool
	Reasons []string
}

// Send reports whether the scorecard is worth sending.
func (v Verdict) Send() bool { return len(v.Reasons) > 0 }

// Judge applies the rule to the last of weeks (oldest first, at least
// one): its colour, against the week before; whether it was worse than
// the three weeks (21 days) before it taken together; and the reasons to
// send it. Missing earlier weeks count as weeks without calls.
func Judge(weeks []Counts, goal float64) Verdict {
	at := func(i int) Counts {
		if i < 0 || i >= len(weeks) {
			return Counts{}
		}
		return weeks[i]
	}
	n := len(weeks) - 1
	v := Verdict{Colour: ColourOf(at(n), at(n-1), goal), Previous: ColourOf(at(n-1), at(n-2), goal)}
	if v.Colour == None {
		return v
	}
	var before Counts
	for i := n - 3; i < n; i++ {
		before.Add(at(i))
	}
	v.Worse = before.Total > 0 && at(n).Less(before)
	if v.Colour != Green {
		v.Reasons = append(v.Reasons, ReasonMissed)
	}
	if v.Worse {
		v.Reasons = append(v.Reasons, ReasonWorse)
	}
	if v.Previous != None && v.Previous != v.Colour {
		v.Reasons = append(v.Reasons, ReasonChanged)
	}
	return v
}

// Point is one week of a scorecard's history.
type Point struct {
	Week  string `json:"week"`
	Calls uint64 `json:"calls"`
	Good  uint64 `json:"good"`
	// Rate is nil for a week without calls.
	Rate   *float64 `json:"rate"`
	Colour Colour   `json:"colour"`
}

// Link is one row of the drill-down: a caller or a dependency, with the
// calls and success rate between the two services in the week.
type Link struct {
	Service string `json:"service"`
	// Declared: the catalog names the link; Detected: traces saw calls.
	Declared bool     `json:"declared"`
	Detected bool     `json:"detected"`
	Calls    uint64   `json:"calls"`
	Good     uint64   `json:"good"`
	Rate     *float64 `json:"rate"`
	// From says where the figures come from: "traces" (calls on the
	// edge), "scorecard" (the dependency's own clients' view, when no
	// trace measured the edge) or "" (nothing measured).
	From string `json:"from,omitempty"`
}

// Card is a service's scorecard for one week.
type Card struct {
	Service string   `json:"service"`
	Owners  []string `json:"owners"`
	Goal    float64  `json:"goal"`
	Week    string   `json:"week"`
	// From says where the figures come from: "slos" or "traces"; "" when
	// nothing measures the service (Note says how to fix it).
	From  string   `json:"from"`
	Calls uint64   `json:"calls"`
	Good  uint64   `json:"good"`
	Rate  *float64 `json:"rate"`
	// Before21 is the rate of the 21 days before the week.
	Before21 *float64 `json:"rate_previous_21d"`
	Colour   Colour   `json:"colour"`
	Previous Colour   `json:"previous_colour"`
	Worse    bool     `json:"worse_than_previous_21d"`
	// Reasons say why the card is worth sending; empty: it is not.
	Reasons      []string `json:"reasons"`
	Send         bool     `json:"send"`
	Note         string   `json:"note,omitempty"`
	History      []Point  `json:"history"`
	Callers      []Link   `json:"callers"`
	Dependencies []Link   `json:"dependencies"`
}

// HistoryWeeks is how many weeks a card's history (its sparkline) shows.
const HistoryWeeks = 12

// Scorer computes scorecards. SLOs measures the services that name SLOs;
// Edges, when set, measures the others from detected calls into them and
// fills the drill-down.
type Scorer struct {
	Calendar Calendar
	SLOs     Source
	Edges    EdgeReader
}

// Cards returns the scorecards of services for week, in the order given.
// A service that cannot be scored (no name, a goal out of range) fails
// the whole call: a scorecard with a made-up goal would mislead its
// owners.
func (sc *Scorer) Cards(ctx context.Context, services []Service, week Week) ([]Card, error) {
	seen := make(map[string]bool, len(services))
	for i := range services {
		if err := services[i].Check(); err != nil {
			return nil, err
		}
		if seen[services[i].Name] {
			return nil, inputError{fmt.Errorf("service %s is listed twice", services[i].Name)}
		}
		seen[services[i].Name] = true
	}
	weeks := sc.Calendar.Span(week, HistoryWeeks)
	edges, err := sc.edges(ctx, weeks)
	if err != nil {
		return nil, err
	}
	into := edges.into()
	cards := make([]Card, len(services))
	index := make(map[string]int, len(services))
	for i := range services {
		s := &services[i]
		index[s.Name] = i
		counts, from, note, err := sc.counts(ctx, s, weeks, into[s.Name])
		if err != nil {
			return nil, err
		}
		cards[i] = card(s, weeks, counts, from, note)
	}
	// Each service's drill-down reads the edges that touch it: index them
	// once rather than scanning every edge for every service.
	touching := map[string][]Edge{}
	for _, e := range edges.last() {
		touching[e.Caller] = append(touching[e.Caller], e)
		if e.Callee != e.Caller {
			touching[e.Callee] = append(touching[e.Callee], e)
		}
	}
	for i := range services {
		drill(&cards[i], &services[i], touching[services[i].Name], cards, index)
	}
	return cards, nil
}

func (sc *Scorer) counts(ctx context.Context, s *Service, weeks []Week, detected []Counts) ([]Counts, string, string, error) {
	switch {
	case len(s.SLOs) > 0 && sc.SLOs != nil:
		c, err := sc.SLOs.Counts(ctx, s, weeks)
		if errors.Is(err, ErrNoSLO) {
			return make([]Counts, len(weeks)), "", err.Error(), nil
		}
		if err != nil {
			return nil, "", "", fmt.Errorf("scorecard of %s: %w", s.Name, err)
		}
		if len(c) != len(weeks) {
			return nil, "", "", fmt.Errorf("scorecard of %s: the source gave %d weeks for %d", s.Name, len(c), len(weeks))
		}
		return c, "slos", "", nil
	case slices.ContainsFunc(detected, func(c Counts) bool { return c.Total > 0 }):
		return detected, "traces", "", nil
	}
	return make([]Counts, len(weeks)), "", "nothing measures it: name the SLOs it is judged by in the catalog, or send traces of calls into it", nil
}

// card builds the card of s from its weekly counts.
func card(s *Service, weeks []Week, counts []Counts, from, note string) Card {
	n := len(weeks) - 1
	v := Judge(counts, s.Goal)
	c := Card{Service: s.Name, Owners: slices.Clone(s.Owners), Goal: s.Goal, Week: weeks[n].Label, From: from,
		Calls: counts[n].Total, Good: counts[n].Good, Rate: rate(counts[n]),
		Colour: v.Colour, Previous: v.Previous, Worse: v.Worse, Reasons: v.Reasons, Send: v.Send(), Note: note}
	if c.Owners == nil {
		c.Owners = []string{}
	}
	if c.Reasons == nil {
		c.Reasons = []string{}
	}
	var before Counts
	for i := max(0, n-3); i < n; i++ {
		before.Add(counts[i])
	}
	c.Before21 = rate(before)
	c.History = make([]Point, len(weeks))
	for i, w := range weeks {
		var prev Counts
		if i > 0 {
			prev = counts[i-1]
		}
		c.History[i] = Point{Week: w.Label, Calls: counts[i].Total, Good: counts[i].Good, Rate: rate(counts[i]),
			Colour: ColourOf(counts[i], prev, s.Goal)}
	}
	return c
}

func rate(c Counts) *float64 {
	r, ok := c.Rate()
	if !ok {
		return nil
	}
	return &r
}

// weekEdges holds the detected edges of each week of a span.
type weekEdges [][]Edge

func (sc *Scorer) edges(ctx context.Context, weeks []Week) (weekEdges, error) {
	if sc.Edges == nil {
		return nil, nil
	}
	out := make(weekEdges, len(weeks))
	for i, w := range weeks {
		es, err := sc.Edges.Edges(ctx, w)
		if err != nil {
			return nil, fmt.Errorf("reading detected calls of %s: %w", w.Label, err)
		}
		out[i] = es
	}
	return out, nil
}

// into sums the calls into each service per week: what its callers saw.
func (we weekEdges) into() map[string][]Counts {
	out := map[string][]Counts{}
	for i, es := range we {
		for _, e := range es {
			c := out[e.Callee]
			if c == nil {
				c = make([]Counts, len(we))
				out[e.Callee] = c
			}
			c[i].Add(edgeCounts(e))
		}
	}
	return out
}

func (we weekEdges) last() []Edge {
	if len(we) == 0 {
		return nil
	}
	return we[len(we)-1]
}

// edgeCounts turns an edge's calls and errors into counts; errors past
// the calls (a collector that counted them apart) leave nothing good.
func edgeCounts(e Edge) Counts {
	return Counts{Good: e.Calls - min(e.Errors, e.Calls), Total: e.Calls}
}

// drill fills the card's callers and dependencies: the declared ones and
// the detected ones, with the calls on each edge when traces measured
// it, else (for a dependency) the dependency's own scorecard figures.
func drill(c *Card, s *Service, edges []Edge, cards []Card, index map[string]int) {
	callers := map[string]*Link{}
	deps := map[string]*Link{}
	for _, name := range s.Callers {
		callers[name] = &Link{Service: name, Declared: true}
	}
	for _, name := range s.Dependencies {
		deps[name] = &Link{Service: name, Declared: true}
	}
	for _, e := range edges {
		var l *Link
		switch {
		case e.Callee == s.Name && e.Caller != s.Name:
			if l = callers[e.Caller]; l == nil {
				l = &Link{Service: e.Caller}
				callers[e.Caller] = l
			}
		case e.Caller == s.Name && e.Callee != s.Name:
			if l = deps[e.Callee]; l == nil {
				l = &Link{Service: e.Callee}
				deps[e.Callee] = l
			}
		default:
			continue
		}
		cnt := Counts{Good: l.Good, Total: l.Calls}
		cnt.Add(edgeCounts(e))
		l.Detected, l.Calls, l.Good, l.From = true, cnt.Total, cnt.Good, "traces"
	}
	for _, l := range deps {
		if l.Detected {
			continue
		}
		if i, ok := index[l.Service]; ok && cards[i].Rate != nil {
			l.Calls, l.Good, l.From = cards[i].Calls, cards[i].Good, "scorecard"
		}
	}
	c.Callers, c.Dependencies = links(callers), links(deps)
}

func links(m map[string]*Link) []Link {
	out := make([]Link, 0, len(m))
	for _, l := range m {
		l.Rate = rate(Counts{Good: l.Good, Total: l.Calls})
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Link) int {
		switch {
		case a.Calls != b.Calls:
			if a.Calls > b.Calls {
				return -1
			}
			return 1
		case a.Service < b.Service:
			return -1
		case a.Service > b.Service:
			return 1
		}
		return 0
	})
	return out
}

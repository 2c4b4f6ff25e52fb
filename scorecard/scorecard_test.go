package scorecard

import (
	"context"
	"slices"
	"testing"
	"time"
)

// c builds a week of calls from a rate given in parts per 10,000.
func c(good, total uint64) Counts { return Counts{Good: good, Total: total} }

func TestTheColourRuleOnConstructedWeeks(t *testing.T) {
	const goal = 0.999
	cases := []struct {
		name    string
		weeks   []Counts // oldest first; the last is judged
		colour  Colour
		prev    Colour
		worse   bool
		reasons []string
	}{
		{"A week that meets the goal and is no worse than the 21 days before is green and not sent",
			[]Counts{c(9995, 10000), c(9995, 10000), c(9995, 10000), c(9995, 10000)}, Green, Green, false, nil},
		{"A week that meets the goal but is worse than the 21 days before is green and sent",
			[]Counts{c(10000, 10000), c(10000, 10000), c(10000, 10000), c(9995, 10000)}, Green, Green, true, []string{ReasonWorse}},
		{"A week that misses the goal but is better than the week before is yellow",
			[]Counts{c(9900, 10000), c(9900, 10000), c(9800, 10000), c(9950, 10000)}, Yellow, Red, false, []string{ReasonMissed, ReasonChanged}},
		{"A week that misses the goal and is worse than the week before is red",
			[]Counts{c(9999, 10000), c(9999, 10000), c(9950, 10000), c(9900, 10000)}, Red, Red, true, []string{ReasonMissed, ReasonWorse}},
		{"A week that misses the goal exactly as the week before is red: it is not better",
			[]Counts{c(9900, 10000), c(9900, 10000), c(9900, 10000), c(9900, 10000)}, Red, Red, false, []string{ReasonMissed}},
		{"A week that misses the goal with no week before is red",
			[]Counts{{}, {}, {}, c(9900, 10000)}, Red, None, false, []string{ReasonMissed}},
		{"A week back at the goal after a red one is green and sent for its change of colour",
			[]Counts{c(9999, 10000), c(9999, 10000), c(9900, 10000), c(9999, 10000)}, Green, Red, false, []string{ReasonChanged}},
		{"A week that meets the goal exactly is green",
			[]Counts{c(999, 1000), c(999, 1000), c(999, 1000), c(999, 1000)}, Green, Green, false, nil},
		{"A week without calls has no colour and is not sent",
			[]Counts{c(9900, 10000), c(9900, 10000), c(9900, 10000), {}}, None, Red, false, nil},
		{"Worse than 21 days compares the three weeks pooled, not their mean rate",
			// 21 days: 1,000 of 1,000 + 9,000 of 10,000 + 1,000 of 1,000 = 11,000 of 12,000 (91.7 %);
			// the mean of the three rates is 96.7 %; the week at 95 % is better than the pool.
			[]Counts{c(1000, 1000), c(9000, 10000), c(1000, 1000), c(950, 1000)}, Red, Green, false, []string{ReasonMissed, ReasonChanged}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(tc.weeks, goal)
			if v.Colour != tc.colour || v.Previous != tc.prev || v.Worse != tc.worse || !slices.Equal(v.Reasons, tc.reasons) {
				t.Errorf("got %s (before %s) worse=%v reasons=%q; want %s (before %s) worse=%v reasons=%q",
					v.Colour, v.Previous, v.Worse, v.Reasons, tc.colour, tc.prev, tc.worse, tc.reasons)
			}
			if v.Send() != (len(tc.reasons) > 0) {
				t.Errorf("Send() = %v", v.Send())
			}
		})
	}
}

func TestRatesAreComparedExactly(t *testing.T) {
	// Both round to the same float64; the second is better by one call.
	a := Counts{Good: 1<<62 - 2, Total: 1<<62 - 1}
	b := Counts{Good: 1<<62 - 1, Total: 1 << 62}
	if !a.Less(b) || b.Less(a) {
		t.Errorf("a < b = %v, b < a = %v", a.Less(b), b.Less(a))
	}
	var s Counts
	s.Add(Counts{Good: 1<<64 - 1, Total: 1<<64 - 1})
	s.Add(Counts{Good: 5, Total: 5})
	if s.Total != 1<<64-1 {
		t.Errorf("a sum past 2^64 wrapped to %d", s.Total)
	}
}

func TestWeeks(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("A Monday week in UTC is labelled with its ISO week", func(t *testing.T) {
		w := DefaultCalendar().WeekOf(time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC))
		if w.Label != "2026-W48" || !w.Start.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) || w.End.Sub(w.Start) != 7*24*time.Hour {
			t.Errorf("got %s %s–%s", w.Label, w.Start, w.End)
		}
	})
	t.Run("A week across the end of summer time in Berlin is 169 hours long", func(t *testing.T) {
		cal := Calendar{Location: berlin, Start: time.Monday}
		w := cal.WeekOf(time.Date(2026, 10, 25, 12, 0, 0, 0, berlin))
		if w.Label != "2026-W43" || w.End.Sub(w.Start) != 169*time.Hour {
			t.Errorf("got %s lasting %s", w.Label, w.End.Sub(w.Start))
		}
	})
	t.Run("A time just before local midnight on Sunday belongs to the week ending then", func(t *testing.T) {
		cal := Calendar{Location: berlin, Start: time.Monday}
		// 22:59 UTC on Sunday 29 November is 23:59 in Berlin.
		w := cal.WeekOf(time.Date(2026, 11, 29, 22, 59, 0, 0, time.UTC))
		if w.Label != "2026-W48" {
			t.Errorf("got %s", w.Label)
		}
		if next := cal.WeekOf(time.Date(2026, 11, 29, 23, 0, 0, 0, time.UTC)); next.Label != "2026-W49" {
			t.Errorf("an hour later got %s", next.Label)
		}
	})
	t.Run("Parsing a label gives back the week it labels, for any first day", func(t *testing.T) {
		for _, start := range []time.Weekday{time.Monday, time.Sunday, time.Wednesday} {
			cal := Calendar{Location: berlin, Start: start}
			w := cal.WeekOf(time.Date(2026, 3, 29, 12, 0, 0, 0, berlin))
			got, err := cal.Parse(w.Label)
			if err != nil || !got.Start.Equal(w.Start) || got.Start.Weekday() != start {
				t.Errorf("start %s: %s parsed to %v (%v), want %v", start, w.Label, got.Start, err, w.Start)
			}
		}
	})
	t.Run("The last week of a year that has 53 is parsed and week 53 of one that has not is refused", func(t *testing.T) {
		if w, err := DefaultCalendar().Parse("2026-W53"); err != nil || w.Start.Format(time.DateOnly) != "2026-12-28" {
			t.Errorf("2026-W53: %v %v", w.Start, err)
		}
		if _, err := DefaultCalendar().Parse("2025-W53"); err == nil {
			t.Error("2025-W53 was accepted")
		}
		for _, bad := range []string{"2026-48", "2026-W4", "26-W48", "2026-W00", "1969-W10"} {
			if _, err := DefaultCalendar().Parse(bad); err == nil {
				t.Errorf("%q was accepted", bad)
			}
		}
	})
	t.Run("The last complete week is the one before the week of now", func(t *testing.T) {
		w := DefaultCalendar().LastComplete(time.Date(2026, 12, 7, 13, 0, 0, 0, time.UTC))
		if w.Label != "2026-W49" {
			t.Errorf("got %s", w.Label)
		}
	})
}

// fixedSource gives each service's weekly counts from a table.
type fixedSource map[string][]Counts

func (f fixedSource) Counts(_ context.Context, s *Service, weeks []Week) ([]Counts, error) {
	out := make([]Counts, len(weeks))
	got := f[s.Name]
	copy(out[len(out)-min(len(out), len(got)):], got[max(0, len(got)-len(out)):])
	return out, nil
}

type fixedEdges map[string][]Edge // by week label

func (f fixedEdges) Edges(_ context.Context, w Week) ([]Edge, error) { return f[w.Label], nil }

func TestCards(t *testing.T) {
	cal := DefaultCalendar()
	week, err := cal.Parse("2026-W48")
	if err != nil {
		t.Fatal(err)
	}
	services := []Service{
		{Name: "checkout", Owners: []string{"payments"}, Goal: 0.999, SLOs: []string{"checkout-availability"},
			Callers: []string{"web"}, Dependencies: []string{"db", "fraud"}},
		{Name: "db", Owners: []string{"storage"}, Goal: 0.9999, SLOs: []string{"db-availability"}},
		{Name: "search", Owners: []string{"discovery"}, Goal: 0.99},
		{Name: "fraud", Owners: []string{"risk"}, Goal: 0.99},
	}
	src := fixedSource{
		"checkout": {c(9990, 10000), c(9990, 10000), c(9990, 10000), c(9980, 10000)},
		"db":       {c(99999, 100000), c(99999, 100000), c(99999, 100000), c(99999, 100000)},
	}
	edges := fixedEdges{
		"2026-W48": {
			{Caller: "web", Callee: "checkout", Calls: 8000, Errors: 16},
			{Caller: "mobile", Callee: "checkout", Calls: 2000, Errors: 4},
			{Caller: "checkout", Callee: "fraud", Calls: 1000, Errors: 50},
		},
		"2026-W47": {{Caller: "checkout", Callee: "fraud", Calls: 1000, Errors: 1}},
	}
	sc := Scorer{Calendar: cal, SLOs: src, Edges: edges}
	cards, err := sc.Cards(context.Background(), services, week)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("A service judged by SLOs is scored from them", func(t *testing.T) {
		ch := cards[0]
		if ch.From != "slos" || ch.Week != "2026-W48" || ch.Calls != 10000 || ch.Colour != Red || !ch.Send || len(ch.History) != HistoryWeeks {
			t.Errorf("checkout: %+v", ch)
		}
		if ch.History[HistoryWeeks-2].Colour != Green || ch.History[0].Rate != nil {
			t.Errorf("history %+v", ch.History)
		}
	})
	t.Run("A service without SLOs is scored from the calls into it", func(t *testing.T) {
		fr := cards[3]
		if fr.From != "traces" || fr.Calls != 1000 || fr.Good != 950 || fr.Colour != Red || fr.Previous != Green {
			t.Errorf("fraud: %+v", fr)
		}
	})
	t.Run("A service nothing measures says how to fix it", func(t *testing.T) {
		if s := cards[2]; s.Colour != None || s.Send || s.Note == "" {
			t.Errorf("search: %+v", s)
		}
	})
	t.Run("The drill-down shows declared and detected callers and dependencies", func(t *testing.T) {
		ch := cards[0]
		want := []Link{
			{Service: "web", Declared: true, Detected: true, Calls: 8000, Good: 7984, From: "traces"},
			{Service: "mobile", Detected: true, Calls: 2000, Good: 1996, From: "traces"},
		}
		if len(ch.Callers) != 2 || !sameLink(ch.Callers[0], want[0]) || !sameLink(ch.Callers[1], want[1]) {
			t.Errorf("callers %+v", ch.Callers)
		}
		// db was never seen in a trace: its own scorecard stands in.
		if len(ch.Dependencies) != 2 || ch.Dependencies[0].Service != "db" || ch.Dependencies[0].From != "scorecard" ||
			ch.Dependencies[0].Calls != 100000 || ch.Dependencies[1].Service != "fraud" || ch.Dependencies[1].From != "traces" {
			t.Errorf("dependencies %+v", ch.Dependencies)
		}
	})
	t.Run("A goal out of range is refused with the fix", func(t *testing.T) {
		_, err := sc.Cards(context.Background(), []Service{{Name: "x", Goal: 99.9}}, week)
		if err == nil {
			t.Fatal("accepted a goal of 99.9")
		}
	})
	t.Run("A service listed twice is refused", func(t *testing.T) {
		_, err := sc.Cards(context.Background(), []Service{services[1], services[1]}, week)
		if err == nil {
			t.Fatal("accepted a duplicate")
		}
	})
}

func sameLink(a, b Link) bool {
	return a.Service == b.Service && a.Declared == b.Declared && a.Detected == b.Detected && a.Calls == b.Calls &&
		a.Good == b.Good && a.From == b.From && a.Rate != nil
}

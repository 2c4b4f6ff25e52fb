package alert

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// quiet is a healthy source: no burn, plenty of traffic, measured.
type quiet struct{}

func (quiet) Burn(time.Duration) (float64, uint64, bool) { return 0, 1000, true }
func (quiet) Unmeasured(time.Duration) bool              { return false }
func (quiet) Budget() (float64, bool)                    { return 1, true }

// fake answers from a table of spans; spans it does not know burn 0.
type fake struct {
	rates      map[time.Duration]float64
	attempted  uint64
	unmeasured bool
	budget     float64
	// calls counts the calls of each method.
	burns, budgets int
}

func (f *fake) Burn(span time.Duration) (float64, uint64, bool) {
	f.burns++
	r := f.rates[span]
	return r, f.attempted, !math.IsNaN(r)
}
func (f *fake) Unmeasured(time.Duration) bool { return f.unmeasured }
func (f *fake) Budget() (float64, bool) {
	f.budgets++
	return f.budget, !math.IsNaN(f.budget)
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// step evaluates p at t0+offset and returns the new state and what
// happened, as "fire page-fast" words.
func step(t *testing.T, p Policy, src Source, prev State, offset time.Duration) (State, []string) {
	t.Helper()
	next, trs, err := Evaluate(p, src, prev, t0.Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, tr := range trs {
		words = append(words, tr.Kind.String()+" "+tr.Alert)
	}
	return next, words
}

func checkStatus(t *testing.T, st State, name string, want Status) {
	t.Helper()
	c, ok := st.Check(name)
	if !ok {
		t.Fatalf("no check %s in %+v", name, st.Checks)
	}
	if c.Status != want {
		t.Errorf("%s is %q, want %q", name, c.Status, want)
	}
}

func TestATierFiresOnlyWhenBothWindowsBurn(t *testing.T) {
	p := Policy{Window: thirtyDays}
	cases := []struct {
		name        string
		long, short float64
		want        Status
	}{
		{"a burn over the hour that has stopped does not page", 20, 5, StatusOK},
		{"a fresh spike that has not added up over the hour does not page", 5, 200, StatusOK},
		{"a burn exactly at the factor does not page", 14.4, 14.4, StatusOK},
		{"a burn above the factor in both windows pages", 14.5, 14.5, StatusFiring},
		{"a window with nothing to count is unknown", math.NaN(), 20, StatusUnknown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := &fake{rates: map[time.Duration]float64{time.Hour: c.long, 5 * time.Minute: c.short}, attempted: 1000, budget: 1}
			st, _ := step(t, p, src, State{}, 0)
			checkStatus(t, st, "page-fast", c.want)
			if _, firing := st.Alert("page-fast"); firing != (c.want == StatusFiring) {
				t.Errorf("firing = %v", firing)
			}
		})
	}
}

func TestTheResolveHold(t *testing.T) {
	p := Policy{Window: thirtyDays}
	hot := &fake{rates: map[time.Duration]float64{time.Hour: 20, 5 * time.Minute: 20}, attempted: 1000, budget: 0.5}
	cold := &fake{rates: map[time.Duration]float64{time.Hour: 20}, attempted: 1000, budget: 0.5}

	st, got := step(t, p, hot, State{}, 0)
	if !slices.Equal(got, []string{"fire page-fast"}) {
		t.Fatalf("at 0: %v", got)
	}
	fired, _ := st.Alert("page-fast")

	t.Run("a clear condition is held for five minutes", func(t *testing.T) {
		s1, got := step(t, p, cold, st, time.Minute)
		checkStatus(t, s1, "page-fast", StatusResolving)
		a, ok := s1.Alert("page-fast")
		if len(got) != 0 || !ok || !a.ClearSince.Equal(t0.Add(time.Minute)) || !a.Since.Equal(t0) {
			t.Fatalf("after a minute clear: %v, %+v", got, a)
		}
		s2, got := step(t, p, cold, s1, 5*time.Minute+59*time.Second)
		if len(got) != 0 {
			t.Fatalf("resolved before the hold: %v", got)
		}
		s3, got := step(t, p, cold, s2, 6*time.Minute)
		if !slices.Equal(got, []string{"resolve page-fast"}) || len(s3.Alerts) != 0 {
			t.Fatalf("after the hold: %v, %+v", got, s3.Alerts)
		}
		checkStatus(t, s3, "page-fast", StatusOK)
	})
	t.Run("a condition back inside the hold keeps the alert firing as it was", func(t *testing.T) {
		s1, _ := step(t, p, cold, st, time.Minute)
		s2, got := step(t, p, hot, s1, 3*time.Minute)
		a, _ := s2.Alert("page-fast")
		if len(got) != 0 || !a.ClearSince.IsZero() || !a.Since.Equal(t0) || a.Fired.Reason != fired.Fired.Reason {
			t.Fatalf("back hot: %v, %+v", got, a)
		}
		checkStatus(t, s2, "page-fast", StatusFiring)
		// The hold starts again from the next clear evaluation.
		s3, _ := step(t, p, cold, s2, 4*time.Minute)
		if _, got := step(t, p, cold, s3, 8*time.Minute); len(got) != 0 {
			t.Fatalf("resolved 4 minutes into a new hold: %v", got)
		}
	})
	t.Run("low traffic does not resolve a page that fired", func(t *testing.T) {
		thin := &fake{rates: hot.rates, attempted: 2, budget: 0.5}
		s1, got := step(t, p, thin, st, 10*time.Minute)
		if len(got) != 0 {
			t.Fatalf("%v", got)
		}
		checkStatus(t, s1, "page-fast", StatusFiring)
	})
	t.Run("nothing to count clears the condition, so the alert cannot stick", func(t *testing.T) {
		blind := &fake{rates: map[time.Duration]float64{time.Hour: math.NaN(), 5 * time.Minute: math.NaN()}, budget: 0.5}
		s1, _ := step(t, p, blind, st, time.Minute)
		checkStatus(t, s1, "page-fast", StatusResolving)
		s2, got := step(t, p, blind, s1, 6*time.Minute)
		if !slices.Equal(got, []string{"resolve page-fast"}) {
			t.Fatalf("%v", got)
		}
		checkStatus(t, s2, "page-fast", StatusUnknown)
		tr := lastReason(t, p, blind, s1, 6*time.Minute)
		if want := "nothing to count over 5m for 5m (nothing to count over 1h); fired 6m ago"; tr != want {
			t.Errorf("reason %q, want %q", tr, want)
		}
	})
}

func lastReason(t *testing.T, p Policy, src Source, prev State, offset time.Duration) string {
	t.Helper()
	_, trs, err := Evaluate(p, src, prev, t0.Add(offset))
	if err != nil || len(trs) == 0 {
		t.Fatalf("no transition: %v", err)
	}
	return trs[len(trs)-1].Reason
}

func TestTheLowTrafficGuard(t *testing.T) {
	rates := map[time.Duration]float64{time.Hour: 20, 5 * time.Minute: 20, 24 * time.Hour: 4, 2 * time.Hour: 4}
	cases := []struct {
		name      string
		minEvents int
		attempted uint64
		page      Status
		fired     []string
	}{
		{"nine events in five minutes hold the page back but open the ticket", 0, 9, StatusSuppressed, []string{"fire ticket-fast"}},
		{"ten events let the page through", 0, 10, StatusFiring, []string{"fire page-fast", "fire ticket-fast"}},
		{"a guard of 100 holds back 99", 100, 99, StatusSuppressed, []string{"fire ticket-fast"}},
		{"no guard pages on a single event", -1, 1, StatusFiring, []string{"fire page-fast", "fire ticket-fast"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Policy{Window: thirtyDays, MinEvents: c.minEvents}
			st, got := step(t, p, &fake{rates: rates, attempted: c.attempted, budget: 1}, State{}, 0)
			checkStatus(t, st, "page-fast", c.page)
			if !slices.Equal(got, c.fired) {
				t.Errorf("transitions %v, want %v", got, c.fired)
			}
			if c.page == StatusSuppressed && c.page.String() != "suppressed: low traffic" {
				t.Errorf("status reads %q", c.page)
			}
		})
	}
}

func TestTheNoDataAlert(t *testing.T) {
	silent := &fake{unmeasured: true, budget: math.NaN()}
	t.Run("it fires as a ticket and needs no burn", func(t *testing.T) {
		st, trs, err := Evaluate(Policy{Window: thirtyDays}, silent, State{}, t0)
		if err != nil || len(trs) != 1 {
			t.Fatalf("%v %+v", err, trs)
		}
		tr := trs[0]
		if tr.Alert != NoDataAlert || tr.Severity != Ticket || tr.Long != 10*time.Minute || tr.TimeToExhaustion != NoExhaustion || !math.IsNaN(tr.BudgetRemaining) {
			t.Errorf("%+v", tr)
		}
		if want := "nothing measured for 10m: the measuring path may be down"; tr.Reason != want {
			t.Errorf("reason %q, want %q", tr.Reason, want)
		}
		checkStatus(t, st, NoDataAlert, StatusFiring)
	})
	t.Run("its after and severity are the policy's", func(t *testing.T) {
		_, trs, _ := Evaluate(Policy{Window: thirtyDays, NoData: NoDataRule{After: 30 * time.Minute, Severity: Page}}, silent, State{}, t0)
		if len(trs) != 1 || trs[0].Severity != Page || !strings.HasPrefix(trs[0].Reason, "nothing measured for 30m") {
			t.Errorf("%+v", trs)
		}
	})
	t.Run("turning it off resolves it and drops its check", func(t *testing.T) {
		st, _ := step(t, Policy{Window: thirtyDays}, silent, State{}, 0)
		off := Policy{Window: thirtyDays, NoData: NoDataRule{After: -1}}
		next, got := step(t, off, silent, st, time.Minute)
		if !slices.Equal(got, []string{"resolve no-data"}) || len(next.Alerts) != 0 {
			t.Fatalf("%v %+v", got, next.Alerts)
		}
		if _, ok := next.Check(NoDataAlert); ok {
			t.Error("a check for an alert that is off")
		}
	})
}

func TestPolicyChangesResolveWhatTheyRemove(t *testing.T) {
	hot := &fake{rates: map[time.Duration]float64{time.Hour: 20, 5 * time.Minute: 20}, attempted: 1000, budget: 1}
	p := Policy{Window: thirtyDays, Tiers: []Tier{{Name: "custom", Severity: Ticket, Factor: 2, Long: time.Hour, Short: 5 * time.Minute}}}
	st, got := step(t, p, hot, State{}, 0)
	if !slices.Equal(got, []string{"fire page-fast", "fire custom"}) {
		t.Fatalf("%v", got)
	}
	t.Run("a tier turned off resolves at once", func(t *testing.T) {
		off := Policy{Window: thirtyDays, Tiers: []Tier{{Name: "page-fast", Disabled: true}, p.Tiers[0]}}
		next, got := step(t, off, hot, st, time.Minute)
		if !slices.Equal(got, []string{"resolve page-fast"}) {
			t.Fatalf("%v", got)
		}
		checkStatus(t, next, "page-fast", StatusDisabled)
	})
	t.Run("a tier no longer in the policy resolves at once", func(t *testing.T) {
		_, trs, err := Evaluate(Policy{Window: thirtyDays}, hot, st, t0.Add(time.Minute))
		if err != nil || len(trs) != 1 || trs[0].Alert != "custom" || trs[0].Kind != Resolve {
			t.Fatalf("%v %+v", err, trs)
		}
		if want := "the alert is no longer in the policy; fired 1m ago"; trs[0].Reason != want {
			t.Errorf("reason %q, want %q", trs[0].Reason, want)
		}
	})
}

func TestEvaluateAsksLittle(t *testing.T) {
	src := &fake{rates: map[time.Duration]float64{time.Hour: 20, 5 * time.Minute: 20}, attempted: 1000, budget: 0.5}
	st, _ := step(t, Policy{Window: thirtyDays}, src, State{}, 0)
	// Eight windows, 6 h twice: seven spans asked once each.
	if src.burns != 7 || src.budgets != 1 {
		t.Errorf("%d burns and %d budgets asked, want 7 and 1", src.burns, src.budgets)
	}
	src.burns, src.budgets = 0, 0
	step(t, Policy{Window: thirtyDays}, src, st, time.Minute)
	if src.budgets != 0 {
		t.Errorf("the budget was asked with nothing firing anew")
	}
}

func TestEvaluateLeavesPrevAlone(t *testing.T) {
	hot := &fake{rates: map[time.Duration]float64{time.Hour: 20, 5 * time.Minute: 20}, attempted: 1000, budget: 1}
	st, _ := step(t, Policy{Window: thirtyDays}, hot, State{}, 0)
	before := st.Alerts[0]
	step(t, Policy{Window: thirtyDays}, quiet{}, st, time.Minute)
	if st.Alerts[0] != before {
		t.Errorf("prev changed: %+v, was %+v", st.Alerts[0], before)
	}
	bad := Policy{}
	got, _, err := Evaluate(bad, hot, st, t0.Add(time.Minute))
	if err == nil || len(got.Alerts) != 1 || !got.At.Equal(st.At) {
		t.Errorf("an invalid policy: %v, state %+v", err, got)
	}
}

func TestTimeToExhaustion(t *testing.T) {
	f := func(remaining float64, window time.Duration, burn float64, want time.Duration) {
		t.Helper()
		if got := TimeToExhaustion(remaining, window, burn); got != want {
			t.Errorf("TimeToExhaustion(%g, %s, %g) = %s, want %s", remaining, window, burn, got, want)
		}
	}
	// Burn 1 empties a whole budget in the window, 14.4 in 50 hours.
	f(1, 30*day, 1, 30*day)
	f(1, 30*day, 14.4, 50*time.Hour)
	f(0.5, 30*day, 2, 180*time.Hour)
	f(0, 30*day, 14.4, 0)
	f(-0.2, 30*day, 14.4, 0)
	f(0.5, 30*day, 0, NoExhaustion)
	f(math.NaN(), 30*day, 14.4, NoExhaustion)
	f(0.5, 30*day, math.NaN(), NoExhaustion)
	f(1, 365*day, 1e-12, NoExhaustion)
}

func TestTextForPeople(t *testing.T) {
	f := func(got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
	f(spanText(42*time.Hour+12*time.Minute), "1d 18h")
	f(spanText(48*time.Hour), "2d")
	f(spanText(5*time.Hour+12*time.Minute+30*time.Second), "5h 12m")
	f(spanText(3*time.Hour), "3h")
	f(spanText(29*time.Minute+59*time.Second), "29m")
	f(spanText(5*time.Minute+30*time.Second), "5m 30s")
	f(spanText(45*time.Second), "45s")
	f(burnText(16.666), "16.7")
	f(burnText(333.3), "333")
	f(burnText(2.2), "2.20")
	f(burnText(0), "0")
	f(burnText(math.NaN()), "?")
	f(factorText(13.44), "13.44")
	f(factorText(14.4), "14.4")
	f(factorText(0.9333), "0.933")
	f(factorText(6), "6")
	f(percentText(0.97685), "98 %")
	f(percentText(0.042), "4.2 %")
	f(percentText(0.0001), "0 %")
	f(percentText(-0.12), "-12 %")
	f(budgetName(thirtyDays), "the 30-day budget")
	f(budgetName(slo.WindowSpec{Rolling: 36 * time.Hour}), "the 1d12h budget")
	f(budgetName(slo.WindowSpec{Calendar: slo.Day}), "today's budget")
	f(budgetName(slo.WindowSpec{Calendar: slo.Month}), "this month's budget")
	f(budgetName(slo.WindowSpec{Calendar: slo.Quarter}), "this quarter's budget")
}

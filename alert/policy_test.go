package alert

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

var thirtyDays = slo.WindowSpec{Rolling: 30 * day}

func TestValidateNamesTheTierAndTheField(t *testing.T) {
	cases := []struct {
		name   string
		policy Policy
		want   []string
	}{
		{"a policy without a window", Policy{}, []string{"alert policy: window: a window needs rolling"}},
		{"a short window longer than an overridden long one", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "page-fast", Short: 2 * time.Hour}}},
			[]string{`alert policy: tier "page-fast": short window 2h must be shorter than the long window 1h`}},
		{"a share and a factor on one tier", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "x", Severity: Page, BudgetShare: 0.02, Factor: 10, Long: time.Hour, Short: 5 * time.Minute}}},
			[]string{`tier "x": budgetShare 0.02 and factor 10 are both set: set one`}},
		{"a new tier with only a name", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "x"}}},
			[]string{`tier "x": severity "": want page or ticket`, `tier "x": needs a budgetShare or a factor`, `tier "x": long window 0s: want a positive duration`}},
		{"a negative factor", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "page-fast", Factor: -2}}},
			[]string{`tier "page-fast": factor -2: want a positive number`}},
		{"a severity nobody routes", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "page-slow", Severity: "email"}}},
			[]string{`tier "page-slow": severity "email": want page or ticket`}},
		{"a long window beyond a one-day SLO window", Policy{Window: slo.WindowSpec{Calendar: slo.Day},
			Tiers: []Tier{{Name: "x", Severity: Ticket, Factor: 1, Long: 2 * day, Short: 2 * time.Hour}}},
			[]string{`tier "x": long window 2d is longer than the SLO window 1d`}},
		{"a tier called like the no-data alert", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "no-data", Severity: Page, Factor: 2, Long: time.Hour, Short: time.Minute}}},
			[]string{`tier "no-data": name "no-data" is the no-data alert's`}},
		{"an unnamed tier, counted in the policy's own list", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "page-fast"}, {Severity: Page}}},
			[]string{"tier 2: name is empty"}},
		{"a tier given twice", Policy{Window: thirtyDays, Tiers: []Tier{{Name: "page-fast"}, {Name: "page-fast", Disabled: true}}},
			[]string{`tier "page-fast": defined twice`}},
		{"a no-data severity nobody routes", Policy{Window: thirtyDays, NoData: NoDataRule{Severity: "sms"}},
			[]string{`noData: severity "sms": want page or ticket`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.policy.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not say %q", err, w)
				}
			}
			if _, _, err := Evaluate(c.policy, quiet{}, State{}, time.Unix(0, 0)); err == nil {
				t.Error("Evaluate accepted it")
			}
		})
	}
}

func TestDefaultPolicyIsValid(t *testing.T) {
	for _, w := range []slo.WindowSpec{thirtyDays, {Rolling: 28 * day}, {Rolling: 7 * day}, {Calendar: slo.Day}, {Calendar: slo.Month}, {Calendar: slo.Year}} {
		if err := (Policy{Window: w}).Validate(); err != nil {
			t.Errorf("%s: %v", w, err)
		}
	}
}

func TestCompleteFillsEveryDefault(t *testing.T) {
	t.Run("the zero policy gets the four tiers with their factors and the guards", func(t *testing.T) {
		p, err := Policy{Window: thirtyDays}.Complete()
		if err != nil {
			t.Fatal(err)
		}
		if p.MinEvents != 10 || p.ResolveAfter != 5*time.Minute || p.NoData != (NoDataRule{After: 10 * time.Minute, Severity: Ticket}) {
			t.Errorf("guards = %d, %s, %+v", p.MinEvents, p.ResolveAfter, p.NoData)
		}
		got := ""
		for _, tier := range p.Tiers {
			got += tier.Name + "=" + factorText(tier.Factor) + " "
		}
		if want := "page-fast=14.4 page-slow=6 ticket-fast=3 ticket-slow=1 "; got != want {
			t.Errorf("tiers %s, want %s", got, want)
		}
		again, err := p.Complete()
		if err != nil {
			t.Fatal(err)
		}
		for i := range p.Tiers {
			if again.Tiers[i] != p.Tiers[i] {
				t.Errorf("completing twice changed tier %d: %+v, then %+v", i, p.Tiers[i], again.Tiers[i])
			}
		}
	})
	t.Run("overrides by name keep the other tiers and fields", func(t *testing.T) {
		p, err := Policy{Window: thirtyDays, MinEvents: -1, ResolveAfter: -1, Tiers: []Tier{
			{Name: "ticket-slow", Disabled: true},
			{Name: "page-fast", Factor: 10},
			{Name: "page-slow", BudgetShare: 0.1},
			{Name: "ticket-weekly", Severity: Ticket, BudgetShare: 0.25, Long: 7 * day, Short: 12 * time.Hour},
		}}.Complete()
		if err != nil {
			t.Fatal(err)
		}
		if p.MinEvents != -1 || p.ResolveAfter != -1 {
			t.Errorf("turned-off guards came back: %d, %s", p.MinEvents, p.ResolveAfter)
		}
		want := []Tier{
			{Name: "page-fast", Severity: Page, Factor: 10, Long: time.Hour, Short: 5 * time.Minute},
			{Name: "page-slow", Severity: Page, Factor: 12, Long: 6 * time.Hour, Short: 30 * time.Minute},
			{Name: "ticket-fast", Severity: Ticket, Factor: 3, Long: day, Short: 2 * time.Hour},
			{Name: "ticket-slow", Severity: Ticket, Factor: 1, Long: 3 * day, Short: 6 * time.Hour, Disabled: true},
			{Name: "ticket-weekly", Severity: Ticket, Factor: 1.0714285714285714, Long: 7 * day, Short: 12 * time.Hour},
		}
		if len(p.Tiers) != len(want) {
			t.Fatalf("tiers %+v", p.Tiers)
		}
		for i := range want {
			if p.Tiers[i] != want[i] {
				t.Errorf("tier %d = %+v, want %+v", i, p.Tiers[i], want[i])
			}
		}
	})
	t.Run("a one-day window turns off the three-day tier and raises the rest to 1", func(t *testing.T) {
		p, err := Policy{Window: slo.WindowSpec{Calendar: slo.Day}}.Complete()
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, tier := range p.Tiers {
			got += tier.Name + "=" + factorText(tier.Factor)
			if tier.Disabled {
				got += "(off)"
			}
			got += " "
		}
		if want := "page-fast=1 page-slow=1 ticket-fast=1 ticket-slow=1(off) "; got != want {
			t.Errorf("tiers %s, want %s", got, want)
		}
	})
}

// TestPolicyForAppliesTheSpec checks that what an SLO's alerting section
// says reaches the policy that Evaluate and the rule generator use.
func TestPolicyForAppliesTheSpec(t *testing.T) {
	s := &slo.SLO{Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}, Alerting: &slo.AlertOverrides{
		MinEvents: 50, ResolveAfter: 15 * time.Minute, NoDataAfter: -1,
		Tiers: []slo.AlertTier{
			{Name: "page-fast", Disabled: true},
			{Name: "page-slow", Factor: 8},
			{Name: "ticket-week", Severity: "ticket", BudgetShare: 0.25, Long: 7 * 24 * time.Hour, Short: 12 * time.Hour},
		},
	}}
	p, err := PolicyFor(s).Complete()
	if err != nil {
		t.Fatal(err)
	}
	if p.MinEvents != 50 || p.ResolveAfter != 15*time.Minute || p.NoData.After >= 0 {
		t.Errorf("policy %+v", p)
	}
	got := map[string]Tier{}
	for _, tr := range p.Tiers {
		got[tr.Name] = tr
	}
	if !got["page-fast"].Disabled || got["page-slow"].Factor != 8 || got["page-slow"].Disabled {
		t.Errorf("overridden tiers: %+v", p.Tiers)
	}
	// 25 % of a 30-day budget over 7 days: 0.25 × 30 / 7.
	if w := got["ticket-week"]; w.Severity != Ticket || w.Long != 7*24*time.Hour || math.Abs(w.FactorFor(30*24*time.Hour)-0.25*30/7) > 1e-9 {
		t.Errorf("added tier: %+v", w)
	}
	if len(p.Tiers) != 5 {
		t.Errorf("%d tiers, want the four defaults and the new one", len(p.Tiers))
	}
}

// Package durability computes how often a group of replicas or erasure
// coded fragments loses data, from the disks' annualised failure rate
// (AFR) and the time a failed disk takes to be replaced (MTTR): the
// Markov model of a group whose data is lost when more than m of its n
// members are down at once. It is pure: numbers in, numbers out.
//
// Two answers are given for each group. The published approximation
// (the reliability literature since Patterson, Gibson and Katz's RAID
// paper, and the durability analyses of large blob stores) is
//
//	rate ≈ n! / ((n−m−1)! · m!) · λ^(m+1) / μ^m   losses per hour
//
// with λ = 1/MTTF, μ = 1/MTTR and MTTF = −8,766 h / ln(1 − AFR). The exact
// answer solves the birth–death chain (state i: i members down; failures
// at (n−i)λ, repairs at iμ, every failed member repaired in parallel) for
// its mean time to data loss; its inverse is the rate. The two agree
// while λ ≪ μ, which is the regime of real disks.
//
// Both are upper bounds on what hardware alone loses and say nothing of
// operator, firmware and software errors, which dominate real data loss.
package durability

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// HoursPerYear is the year the AFR is stated over: 365.25 days.
const HoursPerYear = 8766.0

// Group is one replication group or erasure-coded stripe set.
type Group struct {
	// N members; data is lost when more than Tolerate are down at once.
	// Three replicas: N 3, Tolerate 2. Reed–Solomon 6+3: N 9, Tolerate 3.
	N, Tolerate int
	// AFR is the annualised failure rate of one member (0.03 for 3 %).
	AFR float64
	// MTTR is the time from a member's failure to its replacement holding
	// the data again.
	MTTR time.Duration
}

// Check refuses a group the model cannot describe.
func (g Group) Check() error {
	switch {
	case g.N < 1 || g.N > 1000:
		return fmt.Errorf("durability: %d members; want 1 to 1,000", g.N)
	case g.Tolerate < 0 || g.Tolerate >= g.N:
		return fmt.Errorf("durability: tolerating %d of %d members down; want 0 to %d (data is lost when more are down)", g.Tolerate, g.N, g.N-1)
	case !(g.AFR > 0 && g.AFR < 1):
		return fmt.Errorf("durability: AFR %g; want a share above 0 and below 1, such as 0.03 for 3 %%", g.AFR)
	case g.MTTR <= 0 || g.MTTR > 10*365*24*time.Hour:
		return fmt.Errorf("durability: MTTR %s; want above 0 and at most 10 years", g.MTTR)
	}
	return nil
}

// MTTFHours is a member's mean time to failure from its AFR.
func (g Group) MTTFHours() float64 { return -HoursPerYear / math.Log1p(-g.AFR) }

// Result is how often a group loses data.
type Result struct {
	MTTFHours float64 `json:"mttf_hours"`
	// LossRatePerHour is the approximation's rate; ExactRatePerHour the
	// chain's (1 / mean time to data loss).
	LossRatePerHour  float64 `json:"loss_rate_per_hour"`
	ExactRatePerHour float64 `json:"exact_rate_per_hour"`
	// Groups is how many such groups the figures below are for.
	Groups int `json:"groups"`
	// LossPerYear is the probability that at least one of the groups
	// loses data in a year (1 − e^(−rate × groups × 8,766 h)), by the
	// approximation; Nines is −log10 of it.
	LossPerHour float64 `json:"loss_probability_per_hour"`
	LossPerYear float64 `json:"loss_probability_per_year"`
	Nines       float64 `json:"nines_per_year"`
}

// Evaluate computes the group's loss rate, and the chance that any of
// groups such groups loses data in an hour and in a year.
func Evaluate(g Group, groups int) (Result, error) {
	if err := g.Check(); err != nil {
		return Result{}, err
	}
	if groups < 1 {
		return Result{}, errors.New("durability: want at least one group")
	}
	lambda := 1 / g.MTTFHours()
	mu := 1 / g.MTTR.Hours()
	n, m := g.N, g.Tolerate
	// n! / ((n−m−1)! m!) in logarithms: large n stays finite.
	lf := func(k int) float64 { v, _ := math.Lgamma(float64(k) + 1); return v }
	logRate := lf(n) - lf(n-m-1) - lf(m) + float64(m+1)*math.Log(lambda) - float64(m)*math.Log(mu)
	r := Result{MTTFHours: g.MTTFHours(), LossRatePerHour: math.Exp(logRate), ExactRatePerHour: 1 / mttdl(n, m, lambda, mu), Groups: groups}
	total := r.LossRatePerHour * float64(groups)
	r.LossPerHour = -math.Expm1(-total)
	r.LossPerYear = -math.Expm1(-total * HoursPerYear)
	r.Nines = -math.Log10(r.LossPerYear)
	return r, nil
}

// mttdl is the chain's mean time to data loss from all members up, in
// hours: with T_i the mean time to loss from i members down, a_i =
// (n−i)λ and b_i = iμ,
//
//	T_i = 1/(a_i+b_i) + a_i/(a_i+b_i)·T_{i+1} + b_i/(a_i+b_i)·T_{i−1},  T_{m+1} = 0.
//
// With D_i = T_i − T_{i+1}, the mean time to first reach i+1 members down
// from i, this is D_0 = 1/a_0 and D_i = (1 + b_i·D_{i−1}) / a_i, and
// T_0 = Σ D_i: sums and ratios of positive terms, so nothing cancels.
func mttdl(n, m int, lambda, mu float64) float64 {
	var d, total float64
	for i := 0; i <= m; i++ {
		a := float64(n-i) * lambda
		b := float64(i) * mu
		d = (1 + b*d) / a
		total += d
	}
	return total
}

// Sensitivity is the group's figures with one thing changed, as a
// reader of a durability estimate asks: what if repairs took half as
// long, disks failed twice as often, or there were one more copy.
type Sensitivity struct {
	Change string `json:"change"`
	Result
}

// Sensitivities evaluates the usual changes to g.
func Sensitivities(g Group, groups int) ([]Sensitivity, error) {
	var out []Sensitivity
	for _, c := range []struct {
		name string
		g    Group
	}{
		{"as given", g},
		{"MTTR halved", Group{g.N, g.Tolerate, g.AFR, g.MTTR / 2}},
		{"AFR doubled", Group{g.N, g.Tolerate, min(2*g.AFR, 0.999), g.MTTR}},
		{"one more member", Group{g.N + 1, g.Tolerate + 1, g.AFR, g.MTTR}},
	} {
		r, err := Evaluate(c.g, groups)
		if err != nil {
			return nil, err
		}
		out = append(out, Sensitivity{Change: c.name, Result: r})
	}
	return out, nil
}

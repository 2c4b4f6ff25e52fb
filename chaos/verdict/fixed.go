package verdict

import (
	"math"
)

// FixedTest is a fixed-horizon, one-sided test of "the experiment
// cohort's bad share is higher": valid once, at a number of requests
// fixed in advance, and reported beside the sequential verdict.
type FixedTest struct {
	// Name is "fisher-exact" when a cell of the 2×2 table expects fewer
	// than 5 requests, else "two-proportion-z".
	Name   string  `json:"name"`
	PValue float64 `json:"p_value"`
}

// fixedTest chooses the test by the expected counts and runs it.
func fixedTest(c, e Counts) FixedTest {
	n := c.Requests + e.Requests
	if c.Requests == 0 || e.Requests == 0 {
		return FixedTest{Name: "none", PValue: 1}
	}
	bad := c.Bad + e.Bad
	good := n - bad
	least := float64(min(bad, good)) * float64(min(c.Requests, e.Requests)) / float64(n)
	if least < 5 {
		return FixedTest{Name: "fisher-exact", PValue: fisherWorse(c, e)}
	}
	return FixedTest{Name: "two-proportion-z", PValue: zWorse(c, e)}
}

// zWorse is the two-proportion z test with the pooled share.
func zWorse(c, e Counts) float64 {
	nc, ne := float64(c.Requests), float64(e.Requests)
	pp := float64(c.Bad+e.Bad) / (nc + ne)
	se := math.Sqrt(pp * (1 - pp) * (1/nc + 1/ne))
	if se == 0 {
		return 1
	}
	z := (float64(e.Bad)/ne - float64(c.Bad)/nc) / se
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// fisherWorse is Fisher's exact test, one-sided: the chance, with the
// table's margins fixed, of the experiment cohort having at least the
// bad requests it has. The hypergeometric terms are summed in
// logarithms.
func fisherWorse(c, e Counts) float64 {
	n := c.Requests + e.Requests
	k := c.Bad + e.Bad // bad requests in all
	m := e.Requests    // the experiment cohort's requests
	hi := min(k, m)
	logTerm := func(x uint64) float64 {
		return lchoose(m, x) + lchoose(n-m, k-x) - lchoose(n, k)
	}
	var p float64
	for x := e.Bad; x <= hi; x++ {
		if k-x > n-m {
			continue
		}
		p += math.Exp(logTerm(x))
	}
	return min(p, 1)
}

func lchoose(n, k uint64) float64 {
	a, _ := math.Lgamma(float64(n) + 1)
	b, _ := math.Lgamma(float64(k) + 1)
	c, _ := math.Lgamma(float64(n-k) + 1)
	return a - b - c
}

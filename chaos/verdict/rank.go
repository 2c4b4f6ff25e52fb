package verdict

import (
	"iter"
	"math"

	"github.com/nines-sre/nines/hist"
)

// RankTest is the Mann–Whitney rank test of two latency histograms,
// one-sided: are the experiment cohort's requests slower? Requests in one
// histogram bin are ties (nines keeps no finer latency), which the
// variance accounts for.
type RankTest struct {
	// Superiority is the chance that a request of the experiment cohort
	// is slower than one of the control's, ties counting a half: 0.5
	// when the two are alike.
	Superiority float64 `json:"superiority"`
	Z           float64 `json:"z"`
	PValue      float64 `json:"p_value"`
}

// Rank compares the latency histograms of the control and experiment
// cohorts. Either one empty gives Superiority 0.5 and PValue 1.
func Rank(control, experiment *hist.Histogram) RankTest {
	nc, ne := float64(control.Count()), float64(experiment.Count())
	if nc == 0 || ne == 0 {
		return RankTest{Superiority: 0.5, PValue: 1}
	}
	// Walk both histograms' bins in ascending order: a bin is a group of
	// ties across both cohorts.
	var u, below, ties float64 // u: the experiment's U; below: control requests in lower bins
	pairs(control.Bins(), experiment.Bins(), func(c, e uint64) {
		fc, fe := float64(c), float64(e)
		u += fe * (below + fc/2)
		below += fc
		if t := fc + fe; t > 1 {
			ties += t*t*t - t
		}
	})
	n := nc + ne
	mean := nc * ne / 2
	v := nc * ne / 12 * ((n + 1) - ties/(n*(n-1)))
	out := RankTest{Superiority: u / (nc * ne), PValue: 1}
	if v > 0 {
		out.Z = (u - mean) / math.Sqrt(v)
		out.PValue = 0.5 * math.Erfc(out.Z/math.Sqrt2)
	}
	return out
}

// pairs calls fn with the counts of each bin of a or b, in ascending
// order, with 0 for the side that does not have it.
func pairs(a, b iter.Seq[hist.Bin], fn func(ca, cb uint64)) {
	nextA, stopA := iter.Pull(a)
	defer stopA()
	nextB, stopB := iter.Pull(b)
	defer stopB()
	ba, okA := nextA()
	bb, okB := nextB()
	for okA || okB {
		switch {
		case okA && (!okB || ba.Lower < bb.Lower):
			fn(ba.Count, 0)
			ba, okA = nextA()
		case okB && (!okA || bb.Lower < ba.Lower):
			fn(0, bb.Count)
			bb, okB = nextB()
		default:
			fn(ba.Count, bb.Count)
			ba, okA = nextA()
			bb, okB = nextB()
		}
	}
}

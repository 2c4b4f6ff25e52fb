// Package consensus judges a probe from several vantage points at once:
// a quantum of the probe's consensus SLO is bad only when at least K of
// its N locations failed within a short rolling window, so that one
// flapping node, or one location's own network trouble, never counts as
// the target being down (docs/consensus.md).
//
// Each location's results are the rollups of its own SLO (probe+"."+
// location); the package reads them and nothing else. It does no I/O and
// never reads the clock: callers pass the rollups and the quanta to judge.
package consensus

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Rule is when a quantum of a consensus SLO is bad.
type Rule struct {
	// K is how many locations must be failing for the quantum to be bad,
	// and how many must have reported for it to be measured at all.
	K int
	// N is how many locations the probe runs from. Locations without
	// results count toward N but neither fail nor report.
	N int
	// Window is how far back a location's results count: the quanta
	// starting in (q−Window, q] are the window of quantum q. It should
	// span at least one probe interval, or a location that probes less
	// often than once a quantum would be silent in most quanta.
	Window time.Duration
	// Quantum is the quantum of the per-location SLOs and of the
	// consensus SLO alike.
	Quantum time.Duration
}

// MaxLocations bounds N: a probe runs from a handful of vantage points,
// and a rule naming thousands is a slip.
const MaxLocations = 1000

// MaxWindowQuanta bounds Window/Quantum: the window is meant to bridge a
// probe interval or two, not hours.
const MaxWindowQuanta = 1440

// Majority is the default K for n locations: more than half of them.
func Majority(n int) int { return n/2 + 1 }

// Validate returns an error saying what to change unless the rule can
// judge: 1 ≤ K ≤ N ≤ MaxLocations, a positive quantum, and a window of
// a whole number of quanta, at least one.
func (r Rule) Validate() error {
	switch {
	case r.N < 1 || r.N > MaxLocations:
		return fmt.Errorf("consensus over %d locations: want 1 to %d locations", r.N, MaxLocations)
	case r.K < 1:
		return fmt.Errorf("consensus of %d of %d locations: want k at least 1 (a majority is %d)", r.K, r.N, Majority(r.N))
	case r.K > r.N:
		return fmt.Errorf("consensus of %d of %d locations: k cannot pass the %d locations the probe runs from; lower k or add locations", r.K, r.N, r.N)
	case r.Quantum <= 0:
		return fmt.Errorf("consensus quantum %s: want a positive quantum, that of the location SLOs", r.Quantum)
	case r.Window < r.Quantum:
		return fmt.Errorf("consensus window %s is shorter than the quantum %s: want at least one quantum", r.Window, r.Quantum)
	case r.Window%r.Quantum != 0:
		return fmt.Errorf("consensus window %s is not a whole number of %s quanta: want a multiple such as %s", r.Window, r.Quantum, (r.Window/r.Quantum+1)*r.Quantum)
	case r.Window/r.Quantum > MaxWindowQuanta:
		return fmt.Errorf("consensus window %s holds %d quanta: want at most %d", r.Window, r.Window/r.Quantum, MaxWindowQuanta)
	}
	return nil
}

// Locations holds each location's rollups, by location name: the rollups
// of its SLO, sorted by Start, one per quantum at most, each on a quantum
// boundary (as a store returns them). A location may be missing: it has
// not reported.
type Locations map[string][]slo.Rollup

// Verdict is the judgement of one quantum, with the locations behind it
// so that per-location results stay visible.
type Verdict struct {
	// Start is the quantum judged.
	Start time.Time `json:"start"`
	// Measured is false when fewer than K locations reported in the
	// window: the consensus SLO has no rollup for the quantum (missing
	// time is not bad time).
	Measured bool `json:"measured"`
	// Bad is true when at least K locations failed in the window.
	Bad bool `json:"bad"`
	// Failing are the locations with a failed result in the window, and
	// Reporting those with any result in it (Failing among them); Silent
	// the others known to Locations. Each is sorted by name.
	Failing   []string `json:"failing"`
	Reporting []string `json:"reporting"`
	Silent    []string `json:"silent,omitempty"`
	// Reason says in words why the quantum was judged so.
	Reason string `json:"reason"`
}

// Judge judges the quantum starting at q (truncated to its quantum
// boundary). It fails only on an invalid rule or invalid locations, saying
// which.
func Judge(rule Rule, locs Locations, q time.Time) (Verdict, error) {
	if err := check(rule, locs); err != nil {
		return Verdict{}, err
	}
	start := slo.QuantumStart(q.UnixNano(), rule.Quantum)
	return judge(rule, locs, sortedNames(locs), start), nil
}

// judge is Judge on a checked rule and locations.
func judge(rule Rule, locs Locations, names []string, start int64) Verdict {
	v := Verdict{Start: time.Unix(0, start).UTC(), Failing: []string{}, Reporting: []string{}}
	// The window is the quanta starting in (start−Window, start].
	from := start - int64(rule.Window) + int64(rule.Quantum)
	for _, name := range names {
		reported, failed := false, false
		for _, r := range window(locs[name], from, start+int64(rule.Quantum)) {
			if !r.Measured || r.Attempted == 0 {
				continue
			}
			reported = true
			failed = failed || r.Good < r.Attempted
		}
		switch {
		case failed:
			v.Failing = append(v.Failing, name)
			v.Reporting = append(v.Reporting, name)
		case reported:
			v.Reporting = append(v.Reporting, name)
		default:
			v.Silent = append(v.Silent, name)
		}
	}
	window := slo.FormatDuration(rule.Window)
	switch {
	case len(v.Failing) >= rule.K:
		v.Measured, v.Bad = true, true
		v.Reason = fmt.Sprintf("consensus: %d of %d locations failed within %s (%s); %d needed", len(v.Failing), rule.N, window, strings.Join(v.Failing, ", "), rule.K)
	case len(v.Reporting) < rule.K:
		v.Reason = fmt.Sprintf("unmeasured: %d of %d locations reported within %s; %d needed to judge", len(v.Reporting), rule.N, window, rule.K)
	default:
		v.Measured = true
		v.Reason = fmt.Sprintf("good: %d of %d locations failed within %s, fewer than %d", len(v.Failing), rule.N, window, rule.K)
	}
	return v
}

// window returns the rollups of rs starting in [from, to).
func window(rs []slo.Rollup, from, to int64) []slo.Rollup {
	byStart := func(r slo.Rollup, t int64) int { return cmp.Compare(r.Start, t) }
	lo, _ := slices.BinarySearchFunc(rs, from, byStart)
	hi, _ := slices.BinarySearchFunc(rs, to, byStart)
	if hi < lo {
		return nil
	}
	return rs[lo:hi]
}

// MaxQuanta bounds the quanta one Series call judges: a year of minutes
// and some room.
const MaxQuanta = 1 << 20

// Series judges every quantum in [from, to) (both truncated to quantum
// boundaries) and returns the consensus SLO's rollups, sorted by Start,
// and one verdict per quantum judged, measured or not. There is one
// rollup per measured quantum, none for an unmeasured one. Each counts
// one attempt, good or bad (Errors 1 when bad: the consensus failed), and
// keeps the latencies of every location's results in that quantum,
// merged, so that the consensus SLO still shows percentiles. It carries
// no over-threshold count: a latency threshold belongs to the location
// SLIs, where a slow result is a failed one, and the consensus SLO's own
// SLI must have none (docs/consensus.md says why).
//
// The same input gives the same rollups whatever the order of the map.
func Series(rule Rule, locs Locations, from, to time.Time) ([]slo.Rollup, []Verdict, error) {
	if err := check(rule, locs); err != nil {
		return nil, nil, err
	}
	q := int64(rule.Quantum)
	lo, hi := slo.QuantumStart(from.UnixNano(), rule.Quantum), slo.QuantumStart(to.UnixNano(), rule.Quantum)
	if hi < lo {
		return nil, nil, fmt.Errorf("consensus series from %s to %s: the end is before the start", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if n := (hi - lo) / q; n > MaxQuanta {
		return nil, nil, fmt.Errorf("consensus series from %s to %s holds %d quanta: ask for at most %d at once", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), n, MaxQuanta)
	}
	names := sortedNames(locs)
	var out []slo.Rollup
	verdicts := make([]Verdict, 0, (hi-lo)/q)
	for start := lo; start < hi; start += q {
		v := judge(rule, locs, names, start)
		verdicts = append(verdicts, v)
		if !v.Measured {
			continue
		}
		r := slo.Rollup{Start: start, Attempted: 1, Good: 1, Measured: true}
		if v.Bad {
			r.Good, r.Errors = 0, 1
		}
		for _, name := range names {
			rs := window(locs[name], start, start+q)
			for i := range rs {
				r.Latency.Merge(&rs[i].Latency)
			}
		}
		out = append(out, r)
	}
	return out, verdicts, nil
}

// check refuses a rule that cannot judge and locations it cannot read.
func check(rule Rule, locs Locations) error {
	if err := rule.Validate(); err != nil {
		return err
	}
	if len(locs) > rule.N {
		return fmt.Errorf("consensus over %d locations got results from %d (%s): raise n to the locations the probe runs from", rule.N, len(locs), strings.Join(sortedNames(locs), ", "))
	}
	q := int64(rule.Quantum)
	var errs []error
	for _, name := range sortedNames(locs) {
		if name == "" {
			errs = append(errs, errors.New("a location without a name: name each location as its agent does (--location)"))
			continue
		}
		rs := locs[name]
		for i := range rs {
			switch {
			case rs[i].Start%q != 0:
				errs = append(errs, fmt.Errorf("location %s: rollup at %s is not on a %s quantum boundary", name, time.Unix(0, rs[i].Start).UTC().Format(time.RFC3339Nano), rule.Quantum))
			case i > 0 && rs[i].Start <= rs[i-1].Start:
				errs = append(errs, fmt.Errorf("location %s: rollup at %s after %s: want rollups sorted by start, one per quantum", name, time.Unix(0, rs[i].Start).UTC().Format(time.RFC3339), time.Unix(0, rs[i-1].Start).UTC().Format(time.RFC3339)))
			case rs[i].Good > rs[i].Attempted:
				errs = append(errs, fmt.Errorf("location %s: rollup at %s counts %d good of %d attempted", name, time.Unix(0, rs[i].Start).UTC().Format(time.RFC3339), rs[i].Good, rs[i].Attempted))
			default:
				continue
			}
			break // one problem a location is enough to say what to fix
		}
	}
	return errors.Join(errs...)
}

func sortedNames(locs Locations) []string { return slices.Sorted(maps.Keys(locs)) }

// CheckSLO refuses a consensus SLO whose SLI has a latency threshold: its
// rollups count one attempt a quantum and no over-threshold results, so a
// threshold there would judge nothing (docs/consensus.md). Put the
// threshold on the location SLIs instead.
func CheckSLO(s *slo.SLO) error {
	if s.SLI.Latency != nil {
		return fmt.Errorf("consensus SLO %s: its SLI has the latency threshold %s; a consensus SLO judges locations, not requests: put the threshold on the location SLIs (a slow result then fails at its location)", s.Name, s.SLI.Latency)
	}
	return nil
}

package verdict

import (
	"encoding/json"
	"math"
	"time"
)

// maxRequests bounds the searches for a number of requests: beyond it
// nothing an experiment could run to decides.
const maxRequests = 1e13

// Planned is how many requests each cohort needs before a run can be
// expected to decide, and how long that takes.
type Planned struct {
	// Disprove is the requests per cohort at which a run whose
	// experiment cohort is worse by the minimum effect is disproved with
	// the plan's power; Hold those at which a run with no difference
	// holds with that power. Requests is the larger: enough to decide
	// either way.
	Disprove uint64 `json:"disprove_requests"`
	Hold     uint64 `json:"hold_requests"`
	Requests uint64 `json:"requests"`
	// Duration is Requests at the traffic given (zero without traffic).
	Duration time.Duration `json:"-"`
}

// plannedJSON is Planned as the API writes it: the duration in seconds,
// absent when no traffic was measured.
type plannedJSON struct {
	Disprove uint64   `json:"disprove_requests"`
	Hold     uint64   `json:"hold_requests"`
	Requests uint64   `json:"requests"`
	Seconds  *float64 `json:"duration_seconds,omitempty"`
}

func (p Planned) MarshalJSON() ([]byte, error) {
	out := plannedJSON{Disprove: p.Disprove, Hold: p.Hold, Requests: p.Requests}
	if p.Duration > 0 {
		s := p.Duration.Seconds()
		out.Seconds = &s
	}
	return json.Marshal(out)
}

func (p *Planned) UnmarshalJSON(b []byte) error {
	var in plannedJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*p = Planned{Disprove: in.Disprove, Hold: in.Hold, Requests: in.Requests}
	if in.Seconds != nil {
		p.Duration = time.Duration(*in.Seconds * float64(time.Second))
	}
	return nil
}

// Plan says, before a run starts, how many requests per cohort and how
// long at the current traffic it takes to detect the minimum effect:
// baseline is the SLI's bad share now, rate its requests per second, and
// cohortShare the fraction of requests each cohort takes (0.01 for 1 %).
func (p Plan) Plan(baseline, rate, cohortShare float64) (Planned, error) {
	if err := p.Check(); err != nil {
		return Planned{}, err
	}
	baseline = min(max(baseline, 0), 1-p.MinEffect)
	zPow := zQuantile(p.Power)
	worse := baseline + p.MinEffect
	disprove := search(func(n float64) bool {
		su := math.Sqrt((baseline*(1-baseline) + worse*(1-worse)) / n)
		pp := baseline + p.MinEffect/2
		d := p.MinEffect - zPow*su
		return evidenceWorse(d, 2*pp*(1-pp)/n, p.MinEffect) >= 1/p.Alpha && d-halfWidth(su*su, p.MinEffect, p.Alpha) > 0
	})
	hold := search(func(n float64) bool {
		// The adjusted share of a cohort with no bad request is 1/(n+2),
		// not zero: a baseline of zero holds only as n grows.
		b := max(baseline, 1/(n+2))
		v := 2 * b * (1 - b) / n
		return zPow*math.Sqrt(v)+halfWidth(v, p.MinEffect, p.Alpha) < p.MinEffect
	})
	out := Planned{Disprove: disprove, Hold: hold, Requests: max(disprove, hold)}
	if rate > 0 && cohortShare > 0 {
		out.Duration = time.Duration(float64(out.Requests) / (rate * cohortShare) * float64(time.Second))
	}
	return out, nil
}

// search is the smallest whole n in [2, maxRequests] for which ok holds,
// ok being false below some n and true from it on; 0 when it never holds.
func search(ok func(n float64) bool) uint64 {
	hi := 2.0
	for !ok(hi) {
		if hi >= maxRequests {
			return 0
		}
		hi = min(hi*2, maxRequests)
	}
	lo := hi / 2
	if lo < 2 || ok(lo) {
		return uint64(hi)
	}
	for hi-lo > 1 {
		mid := math.Floor((lo + hi) / 2)
		if ok(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	return uint64(hi)
}

// moreRequests is how many more requests each cohort needs for a
// verdict if the shares stay as observed: the cohorts grow in their
// current proportion, their bad requests with them, until a look at
// those counts would decide.
func moreRequests(c, e Counts, p Plan) uint64 {
	big := float64(max(c.Requests, e.Requests))
	grown := func(x Counts, k float64) Counts {
		return Counts{Requests: uint64(math.Round(float64(x.Requests) * k)), Bad: uint64(math.Round(float64(x.Bad) * k))}
	}
	n := search(func(n float64) bool {
		k := n / big
		st := estimate(grown(c, k), grown(e, k))
		return decided(st, p) != Running
	})
	if n == 0 || float64(n) <= big {
		return 0
	}
	return n - uint64(big)
}

// Package demo makes up realistic traffic for a few services so that a
// newcomer running nines serve --demo sees a living system in a minute:
// a daily cycle of load, latencies with a cache-hit mode and a miss mode,
// and an incident now and then. Everything is a pure function of the time
// and a seed, so the same minute always gets the same traffic.
package demo

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Specs are the demo SLOs, as a spec file a user could have written.
const Specs = `# SLOs of the demo services that nines serve --demo makes up.
name: checkout-availability
service: checkout
description: Card payments accepted within 250 ms, as the load balancer sees them.
owner: team-payments
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99.9
quantumObjective: 99
method: quanta
window:
  rolling: 30d
noData: bad
---
name: search-latency
service: search
description: Search answers within 100 ms, 99 % of the time.
owner: team-discovery
sli:
  good:
    status: "<500"
    latency: "<=100ms"
objective: 99
method: transactions
window:
  rolling: 7d
noData: skip
---
name: login-availability
service: login
description: Logins that do not fail on the server, per calendar month.
owner: team-identity
sli:
  good:
    status: "<500"
objective: 99.95
method: time-quanta
window:
  calendar: month
  timezone: Europe/Berlin
noData: bad
`

// service is how one demo service behaves.
type service struct {
	// perMinute is the mean load at the daily peak.
	perMinute float64
	// hit and miss are the median latencies (seconds) of the cache-hit and
	// cache-miss modes; hitShare is the share of hits.
	hit, miss, hitShare float64
	// errorRate is the background share of 5xx.
	errorRate float64
}

var services = map[string]service{
	"checkout-availability": {perMinute: 900, hit: 0.005, miss: 0.060, hitShare: 0.7, errorRate: 0.0002},
	"search-latency":        {perMinute: 3000, hit: 0.004, miss: 0.030, hitShare: 0.8, errorRate: 0.0001},
	"login-availability":    {perMinute: 300, hit: 0.008, miss: 0.080, hitShare: 0.5, errorRate: 0.000002},
}

// maxDraws bounds the latencies drawn for one quantum.
const maxDraws = 1000

// Status codes the demo's requests end with, in ascending order: failures
// are 5xx, the rest 200 with now and then a 404, which the demo SLIs
// ("<500") count as good, so that a spec edited to "<400" has something
// to re-judge.
var demoCodes = [...]int{200, 404, 500, 502, 503}

const (
	code200 = iota
	code404
	code500
	code502
	code503
)

// notFoundShare is the share of successful requests that end in 404.
const notFoundShare = 0.005

// Rollup returns the demo traffic of the SLO s for the quantum starting at
// start, or false when s is not a demo SLO.
func Rollup(s *slo.SLO, start time.Time, seed uint64) (slo.Rollup, bool) {
	svc, ok := services[s.Name]
	if !ok {
		return slo.Rollup{}, false
	}
	h := fnv.New64a()
	h.Write([]byte(s.Name))
	r := rand.New(rand.NewPCG(seed^h.Sum64(), uint64(start.UnixNano())))
	// Load follows the day: a trough at 04:00 UTC a fifth of the peak.
	hour := float64(start.UTC().Hour()) + float64(start.UTC().Minute())/60
	load := svc.perMinute * (0.6 - 0.4*math.Cos(2*math.Pi*(hour-4)/24))
	n := uint64(math.Max(0, load*(1+0.1*r.NormFloat64())))
	errRate := svc.errorRate
	slowShift := 1.0
	if in, sev := inOutage(s.Name, start, seed); in {
		errRate += sev
		slowShift = 3
	}
	ro := slo.Rollup{Start: start.UnixNano(), Measured: true, Attempted: n}
	// Status codes come from a stream of their own, so the demo's counts
	// and latencies are the same with and without them.
	codes := rand.New(rand.NewPCG(seed^h.Sum64(), ^uint64(start.UnixNano())))
	var statuses [len(demoCodes)]slo.StatusCount
	// A few hundred draws stand for the minute's requests, each weighing
	// its share, so a month of history is made up in a second.
	draws := min(n, maxDraws)
	for i := range draws {
		w := n / draws
		if i < n%draws {
			w++
		}
		lat := svc.miss * slowShift * math.Exp(0.5*r.NormFloat64())
		if r.Float64() < svc.hitShare {
			lat = svc.hit * math.Exp(0.35*r.NormFloat64())
		}
		// Latencies are recorded to the millisecond, as most servers log them.
		lat = math.Max(0.001, math.Round(lat*1000)/1000)
		ro.Latency.InsertN(lat, w)
		failed := r.Float64() < errRate
		slow := s.SLI.Latency != nil && s.SLI.Latency.Slow(lat)
		if slow {
			ro.OverThreshold += w
		}
		switch {
		case failed:
			ro.Errors += w
		case slow:
			ro.Slow += w
		default:
			ro.Good += w
		}
		st := &statuses[demoCode(codes, failed)]
		st.Count += w
		st.Timed += w
		_ = st.Latency.InsertN(lat, w)
		if slow {
			st.Over += w
		}
	}
	for i := range statuses {
		if statuses[i].Count > 0 {
			statuses[i].Code = demoCodes[i]
			ro.Statuses = append(ro.Statuses, statuses[i])
		}
	}
	return ro, true
}

// demoCode picks the status of one request: a 5xx for a failure (mostly
// 500, some 502 and 503), else 200 or now and then 404.
func demoCode(r *rand.Rand, failed bool) int {
	x := r.Float64()
	switch {
	case !failed && x < notFoundShare:
		return code404
	case !failed:
		return code200
	case x < 0.6:
		return code500
	case x < 0.85:
		return code502
	}
	return code503
}

// inOutage reports whether start falls in one of the service's outages:
// about one every six days per service, 2 to 8 minutes long, with a
// failure rate of 2 % to 30 %: enough to spend a good part of a 99.9 %
// budget in a month, and now and then all of it.
func inOutage(name string, start time.Time, seed uint64) (bool, float64) {
	begin, length, rate, ok := outageOf(name, start.UTC().Truncate(24*time.Hour), seed)
	return ok && !start.Before(begin) && start.Before(begin.Add(length)), rate
}

// outageOf is the outage of the service on the UTC day starting at day,
// if that day has one.
func outageOf(name string, day time.Time, seed uint64) (begin time.Time, length time.Duration, rate float64, ok bool) {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(seed^h.Sum64(), uint64(day.Unix())))
	if r.IntN(6) != 0 {
		return time.Time{}, 0, 0, false // a quiet day
	}
	begin = day.Add(time.Duration(r.IntN(24*60)) * time.Minute)
	length = time.Duration(2+r.IntN(7)) * time.Minute
	rate = 0.02 + 0.28*r.Float64()
	return begin, length, rate, true
}

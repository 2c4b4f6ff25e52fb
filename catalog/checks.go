package catalog

import (
	"cmp"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Check names a dependency check.
type Check string

// The checks, in the order a report lists them.
const (
	CheckCeiling    Check = "ceiling"    // an SLO promises more than its hard dependencies allow
	CheckUnjudged   Check = "unjudged"   // a hard dependency has no SLO to judge it by
	CheckLatency    Check = "latency"    // own work plus dependencies exceed the service's threshold
	CheckOverBudget Check = "budget"     // a dependency promises more latency than its budget
	CheckCycle      Check = "cycle"      // services depend on each other in a loop
	CheckCapacity   Check = "capacity"   // forecast peak above tested capacity
	CheckZoneLoss   Check = "zone-loss"  // too few hosts to carry the peak without one zone
	CheckUndeclared Check = "undeclared" // observed in traces, not declared
	CheckUnobserved Check = "unobserved" // declared, never observed in traces
)

var checkOrder = []Check{CheckCeiling, CheckUnjudged, CheckLatency, CheckOverBudget, CheckCycle, CheckCapacity, CheckZoneLoss, CheckUndeclared, CheckUnobserved}

// Finding is one problem a check found. The figures that back it are
// set for the checks they belong to.
type Finding struct {
	Check   Check    `json:"check"`
	Service string   `json:"service"`
	SLO     string   `json:"slo,omitempty"`
	Path    []string `json:"path,omitempty"`
	Message string   `json:"message"`
	// Objective and Ceiling are percentages (ceiling).
	Objective float64 `json:"objective,omitempty"`
	Ceiling   float64 `json:"ceiling,omitempty"`
	// Threshold and Total are in seconds (latency, budget).
	Threshold float64 `json:"thresholdSeconds,omitempty"`
	Total     float64 `json:"totalSeconds,omitempty"`
	// HostsNeeded and Hosts back zone-loss.
	HostsNeeded int `json:"hostsNeeded,omitempty"`
	Hosts       int `json:"hosts,omitempty"`
}

// Bottleneck is the component with the least headroom between its
// forecast peak and its tested capacity.
type Bottleneck struct {
	Service         string  `json:"service"`
	ForecastPeakRPS float64 `json:"forecastPeakRPS"`
	TestedRPS       float64 `json:"testedRPS"`
	// Headroom is tested capacity over forecast peak, minus one: 0.1 is
	// 10 % more than the peak; below zero the peak exceeds the capacity.
	Headroom float64 `json:"headroom"`
}

// Report is what the dependency checks found in a catalog.
type Report struct {
	Services int `json:"services"`
	Edges    int `json:"edges"`
	SLOs     int `json:"slos"`
	// Findings are sorted by check, service, SLO and path.
	Findings []Finding `json:"findings"`
	// Bottleneck is the least headroom of the whole catalog; nil when no
	// service declares capacity.
	Bottleneck *Bottleneck `json:"bottleneck,omitempty"`
	// Notes say which checks could not run fully, and why.
	Notes []string `json:"notes,omitempty"`
	// chain is, per service, the bottleneck among it and everything it
	// reaches through hard synchronous dependencies.
	chain map[string]Bottleneck
}

// ChainBottleneck returns the bottleneck among a service and everything
// it reaches through hard synchronous dependencies.
func (r *Report) ChainBottleneck(service string) (Bottleneck, bool) {
	b, ok := r.chain[service]
	return b, ok
}

// Of returns the findings that concern a service: its own, and the cycles
// and edges it is on.
func (r *Report) Of(service string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Service == service || slices.Contains(f.Path, service) {
			out = append(out, f)
		}
	}
	return out
}

// Input is what the checks judge besides the catalog.
type Input struct {
	// SLOs are linked to services by their Service field; nil skips the
	// availability ceiling and the latency budgets.
	SLOs []*slo.SLO
	// Observed are edges seen in traces; nil skips the comparison of
	// declared and observed edges.
	Observed []Edge
	// Cycles bounds the cycle search; zero takes the defaults.
	Cycles CycleLimits
}

// Run runs every dependency check. It is pure: the same catalog and input
// give the same report.
func Run(c *Catalog, in Input) *Report {
	edges := c.Edges()
	r := &Report{Services: len(c.Services), Edges: len(edges), SLOs: len(in.SLOs), Findings: []Finding{}}
	bySvc := map[string][]*slo.SLO{}
	byName := map[string]*slo.SLO{}
	for _, s := range in.SLOs {
		bySvc[s.Service] = append(bySvc[s.Service], s)
		byName[s.Name] = s
	}
	if in.SLOs == nil {
		r.Notes = append(r.Notes, "availability ceiling and latency budgets not checked: no SLOs given")
	} else {
		r.Findings = append(r.Findings, ceilings(c, bySvc, byName)...)
		lat, note := latencies(c, bySvc, byName)
		r.Findings = append(r.Findings, lat...)
		if note != "" {
			r.Notes = append(r.Notes, note)
		}
	}
	r.Findings = append(r.Findings, cycleFindings(FindCycles(edges, in.Cycles))...)
	r.Findings = append(r.Findings, capacities(c)...)
	r.chain, r.Bottleneck = bottlenecks(c)
	if in.Observed != nil {
		r.Findings = append(r.Findings, EdgeFindings(c, in.Observed)...)
	}
	sortFindings(r.Findings)
	return r
}

func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(slices.Index(checkOrder, a.Check), slices.Index(checkOrder, b.Check)),
			strings.Compare(a.Service, b.Service),
			strings.Compare(a.SLO, b.SLO),
			slices.Compare(a.Path, b.Path))
	})
}

// judges returns the SLOs that judge dependency d: those it names, or
// all of the dependency's SLOs. Names that are not SLOs of d.Service are
// left out here; CheckSLOs reports them.
func judges(d Dependency, bySvc map[string][]*slo.SLO, byName map[string]*slo.SLO) []*slo.SLO {
	if len(d.SLOs) == 0 {
		return bySvc[d.Service]
	}
	var out []*slo.SLO
	for _, n := range d.SLOs {
		if s := byName[n]; s != nil && s.Service == d.Service {
			out = append(out, s)
		}
	}
	return out
}

// ceilings checks each SLO against the availability its hard synchronous
// dependencies allow. Serial hard dependencies multiply: a service that
// needs A and B to answer is up at most A × B of the time (Treynor et al.,
// "The Calculus of Service Availability", 2017). A dependency the caller
// gets around (mitigated) does not cap it; a soft or asynchronous one
// does not either. The product is exact (big.Rat), so 99.9 against a
// single 99.9 dependency is not flagged by a rounding error.
//
// An SLO without a latency rule is judged against the dependencies'
// SLOs without one (their availability); only a dependency that has
// latency SLOs alone is taken at those, the cautious reading. An SLO
// with a latency rule is judged against all of them: slowness below
// makes it slow too.
func ceilings(c *Catalog, bySvc map[string][]*slo.SLO, byName map[string]*slo.SLO) []Finding {
	var out []Finding
	for _, s := range c.Services {
		own := bySvc[s.Name]
		if len(own) == 0 {
			continue
		}
		avail, all := &ceilingOf{r: big.NewRat(1, 1)}, &ceilingOf{r: big.NewRat(1, 1)}
		for _, d := range s.Dependencies {
			if d.Strength != Hard || d.Call != Sync || d.Mitigated != nil {
				continue
			}
			js := judges(d, bySvc, byName)
			if len(js) == 0 {
				out = append(out, Finding{Check: CheckUnjudged, Service: s.Name, Path: []string{s.Name, d.Service},
					Message: fmt.Sprintf("%s is a hard dependency of %s with no SLO, so nothing bounds what it costs %s's objectives; give %s an SLO, or mark the dependency soft, async or mitigated", d.Service, s.Name, s.Name, d.Service)})
				continue
			}
			all.times(d.Service, lowest(js, func(*slo.SLO) bool { return true }))
			low := lowest(js, func(o *slo.SLO) bool { return o.SLI.Latency == nil })
			if low == nil {
				low = lowest(js, func(*slo.SLO) bool { return true })
			}
			avail.times(d.Service, low)
		}
		for _, o := range own {
			k := avail
			if o.SLI.Latency != nil {
				k = all
			}
			if len(k.services) == 0 || rat(o.Objective).Cmp(k.r) <= 0 {
				continue
			}
			cf, _ := k.r.Float64()
			out = append(out, Finding{Check: CheckCeiling, Service: s.Name, SLO: o.Name,
				Objective: o.Objective.Percent(), Ceiling: cf * 100,
				Message: fmt.Sprintf("%s promises %s %%, more than its hard dependencies allow: %s = %s %%; lower the objective, or mitigate a dependency (cache, fallback, replica) and say how",
					o.Name, o.Objective, k.String(), formatPercent(cf*100))})
		}
	}
	return out
}

// ceilingOf is a product of dependency objectives and how it was made.
// The words are written only for a finding: most products hold.
type ceilingOf struct {
	r        *big.Rat
	services []string
	slos     []*slo.SLO
}

func (k *ceilingOf) times(service string, o *slo.SLO) {
	k.r.Mul(k.r, rat(o.Objective))
	k.services = append(k.services, service)
	k.slos = append(k.slos, o)
}

// String writes the product as "payments 99.95 % × inventory 99.9 %".
func (k *ceilingOf) String() string {
	parts := make([]string, len(k.services))
	for i, s := range k.services {
		parts[i] = fmt.Sprintf("%s %s %%", s, k.slos[i].Objective)
	}
	return strings.Join(parts, " × ")
}

// lowest returns the SLO with the lowest objective among those keep
// accepts, or nil.
func lowest(slos []*slo.SLO, keep func(*slo.SLO) bool) *slo.SLO {
	var low *slo.SLO
	for _, o := range slos {
		if keep(o) && (low == nil || ratioLess(o.Objective, low.Objective)) {
			low = o
		}
	}
	return low
}

func rat(r slo.Ratio) *big.Rat {
	return new(big.Rat).SetFrac(new(big.Int).SetUint64(r.Num), new(big.Int).SetUint64(r.Den))
}

func ratioLess(a, b slo.Ratio) bool { return rat(a).Cmp(rat(b)) < 0 }

// formatPercent writes a percentage with as many digits as tell it apart
// from its neighbours, but no more than six after the point.
func formatPercent(p float64) string {
	s := strconv.FormatFloat(p, 'f', 6, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// latencies checks each latency SLO's threshold against the service's own
// work plus what its synchronous dependencies take, each at the latency
// its SLOs promise (or, lacking one, the budget the caller gives it). The
// calls are added up as if made one after another, the worst case; a
// dependency whose promise exceeds the budget it is given is a finding too.
func latencies(c *Catalog, bySvc map[string][]*slo.SLO, byName map[string]*slo.SLO) ([]Finding, string) {
	var out []Finding
	var noOwn []string
	for _, s := range c.Services {
		var own []*slo.SLO
		for _, o := range bySvc[s.Name] {
			if o.SLI.Latency != nil {
				own = append(own, o)
			}
		}
		total := s.OwnWork
		// The calls counted, written out only for a finding.
		type call struct {
			service string
			d       time.Duration
		}
		var calls []call
		complete, anyCall := true, false
		for _, d := range s.Dependencies {
			if d.Call != Sync {
				continue
			}
			anyCall = true
			promise, ok := promised(judges(d, bySvc, byName))
			if ok && d.Latency > 0 && promise > d.Latency {
				out = append(out, Finding{Check: CheckOverBudget, Service: s.Name, Path: []string{s.Name, d.Service},
					Threshold: d.Latency.Seconds(), Total: promise.Seconds(),
					Message: fmt.Sprintf("%s gives %s a latency budget of %s, but %s's SLOs only promise %s; raise the budget or tighten %s's latency SLO",
						s.Name, d.Service, fmtDur(d.Latency), d.Service, fmtDur(promise), d.Service)})
			}
			if !ok {
				promise, ok = d.Latency, d.Latency > 0
			}
			if !ok {
				complete = false
				continue
			}
			total += promise
			calls = append(calls, call{d.Service, promise})
		}
		if len(own) == 0 || (!anyCall && s.OwnWork == 0) {
			continue // nothing to add up: the SLO measures the service whole
		}
		if s.OwnWork == 0 {
			noOwn = append(noOwn, s.Name)
			continue
		}
		for _, o := range own {
			th := seconds(o.SLI.Latency.Threshold)
			if total <= th {
				continue
			}
			parts := []string{"own work " + fmtDur(s.OwnWork)}
			for _, c := range calls {
				parts = append(parts, c.service+" "+fmtDur(c.d))
			}
			msg := fmt.Sprintf("%s allows %s, but %s = %s; cut own work, give dependencies tighter latency SLOs, or call them in parallel and say so", o.Name, fmtDur(th), strings.Join(parts, " + "), fmtDur(total))
			if !complete {
				msg += " (some synchronous dependencies have neither a latency SLO nor a budget and are not counted)"
			}
			out = append(out, Finding{Check: CheckLatency, Service: s.Name, SLO: o.Name, Threshold: th.Seconds(), Total: total.Seconds(), Message: msg})
		}
	}
	if len(noOwn) > 0 {
		return out, fmt.Sprintf("latency budgets not checked for %s: latency SLOs but no ownWork declared (%s)", pluralInt(len(noOwn), "service"), list(noOwn, 5))
	}
	return out, ""
}

// promised is the tightest latency threshold among SLOs.
func promised(slos []*slo.SLO) (time.Duration, bool) {
	var best time.Duration
	found := false
	for _, s := range slos {
		if s.SLI.Latency == nil {
			continue
		}
		if d := seconds(s.SLI.Latency.Threshold); !found || d < best {
			best, found = d, true
		}
	}
	return best, found
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * 1e9)) }

func fmtDur(d time.Duration) string { return slo.FormatSeconds(d.Seconds()) }

func cycleFindings(cs Cycles) []Finding {
	var out []Finding
	for _, p := range cs.Paths {
		out = append(out, Finding{Check: CheckCycle, Service: p[0], Path: p,
			Message: "dependency cycle " + strings.Join(p, " → ") + "; a cycle means no service on it can start, or recover, first: break one edge (make it async or soft, or remove it)"})
	}
	for _, t := range cs.Tangles {
		out = append(out, Finding{Check: CheckCycle, Service: t[0], Path: t,
			Message: fmt.Sprintf("%s depend on each other in more cycles than are listed (%s); untangle them", pluralInt(len(t), "service"), list(t, 8))})
	}
	return out
}

// capacities checks each service that declares capacity: its forecast
// peak must fit its tested capacity, and, when hosts and zones are
// declared, the hosts left after losing one zone must still carry the
// peak.
func capacities(c *Catalog) []Finding {
	var out []Finding
	for _, s := range c.Services {
		k := s.Capacity
		if k == nil {
			continue
		}
		if k.ForecastPeakRPS > k.TestedRPS {
			out = append(out, Finding{Check: CheckCapacity, Service: s.Name,
				Message: fmt.Sprintf("%s expects a peak of %s rps but is tested to %s rps; add capacity or load-test higher", s.Name, num(k.ForecastPeakRPS), num(k.TestedRPS))})
		}
		if k.Hosts == 0 {
			continue
		}
		need := HostsForPeak(k.ForecastPeakRPS, k.TestedRPS, k.Hosts)
		if k.Zones == 1 {
			out = append(out, Finding{Check: CheckZoneLoss, Service: s.Name, HostsNeeded: need, Hosts: k.Hosts,
				Message: fmt.Sprintf("%s runs in one zone; losing it loses the service: spread its hosts over at least 2 zones", s.Name)})
			continue
		}
		want := ZoneLossHosts(need, k.Zones)
		if k.Hosts < want {
			out = append(out, Finding{Check: CheckZoneLoss, Service: s.Name, HostsNeeded: want, Hosts: k.Hosts,
				Message: fmt.Sprintf("%s needs %s to carry its peak of %s rps and %d across %d zones (%d per zone) to carry it after losing one zone; it has %d",
					s.Name, pluralInt(need, "host"), num(k.ForecastPeakRPS), want, k.Zones, want/k.Zones, k.Hosts)})
		}
	}
	return out
}

// HostsForPeak is how many hosts carry peak requests per second when
// hosts carried tested: the per-host capacity is tested / hosts, and a
// part of a host is a whole host.
func HostsForPeak(peak, tested float64, hosts int) int {
	x := peak * float64(hosts) / tested
	// A product such as 600 × 9 / 900 may land a hair above a whole
	// number; that hair is not another host.
	return int(math.Ceil(x - 1e-9))
}

// ZoneLossHosts is how many hosts, spread evenly over zones, leave at
// least need hosts after the loss of any one zone: each zone holds
// need / (zones − 1), rounded up. 6 hosts of capacity over 3 zones need
// 3 per zone, 9 in all.
func ZoneLossHosts(need, zones int) int {
	if zones < 2 {
		return 0
	}
	per := (need + zones - 2) / (zones - 1)
	return per * zones
}

// bottlenecks finds, for each service, the least headroom among it and
// everything it reaches through hard synchronous dependencies, and the
// least of the whole catalog. Services in a cycle share their answer:
// the components are walked in Tarjan's order, each after all it reaches.
func bottlenecks(c *Catalog) (map[string]Bottleneck, *Bottleneck) {
	var edges []Edge
	for _, s := range c.Services {
		edges = append(edges, Edge{From: s.Name, To: s.Name}) // every service a node
		for _, d := range s.Dependencies {
			if d.Strength == Hard && d.Call == Sync {
				edges = append(edges, Edge{From: s.Name, To: d.Service})
			}
		}
	}
	g := newGraph(edges)
	best := make([]*Bottleneck, len(g.names))
	var overall *Bottleneck
	better := func(a, b *Bottleneck) *Bottleneck {
		if a == nil || (b != nil && (b.Headroom < a.Headroom || b.Headroom == a.Headroom && b.Service < a.Service)) {
			return b
		}
		return a
	}
	for _, comp := range g.sccs() {
		var b *Bottleneck
		for _, v := range comp {
			if k := c.Service(g.names[v]).Capacity; k != nil {
				b = better(b, &Bottleneck{Service: g.names[v], ForecastPeakRPS: k.ForecastPeakRPS, TestedRPS: k.TestedRPS, Headroom: k.TestedRPS/k.ForecastPeakRPS - 1})
			}
			for _, w := range g.adj[v] {
				b = better(b, best[w])
			}
		}
		for _, v := range comp {
			best[v] = b
		}
		overall = better(overall, b)
	}
	out := map[string]Bottleneck{}
	for i, b := range best {
		if b != nil {
			out[g.names[i]] = *b
		}
	}
	return out, overall
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func pluralInt(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func plural(n uint64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatUint(n, 10) + " " + what + "s"
}

// list writes up to max names, then how many more.
func list(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// CheckSLOs reports the dependencies whose slos: name an SLO that is not
// among slos, or that belongs to another service, at their place in the
// catalog.
func (c *Catalog) CheckSLOs(slos []*slo.SLO) error {
	byName := map[string]*slo.SLO{}
	for _, s := range slos {
		byName[s.Name] = s
	}
	l := newLoader()
	for _, s := range c.Services {
		for j, n := range s.SLOs {
			if byName[n] == nil {
				field := strings.TrimSuffix(s.field, "name") + fmt.Sprintf("slos[%d]", j)
				l.fail(errAt(s.Pos, field, "service %s is judged by SLO %s, which is not among the SLOs loaded; fix the name or load its spec", s.Name, n))
			}
		}
		for i, d := range s.Dependencies {
			for j, n := range d.SLOs {
				field := fmt.Sprintf("dependencies[%d].slos[%d]", i, j)
				at := d.Pos
				if d.field != "" && j < len(d.sloPos) {
					field = strings.TrimSuffix(d.field, "service") + fmt.Sprintf("slos[%d]", j)
					at = d.sloPos[j]
				}
				switch o := byName[n]; {
				case o == nil:
					l.fail(errAt(at, field, "%s (a dependency of %s) is judged by SLO %s, which is not among the SLOs loaded; fix the name or load its spec", d.Service, s.Name, n))
				case o.Service != d.Service:
					l.fail(errAt(at, field, "SLO %s belongs to service %s, not to %s; name an SLO of %s", n, o.Service, d.Service, d.Service))
				}
			}
		}
	}
	_, err := l.finish()
	return err
}

// ServiceView is one service with what links to it: the services that
// call it, its SLOs, the findings that concern it and the bottleneck of
// its chain. The API and the service page both show it.
type ServiceView struct {
	*Service
	Callers    []string    `json:"callers"`
	SLOs       []string    `json:"slos"`
	Findings   []Finding   `json:"findings"`
	Bottleneck *Bottleneck `json:"bottleneck,omitempty"`
}

// View returns the view of a service, or false when the catalog has no
// service of that name. r is the report of Run on c.
func (r *Report) View(c *Catalog, name string, slos []*slo.SLO) (ServiceView, bool) {
	s := c.Service(name)
	if s == nil {
		return ServiceView{}, false
	}
	v := ServiceView{Service: s, Callers: c.Callers(name), SLOs: []string{}, Findings: r.Of(name)}
	if v.Callers == nil {
		v.Callers = []string{}
	}
	if v.Findings == nil {
		v.Findings = []Finding{}
	}
	for _, o := range slos {
		if o.Service == name {
			v.SLOs = append(v.SLOs, o.Name)
		}
	}
	slices.Sort(v.SLOs)
	if b, ok := r.ChainBottleneck(name); ok {
		v.Bottleneck = &b
	}
	return v, true
}

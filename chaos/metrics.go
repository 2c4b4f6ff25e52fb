package chaos

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nines-sre/nines/server/promtext"
)

// Metrics counts the proxy's requests per route, upstream and cohort
// for its /metrics: requests, errors (5xx answers and broken ones) and
// latency, as a classic histogram (fixed buckets) and a native one
// (exponential buckets, for the protobuf exposition). It is a Recorder;
// recording one outcome takes a few atomic adds and never allocates.
//
// The labels are bounded: a route is the longest configured path prefix
// the request's path starts with, else "other"; an upstream is one of
// the configured ones, else "other". A path never becomes a label.
type Metrics struct {
	routes    []string // longest first
	routeName []string // index i: routes[i]; last: "other"
	upstreams map[string]int
	upName    []string
	// series[(route*len(upName)+upstream)*cohorts+cohort], made on first
	// use so that the memory follows the label sets seen.
	series []atomic.Pointer[series]
}

// MetricsConfig names the label values Metrics keeps.
type MetricsConfig struct {
	// Routes are path prefixes, such as "/api/pay"; at most 64.
	Routes []string
	// Upstreams are the upstream URLs as the proxy writes them in an
	// Outcome (the proxy's upstream and its faults' ones); at most 16.
	Upstreams []string
}

const (
	cohorts      = 3
	maxRoutes    = 64
	maxUpstreams = 16
	otherLabel   = "other"
)

// NewMetrics checks cfg and returns an empty recorder.
func NewMetrics(cfg MetricsConfig) (*Metrics, error) {
	if len(cfg.Routes) > maxRoutes {
		return nil, fmt.Errorf("proxy metrics: %d routes: at most %d, each a label value of every series; merge prefixes", len(cfg.Routes), maxRoutes)
	}
	if len(cfg.Upstreams) > maxUpstreams {
		return nil, fmt.Errorf("proxy metrics: %d upstreams: at most %d", len(cfg.Upstreams), maxUpstreams)
	}
	m := &Metrics{upstreams: map[string]int{}}
	for _, r := range cfg.Routes {
		if !strings.HasPrefix(r, "/") {
			return nil, fmt.Errorf("proxy metrics: route %q: want a path prefix starting with /", r)
		}
		if slices.Contains(m.routes, r) {
			return nil, fmt.Errorf("proxy metrics: route %q given twice", r)
		}
		m.routes = append(m.routes, r)
	}
	// Longest first, so that /api/pay wins over /api for /api/pay/1.
	slices.SortStableFunc(m.routes, func(a, b string) int { return len(b) - len(a) })
	m.routeName = append(slices.Clone(m.routes), otherLabel)
	for _, u := range cfg.Upstreams {
		if u == "" || u == otherLabel {
			return nil, fmt.Errorf("proxy metrics: upstream %q: want the upstream's URL", u)
		}
		if _, dup := m.upstreams[u]; !dup {
			m.upstreams[u] = len(m.upName)
			m.upName = append(m.upName, u)
		}
	}
	m.upName = append(m.upName, otherLabel)
	m.series = make([]atomic.Pointer[series], len(m.routeName)*len(m.upName)*cohorts)
	return m, nil
}

// classicBounds are the classic histogram's upper bounds, seconds: the
// Prometheus Go client's defaults (5 ms to 10 s), with 1 ms and 2.5 ms
// below for a fast upstream and 30 s and 60 s above for timeouts.
var classicBounds = [...]float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// The native histogram uses schema 3: bucket k holds (2^((k-1)/8),
// 2^(k/8)] seconds, each 9 % wider than the one below, the finest the
// Prometheus client libraries default to. Latencies are whole
// nanoseconds up to time.Duration's largest, so keys from nativeMin to
// nativeMax hold every one; only 0 goes to the zero bucket.
const (
	nativeSchema = 3
	nativePerOct = 1 << nativeSchema
	nativeMin    = -30 * nativePerOct // 2^-30 s < 1 ns
	nativeMax    = 34 * nativePerOct  // 2^34 s > 292 years
)

// nativeFrac[j] is 2^(j/8)/2: a value frac·2^exp with frac in [0.5, 1)
// (math.Frexp) is in bucket (exp-1)·8 + the first j with frac ≤
// nativeFrac[j], as the Prometheus client libraries compute it.
var nativeFrac = func() (b [nativePerOct]float64) {
	for j := range b {
		b[j] = math.Exp2(float64(j)/nativePerOct) / 2
	}
	return b
}()

// nativeKey is the schema-3 bucket of v > 0.
func nativeKey(v float64) int {
	frac, exp := math.Frexp(v)
	j := 0
	for j < nativePerOct && frac > nativeFrac[j] {
		j++
	}
	return (exp-1)*nativePerOct + j
}

// series is one label set's counts. The histogram buckets are not
// cumulative here; the exposition sums them.
type series struct {
	requests, err5xx, broken atomic.Uint64
	sumBits                  atomic.Uint64 // float64 seconds
	classic                  [len(classicBounds) + 1]atomic.Uint64
	zero                     atomic.Uint64
	native                   [nativeMax - nativeMin + 1]atomic.Uint64
}

// Record counts one outcome.
func (m *Metrics) Record(o Outcome) {
	route := len(m.routes)
	for i, r := range m.routes {
		if strings.HasPrefix(o.Path, r) {
			route = i
			break
		}
	}
	up, ok := m.upstreams[o.Upstream]
	if !ok {
		up = len(m.upName) - 1
	}
	c := int(o.Cohort)
	if c >= cohorts {
		c = int(Outside)
	}
	slot := &m.series[(route*len(m.upName)+up)*cohorts+c]
	s := slot.Load()
	if s == nil {
		slot.CompareAndSwap(nil, new(series))
		s = slot.Load()
	}
	s.requests.Add(1)
	switch {
	case o.Status == 0:
		s.broken.Add(1)
	case o.Status >= 500:
		s.err5xx.Add(1)
	}
	// A negative latency (a clock stepped back under an injected Now)
	// counts as 0 rather than vanish.
	secs := max(o.Latency.Seconds(), 0)
	for {
		old := s.sumBits.Load()
		if s.sumBits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+secs)) {
			break
		}
	}
	b := 0
	for b < len(classicBounds) && secs > classicBounds[b] {
		b++
	}
	s.classic[b].Add(1)
	if secs == 0 {
		s.zero.Add(1)
		return
	}
	s.native[min(max(nativeKey(secs), nativeMin), nativeMax)-nativeMin].Add(1)
}

// family is one metric family, ready for either exposition.
type family struct {
	name, help string
	typ        string // counter, gauge, histogram
	metrics    []metric
}

type metric struct {
	labels []string // name, value, name, value…
	value  float64
	hist   *histSnap
}

// histSnap is a histogram read at one moment.
type histSnap struct {
	count   uint64
	sum     float64
	classic [len(classicBounds) + 1]uint64 // not cumulative
	zero    uint64
	native  []uint64 // index key-nativeMin
}

// families reads the per-route series and the proxy's own gauges.
func (m *Metrics) families(p *Proxy) []family {
	req := family{name: "nines_proxy_requests_total", typ: "counter", help: "Requests answered (or broken off) by the proxy, by route, upstream and cohort."}
	errs := family{name: "nines_proxy_errors_total", typ: "counter", help: "Requests answered 5xx (kind 5xx) or not answered at all: a reset, a timeout, a client that left (kind broken)."}
	lat := family{name: "nines_proxy_request_duration_seconds", typ: "histogram", help: "Time from the request's admission (after any pause) to its answer's end, seconds."}
	for i := range m.series {
		s := m.series[i].Load()
		if s == nil {
			continue
		}
		c := i % cohorts
		up := i / cohorts % len(m.upName)
		route := i / cohorts / len(m.upName)
		labels := []string{"route", m.routeName[route], "upstream", m.upName[up], "cohort", Cohort(c).String()}
		h := &histSnap{native: make([]uint64, len(s.native))}
		for j := range s.classic {
			h.classic[j] = s.classic[j].Load()
			h.count += h.classic[j]
		}
		h.sum = math.Float64frombits(s.sumBits.Load())
		h.zero = s.zero.Load()
		for j := range s.native {
			h.native[j] = s.native[j].Load()
		}
		req.metrics = append(req.metrics, metric{labels: labels, value: float64(s.requests.Load())})
		errs.metrics = append(errs.metrics,
			metric{labels: append(slices.Clip(labels), "kind", "5xx"), value: float64(s.err5xx.Load())},
			metric{labels: append(slices.Clip(labels), "kind", "broken"), value: float64(s.broken.Load())})
		lat.metrics = append(lat.metrics, metric{labels: labels, hist: h})
	}
	out := []family{req, errs, lat}
	one := func(name, typ, help string, v float64) {
		out = append(out, family{name: name, typ: typ, help: help, metrics: []metric{{value: v}}})
	}
	if p == nil {
		return out
	}
	one("nines_proxy_upgrades_total", "counter", "Requests passed through as protocol upgrades (WebSockets), untouched and not in the figures above.", float64(p.Upgrades()))
	if ps := p.cfg.Pauser; ps != nil {
		st := ps.Status()
		paused := 0.0
		if st.Paused {
			paused = 1
		}
		one("nines_proxy_paused", "gauge", "1 while the proxy holds new requests, else 0.", paused)
		one("nines_proxy_paused_seconds_total", "counter", "Time spent paused, seconds.", st.PausedSeconds)
		one("nines_proxy_queue_depth", "gauge", "Requests held now.", float64(st.Queued))
		one("nines_proxy_held_requests_total", "counter", "Requests ever held by a pause.", float64(st.Held))
		out = append(out, family{name: "nines_proxy_pause_refused_total", typ: "counter", help: "Requests answered 503 by a pause: the queue was full, or the request was held past the maximum hold.",
			metrics: []metric{{labels: []string{"reason", "queue_full"}, value: float64(st.Full)}, {labels: []string{"reason", "hold_expired"}, value: float64(st.Expired)}}})
		one("nines_proxy_held_client_left_total", "counter", "Held requests whose client left before release.", float64(st.Left))
	}
	if t := p.cfg.Throttle; t != nil {
		one("nines_proxy_throttle_rate", "gauge", "Requests a second this replica admits: the global rate over the replicas.", t.cfg.Rate())
		one("nines_proxy_throttled_total", "counter", "Requests answered 429 by the rate limit.", float64(t.Throttled()))
	}
	return out
}

// writeText writes fams in the Prometheus text format (classic
// histograms only: the text format has no native histograms).
func writeText(fams []family) string {
	var x promtext.Exposition
	for _, f := range fams {
		x.Family(f.name, f.typ, f.help)
		for _, mt := range f.metrics {
			if mt.hist == nil {
				x.Sample(f.name, mt.labels, mt.value)
				continue
			}
			var cum uint64
			for j, ub := range classicBounds {
				cum += mt.hist.classic[j]
				x.Sample(f.name+"_bucket", append(slices.Clip(mt.labels), "le", strconv.FormatFloat(ub, 'g', -1, 64)), float64(cum))
			}
			x.Sample(f.name+"_bucket", append(slices.Clip(mt.labels), "le", "+Inf"), float64(mt.hist.count))
			x.Sample(f.name+"_sum", mt.labels, mt.hist.sum)
			x.Sample(f.name+"_count", mt.labels, float64(mt.hist.count))
		}
	}
	return x.String()
}

// errNoMetrics is returned by the admin handler's metrics when the
// proxy was built without a Metrics.
var errNoMetrics = errors.New("this proxy keeps no metrics: give chaos.Config a Metrics")

// tee records into both: the cohorts' SLIs and the proxy's metrics.
type tee [2]Recorder

func (t tee) Record(o Outcome) {
	t[0].Record(o)
	t[1].Record(o)
}

// LabelsOf is the metrics configuration for a proxy of cfg: the routes
// given and those its faults match, and the upstreams it can send to
// (its own and its faults'), written as Outcome.Upstream writes them.
func LabelsOf(cfg Config, routes []string) MetricsConfig {
	mc := MetricsConfig{Routes: slices.Clone(routes)}
	add := func(r string) {
		if !slices.Contains(mc.Routes, r) {
			mc.Routes = append(mc.Routes, r)
		}
	}
	if cfg.Upstream != nil {
		mc.Upstreams = append(mc.Upstreams, cfg.Upstream.String())
	}
	for _, f := range cfg.Faults {
		for _, r := range f.Match.Routes {
			add(r)
		}
		if f.Upstream != nil && !slices.Contains(mc.Upstreams, f.Upstream.String()) {
			mc.Upstreams = append(mc.Upstreams, f.Upstream.String())
		}
	}
	return mc
}

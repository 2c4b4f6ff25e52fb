package metrics_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/otlp"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/slo"
)

// t0 is 2026-11-24T10:20:00Z in Unix ms, on a minute boundary.
const t0 = int64(1795515600000)

const sec = int64(1000) // ms

// ns turns Unix ms into the Unix ns of rollups.
func ns(ms int64) int64 { return ms * 1e6 }

// rw sends series through a real remote write payload: encoded, snappy
// compressed, and decoded by promrw.Decode.
func rw(t testing.TB, series ...metrics.Series) []metrics.Series {
	t.Helper()
	req, err := promrw.Decode(promrw.Encode(&promrw.WriteRequest{Batch: metrics.Batch{Series: series}}), "snappy")
	if err != nil {
		t.Fatal(err)
	}
	if req.Dropped != 0 {
		t.Fatalf("decoder dropped %d: %v", req.Dropped, req.Problems)
	}
	return req.Series
}

// ls builds sorted labels from name and name/value pairs.
func ls(name string, kv ...string) metrics.Labels {
	l := metrics.Labels{{Name: metrics.MetricNameLabel, Value: name}}
	for i := 0; i+1 < len(kv); i += 2 {
		l = append(l, metrics.Label{Name: kv[i], Value: kv[i+1]})
	}
	slices.SortFunc(l, func(a, b metrics.Label) int { return strings.Compare(a.Name, b.Name) })
	return l
}

func counter(l metrics.Labels, t int64, v float64) metrics.Series {
	return metrics.Series{Labels: l, Samples: []metrics.Sample{{T: t, V: v}}}
}

func sel(s string) *metrics.Selector {
	x := metrics.MustParseSelector(s)
	return &x
}

func newCollector(t testing.TB, srcs ...metrics.SLISource) *metrics.Collector {
	t.Helper()
	c, err := metrics.NewCollector(metrics.Config{Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func latencyRule(t testing.TB, s string) *slo.LatencyRule {
	t.Helper()
	r, err := slo.ParseLatencyRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return &r
}

func statusRule(t testing.TB, s string) slo.StatusRule {
	t.Helper()
	r, err := slo.ParseStatusRule(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// flat is the part of a rollup that tables compare.
type flat struct {
	Start                                  int64
	Attempted, Good, Errors, Slow, OverThr uint64
	LatencyCount                           uint64
	Measured, Approximate                  bool
}

func flatten(rs []metrics.Result) []flat {
	var out []flat
	for _, r := range rs {
		out = append(out, flat{r.Rollup.Start, r.Rollup.Attempted, r.Rollup.Good, r.Rollup.Errors, r.Rollup.Slow,
			r.Rollup.OverThreshold, r.Rollup.Latency.Count(), r.Rollup.Measured, r.Approximate})
	}
	return out
}

func checkFlat(t *testing.T, got []metrics.Result, want []flat) {
	t.Helper()
	g := flatten(got)
	if !slices.Equal(g, want) {
		t.Errorf("rollups\n got %+v\nwant %+v", g, want)
	}
}

func counts(r metrics.Report, reasons ...metrics.Reason) map[metrics.Reason]uint64 {
	m := map[metrics.Reason]uint64{}
	for _, x := range reasons {
		m[x] = r.Count(x)
	}
	return m
}

func TestCountersGoodTotal(t *testing.T) {
	c := newCollector(t, metrics.SLISource{
		Name:  "availability",
		Good:  sel(`http_requests_total{job="checkout", code!~"5.."}`),
		Total: sel(`http_requests_total{job="checkout"}`),
	})
	ok := ls("http_requests_total", "job", "checkout", "code", "200")
	bad := ls("http_requests_total", "job", "checkout", "code", "503")
	other := ls("http_requests_total", "job", "search", "code", "200")
	unknown := ls("node_cpu_seconds_total", "cpu", "0")
	// Scrapes every 15 s. The first sets baselines; the increase from the
	// scrape at 0:45 to the one at 1:00 straddles nothing, the one from
	// 1:45 to 2:05 straddles the 2:00 boundary and lands in 2:00.
	type scrape struct {
		t         int64
		okV, badV float64
	}
	scrapes := []scrape{
		{t0 + 5*sec, 1000, 10},
		{t0 + 20*sec, 1100, 10},
		{t0 + 35*sec, 1250, 12},
		{t0 + 50*sec, 1300, 12},
		{t0 + 65*sec, 1400, 13},
		{t0 + 105*sec, 1500, 13},
		{t0 + 125*sec, 1600, 20},
	}
	var rep metrics.Report
	for _, s := range scrapes {
		r := c.Add(rw(t, counter(ok, s.t, s.okV), counter(bad, s.t, s.badV), counter(other, s.t, 5), counter(unknown, s.t, 1)))
		rep.Merge(&r)
	}
	if got := counts(rep, metrics.FirstSample, metrics.UnknownSeries); got[metrics.FirstSample] != 2 || got[metrics.UnknownSeries] != 14 {
		t.Errorf("report %s", rep.String())
	}
	res, _ := c.Flush(ns(t0 + 3*60*sec))
	checkFlat(t, res, []flat{
		{Start: ns(t0), Attempted: 302, Good: 300, Measured: true},
		{Start: ns(t0 + 60*sec), Attempted: 201, Good: 200, Measured: true},
		{Start: ns(t0 + 120*sec), Attempted: 107, Good: 100, Measured: true},
	})
	for _, r := range res {
		if r.SLI != "availability" {
			t.Errorf("SLI %q", r.SLI)
		}
	}
}

func TestCountersBadTotalAndReset(t *testing.T) {
	c := newCollector(t, metrics.SLISource{
		Name:  "errors",
		Bad:   sel(`rpc_failures_total`),
		Total: sel(`rpc_total`),
	})
	bad, total := ls("rpc_failures_total"), ls("rpc_total")
	add := func(tm int64, b, tot float64) metrics.Report {
		return c.Add(rw(t, counter(bad, tm, b), counter(total, tm, tot)))
	}
	add(t0, 5, 100)                  // baselines
	add(t0+15*sec, 6, 150)           // +1, +50
	r := add(t0+30*sec, 1, 20)       // both reset (process restart): +1, +20
	if r.Count(metrics.Reset) != 2 { // a decrease is a reset
		t.Errorf("report %s", r.String())
	}
	add(t0+45*sec, 1, 30) // +0, +10
	res, _ := c.Flush(ns(t0 + 60*sec))
	checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 80, Good: 78, Errors: 2, Measured: true}})
}

func TestFirstSampleLateAndStale(t *testing.T) {
	c := newCollector(t, metrics.SLISource{Name: "s", Good: sel(`ok_total`), Total: sel(`all_total`)})
	ok, all := ls("ok_total"), ls("all_total")
	step := func(tm int64, v float64) metrics.Report {
		return c.Add(rw(t, counter(ok, tm, v), counter(all, tm, v)))
	}
	r := step(t0+10*60*sec, 100)
	if r.Count(metrics.FirstSample) != 2 || r.Accepted != 2 {
		t.Errorf("first: %s", r.String())
	}
	// 6 minutes behind the newest: late (default lag 5 m), reported.
	r = step(t0+4*60*sec, 50)
	if r.Count(metrics.Late) != 2 || len(r.Problems) != 2 || !strings.Contains(r.Problems[0].Error(), "6m0s behind") {
		t.Errorf("late: %s %v", r.String(), r.Problems)
	}
	// 4 minutes behind: out of order, accepted, adds nothing.
	r = step(t0+6*60*sec, 90)
	if r.Count(metrics.OutOfOrder) != 2 || r.Accepted != 2 {
		t.Errorf("out of order: %s", r.String())
	}
	// Same timestamp: a duplicate.
	if r = step(t0+10*60*sec, 100); r.Count(metrics.Duplicate) != 2 {
		t.Errorf("duplicate: %s", r.String())
	}
	step(t0+11*60*sec, 110) // +10, in the quantum of minute 11
	// A stale marker ends the series; the next value is a baseline, not an
	// increase from 110.
	if r = step(t0+12*60*sec, metrics.StaleNaN); r.Count(metrics.Stale) != 2 {
		t.Errorf("stale: %s", r.String())
	}
	if r = step(t0+13*60*sec, 500); r.Count(metrics.FirstSample) != 2 {
		t.Errorf("after stale: %s", r.String())
	}
	step(t0+14*60*sec, 530)
	// A NaN that is not the stale marker is a bad value.
	if r = step(t0+15*60*sec, math.NaN()); r.Count(metrics.BadValue) != 2 {
		t.Errorf("NaN: %s", r.String())
	}
	res, _ := c.Flush(math.MaxInt64)
	checkFlat(t, res, []flat{
		{Start: ns(t0 + 11*60*sec), Attempted: 10, Good: 10, Measured: true},
		{Start: ns(t0 + 14*60*sec), Attempted: 30, Good: 30, Measured: true},
	})
}

// classic returns the bucket series of one scrape of a classic histogram:
// cum[i] requests at or under les[i].
func classic(name string, extra []string, tm int64, les []string, cum []float64) []metrics.Series {
	var out []metrics.Series
	for i, le := range les {
		out = append(out, counter(ls(name+"_bucket", append(slices.Clone(extra), "le", le)...), tm, cum[i]))
	}
	out = append(out, counter(ls(name+"_count", extra...), tm, cum[len(cum)-1]), counter(ls(name+"_sum", extra...), tm, 12.5))
	return out
}

// TestClassicExactAtBound is the exactness contract: with buckets le=0.005
// and le=0.01, the requests at or under 5 ms are all counted at or under
// 5 ms, and OverThreshold for "<=5ms" is count − bucket(le=0.005) exactly,
// in the rollup's counters and in its histogram.
func TestClassicExactAtBound(t *testing.T) {
	les := []string{"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	c := newCollector(t, metrics.SLISource{
		Name:      "latency",
		SLI:       slo.SLI{Latency: latencyRule(t, "<=5ms")},
		Histogram: sel(`http_request_duration_seconds{job="checkout"}`),
	})
	base := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140}
	// In the next scrape each bucket gains a different amount; the
	// cumulative increases by bound are:
	inc := []float64{3, 7, 200, 1000, 1003, 1010, 1100, 1101, 1150, 1200, 1234, 1300, 1301, 1302}
	next := make([]float64, len(base))
	for i := range base {
		next[i] = base[i] + inc[i]
	}
	extra := []string{"job", "checkout"}
	r1 := c.Add(rw(t, classic("http_request_duration_seconds", extra, t0+10*sec, les, base)...))
	r2 := c.Add(rw(t, classic("http_request_duration_seconds", extra, t0+25*sec, les, next)...))
	if r1.Count(metrics.Unused) != 2 || r2.Count(metrics.FirstSample) != 0 || r2.Accepted != 14 {
		t.Errorf("reports: %s / %s", r1.String(), r2.String())
	}
	res, rep := c.Flush(math.MaxInt64)
	if rep.Dropped() != 0 || rep.Count(metrics.Inconsistent) != 0 {
		t.Errorf("flush: %s %v", rep.String(), rep.Problems)
	}
	if len(res) != 1 {
		t.Fatalf("%d results", len(res))
	}
	r := res[0].Rollup
	if r.Attempted != 1302 || r.OverThreshold != 1302-200 || r.Slow != 1102 || r.Good != 200 || res[0].Approximate {
		t.Errorf("rollup %+v", flatten(res))
	}
	// The evaluator's reading: at or under = Latency.Count() − OverThreshold.
	if got := r.Latency.Count() - r.OverThreshold; got != 200 {
		t.Errorf("at or under 5ms = %d, want 200", got)
	}
	// And the histogram alone agrees at every two-digit bound, however the
	// bucket's requests were spread inside it: le counts a request at the
	// bound, so does CountAtOrBelow, as for an event of that latency.
	for i, le := range les[:len(les)-1] {
		var b float64
		fmt.Sscan(le, &b)
		if got := r.Latency.CountAtOrBelow(b); got != uint64(inc[i]) {
			t.Errorf("CountAtOrBelow(%s) = %d, want %d", le, got, uint64(inc[i]))
		}
		if i > 0 && inc[i] > inc[i-1] {
			if got := r.Latency.CountBelow(b); got < uint64(inc[i-1]) || got >= uint64(inc[i]) {
				t.Errorf("CountBelow(%s) = %d, want some of its bucket's %d at the bound", le, got, uint64(inc[i]-inc[i-1]))
			}
		}
	}
	if q := r.Latency.Quantile(0.5); !(q > 0.005 && q <= 0.01) {
		t.Errorf("median %v, want in (5ms, 10ms]", q)
	}
	// The +Inf bucket's 1 request sits at the first bin edge above 10 s,
	// in the bin [11 s, 12 s), within a bin of histogram_quantile's 10 s.
	if q := r.Latency.Quantile(1); !(q > 10 && q <= 12) || r.Latency.CountAtOrBelow(10) != 1301 {
		t.Errorf("max %v", q)
	}
}

// TestClassicErrorsAndStatus splits requests by status: error series fail
// whatever their latency; the rest are slow above the threshold.
func TestClassicErrorsAndStatus(t *testing.T) {
	les := []string{"0.005", "0.01", "+Inf"}
	for _, src := range []metrics.SLISource{
		{Name: "by-matcher", Errors: sel(`{code=~"5.."}`)},
		{Name: "by-status", StatusLabel: "code", SLI: slo.SLI{Status: statusRule(t, "<500")}},
	} {
		t.Run(src.Name, func(t *testing.T) {
			src.Histogram = sel(`lat_seconds`)
			src.SLI.Latency = latencyRule(t, "<=10ms")
			c := newCollector(t, src)
			for i, tm := range []int64{t0, t0 + 15*sec} {
				k := float64(i)
				var all []metrics.Series
				all = append(all, classic("lat_seconds", []string{"code", "200"}, tm, les, []float64{10 * k, 15 * k, 16 * k})...)
				all = append(all, classic("lat_seconds", []string{"code", "503"}, tm, les, []float64{1 * k, 2 * k, 4 * k})...)
				c.Add(rw(t, all...))
			}
			res, _ := c.Flush(math.MaxInt64)
			checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 20, Good: 15, Errors: 4, Slow: 1, OverThr: 3, LatencyCount: 20, Measured: true}})
		})
	}
}

func TestClassicNoThresholdBucket(t *testing.T) {
	c := newCollector(t, metrics.SLISource{
		Name: "l", SLI: slo.SLI{Latency: latencyRule(t, "<=7ms")}, Histogram: sel(`lat_seconds`),
	})
	les := []string{"0.005", "0.01", "+Inf"}
	c.Add(rw(t, classic("lat_seconds", nil, t0, les, []float64{1, 2, 3})...))
	c.Add(rw(t, classic("lat_seconds", nil, t0+15*sec, les, []float64{2, 4, 6})...))
	res, rep := c.Flush(math.MaxInt64)
	if len(res) != 0 || rep.Count(metrics.NoThresholdBucket) != 1 || len(rep.Problems) != 1 {
		t.Fatalf("results %+v, report %s %v", flatten(res), rep.String(), rep.Problems)
	}
	msg := rep.Problems[0].Error()
	for _, want := range []string{`lat_seconds_bucket{}`, "threshold 7ms", "le=[0.005 0.01 +Inf]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problem %q lacks %q", msg, want)
		}
	}
}

// native builds an integer native histogram sample from index→count.
func native(l metrics.Labels, tm int64, schema int32, zero float64, buckets map[int32]float64) metrics.Series {
	h := metrics.Histogram{T: tm, Schema: schema, ZeroCount: zero}
	idx := make([]int32, 0, len(buckets))
	for i := range buckets {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	total := zero
	for k, i := range idx {
		off := i
		if k > 0 {
			off = i - idx[k-1] - 1
		}
		h.PositiveSpans = append(h.PositiveSpans, metrics.Span{Offset: off, Length: 1})
		h.PositiveBuckets = append(h.PositiveBuckets, buckets[i])
		total += buckets[i]
	}
	h.Count = total
	return metrics.Series{Labels: l, Histograms: []metrics.Histogram{h}}
}

func TestNativeExponential(t *testing.T) {
	l := ls("rpc_duration_seconds", "service", "pay")
	// Schema 0: bucket i is (2^(i-1), 2^i]. 5 ms lies inside bucket -7,
	// (3.90625 ms, 7.8125 ms]; 7.8125 ms is the bound of that bucket.
	first := map[int32]float64{-8: 1, -7: 1, -6: 1}
	second := map[int32]float64{-8: 6, -7: 11, -6: 4} // +5, +10, +3; zero +2
	run := func(rule string) ([]metrics.Result, metrics.Report) {
		c := newCollector(t, metrics.SLISource{Name: "n", SLI: slo.SLI{Latency: latencyRule(t, rule)}, Histogram: sel(`rpc_duration_seconds`)})
		c.Add(rw(t, native(l, t0, 0, 1, first)))
		rep := c.Add(rw(t, native(l, t0+15*sec, 0, 3, second)))
		res, _ := c.Flush(math.MaxInt64)
		return res, rep
	}
	// Threshold at a bucket bound: exact.
	res, rep := run("<=7.8125ms")
	checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 20, Good: 17, Slow: 3, OverThr: 3, LatencyCount: 20, Measured: true}})
	if rep.Count(metrics.Approximate) != 0 {
		t.Errorf("report %s", rep.String())
	}
	if got := res[0].Rollup.Latency.CountAtOrBelow(0.0078125); got != 17 {
		t.Errorf("CountAtOrBelow(bound) = %d", got)
	}
	// Threshold inside bucket -7: its 10 requests are split by
	// log-interpolation, log2(5/3.90625) = 0.356 of them under 5 ms, so
	// 6.44 over, plus the 3 of bucket -6: 9.44, rounded to 9.
	res, rep = run("<=5ms")
	checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 20, Good: 11, Slow: 9, OverThr: 9, LatencyCount: 20, Measured: true, Approximate: true}})
	if rep.Count(metrics.Approximate) != 1 {
		t.Errorf("report %s", rep.String())
	}
}

// TestNativeAndClassicTogether: Prometheus can send one histogram both as
// native and as classic buckets. Counting both would double the traffic;
// the classic buckets win, being exact at the threshold.
func TestNativeAndClassicTogether(t *testing.T) {
	c := newCollector(t, metrics.SLISource{Name: "x", SLI: slo.SLI{Latency: latencyRule(t, "<=5ms")}, Histogram: sel(`d_seconds`)})
	les := []string{"0.005", "+Inf"}
	var rep metrics.Report
	for i, tm := range []int64{t0, t0 + 15*sec} {
		k := float64(i + 1)
		s := classic("d_seconds", []string{"job", "a"}, tm, les, []float64{4 * k, 5 * k})
		s = append(s, native(ls("d_seconds", "job", "a"), tm, 0, 0, map[int32]float64{-8: 4 * k, -3: k}))
		r := c.Add(rw(t, s...))
		rep.Merge(&r)
	}
	res, _ := c.Flush(math.MaxInt64)
	checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 5, Good: 4, Slow: 1, OverThr: 1, LatencyCount: 5, Measured: true}})
	if rep.Count(metrics.Duplicate) != 1 {
		t.Errorf("report %s", rep.String())
	}
}

func otlpBatch(t *testing.T, ms ...*metricspb.Metric) []metrics.Series {
	t.Helper()
	b, err := proto.Marshal(&metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		ScopeMetrics: []*metricspb.ScopeMetrics{{Metrics: ms}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := otlp.Decode(b, otlp.ContentTypeProtobuf)
	if err != nil {
		t.Fatal(err)
	}
	if batch.Dropped != 0 {
		t.Fatalf("dropped %v", batch.Problems)
	}
	return batch.Series
}

func TestOTLPSources(t *testing.T) {
	c := newCollector(t,
		metrics.SLISource{Name: "explicit", SLI: slo.SLI{Latency: latencyRule(t, "<=10ms")}, Histogram: sel(`http.server.request.duration`)},
		metrics.SLISource{Name: "expo-ms", SLI: slo.SLI{Latency: latencyRule(t, "<=8ms")}, Histogram: sel(`rpc.server.duration`)},
		metrics.SLISource{Name: "counter", Good: sel(`{"req.ok"}`), Total: sel(`{"req.all"}`)},
	)
	ms := func(x int64) uint64 { return uint64(x) * 1e6 }
	delta := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA
	cumul := metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE
	explicit := func(tm int64, counts ...uint64) *metricspb.Metric {
		return &metricspb.Metric{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
			AggregationTemporality: delta, DataPoints: []*metricspb.HistogramDataPoint{{
				TimeUnixNano: ms(tm), StartTimeUnixNano: ms(tm - 60*sec), ExplicitBounds: []float64{0.005, 0.01, 0.025}, BucketCounts: counts}}}}}
	}
	// Exponential, in milliseconds, scale 0: OTLP bucket k is
	// (2^k ms, 2^(k+1) ms]; 8 ms is a bound.
	expo := func(tm int64, counts ...uint64) *metricspb.Metric {
		return &metricspb.Metric{Name: "rpc.server.duration", Unit: "ms", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
			AggregationTemporality: cumul, DataPoints: []*metricspb.ExponentialHistogramDataPoint{{
				TimeUnixNano: ms(tm), StartTimeUnixNano: ms(t0 - 3600*sec), Scale: 0,
				Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 1, BucketCounts: counts}}}}}}
	}
	sum := func(name string, tm, start int64, v int64) *metricspb.Metric {
		return &metricspb.Metric{Name: name, Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			AggregationTemporality: cumul, IsMonotonic: true, DataPoints: []*metricspb.NumberDataPoint{{
				TimeUnixNano: ms(tm), StartTimeUnixNano: ms(start), Value: &metricspb.NumberDataPoint_AsInt{AsInt: v}}}}}}
	}
	start := t0 - 3600*sec
	c.Add(otlpBatch(t, explicit(t0+30*sec, 6, 3, 1, 0), expo(t0+30*sec, 1, 1, 1), sum("req.ok", t0+30*sec, start, 90), sum("req.all", t0+30*sec, start, 100)))
	c.Add(otlpBatch(t, explicit(t0+90*sec, 2, 2, 0, 1), expo(t0+90*sec, 3, 5, 2), sum("req.ok", t0+90*sec, start, 99), sum("req.all", t0+90*sec, start, 110)))
	// The counters restart: a new start time is a reset even though the
	// values went up.
	r := c.Add(otlpBatch(t, sum("req.ok", t0+150*sec, t0+140*sec, 200), sum("req.all", t0+150*sec, t0+140*sec, 201)))
	if r.Count(metrics.Reset) != 2 {
		t.Errorf("report %s", r.String())
	}
	res, rep := c.Flush(math.MaxInt64)
	if rep.Dropped() != 0 {
		t.Errorf("flush %s %v", rep.String(), rep.Problems)
	}
	got := map[string][]flat{}
	for _, r := range res {
		got[r.SLI] = append(got[r.SLI], flatten([]metrics.Result{r})...)
	}
	want := map[string][]flat{
		// Deltas count from their first point.
		"explicit": {
			{Start: ns(t0), Attempted: 10, Good: 9, Slow: 1, OverThr: 1, LatencyCount: 10, Measured: true},
			{Start: ns(t0 + 60*sec), Attempted: 5, Good: 4, Slow: 1, OverThr: 1, LatencyCount: 5, Measured: true},
		},
		// Cumulative: the first point is a baseline. Increases +2 in
		// (2,4] ms, +4 in (4,8], +1 in (8,16]: 1 over 8 ms, exactly.
		"expo-ms": {{Start: ns(t0 + 60*sec), Attempted: 7, Good: 6, Slow: 1, OverThr: 1, LatencyCount: 7, Measured: true}},
		"counter": {
			{Start: ns(t0 + 60*sec), Attempted: 10, Good: 9, Measured: true},
			{Start: ns(t0 + 120*sec), Attempted: 201, Good: 200, Measured: true},
		},
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s\n got %+v\nwant %+v", k, got[k], w)
		}
	}
	// The millisecond histogram landed in seconds: its 4 requests in
	// (4, 8] ms are at or under 8 ms in the rollup histogram too.
	for _, r := range res {
		if r.SLI == "expo-ms" {
			if got := r.Rollup.Latency.CountAtOrBelow(0.008); got != 6 {
				t.Errorf("CountAtOrBelow(8ms) = %d", got)
			}
		}
	}
}

func TestWrongTypes(t *testing.T) {
	c := newCollector(t,
		metrics.SLISource{Name: "c", Good: sel(`g`), Total: sel(`h`)},
		metrics.SLISource{Name: "u", Histogram: sel(`bytes`)},
	)
	gauge := metrics.Series{Labels: ls("g"), Type: metrics.TypeGauge, Samples: []metrics.Sample{{T: t0, V: 1}}}
	hist := native(ls("h"), t0, 0, 0, map[int32]float64{1: 1})
	byUnit := native(ls("bytes"), t0, 0, 0, map[int32]float64{1: 1})
	byUnit.Unit = "By"
	r := c.Add([]metrics.Series{gauge, hist, byUnit})
	if r.Count(metrics.WrongType) != 3 || len(r.Problems) != 3 {
		t.Fatalf("report %s %v", r.String(), r.Problems)
	}
	for i, want := range []string{"wants a counter, the series is a gauge", "histogram sample where a counter is wanted", `unit "By" is not a time unit`} {
		if !strings.Contains(r.Problems[i].Error(), want) {
			t.Errorf("problem %d = %v, want %q", i, r.Problems[i], want)
		}
	}
}

func TestFlushWatermarkAndReopen(t *testing.T) {
	c := newCollector(t, metrics.SLISource{Name: "s", Good: sel(`ok`), Total: sel(`all`)})
	if c.Watermark() != math.MinInt64 {
		t.Error("watermark before samples")
	}
	step := func(tm int64, v float64) {
		c.Add(rw(t, counter(ls("ok"), tm, v), counter(ls("all"), tm, v)))
	}
	step(t0, 0)
	step(t0+30*sec, 10)
	step(t0+7*60*sec, 20)
	if got, want := c.Watermark(), ns(t0+2*60*sec); got != want {
		t.Errorf("watermark %d, want %d", got, want)
	}
	res, _ := c.Flush(c.Watermark())
	checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 10, Good: 10, Measured: true}})
	// A delta arriving late for the flushed quantum is still counted and
	// emitted again, to be merged.
	d := newCollector(t, metrics.SLISource{Name: "d", Good: sel(`ok`), Total: sel(`all`)})
	deltas := func(tm int64, v float64) []metrics.Series {
		return []metrics.Series{
			{Labels: ls("ok"), Temporality: metrics.Delta, Samples: []metrics.Sample{{T: tm, V: v}}},
			{Labels: ls("all"), Temporality: metrics.Delta, Samples: []metrics.Sample{{T: tm, V: v}}},
		}
	}
	d.Add(deltas(t0+30*sec, 4))
	d.Add(deltas(t0+3*60*sec, 1))
	first, _ := d.Flush(ns(t0 + 60*sec))
	r := d.Add(deltas(t0+40*sec, 2))
	if r.Count(metrics.Reopened) != 1 || r.Count(metrics.OutOfOrder) != 2 {
		t.Errorf("report %s", r.String())
	}
	again, _ := d.Flush(ns(t0 + 60*sec))
	checkFlat(t, first, []flat{{Start: ns(t0), Attempted: 4, Good: 4, Measured: true}})
	checkFlat(t, again, []flat{{Start: ns(t0), Attempted: 2, Good: 2, Measured: true}})
	// A resend of the newest delta (the exporter lost the answer) is not
	// counted again.
	if r := d.Add(deltas(t0+3*60*sec, 1)); r.Count(metrics.Duplicate) != 2 {
		t.Errorf("resent delta: report %s", r.String())
	}
	last, _ := d.Flush(math.MaxInt64)
	checkFlat(t, last, []flat{{Start: ns(t0 + 3*60*sec), Attempted: 1, Good: 1, Measured: true}})
}

func TestIdleSeriesForgotten(t *testing.T) {
	c, err := metrics.NewCollector(metrics.Config{
		Sources:     []metrics.SLISource{{Name: "s", Good: sel(`ok`), Total: sel(`all`)}},
		IdleTimeout: 10 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(rw(t, counter(ls("ok", "i", "1"), t0, 1), counter(ls("all", "i", "1"), t0, 1)))
	c.Add(rw(t, counter(ls("ok", "i", "2"), t0+11*60*sec, 1)))
	if c.NumSeries() != 3 {
		t.Fatalf("%d series", c.NumSeries())
	}
	c.Flush(0)
	if c.NumSeries() != 1 {
		t.Errorf("%d series after the idle ones went", c.NumSeries())
	}
}

func TestConfigErrors(t *testing.T) {
	lat := &slo.LatencyRule{Threshold: 0.005, Inclusive: true}
	f := func(want string, srcs ...metrics.SLISource) {
		t.Helper()
		_, err := metrics.NewCollector(metrics.Config{Sources: srcs})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
	f("no SLI sources")
	f("without a name", metrics.SLISource{Good: sel(`a`), Total: sel(`b`)})
	f("used twice", metrics.SLISource{Name: "a", Good: sel(`a`), Total: sel(`b`)}, metrics.SLISource{Name: "a", Good: sel(`a`), Total: sel(`b`)})
	f("exactly one of good and bad", metrics.SLISource{Name: "a", Good: sel(`a`), Bad: sel(`c`), Total: sel(`b`)})
	f("without a total", metrics.SLISource{Name: "a", Good: sel(`a`)})
	f("latency threshold needs a histogram", metrics.SLISource{Name: "a", Good: sel(`a`), Total: sel(`b`), SLI: slo.SLI{Latency: lat}})
	f("not both", metrics.SLISource{Name: "a", Good: sel(`a`), Total: sel(`b`), Histogram: sel(`h`)})
	f("no metric name", metrics.SLISource{Name: "a", Histogram: sel(`{job="x"}`)})
	f("label matchers alone", metrics.SLISource{Name: "a", Histogram: sel(`h`), Errors: sel(`x{code="5"}`)})
	f("without a status rule", metrics.SLISource{Name: "a", Histogram: sel(`h`), StatusLabel: "code"})
	f(`unit "m"`, metrics.SLISource{Name: "a", Histogram: sel(`h`), Unit: "m"})
	f("selects nothing", metrics.SLISource{Name: "a"})

	c := newCollector(t, metrics.SLISource{Name: "a", Histogram: sel(`h`), SLI: slo.SLI{Latency: &slo.LatencyRule{Threshold: 0.005}}})
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], `use "<="`) {
		t.Errorf("warnings %q", w)
	}
}

// TestStateSurvivesRestart runs one stream through a single Collector and
// through two, the second restored from the first's state halfway: the
// rollups must be the same, baselines and open quanta included.
func TestStateSurvivesRestart(t *testing.T) {
	srcs := []metrics.SLISource{
		{Name: "counters", Good: sel(`ok_total`), Total: sel(`all_total`)},
		{Name: "classic", SLI: slo.SLI{Latency: latencyRule(t, "<=10ms")}, Histogram: sel(`lat_seconds`)},
		{Name: "native", SLI: slo.SLI{Latency: latencyRule(t, "<=5ms")}, Histogram: sel(`nat_seconds`)},
	}
	les := []string{"0.005", "0.01", "+Inf"}
	var stream [][]metrics.Series
	for i := range 8 {
		tm := t0 + int64(i)*25*sec
		k := float64(i * i)
		s := []metrics.Series{counter(ls("ok_total"), tm, 10*k), counter(ls("all_total"), tm, 11*k)}
		s = append(s, classic("lat_seconds", nil, tm, les, []float64{k, 2 * k, 3 * k})...)
		s = append(s, native(ls("nat_seconds"), tm, 1, k, map[int32]float64{-15: k, -16: 2 * k, -10: k}))
		stream = append(stream, rw(t, s...))
	}
	one, err := metrics.NewCollector(metrics.Config{Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stream {
		one.Add(s)
	}
	want, _ := one.Flush(math.MaxInt64)

	a, _ := metrics.NewCollector(metrics.Config{Sources: srcs})
	for _, s := range stream[:5] {
		a.Add(s)
	}
	state, err := a.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := metrics.NewCollector(metrics.Config{Sources: srcs})
	if err := b.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	if again, _ := b.MarshalState(); string(again) != string(state) {
		t.Error("state does not round-trip")
	}
	for _, s := range stream[5:] {
		b.Add(s)
	}
	got, _ := b.Flush(math.MaxInt64)
	if !slices.Equal(flatten(got), flatten(want)) {
		t.Errorf("after restart\n got %+v\nwant %+v", flatten(got), flatten(want))
	}
	for i := range want {
		if i < len(got) && !got[i].Rollup.Latency.Equal(&want[i].Rollup.Latency) {
			t.Errorf("result %d: latency histograms differ", i)
		}
	}

	// Bad states are refused with a reason, leaving the Collector as it was.
	n := b.NumSeries()
	for _, bad := range [][]byte{nil, []byte("nines-metrics-state\x01"), state[:len(state)-3], append(slices.Clone(state), 0)} {
		if err := b.UnmarshalState(bad); err == nil {
			t.Errorf("bad state of %d bytes accepted", len(bad))
		}
	}
	if b.NumSeries() != n {
		t.Error("a refused state changed the collector")
	}
	other, _ := metrics.NewCollector(metrics.Config{Sources: srcs, Quantum: 5 * time.Minute})
	if err := other.UnmarshalState(state); err == nil || !strings.Contains(err.Error(), "quantum") {
		t.Errorf("quantum mismatch: %v", err)
	}
}

func FuzzUnmarshalState(f *testing.F) {
	srcs := []metrics.SLISource{
		{Name: "counters", Good: sel(`ok_total`), Total: sel(`all_total`)},
		{Name: "classic", SLI: slo.SLI{Latency: &slo.LatencyRule{Threshold: 0.01, Inclusive: true}}, Histogram: sel(`lat_seconds`)},
	}
	c, _ := metrics.NewCollector(metrics.Config{Sources: srcs})
	les := []string{"0.005", "0.01", "+Inf"}
	for i := range 3 {
		tm := t0 + int64(i)*15*sec
		s := append([]metrics.Series{counter(ls("ok_total"), tm, float64(i)), counter(ls("all_total"), tm, float64(2*i))},
			classic("lat_seconds", nil, tm, les, []float64{1, 2, float64(3 + i)})...)
		s = append(s, native(ls("lat_seconds"), tm, 2, 1, map[int32]float64{-3: float64(i)}))
		c.Add(s)
	}
	state, _ := c.MarshalState()
	f.Add(state)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, _ := metrics.NewCollector(metrics.Config{Sources: srcs})
		if err := d.UnmarshalState(data); err != nil {
			return
		}
		// Whatever was accepted must work: take samples, flush, marshal.
		d.Add([]metrics.Series{counter(ls("ok_total"), t0+time.Hour.Milliseconds(), 5)})
		d.Flush(math.MaxInt64)
		if _, err := d.MarshalState(); err != nil {
			t.Fatal(err)
		}
	})
}

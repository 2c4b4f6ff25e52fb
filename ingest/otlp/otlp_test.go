package otlp

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/ingest/metrics"
)

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func intAttr(k string, v int64) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}}
}

const (
	t0 = uint64(1795515600_000_000_000) // 2026-11-24T10:20:00Z
	t1 = t0 + 15_000_000_000
)

// request builds an export request with the generated OTLP types: one
// resource (a checkout service) and one scope, holding metrics.
func request(ms ...*metricspb.Metric) *metricspb.MetricsData {
	return &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			str("service.name", "checkout"), str("service.namespace", "shop"),
			str("service.instance.id", "pod-7"), str("k8s.pod.name", "checkout-7"),
			str("deployment.environment", "prod"),
		}},
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope:   &commonpb.InstrumentationScope{Name: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp", Version: "0.60.0"},
			Metrics: ms,
		}},
	}}}
}

// resourceLabels are the labels every series of request() carries.
func resourceLabels(extra ...metrics.Label) metrics.Labels {
	ls := metrics.Labels{
		{Name: "deployment.environment", Value: "prod"}, {Name: "instance", Value: "pod-7"}, {Name: "job", Value: "shop/checkout"},
		{Name: "k8s.pod.name", Value: "checkout-7"},
		{Name: "otel_scope_name", Value: "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"},
		{Name: "otel_scope_version", Value: "0.60.0"},
		{Name: "service", Value: "checkout"}, {Name: "service.instance.id", Value: "pod-7"}, {Name: "service.name", Value: "checkout"},
		{Name: "service.namespace", Value: "shop"},
	}
	ls = append(ls, extra...)
	sortLabels(ls)
	return ls
}

func sortLabels(ls metrics.Labels) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && ls[j-1].Name > ls[j].Name; j-- {
			ls[j-1], ls[j] = ls[j], ls[j-1]
		}
	}
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeKinds(t *testing.T) {
	sum := 1.5
	req := request(
		&metricspb.Metric{Name: "http.server.requests", Unit: "{request}", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true,
			DataPoints: []*metricspb.NumberDataPoint{{
				Attributes:        []*commonpb.KeyValue{intAttr("http.response.status_code", 200), str("service", "from-attribute")},
				StartTimeUnixNano: t0 - 60e9, TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsInt{AsInt: 1030},
			}},
		}}},
		&metricspb.Metric{Name: "queue.depth", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA, IsMonotonic: false,
			DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: t1, Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: -2}}},
		}}},
		&metricspb.Metric{Name: "http.server.request.duration", Unit: "s", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
			DataPoints: []*metricspb.HistogramDataPoint{{
				TimeUnixNano: t1, StartTimeUnixNano: t0, Count: 10, Sum: &sum,
				ExplicitBounds: []float64{0.005, 0.01, 0.025}, BucketCounts: []uint64{6, 3, 1, 0},
			}},
		}}},
		&metricspb.Metric{Name: "rpc.server.duration", Unit: "ms", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
			DataPoints: []*metricspb.ExponentialHistogramDataPoint{{
				TimeUnixNano: t1, Count: 7, Scale: 2, ZeroCount: 1, ZeroThreshold: 1e-6,
				Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: 9, BucketCounts: []uint64{1, 0, 4}},
				Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: -1, BucketCounts: []uint64{1}},
			}},
		}}},
		&metricspb.Metric{Name: "gone", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE, IsMonotonic: true,
			DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: t1, Flags: noRecordedValue}},
		}}},
	)
	want := []metrics.Series{
		{
			Labels: resourceLabels(metrics.Label{Name: "__name__", Value: "http.server.requests"}, metrics.Label{Name: "http.response.status_code", Value: "200"}),
			Type:   metrics.TypeCounter, Unit: "{request}",
			Samples: []metrics.Sample{{T: int64(t1 / 1e6), V: 1030, Start: int64((t0 - 60e9) / 1e6)}},
		},
		{
			Labels: resourceLabels(metrics.Label{Name: "__name__", Value: "queue.depth"}),
			Type:   metrics.TypeGauge, Temporality: metrics.Delta,
			Samples: []metrics.Sample{{T: int64(t1 / 1e6), V: -2}},
		},
		{
			Labels: resourceLabels(metrics.Label{Name: "__name__", Value: "http.server.request.duration"}),
			Type:   metrics.TypeHistogram, Temporality: metrics.Delta, Unit: "s",
			Histograms: []metrics.Histogram{{
				T: int64(t1 / 1e6), Start: int64(t0 / 1e6), Count: 10, Sum: 1.5, Schema: metrics.CustomBucketsSchema,
				CustomValues:  []float64{0.005, 0.01, 0.025},
				PositiveSpans: []metrics.Span{{Offset: 0, Length: 4}}, PositiveBuckets: []float64{6, 3, 1, 0},
			}},
		},
		{
			Labels: resourceLabels(metrics.Label{Name: "__name__", Value: "rpc.server.duration"}),
			Type:   metrics.TypeHistogram, Unit: "ms",
			Histograms: []metrics.Histogram{{
				T: int64(t1 / 1e6), Count: 7, Schema: 2, ZeroCount: 1, ZeroThreshold: 1e-6,
				// OTLP bucket 9 is (base^9, base^10], Prometheus' bucket 10.
				PositiveSpans: []metrics.Span{{Offset: 10, Length: 3}}, PositiveBuckets: []float64{1, 0, 4},
				NegativeSpans: []metrics.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []float64{1},
			}},
		},
		{
			Labels: resourceLabels(metrics.Label{Name: "__name__", Value: "gone"}),
			Type:   metrics.TypeCounter,
			// A point with no recorded value is a stale marker.
			Samples: []metrics.Sample{{T: int64(t1 / 1e6), V: metrics.StaleNaN}},
		},
	}
	// The point's own "service" attribute wins over the derived label.
	for i, l := range want[0].Labels {
		if l.Name == "service" {
			want[0].Labels[i].Value = "from-attribute"
		}
	}

	body := marshal(t, req)
	pb, err := Decode(body, "application/x-protobuf")
	if err != nil {
		t.Fatal(err)
	}
	js, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := Decode(js, "application/json; charset=utf-8")
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]*metrics.Batch{"protobuf": pb, "json": jb} {
		if got.Dropped != 0 {
			t.Errorf("%s: dropped %d: %v", name, got.Dropped, got.Problems)
		}
		if len(got.Series) != len(want) {
			t.Fatalf("%s: %d series, want %d", name, len(got.Series), len(want))
		}
		for i := range want {
			g, w := got.Series[i], want[i]
			if !g.Labels.Equal(w.Labels) {
				t.Errorf("%s series %d labels\n got %v\nwant %v", name, i, g.Labels, w.Labels)
			}
			if err := g.Labels.Validate(); err != nil {
				t.Errorf("%s series %d: %v", name, i, err)
			}
			if g.Type != w.Type || g.Temporality != w.Temporality || g.Unit != w.Unit {
				t.Errorf("%s series %d: type %v %v %q, want %v %v %q", name, i, g.Type, g.Temporality, g.Unit, w.Type, w.Temporality, w.Unit)
			}
			if len(g.Samples) != len(w.Samples) {
				t.Errorf("%s series %d samples %+v, want %+v", name, i, g.Samples, w.Samples)
			}
			for j := range w.Samples {
				if g.Samples[j].T != w.Samples[j].T || g.Samples[j].Start != w.Samples[j].Start ||
					math.Float64bits(g.Samples[j].V) != math.Float64bits(w.Samples[j].V) {
					t.Errorf("%s series %d sample %d = %+v, want %+v", name, i, j, g.Samples[j], w.Samples[j])
				}
			}
			if !reflect.DeepEqual(g.Histograms, w.Histograms) {
				t.Errorf("%s series %d histograms\n got %+v\nwant %+v", name, i, g.Histograms, w.Histograms)
			}
		}
	}
}

// TestDecodeSpecJSON decodes OTLP JSON as the specification writes it:
// lowerCamelCase names, 64-bit integers as strings, enums as numbers.
func TestDecodeSpecJSON(t *testing.T) {
	body := `{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},
	 "scopeMetrics":[{"scope":{"name":"manual"},"metrics":[
	  {"name":"requests","unit":"1","sum":{"aggregationTemporality":2,"isMonotonic":true,
	   "dataPoints":[{"startTimeUnixNano":"1795515540000000000","timeUnixNano":"1795515615000000000","asInt":"42",
	    "attributes":[{"key":"ok","value":{"boolValue":true}},{"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"2"}]}}}]}]}},
	  {"name":"latency","unit":"s","histogram":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE",
	   "dataPoints":[{"timeUnixNano":"1795515615000000000","count":"3","bucketCounts":["1","2","0"],"explicitBounds":[0.1,0.25]}]}}
	 ]}]}]}`
	b, err := Decode([]byte(body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if b.Dropped != 0 || len(b.Series) != 2 {
		t.Fatalf("%d series, dropped %d %v", len(b.Series), b.Dropped, b.Problems)
	}
	s := b.Series[0]
	if got := s.Labels.String(); got != `requests{job="checkout", ok="true", otel_scope_name="manual", service="checkout", "service.name"="checkout", tags="[\"a\",2]"}` {
		t.Errorf("labels %s", got)
	}
	if s.Samples[0].V != 42 || s.Samples[0].T != 1795515615000 || s.Samples[0].Start != 1795515540000 {
		t.Errorf("sample %+v", s.Samples[0])
	}
	if h := b.Series[1].Histograms[0]; !reflect.DeepEqual(h.PositiveBuckets, []float64{1, 2, 0}) || !reflect.DeepEqual(h.CustomValues, []float64{0.1, 0.25}) {
		t.Errorf("histogram %+v", h)
	}
}

func TestDecodeDropsAndErrors(t *testing.T) {
	req := request(
		&metricspb.Metric{Name: "s", Data: &metricspb.Metric_Summary{Summary: &metricspb.Summary{
			DataPoints: []*metricspb.SummaryDataPoint{{TimeUnixNano: t1}}}}},
		&metricspb.Metric{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
			DataPoints: []*metricspb.HistogramDataPoint{
				{TimeUnixNano: t1, ExplicitBounds: []float64{1, 2}, BucketCounts: []uint64{1, 2}},              // one count short
				{TimeUnixNano: t1, ExplicitBounds: []float64{2, 1}, BucketCounts: []uint64{1, 2, 3}},           // bounds not increasing
				{TimeUnixNano: 0, ExplicitBounds: []float64{1}, BucketCounts: []uint64{1, 2}},                  // no time
				{TimeUnixNano: t1, ExplicitBounds: []float64{1, math.Inf(1)}, BucketCounts: []uint64{1, 2, 0}}, // +Inf bound: folded, kept
			}}}},
		&metricspb.Metric{Name: "nosum", Data: &metricspb.Metric_Sum{Sum: &metricspb.Sum{
			DataPoints: []*metricspb.NumberDataPoint{{TimeUnixNano: t1}}}}},
		&metricspb.Metric{Name: "e", Data: &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
			AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
			DataPoints:             []*metricspb.ExponentialHistogramDataPoint{{TimeUnixNano: t1, Scale: 100}}}}},
	)
	b, err := Decode(marshal(t, req), "application/x-protobuf")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Series) != 1 || b.Dropped != 6 {
		t.Fatalf("%d series, dropped %d: %v", len(b.Series), b.Dropped, b.Problems)
	}
	if h := b.Series[0].Histograms[0]; !reflect.DeepEqual(h.CustomValues, []float64{1}) || !reflect.DeepEqual(h.PositiveBuckets, []float64{1, 2}) {
		t.Errorf("+Inf bound not folded: %+v", h)
	}
	for i, want := range []string{"summary", "one more count", "strictly increasing", "time_unix_nano 0", "no aggregation temporality", "schema"} {
		if msg := b.Problems[i].Error(); !strings.Contains(msg, want) || !strings.Contains(msg, "resource_metrics[0].scope_metrics[0].metrics[") {
			t.Errorf("problem %d = %q, want %q and the position", i, msg, want)
		}
	}

	if _, err := Decode([]byte("\x0a\x05"), "application/x-protobuf"); !errors.Is(err, ErrMalformed) {
		t.Errorf("truncated protobuf: %v", err)
	}
	if _, err := Decode([]byte("{"), "application/json"); !errors.Is(err, ErrMalformed) {
		t.Errorf("bad JSON: %v", err)
	}
	for _, ct := range []string{"text/plain", "", "application/x-protobuf; =bad"} {
		if _, err := Decode(nil, ct); !errors.Is(err, ErrUnsupportedContentType) {
			t.Errorf("%q: %v", ct, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	sum := 2.0
	seed := request(&metricspb.Metric{Name: "h", Data: &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
		AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE,
		DataPoints: []*metricspb.HistogramDataPoint{{TimeUnixNano: t1, Sum: &sum, Count: 3,
			ExplicitBounds: []float64{1}, BucketCounts: []uint64{1, 2}}}}}})
	b, _ := proto.Marshal(seed)
	f.Add(b, false)
	j, _ := protojson.Marshal(seed)
	f.Add(j, true)
	f.Fuzz(func(t *testing.T, body []byte, json bool) {
		ct := ContentTypeProtobuf
		if json {
			ct = ContentTypeJSON
		}
		batch, err := Decode(body, ct)
		if err != nil {
			return
		}
		for i, s := range batch.Series {
			if err := s.Labels.Validate(); err != nil || s.Labels.Name() == "" {
				t.Fatalf("series %d labels %v: %v", i, s.Labels, err)
			}
			for k := range s.Histograms {
				if h := &s.Histograms[k]; !h.IsStale() {
					if err := h.Validate(); err != nil {
						t.Fatalf("series %d: %v", i, err)
					}
				}
			}
		}
	})
}

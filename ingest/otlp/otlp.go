// Package otlp decodes OTLP/HTTP metrics requests
// (ExportMetricsServiceRequest) into the neutral model of package metrics,
// the same one Prometheus remote write decodes into, and trace requests
// (ExportTraceServiceRequest) into the spans of package callgraph
// (traces.go).
//
// Mapping of each data point to a series:
//
//   - Sum, monotonic: a counter (TypeCounter) with its temporality,
//     cumulative or delta; non-monotonic sums and gauges are gauges, which
//     counter SLIs refuse. Int values become floats.
//   - Histogram (explicit bounds): a native histogram with custom buckets
//     (schema -53), bounds in CustomValues, bucket i holding
//     (bounds[i-1], bounds[i]], upper bound included as in OTLP.
//   - ExponentialHistogram: a native histogram with schema = scale; OTLP
//     bucket offset+k, (base^(offset+k), base^(offset+k+1)], is bucket
//     offset+k+1 in Prometheus' numbering. The zero threshold is kept.
//   - Summary: dropped and counted (no SLI can use quantiles).
//
// Timestamps become Unix milliseconds, as in Prometheus; a point's start
// time is kept so that a cumulative series whose start moves is read as a
// reset. A point flagged NO_RECORDED_VALUE becomes a stale marker.
//
// Labels follow Prometheus' OTLP translation with translation_strategy
// NoTranslation and promote_all_resource_attributes, which keeps OTLP's own
// names, so selectors name what the SDK emitted:
//
//   - "__name__" is the metric name as sent ("http.server.request.duration"),
//     with no unit or _total suffix added; the unit is in Series.Unit.
//   - Data point attributes keep their names ("http.response.status_code").
//   - Every resource attribute is promoted under its own name
//     ("service.name", "k8s.pod.name"); the point's attribute wins a clash.
//   - "job" is service.namespace/service.name (or service.name alone) and
//     "instance" is service.instance.id, as Prometheus derives them, and
//     "service" is service.name, so {service="checkout"} works as it does
//     for Prometheus-scraped metrics. Attributes win over these too.
//   - The scope becomes otel_scope_name, otel_scope_version and
//     otel_scope_<attribute>, as in Prometheus.
//
// Non-string attribute values are written the way Prometheus does: ints in
// decimal, doubles in Go's shortest form, booleans as true/false, arrays
// and maps as JSON, bytes in base64.
//
// The protobuf is decoded with the generated OTLP types
// (go.opentelemetry.io/proto/otlp). Only the metrics, common and resource
// packages are imported: ExportMetricsServiceRequest is wire-identical to
// metrics.v1.MetricsData (both are repeated ResourceMetrics in field 1),
// and the collector package would pull in gRPC.
package otlp

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/ingest/metrics"
)

// Content types Decode accepts.
const (
	ContentTypeProtobuf = "application/x-protobuf"
	ContentTypeJSON     = "application/json"
)

// Errors wrapped by Decode: ErrUnsupportedContentType maps to HTTP 415,
// ErrMalformed to 400.
var (
	ErrUnsupportedContentType = errors.New("unsupported Content-Type")
	ErrMalformed              = errors.New("malformed OTLP request")
)

// noRecordedValue is DataPointFlags FLAG_NO_RECORDED_VALUE.
const noRecordedValue = uint32(metricspb.DataPointFlags_DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)

// Decode decodes an OTLP/HTTP metrics request body of the given
// Content-Type: application/x-protobuf, or application/json (OTLP's JSON
// encoding, read with protojson: lowerCamelCase or original field names,
// 64-bit integers as strings or numbers, enums by name or number). The body
// must already be decompressed (OTLP/HTTP senders may gzip it; that is the
// HTTP layer's business).
func Decode(body []byte, contentType string) (*metrics.Batch, error) {
	var req metricspb.MetricsData
	if err := unmarshal(body, contentType, &req); err != nil {
		return nil, err
	}
	return FromProto(&req), nil
}

// unmarshal reads an OTLP/HTTP body of the given Content-Type into req,
// for every signal alike.
func unmarshal(body []byte, contentType string, req proto.Message) error {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil && contentType != "" {
		return fmt.Errorf("otlp: %w %q: %v", ErrUnsupportedContentType, contentType, err)
	}
	switch strings.ToLower(mt) {
	case ContentTypeProtobuf, "application/protobuf":
		if err := proto.Unmarshal(body, req); err != nil {
			return fmt.Errorf("otlp: %w: protobuf body of %d bytes: %v", ErrMalformed, len(body), err)
		}
	case ContentTypeJSON:
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, req); err != nil {
			return fmt.Errorf("otlp: %w: JSON body of %d bytes: %v", ErrMalformed, len(body), err)
		}
	default:
		return fmt.Errorf("otlp: %w %q (want %s or %s)", ErrUnsupportedContentType, contentType, ContentTypeProtobuf, ContentTypeJSON)
	}
	return nil
}

// FromProto maps decoded OTLP metrics into series. Invalid points are
// dropped and counted in the Batch, named by metric and position.
func FromProto(req *metricspb.MetricsData) *metrics.Batch {
	b := &metrics.Batch{}
	var m mapper
	m.batch = b
	for ri, rm := range req.GetResourceMetrics() {
		m.resource(rm.GetResource())
		for si, sm := range rm.GetScopeMetrics() {
			m.scope(sm.GetScope())
			for mi, met := range sm.GetMetrics() {
				m.where = where{ri, si, mi}
				m.metric(met)
			}
		}
	}
	return b
}

// where locates a metric in the request, for problems.
type where struct{ resource, scope, metric int }

func (w where) String() string {
	return fmt.Sprintf("resource_metrics[%d].scope_metrics[%d].metrics[%d]", w.resource, w.scope, w.metric)
}

type mapper struct {
	batch *metrics.Batch
	where where
	// base holds the resource and scope labels, in precedence order
	// (first wins); the point's attributes go before them.
	res, scp []metrics.Label
	buf      []metrics.Label
}

func (m *mapper) resource(r *resourcepb.Resource) {
	m.res = m.res[:0]
	attrs := r.GetAttributes()
	var name, ns, inst string
	for _, kv := range attrs {
		switch kv.GetKey() {
		case "service.name":
			name = attrString(kv.GetValue())
		case "service.namespace":
			ns = attrString(kv.GetValue())
		case "service.instance.id":
			inst = attrString(kv.GetValue())
		}
	}
	for _, kv := range attrs {
		m.res = append(m.res, metrics.Label{Name: kv.GetKey(), Value: attrString(kv.GetValue())})
	}
	if name != "" {
		job := name
		if ns != "" {
			job = ns + "/" + name
		}
		m.res = append(m.res, metrics.Label{Name: "job", Value: job}, metrics.Label{Name: "service", Value: name})
	}
	if inst != "" {
		m.res = append(m.res, metrics.Label{Name: "instance", Value: inst})
	}
}

func (m *mapper) scope(s *commonpb.InstrumentationScope) {
	m.scp = m.scp[:0]
	if s == nil {
		return
	}
	m.scp = append(m.scp,
		metrics.Label{Name: "otel_scope_name", Value: s.GetName()},
		metrics.Label{Name: "otel_scope_version", Value: s.GetVersion()})
	for _, kv := range s.GetAttributes() {
		m.scp = append(m.scp, metrics.Label{Name: "otel_scope_" + kv.GetKey(), Value: attrString(kv.GetValue())})
	}
}

// labels builds a point's sorted labels: name, attributes, then scope and
// resource labels where the name is not taken yet. Empty values are left
// out, as Prometheus treats them as absent.
func (m *mapper) labels(name string, attrs []*commonpb.KeyValue) (metrics.Labels, error) {
	m.buf = m.buf[:0]
	m.buf = append(m.buf, metrics.Label{Name: metrics.MetricNameLabel, Value: name})
	for _, kv := range attrs {
		m.buf = append(m.buf, metrics.Label{Name: kv.GetKey(), Value: attrString(kv.GetValue())})
	}
	m.buf = append(m.buf, m.scp...)
	m.buf = append(m.buf, m.res...)
	// A stable sort keeps the first of equal names (attribute over scope
	// over resource over derived), and CompactFunc keeps the first of each
	// run.
	slices.SortStableFunc(m.buf, func(a, b metrics.Label) int { return strings.Compare(a.Name, b.Name) })
	ls := slices.CompactFunc(m.buf, func(a, b metrics.Label) bool { return a.Name == b.Name })
	out := make(metrics.Labels, 0, len(ls))
	for _, l := range ls {
		if l.Value == "" {
			continue
		}
		if l.Name == "" {
			return nil, errors.New("an attribute has an empty key")
		}
		if !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value) {
			return nil, fmt.Errorf("attribute %q is not valid UTF-8", l.Name)
		}
		out = append(out, l)
	}
	return out, nil
}

func (m *mapper) problem(format string, args ...any) {
	m.batch.AddProblem(fmt.Errorf("otlp: %s: %s", m.where, fmt.Sprintf(format, args...)))
}

func (m *mapper) metric(met *metricspb.Metric) {
	name := met.GetName()
	if name == "" || !utf8.ValidString(name) {
		m.problem("metric without a valid name dropped")
		return
	}
	unit := met.GetUnit()
	switch d := met.GetData().(type) {
	case *metricspb.Metric_Gauge:
		for i, p := range d.Gauge.GetDataPoints() {
			m.number(name, unit, metrics.TypeGauge, metrics.Cumulative, i, p)
		}
	case *metricspb.Metric_Sum:
		typ := metrics.TypeGauge
		if d.Sum.GetIsMonotonic() {
			typ = metrics.TypeCounter
		}
		temp, ok := temporality(d.Sum.GetAggregationTemporality())
		if !ok {
			m.problem("sum %q has no aggregation temporality: %d points dropped", name, len(d.Sum.GetDataPoints()))
			return
		}
		for i, p := range d.Sum.GetDataPoints() {
			m.number(name, unit, typ, temp, i, p)
		}
	case *metricspb.Metric_Histogram:
		temp, ok := temporality(d.Histogram.GetAggregationTemporality())
		if !ok {
			m.problem("histogram %q has no aggregation temporality: %d points dropped", name, len(d.Histogram.GetDataPoints()))
			return
		}
		for i, p := range d.Histogram.GetDataPoints() {
			m.explicit(name, unit, temp, i, p)
		}
	case *metricspb.Metric_ExponentialHistogram:
		temp, ok := temporality(d.ExponentialHistogram.GetAggregationTemporality())
		if !ok {
			m.problem("exponential histogram %q has no aggregation temporality: %d points dropped", name, len(d.ExponentialHistogram.GetDataPoints()))
			return
		}
		for i, p := range d.ExponentialHistogram.GetDataPoints() {
			m.exponential(name, unit, temp, i, p)
		}
	case *metricspb.Metric_Summary:
		m.problem("summary %q is not supported (no SLI can use quantiles): %d points dropped", name, len(d.Summary.GetDataPoints()))
	default:
		m.problem("metric %q has no data", name)
	}
}

func temporality(t metricspb.AggregationTemporality) (metrics.Temporality, bool) {
	switch t {
	case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_CUMULATIVE:
		return metrics.Cumulative, true
	case metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA:
		return metrics.Delta, true
	}
	return 0, false
}

// times converts a point's nanosecond times to milliseconds. A time of
// zero is invalid for time_unix_nano; start 0 means unknown.
func times(t, start uint64) (int64, int64, bool) {
	if t == 0 || t > math.MaxInt64 || start > math.MaxInt64 {
		return 0, 0, false
	}
	return int64(t / 1e6), int64(start / 1e6), true
}

func (m *mapper) series(name, unit string, typ metrics.MetricType, temp metrics.Temporality, i int, attrs []*commonpb.KeyValue) (metrics.Series, bool) {
	ls, err := m.labels(name, attrs)
	if err != nil {
		m.problem("%q data point %d dropped: %v", name, i, err)
		return metrics.Series{}, false
	}
	return metrics.Series{Labels: ls, Type: typ, Temporality: temp, Unit: unit}, true
}

func (m *mapper) number(name, unit string, typ metrics.MetricType, temp metrics.Temporality, i int, p *metricspb.NumberDataPoint) {
	t, start, ok := times(p.GetTimeUnixNano(), p.GetStartTimeUnixNano())
	if !ok {
		m.problem("%q data point %d dropped: time_unix_nano %d", name, i, p.GetTimeUnixNano())
		return
	}
	var v float64
	switch x := p.GetValue().(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		v = x.AsDouble
	case *metricspb.NumberDataPoint_AsInt:
		v = float64(x.AsInt)
	default:
		if p.GetFlags()&noRecordedValue == 0 {
			m.problem("%q data point %d dropped: no value", name, i)
			return
		}
	}
	if p.GetFlags()&noRecordedValue != 0 {
		v = metrics.StaleNaN
	}
	s, ok := m.series(name, unit, typ, temp, i, p.GetAttributes())
	if !ok {
		return
	}
	s.Samples = []metrics.Sample{{T: t, V: v, Start: start}}
	m.batch.Series = append(m.batch.Series, s)
}

func (m *mapper) explicit(name, unit string, temp metrics.Temporality, i int, p *metricspb.HistogramDataPoint) {
	t, start, ok := times(p.GetTimeUnixNano(), p.GetStartTimeUnixNano())
	if !ok {
		m.problem("%q data point %d dropped: time_unix_nano %d", name, i, p.GetTimeUnixNano())
		return
	}
	h := metrics.Histogram{T: t, Start: start, Schema: metrics.CustomBucketsSchema,
		Count: float64(p.GetCount()), Sum: p.GetSum()}
	counts, bounds := p.GetBucketCounts(), p.GetExplicitBounds()
	switch {
	case p.GetFlags()&noRecordedValue != 0:
		h.Sum = metrics.StaleNaN
	case len(counts) == 0 && len(bounds) == 0:
		// Count and sum only: one bucket (-Inf, +Inf).
		h.PositiveSpans = []metrics.Span{{Offset: 0, Length: 1}}
		h.PositiveBuckets = []float64{float64(p.GetCount())}
	case len(counts) != len(bounds)+1:
		m.problem("%q data point %d dropped: %d bucket counts for %d bounds (want one more count than bounds)", name, i, len(counts), len(bounds))
		return
	default:
		if n := len(bounds); n > 0 && math.IsInf(bounds[n-1], 1) {
			// Some SDKs list +Inf as a last bound; its bucket (+Inf, +Inf)
			// is empty by definition. Fold it into the overflow bucket.
			bounds = bounds[:n-1]
			counts = append(counts[:n-1:n-1], counts[n-1]+counts[n])
		}
		h.CustomValues = bounds
		h.PositiveSpans = []metrics.Span{{Offset: 0, Length: uint32(len(counts))}}
		h.PositiveBuckets = make([]float64, len(counts))
		for k, c := range counts {
			h.PositiveBuckets[k] = float64(c)
		}
	}
	if err := h.Validate(); err != nil && !h.IsStale() {
		m.problem("%q data point %d dropped: %v", name, i, err)
		return
	}
	s, ok := m.series(name, unit, metrics.TypeHistogram, temp, i, p.GetAttributes())
	if !ok {
		return
	}
	s.Histograms = []metrics.Histogram{h}
	m.batch.Series = append(m.batch.Series, s)
}

func (m *mapper) exponential(name, unit string, temp metrics.Temporality, i int, p *metricspb.ExponentialHistogramDataPoint) {
	t, start, ok := times(p.GetTimeUnixNano(), p.GetStartTimeUnixNano())
	if !ok {
		m.problem("%q data point %d dropped: time_unix_nano %d", name, i, p.GetTimeUnixNano())
		return
	}
	h := metrics.Histogram{T: t, Start: start, Schema: p.GetScale(), Count: float64(p.GetCount()), Sum: p.GetSum(),
		ZeroThreshold: p.GetZeroThreshold(), ZeroCount: float64(p.GetZeroCount())}
	if p.GetFlags()&noRecordedValue != 0 {
		h.Sum = metrics.StaleNaN
	} else {
		var err error
		if h.PositiveSpans, h.PositiveBuckets, err = buckets(p.GetPositive()); err == nil {
			h.NegativeSpans, h.NegativeBuckets, err = buckets(p.GetNegative())
		}
		if err == nil {
			err = h.Validate()
		}
		if err != nil {
			m.problem("%q data point %d dropped: %v", name, i, err)
			return
		}
	}
	s, ok := m.series(name, unit, metrics.TypeHistogram, temp, i, p.GetAttributes())
	if !ok {
		return
	}
	s.Histograms = []metrics.Histogram{h}
	m.batch.Series = append(m.batch.Series, s)
}

// buckets maps OTLP's dense buckets to one span in Prometheus' numbering
// (OTLP index k is Prometheus index k+1).
func buckets(b *metricspb.ExponentialHistogramDataPoint_Buckets) ([]metrics.Span, []float64, error) {
	counts := b.GetBucketCounts()
	if len(counts) == 0 {
		return nil, nil, nil
	}
	off := int64(b.GetOffset()) + 1
	if off > math.MaxInt32 || len(counts) > math.MaxInt32 {
		return nil, nil, fmt.Errorf("bucket offset %d out of range", b.GetOffset())
	}
	f := make([]float64, len(counts))
	for k, c := range counts {
		f[k] = float64(c)
	}
	return []metrics.Span{{Offset: int32(off), Length: uint32(len(counts))}}, f, nil
}

// attrString writes an attribute value as a label value.
func attrString(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		b, err := json.Marshal(jsonValue(v))
		if err != nil {
			return ""
		}
		return string(b)
	}
	return ""
}

// jsonValue turns an AnyValue into plain Go values for encoding/json.
func jsonValue(v *commonpb.AnyValue) any {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return x.BoolValue
	case *commonpb.AnyValue_IntValue:
		return x.IntValue
	case *commonpb.AnyValue_DoubleValue:
		if math.IsNaN(x.DoubleValue) || math.IsInf(x.DoubleValue, 0) {
			return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
		}
		return x.DoubleValue
	case *commonpb.AnyValue_BytesValue:
		return x.BytesValue
	case *commonpb.AnyValue_ArrayValue:
		vals := x.ArrayValue.GetValues()
		out := make([]any, len(vals))
		for i, e := range vals {
			out[i] = jsonValue(e)
		}
		return out
	case *commonpb.AnyValue_KvlistValue:
		out := make(map[string]any)
		for _, kv := range x.KvlistValue.GetValues() {
			out[kv.GetKey()] = jsonValue(kv.GetValue())
		}
		return out
	}
	return nil
}

package promrw

import (
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nines-sre/nines/ingest/metrics"
)

// Hand-built protobuf, field by field, as the tests' own witness of the
// wire layout (independent of Encode).

func field(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func strField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func label(name, value string) []byte {
	return strField(strField(nil, 1, name), 2, value)
}

func sample(v float64, t int64) []byte {
	b := protowire.AppendTag(nil, 1, protowire.Fixed64Type)
	b = protowire.AppendFixed64(b, math.Float64bits(v))
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(t))
}

func series(labels [][2]string, samples ...[]byte) []byte {
	var b []byte
	for _, l := range labels {
		b = field(b, 1, label(l[0], l[1]))
	}
	for _, s := range samples {
		b = field(b, 2, s)
	}
	return b
}

func varintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func fixedField(b []byte, num protowire.Number, v float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func span(off int32, n uint32) []byte {
	return varintField(varintField(nil, 1, protowire.EncodeZigZag(int64(off))), 2, uint64(n))
}

func TestDecodeHandBuilt(t *testing.T) {
	// A counter with unsorted labels (sorted by Decode), an empty-valued
	// label (dropped), an exemplar and an unknown field (skipped), and a
	// stale marker.
	ts1 := series([][2]string{{"job", "api"}, {"__name__", "up_total"}, {"env", ""}},
		sample(5, 1000), sample(metrics.StaleNaN, 2000))
	ts1 = field(ts1, 3, label("trace_id", "x")) // exemplar (its labels are field 1, good enough to skip)
	ts1 = varintField(ts1, 99, 7)               // unknown field
	// An integer native histogram with unpacked deltas, spans on both
	// sides, after its positive deltas on the wire.
	var h []byte
	h = varintField(h, hCountInt, 9)
	h = fixedField(h, hSum, 1.5)
	h = varintField(h, hSchema, protowire.EncodeZigZag(-1))
	h = varintField(h, hZeroCountInt, 1)
	for _, d := range []int64{2, 1} {
		h = varintField(h, hPosDeltas, protowire.EncodeZigZag(d))
	}
	h = field(h, hPosSpans, span(-1, 1))
	h = field(h, hPosSpans, span(2, 1))
	h = field(h, hNegSpans, span(0, 1))
	h = field(h, hNegDeltas, protowire.AppendVarint(nil, protowire.EncodeZigZag(3))) // packed
	h = varintField(h, hResetHint, 1)
	h = varintField(h, hTimestamp, 3000)
	ts2 := series([][2]string{{"__name__", "lat_seconds"}})
	ts2 = field(ts2, 4, h)
	var meta []byte
	meta = varintField(meta, 1, 3)
	meta = strField(meta, 2, "lat_seconds")
	meta = strField(meta, 5, "seconds")
	var req []byte
	req = field(req, 1, ts1)
	req = field(req, 1, ts2)
	req = field(req, 3, meta)

	got, err := Decode(snappy.Encode(nil, req), "snappy")
	if err != nil {
		t.Fatal(err)
	}
	want := &WriteRequest{
		Batch: metrics.Batch{Series: []metrics.Series{
			{
				Labels:  metrics.Labels{{Name: "__name__", Value: "up_total"}, {Name: "job", Value: "api"}},
				Samples: []metrics.Sample{{T: 1000, V: 5}, {T: 2000, V: metrics.StaleNaN}},
			},
			{
				Labels: metrics.Labels{{Name: "__name__", Value: "lat_seconds"}},
				Histograms: []metrics.Histogram{{
					T: 3000, ResetHint: metrics.ResetYes, Count: 9, Sum: 1.5, Schema: -1, ZeroCount: 1,
					PositiveSpans: []metrics.Span{{Offset: -1, Length: 1}, {Offset: 2, Length: 1}}, PositiveBuckets: []float64{2, 3},
					NegativeSpans: []metrics.Span{{Offset: 0, Length: 1}}, NegativeBuckets: []float64{3},
				}},
			},
		}},
		Metadata: []Metadata{{Type: metrics.TypeHistogram, MetricFamilyName: "lat_seconds", Unit: "seconds"}},
	}
	checkRequest(t, got, want)
	if !metrics.IsStaleNaN(got.Series[0].Samples[1].V) {
		t.Error("stale marker lost its bits")
	}
}

// checkRequest compares requests, floats by bits so that NaN markers
// count.
func checkRequest(t *testing.T, got, want *WriteRequest) {
	t.Helper()
	if len(got.Series) != len(want.Series) {
		t.Fatalf("%d series, want %d: %+v", len(got.Series), len(want.Series), got.Series)
	}
	for i := range want.Series {
		g, w := got.Series[i], want.Series[i]
		if !g.Labels.Equal(w.Labels) {
			t.Errorf("series %d labels %v, want %v", i, g.Labels, w.Labels)
		}
		if len(g.Samples) != len(w.Samples) {
			t.Errorf("series %d: %d samples, want %d", i, len(g.Samples), len(w.Samples))
			continue
		}
		for j := range w.Samples {
			gs, ws := g.Samples[j], w.Samples[j]
			if gs.T != ws.T || math.Float64bits(gs.V) != math.Float64bits(ws.V) {
				t.Errorf("series %d sample %d = %+v, want %+v", i, j, gs, ws)
			}
		}
		if !reflect.DeepEqual(g.Histograms, w.Histograms) {
			t.Errorf("series %d histograms\n got %+v\nwant %+v", i, g.Histograms, w.Histograms)
		}
	}
	if !reflect.DeepEqual(got.Metadata, want.Metadata) {
		t.Errorf("metadata %+v, want %+v", got.Metadata, want.Metadata)
	}
	if got.Dropped != want.Dropped {
		t.Errorf("dropped %d (%v), want %d", got.Dropped, got.Problems, want.Dropped)
	}
}

// TestDecodeProtocFixture decodes testdata/write_request.pb, which protoc
// encoded from write_request.txtpb with Prometheus' own message
// definitions (see testdata/gen.sh): the layout nines reads is the layout
// Prometheus writes.
func TestDecodeProtocFixture(t *testing.T) {
	raw, err := os.ReadFile("testdata/write_request.pb")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(snappy.Encode(nil, raw), "snappy")
	if err != nil {
		t.Fatal(err)
	}
	bucket := func(le string, v float64) metrics.Series {
		return metrics.Series{
			Labels:  metrics.Labels{{Name: "__name__", Value: "http_request_duration_seconds_bucket"}, {Name: "job", Value: "checkout"}, {Name: "le", Value: le}},
			Samples: []metrics.Sample{{T: 1795515615000, V: v}},
		}
	}
	want := &WriteRequest{
		Batch: metrics.Batch{Series: []metrics.Series{
			{
				Labels:  metrics.Labels{{Name: "__name__", Value: "http_requests_total"}, {Name: "code", Value: "200"}, {Name: "instance", Value: "api-1:8080"}, {Name: "job", Value: "checkout"}},
				Samples: []metrics.Sample{{T: 1795515600000, V: 1027}, {T: 1795515615000, V: 1030}},
			},
			bucket("0.005", 900), bucket("0.01", 990), bucket("+Inf", 1000),
			{
				Labels: metrics.Labels{{Name: "__name__", Value: "rpc_duration_seconds"}, {Name: "service", Value: "pay"}},
				Histograms: []metrics.Histogram{{
					T: 1795515615000, ResetHint: metrics.ResetNo, Count: 17, Sum: 0.0625, Schema: 3,
					ZeroThreshold: 2.938735877055719e-39, ZeroCount: 2,
					PositiveSpans: []metrics.Span{{Offset: -60, Length: 2}, {Offset: 1, Length: 3}}, PositiveBuckets: []float64{3, 2, 4, 5, 1},
				}},
			},
			{
				Labels: metrics.Labels{{Name: "__name__", Value: "rpc_duration_seconds"}, {Name: "service", Value: "rate"}},
				Histograms: []metrics.Histogram{{
					T: 1795515615000, Float: true, Count: 7.5, Sum: 1.25, Schema: 0,
					ZeroThreshold: 0.001, ZeroCount: 0.5,
					NegativeSpans: []metrics.Span{{Offset: 1, Length: 1}}, NegativeBuckets: []float64{1},
					PositiveSpans: []metrics.Span{{Offset: -2, Length: 3}}, PositiveBuckets: []float64{2, 0, 4},
				}},
			},
			{
				Labels: metrics.Labels{{Name: "__name__", Value: "queue_wait_seconds"}},
				Histograms: []metrics.Histogram{{
					T: 1795515615000, Count: 11, Sum: 0.12, Schema: metrics.CustomBucketsSchema,
					PositiveSpans: []metrics.Span{{Offset: 0, Length: 4}}, PositiveBuckets: []float64{6, 3, 1, 1},
					CustomValues: []float64{0.005, 0.01, 0.025},
				}},
			},
		}},
		Metadata: []Metadata{{Type: metrics.TypeCounter, MetricFamilyName: "http_requests_total", Help: "Requests served."}},
	}
	checkRequest(t, got, want)

	// Our encoder writes what protoc wrote, up to field order: decoding
	// both gives the same request.
	again, err := Decode(Encode(got), "snappy")
	if err != nil {
		t.Fatal(err)
	}
	checkRequest(t, again, want)
}

func TestDecodeEncodings(t *testing.T) {
	raw := field(nil, 1, series([][2]string{{"__name__", "a"}}, sample(1, 1)))
	for _, enc := range []string{"snappy", "SNAPPY ", " Snappy"} {
		if _, err := Decode(snappy.Encode(nil, raw), enc); err != nil {
			t.Errorf("%q: %v", enc, err)
		}
	}
	for _, enc := range []string{"", "identity"} {
		r, err := Decode(raw, enc)
		if err != nil || len(r.Series) != 1 {
			t.Errorf("%q: %v %v", enc, r, err)
		}
	}
	if _, err := Decode(raw, "gzip"); !errors.Is(err, ErrUnsupportedEncoding) {
		t.Errorf("gzip: %v", err)
	}
	if _, err := Decode([]byte("\xff\xff\xff\xff\xff\xff"), "snappy"); !errors.Is(err, ErrSnappy) {
		t.Errorf("bad snappy: %v", err)
	}
	// The framed snappy stream format is not the block format.
	if _, err := Decode(append([]byte("\xff\x06\x00\x00sNaPpY"), snappy.Encode(nil, raw)...), "snappy"); err == nil {
		t.Error("framed stream accepted")
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	big := make([]byte, 1<<20)
	body := snappy.Encode(nil, big)
	d := Decoder{MaxDecodedSize: 1 << 19}
	_, err := d.Decode(body, "snappy")
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1048576") {
		t.Errorf("err = %v", err)
	}
	// The limit is checked from the snappy header, before allocating: a
	// tiny body claiming 4 GiB is refused at once.
	claim := protowire.AppendVarint(nil, 1<<32)
	if _, err := Decode(claim, "snappy"); err == nil {
		t.Error("4 GiB claim accepted")
	}
	if _, err := d.Decode(big, ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("uncompressed: %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := series([][2]string{{"__name__", "a"}}, sample(1, 1))
	cases := []struct {
		name      string
		raw       []byte
		field     string
		offset    int
		errSubstr string
	}{
		{"truncated tag", []byte{0x0a}, "timeseries[0]", 1, "unexpected EOF"},
		{"length beyond end", []byte{0x0a, 0x05, 0x0a}, "timeseries[0]", 1, "unexpected EOF"},
		{"series as varint", []byte{0x08, 0x01}, "timeseries[0]", 0, "wire type 0"},
		{"label name as varint",
			field(nil, 1, field(nil, 1, []byte{0x08, 0x01})), "timeseries[0].labels[0].name", 4, "wire type 0"},
		{"sample value as varint",
			field(field(nil, 1, good), 1, field(nil, 2, []byte{0x08, 0x01})), "timeseries[1].samples[0].value", len(good) + 6, "wire type 0"},
		{"histogram schema as fixed64",
			field(nil, 1, field(nil, 4, fixedField(nil, hSchema, 1))), "timeseries[0].histograms[0].schema", 4, "wire type 1"},
		{"bad packed deltas",
			field(nil, 1, field(nil, 4, field(nil, hPosDeltas, []byte{0xff}))), "timeseries[0].histograms[0].positive_deltas", 6, "EOF"},
		{"unterminated group in an unknown field", []byte{0x2b}, "WriteRequest", 1, ""},
		{"metadata type as bytes", field(nil, 3, field(nil, 1, nil)), "metadata[0].type", 2, "wire type 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeProto(tc.raw)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a DecodeError", err)
			}
			if de.Field != tc.field || de.Offset != tc.offset || !strings.Contains(err.Error(), tc.errSubstr) || !errors.Is(err, ErrProtobuf) {
				t.Errorf("got field %q offset %d: %v; want field %q offset %d containing %q", de.Field, de.Offset, err, tc.field, tc.offset, tc.errSubstr)
			}
		})
	}
}

// TestDecodeDropsBadSeries checks that a series breaking the data model is
// dropped alone, counted and named, and the good series around it kept.
func TestDecodeDropsBadSeries(t *testing.T) {
	good := series([][2]string{{"__name__", "a"}}, sample(1, 1))
	badHist := series([][2]string{{"__name__", "h"}})
	badHist = field(badHist, 4, field(varintField(nil, hPosDeltas, 2), hPosSpans, span(0, 2))) // 2 buckets spanned, 1 delta
	negHist := series([][2]string{{"__name__", "h"}})
	negHist = field(negHist, 4, field(field(nil, hPosSpans, span(0, 2)), hPosDeltas,
		append(protowire.AppendVarint(nil, protowire.EncodeZigZag(1)), protowire.AppendVarint(nil, protowire.EncodeZigZag(-2))...)))
	both := series([][2]string{{"__name__", "h"}})
	both = field(both, 4, fixedField(field(field(nil, hPosSpans, span(0, 1)), hPosDeltas, []byte{2}), hPosCounts, 1))
	cases := []struct {
		name, series, why string
	}{
		{"no name", string(series([][2]string{{"job", "x"}}, sample(1, 1))), "no metric name"},
		{"duplicate label", string(series([][2]string{{"__name__", "a"}, {"a", "1"}, {"a", "2"}}, sample(1, 1))), `label "a" appears twice`},
		{"bad utf8", string(series([][2]string{{"__name__", "a"}, {"b", "\xff"}}, sample(1, 1))), "UTF-8"},
		{"empty label name", string(series([][2]string{{"__name__", "a"}, {"", "1"}}, sample(1, 1))), "empty name"},
		{"spans vs counts", string(badHist), "spans cover a different number"},
		{"negative bucket", string(negHist), "negative"},
		{"deltas and counts", string(both), "both as deltas and as counts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := field(field(field(nil, 1, good), 1, []byte(tc.series)), 1, good)
			r, err := DecodeProto(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Series) != 2 || r.Dropped != 1 || len(r.Problems) != 1 {
				t.Fatalf("series %d dropped %d problems %v", len(r.Series), r.Dropped, r.Problems)
			}
			if msg := r.Problems[0].Error(); !strings.Contains(msg, tc.why) || !strings.Contains(msg, "timeseries[1]") {
				t.Errorf("problem %q, want it to name timeseries[1] and say %q", msg, tc.why)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	req := &WriteRequest{
		Batch: metrics.Batch{Series: []metrics.Series{
			{Labels: metrics.Labels{{Name: "__name__", Value: "c_total"}, {Name: "x", Value: "y"}}, Samples: []metrics.Sample{{T: -5, V: math.Inf(1)}, {T: 7, V: metrics.StaleNaN}}},
			{Labels: metrics.Labels{{Name: "__name__", Value: "h"}}, Histograms: []metrics.Histogram{{
				T: 9, Count: 3, Sum: metrics.StaleNaN, Schema: 8, ZeroThreshold: 1e-9, ZeroCount: 1,
				PositiveSpans: []metrics.Span{{Offset: 100, Length: 2}}, PositiveBuckets: []float64{1, 1},
			}}},
		}},
		Metadata: []Metadata{{Type: metrics.TypeSummary, MetricFamilyName: "s", Help: "h", Unit: "u"}},
	}
	got, err := Decode(Encode(req), "snappy")
	if err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(got.Series[1].Histograms[0].Sum) != math.Float64bits(metrics.StaleNaN) {
		t.Error("histogram stale marker lost")
	}
	got.Series[1].Histograms[0].Sum, req.Series[1].Histograms[0].Sum = 0, 0
	checkRequest(t, got, req)
}

// TestDecodedLabelsDoNotAlias checks that series share no spare capacity:
// a consumer appending to one series' labels must not overwrite the next.
func TestDecodedLabelsDoNotAlias(t *testing.T) {
	raw := field(field(nil, 1, series([][2]string{{"__name__", "a"}}, sample(1, 1))), 1, series([][2]string{{"__name__", "b"}}, sample(2, 2)))
	r, err := DecodeProto(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(r.Series[0].Labels, metrics.Label{Name: "z", Value: "z"})
	_ = append(r.Series[0].Samples, metrics.Sample{})
	if r.Series[1].Labels[0].Value != "b" || r.Series[1].Samples[0].V != 2 {
		t.Errorf("second series overwritten: %+v", r.Series[1])
	}
}

// TestDecodeIntoReuses decodes two requests into one WriteRequest: the
// second is right, whatever the first left, and the first's labels, once
// cloned, survive.
func TestDecodeIntoReuses(t *testing.T) {
	a := field(nil, 1, series([][2]string{{"__name__", "first_metric"}, {"job", "a"}}, sample(1, 1)))
	b := field(field(nil, 1, series([][2]string{{"__name__", "b"}}, sample(2, 2))), 1, series([][2]string{{"__name__", "c"}}, sample(3, 3)))
	var d Decoder
	var req WriteRequest
	if err := d.DecodeInto(&req, snappy.Encode(nil, a), "snappy"); err != nil {
		t.Fatal(err)
	}
	kept := req.Series[0].Labels.Clone()
	if err := d.DecodeInto(&req, snappy.Encode(nil, b), "snappy"); err != nil {
		t.Fatal(err)
	}
	if len(req.Series) != 2 || req.Series[0].Labels.Name() != "b" || req.Series[1].Samples[0].V != 3 {
		t.Errorf("second decode: %+v", req.Series)
	}
	if kept.String() != `first_metric{job="a"}` {
		t.Errorf("cloned labels changed: %v", kept)
	}
	if err := d.DecodeInto(&req, []byte{0x0a}, ""); err == nil || len(req.Series) != 0 {
		t.Errorf("error leaves %d series: %v", len(req.Series), err)
	}
	if err := d.DecodeInto(&req, a, "identity"); err != nil || req.Series[0].Labels.Name() != "first_metric" {
		t.Errorf("identity: %v %+v", err, req.Series)
	}
}

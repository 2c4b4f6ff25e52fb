// Package promrw decodes Prometheus remote write 1.0 requests
// (prometheus.WriteRequest, snappy-compressed protobuf) into the neutral
// model of package metrics: series with sorted labels, float samples with
// millisecond timestamps, and native histograms in integer or float form.
//
// The protobuf is read by hand with protowire, against the messages of
// prompb/types.proto and remote.proto:
//
//	WriteRequest   { repeated TimeSeries timeseries = 1; reserved 2;
//	                 repeated MetricMetadata metadata = 3; }
//	TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
//	                 repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
//	Label          { string name = 1; string value = 2; }
//	Sample         { double value = 1; int64 timestamp = 2; }
//	Histogram      { oneof count { uint64 count_int = 1; double count_float = 2; }
//	                 double sum = 3; sint32 schema = 4; double zero_threshold = 5;
//	                 oneof zero_count { uint64 zero_count_int = 6; double zero_count_float = 7; }
//	                 repeated BucketSpan negative_spans = 8;
//	                 repeated sint64 negative_deltas = 9; repeated double negative_counts = 10;
//	                 repeated BucketSpan positive_spans = 11;
//	                 repeated sint64 positive_deltas = 12; repeated double positive_counts = 13;
//	                 ResetHint reset_hint = 14; int64 timestamp = 15;
//	                 repeated double custom_values = 16; }
//	BucketSpan     { sint32 offset = 1; uint32 length = 2; }
//	MetricMetadata { MetricType type = 1; string metric_family_name = 2;
//	                 string help = 4; string unit = 5; }
//
// Exemplars are skipped, as are unknown fields (protobuf's rule, so a newer
// sender still decodes). Repeated scalars are read packed or not.
//
// Decoding allocates per request, not per sample: label strings are
// substrings of one copy of the decompressed body, and the labels, samples
// and histograms of all series share a few backing arrays. The returned
// request holds on to that copy; a consumer that keeps labels (the
// metrics.Collector does) clones them.
//
// A malformed protobuf fails the whole request with a *DecodeError naming
// the field path and byte offset (of the decompressed body), since nothing
// after a framing error can be trusted. A well-formed series that breaks
// the data model — no metric name, a label twice, invalid UTF-8, a
// histogram whose spans and counts disagree — is dropped alone and counted
// in Batch.Dropped with the reason in Batch.Problems, so the good series
// around it still count.
package promrw

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nines-sre/nines/ingest/metrics"
)

// MaxDecodedSize is the default limit on a decompressed request: 32 MiB,
// far above what Prometheus sends (its default batches are a few hundred
// kilobytes), low enough that a small hostile body cannot make the server
// allocate gigabytes.
const MaxDecodedSize = 32 << 20

// Errors wrapped by Decode's errors, for the HTTP layer to map: all of
// them are the client's fault (400), except ErrTooLarge (413) and
// ErrUnsupportedEncoding (415).
var (
	ErrUnsupportedEncoding = errors.New("unsupported Content-Encoding")
	ErrTooLarge            = errors.New("decompressed request too large")
	ErrSnappy              = errors.New("corrupt snappy block")
	ErrProtobuf            = errors.New("malformed protobuf")
)

// WriteRequest is a decoded remote write request.
type WriteRequest struct {
	metrics.Batch
	// Metadata is what the sender said about metric families. Prometheus
	// sends it in separate requests, so it is not applied to the series.
	Metadata []Metadata

	// The decoded body and the arenas the series point into, kept for
	// DecodeInto to reuse.
	buf     []byte
	labels  []metrics.Label
	samples []metrics.Sample
	hists   []metrics.Histogram
	spans   []metrics.Span
	floats  []float64
}

// Reset empties req, keeping its memory for the next DecodeInto.
func (req *WriteRequest) Reset() {
	clear(req.Series) // drop references into the arenas for the GC
	req.Series, req.Metadata = req.Series[:0], req.Metadata[:0]
	req.Dropped, req.Problems = 0, nil
}

// Metadata describes one metric family (prompb MetricMetadata).
type Metadata struct {
	Type             metrics.MetricType
	MetricFamilyName string
	Help, Unit       string
}

// DecodeError is a protobuf framing error: the field being read, as a path
// such as "timeseries[3].labels[1].name", and the offset of the decoded
// body where it went wrong.
type DecodeError struct {
	Field  string
	Offset int
	Err    error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("promrw: %s at byte %d: %v", e.Field, e.Offset, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Decode decodes a remote write request body sent with the given
// Content-Encoding, which the 1.0 spec requires to be "snappy" (the snappy
// block format, not the framed stream); an empty encoding or "identity" is
// taken as uncompressed protobuf for tools that send it. The decompressed
// size is capped at MaxDecodedSize.
func Decode(body []byte, contentEncoding string) (*WriteRequest, error) {
	var d Decoder
	return d.Decode(body, contentEncoding)
}

// Decoder decodes requests with a configurable size limit. The zero value
// uses MaxDecodedSize. It keeps no state between calls and is safe for
// concurrent use.
type Decoder struct {
	// MaxDecodedSize caps the decompressed body; 0 means MaxDecodedSize.
	MaxDecodedSize int
}

// Decode is the package-level Decode with d's limit.
func (d *Decoder) Decode(body []byte, contentEncoding string) (*WriteRequest, error) {
	req := new(WriteRequest)
	if err := d.DecodeInto(req, body, contentEncoding); err != nil {
		return nil, err
	}
	return req, nil
}

// DecodeInto is Decode into req, reusing the memory req holds from an
// earlier call: a server that keeps a pool of WriteRequests decodes
// without allocating once the pool is warm, which also spares the garbage
// collector (the dominant cost otherwise). Everything req holds, label
// strings included, is only valid until req is decoded into again; a
// consumer that keeps labels must clone them (metrics.Collector does). On
// error req is empty.
func (d *Decoder) DecodeInto(req *WriteRequest, body []byte, contentEncoding string) error {
	req.Reset()
	limit := d.MaxDecodedSize
	if limit <= 0 {
		limit = MaxDecodedSize
	}
	switch enc := strings.ToLower(strings.TrimSpace(contentEncoding)); enc {
	case "snappy":
		n, err := snappy.DecodedLen(body)
		if err != nil {
			return fmt.Errorf("promrw: %w: %v", ErrSnappy, err)
		}
		if n > limit {
			return fmt.Errorf("promrw: %w: snappy header says %d bytes, the limit is %d", ErrTooLarge, n, limit)
		}
		req.buf = slices.Grow(req.buf[:0], n)[:n]
		raw, err := snappy.Decode(req.buf, body)
		if err != nil {
			return fmt.Errorf("promrw: %w: %v", ErrSnappy, err)
		}
		req.buf = raw
	case "", "identity":
		if len(body) > limit {
			return fmt.Errorf("promrw: %w: %d bytes, the limit is %d", ErrTooLarge, len(body), limit)
		}
		// A copy: the caller may reuse body, and the labels point into
		// the decoded bytes.
		req.buf = append(req.buf[:0], body...)
	default:
		return fmt.Errorf("promrw: %w %q: remote write 1.0 bodies are snappy-compressed", ErrUnsupportedEncoding, contentEncoding)
	}
	if err := decodeProto(req); err != nil {
		req.Reset()
		return err
	}
	return nil
}

// DecodeProto decodes an uncompressed WriteRequest protobuf. raw is
// copied, so the caller may reuse it.
func DecodeProto(raw []byte) (*WriteRequest, error) {
	var d Decoder
	d.MaxDecodedSize = math.MaxInt
	return d.Decode(raw, "identity")
}

// decoder is the state of one decode.
type decoder struct {
	// b is the body for protowire, and s the same bytes as one string:
	// label strings are substrings of s, with no allocation per label.
	// Offsets index both.
	b       []byte
	s       string
	req     *WriteRequest
	labels  []metrics.Label
	samples []metrics.Sample
	hists   []metrics.Histogram
	spans   []metrics.Span
	floats  []float64
	// dropped is why the series being decoded is dropped, or nil.
	dropped error
}

// decodeProto decodes req.buf into req. Label strings point into req.buf
// (one unsafe.String over it) rather than into copies: req.buf belongs to
// req and is not written again until req is reset for the next decode,
// which is the lifetime DecodeInto documents.
func decodeProto(req *WriteRequest) error {
	raw := req.buf
	d := decoder{b: raw, req: req, labels: req.labels[:0], samples: req.samples[:0],
		hists: req.hists[:0], spans: req.spans[:0], floats: req.floats[:0]}
	if len(raw) > 0 {
		d.s = unsafe.String(unsafe.SliceData(raw), len(raw))
	}
	// Size the arenas from a quick count of the series (a skim over the
	// top-level fields): no regrowth in the common case of up to 8 labels
	// and one sample per series.
	n := countSeries(raw)
	req.Series = slices.Grow(req.Series[:0], n)
	d.labels = slices.Grow(d.labels, 8*n)
	d.samples = slices.Grow(d.samples, n)
	err := d.request()
	// Keep the (possibly grown) arenas for the next decode. Series point
	// into them; the arenas are only overwritten after Reset.
	req.labels, req.samples, req.hists, req.spans, req.floats = d.labels, d.samples, d.hists, d.spans, d.floats
	return err
}

// countSeries counts the timeseries fields of a WriteRequest, stopping
// quietly at anything malformed (request() reports it).
func countSeries(b []byte) int {
	n := 0
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			break
		}
		m := protowire.ConsumeFieldValue(num, typ, b[k:])
		if m < 0 {
			break
		}
		if num == 1 && typ == protowire.BytesType {
			n++
		}
		b = b[k+m:]
	}
	return n
}

// loc names the field being decoded, for errors: a value, so naming
// costs nothing until an error is built.
type loc struct {
	top   string // "timeseries" or "metadata"; "" for the WriteRequest
	i     int
	list  string // "labels", "samples", "histograms"; "" for none
	j     int
	field string
}

func (l loc) String() string {
	if l.top == "" {
		return "WriteRequest"
	}
	s := l.top + "[" + strconv.Itoa(l.i) + "]"
	if l.list != "" {
		s += "." + l.list + "[" + strconv.Itoa(l.j) + "]"
	}
	if l.field != "" {
		s += "." + l.field
	}
	return s
}

func (l loc) with(field string) loc {
	l.field = field
	return l
}

func fieldErr(at loc, off int, err error) error {
	return &DecodeError{Field: at.String(), Offset: off, Err: fmt.Errorf("%w: %v", ErrProtobuf, err)}
}

func wrongType(at loc, off int, typ protowire.Type) error {
	return &DecodeError{Field: at.String(), Offset: off, Err: fmt.Errorf("%w: unexpected wire type %d", ErrProtobuf, typ)}
}

// next reads one field header at off within [off, end) and returns the
// field number, wire type and the offset of its value.
func (d *decoder) next(off, end int, at loc) (protowire.Number, protowire.Type, int, error) {
	num, typ, n := protowire.ConsumeTag(d.b[off:end])
	if n < 0 {
		return 0, 0, 0, fieldErr(at, off, protowire.ParseError(n))
	}
	return num, typ, off + n, nil
}

// value reads the value of a field of wire type typ at off and returns
// the offset after it, the value of a scalar, and for BytesType the
// payload's bounds.
func (d *decoder) value(num protowire.Number, typ protowire.Type, off, end int, at loc) (next, pStart, pEnd int, v uint64, err error) {
	b := d.b[off:end]
	var n int
	switch typ {
	case protowire.VarintType:
		v, n = protowire.ConsumeVarint(b)
	case protowire.Fixed64Type:
		v, n = protowire.ConsumeFixed64(b)
	case protowire.Fixed32Type:
		var v32 uint32
		v32, n = protowire.ConsumeFixed32(b)
		v = uint64(v32)
	case protowire.BytesType:
		var p []byte
		p, n = protowire.ConsumeBytes(b)
		if n >= 0 {
			pEnd = off + n
			pStart = pEnd - len(p)
		}
	default:
		n = protowire.ConsumeFieldValue(num, typ, b)
	}
	if n < 0 {
		return 0, 0, 0, 0, fieldErr(at, off, protowire.ParseError(n))
	}
	return off + n, pStart, pEnd, v, nil
}

func (d *decoder) request() error {
	nSeries, nMeta := 0, 0
	end := len(d.b)
	for off := 0; off < end; {
		num, typ, voff, err := d.next(off, end, loc{})
		if err != nil {
			return err
		}
		at := loc{}
		switch num {
		case 1:
			at = loc{top: "timeseries", i: nSeries}
		case 3:
			at = loc{top: "metadata", i: nMeta}
		}
		if (num == 1 || num == 3) && typ != protowire.BytesType {
			return wrongType(at, off, typ)
		}
		next, ps, pe, _, err := d.value(num, typ, voff, end, at)
		if err != nil {
			return err
		}
		switch num {
		case 1:
			if err := d.series(ps, pe, at); err != nil {
				return err
			}
			nSeries++
		case 3:
			if err := d.metadata(ps, pe, at); err != nil {
				return err
			}
			nMeta++
		}
		off = next
	}
	return nil
}

// series decodes the TimeSeries at [start, end) and appends it to the
// request, unless it breaks the data model, in which case it is dropped
// and reported.
func (d *decoder) series(start, end int, at loc) error {
	l0, s0, h0 := len(d.labels), len(d.samples), len(d.hists)
	d.dropped = nil
	var counts [5]int // per field number: labels 1, samples 2, histograms 4
	b := d.b
	for off := start; off < end; {
		// Fast path: a label or sample field shorter than 128 bytes.
		if tag := b[off]; (tag == 0x0a || tag == 0x12) && off+1 < end && b[off+1] < 0x80 {
			ps := off + 2
			pe := ps + int(b[off+1])
			if pe <= end {
				var err error
				if tag == 0x0a {
					err = d.label(ps, pe, loc{top: at.top, i: at.i, list: "labels", j: counts[1]})
					counts[1]++
				} else {
					err = d.sample(ps, pe, loc{top: at.top, i: at.i, list: "samples", j: counts[2]})
					counts[2]++
				}
				if err != nil {
					return err
				}
				off = pe
				continue
			}
		}
		num, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		sub := at
		switch num {
		case 1:
			sub.list, sub.j = "labels", counts[1]
		case 2:
			sub.list, sub.j = "samples", counts[2]
		case 4:
			sub.list, sub.j = "histograms", counts[4]
		}
		if sub.list != "" && typ != protowire.BytesType {
			return wrongType(sub, off, typ)
		}
		next, ps, pe, _, err := d.value(num, typ, voff, end, sub)
		if err != nil {
			return err
		}
		switch num {
		case 1:
			err = d.label(ps, pe, sub)
		case 2:
			err = d.sample(ps, pe, sub)
		case 4:
			err = d.histogram(ps, pe, sub)
		}
		if err != nil {
			return err
		}
		if sub.list != "" {
			counts[num]++
		}
		off = next
	}
	ls := metrics.Labels(d.labels[l0:len(d.labels):len(d.labels)])
	if d.dropped == nil {
		d.dropped = normalize(&ls)
	}
	if d.dropped != nil {
		d.req.AddProblem(fmt.Errorf("promrw: %s %q dropped: %w", at, ls.Name(), d.dropped))
		d.labels, d.samples, d.hists = d.labels[:l0], d.samples[:s0], d.hists[:h0]
		return nil
	}
	s := metrics.Series{Labels: ls}
	if len(d.samples) > s0 {
		s.Samples = d.samples[s0:len(d.samples):len(d.samples)]
	}
	if len(d.hists) > h0 {
		s.Histograms = d.hists[h0:len(d.hists):len(d.hists)]
	}
	d.req.Series = append(d.req.Series, s)
	return nil
}

// normalize sorts ls if the sender did not (the spec says it must; being
// lenient costs nothing when it did), drops empty values, which Prometheus
// treats as absent labels, and checks the rest of the data model (UTF-8
// was checked label by label).
func normalize(ls *metrics.Labels) error {
	l := *ls
	sorted := true
	for i := 1; i < len(l); i++ {
		if l[i-1].Name > l[i].Name {
			sorted = false
			break
		}
	}
	if !sorted {
		slices.SortStableFunc(l, func(a, b metrics.Label) int { return strings.Compare(a.Name, b.Name) })
	}
	k := 0
	for _, x := range l {
		if x.Value != "" {
			l[k] = x
			k++
		}
	}
	l = l[:k]
	*ls = l
	for i, x := range l {
		if x.Name == "" {
			return errors.New("a label has an empty name")
		}
		if i > 0 && l[i-1].Name == x.Name {
			return fmt.Errorf("label %q appears twice", x.Name)
		}
	}
	if l.Name() == "" {
		return errors.New(`no metric name (label "__name__")`)
	}
	return nil
}

func (d *decoder) label(start, end int, at loc) error {
	b := d.b
	// Fast path: name then value, each under 128 bytes, as every sender
	// writes them. The whole message is then tags, lengths under 128 and
	// the two strings, so one pass finding no byte >= 0x80 proves both
	// strings are (ASCII) UTF-8.
	if end-start >= 4 && b[start] == 0x0a && b[start+1] < 0x80 {
		p := start + 2 + int(b[start+1])
		if p+2 <= end && b[p] == 0x12 && b[p+1] < 0x80 && p+2+int(b[p+1]) == end {
			lb := metrics.Label{Name: d.s[start+2 : p], Value: d.s[p+2 : end]}
			var or byte
			for _, c := range b[start:end] {
				or |= c
			}
			if or >= 0x80 && d.dropped == nil && (!utf8.ValidString(lb.Name) || !utf8.ValidString(lb.Value)) {
				d.dropped = fmt.Errorf("label %q is not valid UTF-8", lb.Name)
			}
			d.labels = append(d.labels, lb)
			return nil
		}
	}
	var lb metrics.Label
	for off := start; off < end; {
		num, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		f := at
		switch num {
		case 1:
			f.field = "name"
		case 2:
			f.field = "value"
		}
		if f.field != "" && typ != protowire.BytesType {
			return wrongType(f, off, typ)
		}
		next, ps, pe, _, err := d.value(num, typ, voff, end, f)
		if err != nil {
			return err
		}
		switch num {
		case 1:
			lb.Name = d.s[ps:pe]
		case 2:
			lb.Value = d.s[ps:pe]
		}
		off = next
	}
	if d.dropped == nil && (!utf8.ValidString(lb.Name) || !utf8.ValidString(lb.Value)) {
		d.dropped = fmt.Errorf("label %q is not valid UTF-8", lb.Name)
	}
	d.labels = append(d.labels, lb)
	return nil
}

func (d *decoder) sample(start, end int, at loc) error {
	// Fast path: value then timestamp, as every sender writes them.
	if b := d.b; end-start >= 11 && b[start] == 0x09 && b[start+9] == 0x10 {
		t, n := protowire.ConsumeVarint(b[start+10 : end])
		if n == end-start-10 {
			v := binary.LittleEndian.Uint64(b[start+1:])
			d.samples = append(d.samples, metrics.Sample{T: int64(t), V: math.Float64frombits(v)})
			return nil
		}
	}
	var s metrics.Sample
	for off := start; off < end; {
		num, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		switch {
		case num == 1 && typ != protowire.Fixed64Type:
			return wrongType(at.with("value"), off, typ)
		case num == 2 && typ != protowire.VarintType:
			return wrongType(at.with("timestamp"), off, typ)
		}
		next, _, _, v, err := d.value(num, typ, voff, end, at)
		if err != nil {
			return err
		}
		switch num {
		case 1:
			s.V = math.Float64frombits(v)
		case 2:
			s.T = int64(v)
		}
		off = next
	}
	d.samples = append(d.samples, s)
	return nil
}

func (d *decoder) metadata(start, end int, at loc) error {
	var m Metadata
	for off := start; off < end; {
		num, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		switch {
		case num == 1 && typ != protowire.VarintType:
			return wrongType(at.with("type"), off, typ)
		case (num == 2 || num == 4 || num == 5) && typ != protowire.BytesType:
			return wrongType(at.with(metaField(num)), off, typ)
		}
		next, ps, pe, v, err := d.value(num, typ, voff, end, at)
		if err != nil {
			return err
		}
		switch num {
		case 1:
			m.Type = metadataType(v)
		case 2:
			m.MetricFamilyName = d.s[ps:pe]
		case 4:
			m.Help = d.s[ps:pe]
		case 5:
			m.Unit = d.s[ps:pe]
		}
		off = next
	}
	d.req.Metadata = append(d.req.Metadata, m)
	return nil
}

func metaField(num protowire.Number) string {
	switch num {
	case 2:
		return "metric_family_name"
	case 4:
		return "help"
	}
	return "unit"
}

// metadataType maps prompb's MetricType enum (UNKNOWN, COUNTER, GAUGE,
// HISTOGRAM, GAUGEHISTOGRAM, SUMMARY, INFO, STATESET).
func metadataType(v uint64) metrics.MetricType {
	switch v {
	case 1:
		return metrics.TypeCounter
	case 2, 6, 7: // info and stateset metrics are gauges
		return metrics.TypeGauge
	case 3:
		return metrics.TypeHistogram
	case 4:
		return metrics.TypeGaugeHistogram
	case 5:
		return metrics.TypeSummary
	}
	return metrics.TypeUnknown
}

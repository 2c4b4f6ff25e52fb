package metrics

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MetricNameLabel is the label that holds a series' metric name, as in
// Prometheus.
const MetricNameLabel = "__name__"

// Label is one name/value pair of a series.
type Label struct {
	Name, Value string
}

// Labels are the labels of one series, sorted by name, names unique,
// values non-empty (an empty value is the same as no label, as in
// Prometheus), all valid UTF-8. The metric name is the label "__name__".
type Labels []Label

// Get returns the value of the label name, or "" when it is absent.
func (ls Labels) Get(name string) string {
	for i := range ls {
		if ls[i].Name == name {
			return ls[i].Value
		}
	}
	return ""
}

// Name returns the metric name, the value of "__name__".
func (ls Labels) Name() string {
	// "__name__" sorts before every label that starts with a lower-case
	// letter, so it is nearly always first.
	if len(ls) > 0 && ls[0].Name == MetricNameLabel {
		return ls[0].Value
	}
	return ls.Get(MetricNameLabel)
}

// Equal reports whether ls and o hold the same labels.
func (ls Labels) Equal(o Labels) bool {
	if len(ls) != len(o) {
		return false
	}
	for i := range ls {
		if ls[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of ls whose strings share no memory with ls, so a
// caller can keep it after the buffer it was decoded from is gone.
func (ls Labels) Clone() Labels {
	c := make(Labels, len(ls))
	for i, l := range ls {
		c[i] = Label{strings.Clone(l.Name), strings.Clone(l.Value)}
	}
	return c
}

// Validate reports the first way ls breaks the rules of Labels.
func (ls Labels) Validate() error {
	for i, l := range ls {
		switch {
		case l.Name == "":
			return fmt.Errorf("label %d has an empty name", i)
		case l.Value == "":
			return fmt.Errorf("label %q has an empty value", l.Name)
		case i > 0 && ls[i-1].Name == l.Name:
			return fmt.Errorf("label %q appears twice", l.Name)
		case i > 0 && ls[i-1].Name > l.Name:
			return fmt.Errorf("labels not sorted: %q before %q", ls[i-1].Name, l.Name)
		case !utf8.ValidString(l.Name) || !utf8.ValidString(l.Value):
			return fmt.Errorf("label %q is not valid UTF-8", l.Name)
		}
	}
	return nil
}

// String writes ls the way PromQL does: name{a="1", b="2"}. Names that
// are not legacy Prometheus identifiers are quoted.
func (ls Labels) String() string {
	var b strings.Builder
	name := ls.Name()
	if isMetricName(name) {
		b.WriteString(name)
	}
	b.WriteByte('{')
	n := 0
	if name != "" && !isMetricName(name) {
		b.WriteString(strconv.Quote(name))
		n++
	}
	for _, l := range ls {
		if l.Name == MetricNameLabel {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		writeLabelName(&b, l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Sample is one float value of a series.
type Sample struct {
	// T is the sample's time in Unix milliseconds, as in Prometheus.
	T int64
	// V is the value. A counter's value is cumulative unless the series'
	// Temporality is Delta. StaleNaN marks the end of a series.
	V float64
	// Start is the start of the counting interval in Unix milliseconds
	// (OTLP start_time_unix_nano), or 0 when unknown. A cumulative series
	// whose start moves forward has been reset.
	Start int64
}

// StaleNaN is the NaN that Prometheus sends as a sample value (or as a
// native histogram's sum) to mark that a series has ended.
var StaleNaN = math.Float64frombits(staleNaNBits)

const staleNaNBits = 0x7ff0000000000002

// IsStaleNaN reports whether v is the stale marker, bit for bit: an
// ordinary NaN is a bad value, not the end of a series.
func IsStaleNaN(v float64) bool { return math.Float64bits(v) == staleNaNBits }

// MetricType is what a series measures, when the source says so.
type MetricType uint8

// Metric types. Prometheus remote write 1.0 carries no type with the
// samples, so its series are TypeUnknown and are taken for what the SLI
// source says they are.
const (
	TypeUnknown MetricType = iota
	TypeCounter
	TypeGauge
	TypeHistogram
	TypeGaugeHistogram
	TypeSummary
)

var typeNames = [...]string{"unknown", "counter", "gauge", "histogram", "gaugehistogram", "summary"}

func (t MetricType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "MetricType(" + strconv.Itoa(int(t)) + ")"
}

// Temporality says whether a counter's values are running totals or
// increases since the previous point.
type Temporality uint8

// Temporalities. The zero value is Cumulative, which is what Prometheus
// sends.
const (
	Cumulative Temporality = iota
	// Delta values are the increase over (Start, T] alone: OTLP delta
	// temporality.
	Delta
)

func (t Temporality) String() string {
	if t == Delta {
		return "delta"
	}
	return "cumulative"
}

// ResetHint is a native histogram's own word on counter resets
// (remote write's Histogram.ResetHint).
type ResetHint uint8

// Reset hints, numbered as on the wire.
const (
	ResetUnknown ResetHint = iota
	ResetYes
	ResetNo
	ResetGauge
)

// CustomBucketsSchema is the schema of a native histogram with custom
// bucket boundaries (NHCB); OTLP explicit-bucket histograms are mapped to
// it.
const CustomBucketsSchema = -53

// Limits of the exponential schemas. Prometheus uses -4..8 today and
// reserves -9..52 for schemas following the same formula; OTLP scales
// outside -4..8 (up to 20) follow it too.
const (
	MinSchema = -9
	MaxSchema = 52
)

// Span is a run of consecutive buckets in a native histogram. The first
// span's Offset is the index of its first bucket; each later Offset is the
// number of empty buckets skipped since the end of the previous span.
type Span struct {
	Offset int32
	Length uint32
}

// Histogram is one native histogram sample: Prometheus native histograms
// (exponential or custom buckets), OTLP exponential histograms and OTLP
// explicit-bucket histograms all map onto it.
//
// Bucket layout for an exponential schema s, base = 2^(2^-s):
//
//	                zero bucket
//	… | (-b^i, -b^(i-1)] … | [-z, z] | … (b^(i-1), b^i] | …
//	      negative i                        positive i
//
// that is, positive bucket i holds values in (base^(i-1), base^i], upper
// bound inclusive, like Prometheus. (OTLP numbers the same bucket i-1.)
//
// With CustomBucketsSchema the positive buckets are indexed into
// CustomValues: bucket i holds (CustomValues[i-1], CustomValues[i]], bucket
// 0 starts at -Inf, and bucket len(CustomValues) is (last, +Inf).
//
// Counts are absolute (not delta-encoded as on the remote write wire) and
// held as float64 for both forms; an integer histogram (Float false) is
// exact up to 2^53 observations in a bucket, far beyond any real counter.
type Histogram struct {
	// T is the sample time and Start the start of its counting interval,
	// both Unix milliseconds; Start is 0 when unknown.
	T, Start int64
	// Float is true for a float histogram (remote write's *_float and
	// *_counts fields), false for an integer one.
	Float     bool
	ResetHint ResetHint
	// Count is the number of observations, Sum their sum; Sum is StaleNaN
	// for a stale marker.
	Count, Sum    float64
	Schema        int32
	ZeroThreshold float64
	ZeroCount     float64
	// PositiveBuckets holds one count per bucket that PositiveSpans cover,
	// in index order; likewise for the negative side.
	PositiveSpans, NegativeSpans     []Span
	PositiveBuckets, NegativeBuckets []float64
	CustomValues                     []float64
}

// IsStale reports whether h is a stale marker.
func (h *Histogram) IsStale() bool { return IsStaleNaN(h.Sum) }

// Errors returned (wrapped) by Histogram.Validate.
var (
	ErrSpansMismatch  = errors.New("spans cover a different number of buckets than are given")
	ErrSpanOffset     = errors.New("a span after the first has a negative offset")
	ErrIndexRange     = errors.New("bucket index out of range")
	ErrSchema         = errors.New("unsupported schema")
	ErrBucketCount    = errors.New("bucket count is negative, NaN or infinite")
	ErrCustomValues   = errors.New("custom bucket bounds are not strictly increasing finite numbers")
	ErrCustomNegative = errors.New("custom-bucket histogram has negative buckets or a zero bucket")
)

// Validate checks h's layout: the spans agree with the bucket counts, the
// schema is one nines knows, counts are finite and not negative, and
// custom bounds increase. It does not compare Count with the buckets:
// Prometheus counts NaN observations in Count but in no bucket.
func (h *Histogram) Validate() error {
	if h.Schema == CustomBucketsSchema {
		if len(h.NegativeSpans) > 0 || len(h.NegativeBuckets) > 0 || h.ZeroCount != 0 {
			return ErrCustomNegative
		}
		for i, v := range h.CustomValues {
			if math.IsNaN(v) || math.IsInf(v, 0) || (i > 0 && !(v > h.CustomValues[i-1])) {
				return fmt.Errorf("%w: bound %d is %v", ErrCustomValues, i, v)
			}
		}
		if err := checkSpans(h.PositiveSpans, h.PositiveBuckets, 0, int64(len(h.CustomValues))); err != nil {
			return fmt.Errorf("positive buckets: %w", err)
		}
	} else {
		if h.Schema < MinSchema || h.Schema > MaxSchema {
			return fmt.Errorf("%w %d (want %d..%d or %d)", ErrSchema, h.Schema, MinSchema, MaxSchema, CustomBucketsSchema)
		}
		if err := checkSpans(h.PositiveSpans, h.PositiveBuckets, math.MinInt32, math.MaxInt32); err != nil {
			return fmt.Errorf("positive buckets: %w", err)
		}
		if err := checkSpans(h.NegativeSpans, h.NegativeBuckets, math.MinInt32, math.MaxInt32); err != nil {
			return fmt.Errorf("negative buckets: %w", err)
		}
	}
	if !validCount(h.ZeroCount) {
		return fmt.Errorf("zero bucket: %w", ErrBucketCount)
	}
	if !(h.ZeroThreshold >= 0) || math.IsInf(h.ZeroThreshold, 0) {
		return fmt.Errorf("zero threshold %v is not a finite number >= 0", h.ZeroThreshold)
	}
	return nil
}

func validCount(c float64) bool { return c >= 0 && !math.IsInf(c, 0) }

// checkSpans checks that spans cover exactly len(counts) buckets whose
// indexes stay within [lo, hi], and that every count is valid.
func checkSpans(spans []Span, counts []float64, lo, hi int64) error {
	var n uint64
	idx := int64(0)
	for i, s := range spans {
		if i > 0 && s.Offset < 0 {
			return ErrSpanOffset
		}
		idx += int64(s.Offset)
		if s.Length > 0 && (idx < lo || idx+int64(s.Length)-1 > hi) {
			return fmt.Errorf("%w: span %d covers %d..%d", ErrIndexRange, i, idx, idx+int64(s.Length)-1)
		}
		idx += int64(s.Length)
		n += uint64(s.Length)
		if idx > hi+1 {
			// Also keeps idx far from overflowing over many spans.
			return fmt.Errorf("%w: span %d ends at %d", ErrIndexRange, i, idx)
		}
	}
	if n != uint64(len(counts)) {
		return fmt.Errorf("%w (%d spanned, %d counts)", ErrSpansMismatch, n, len(counts))
	}
	for i, c := range counts {
		if !validCount(c) {
			return fmt.Errorf("bucket %d: %w", i, ErrBucketCount)
		}
	}
	return nil
}

// Series is one labelled series with its samples, as a decoder hands it
// over. A series carries float samples, histogram samples, or (rarely)
// both; each list is in the order the sender gave.
type Series struct {
	Labels      Labels
	Type        MetricType
	Temporality Temporality
	// Unit is the unit the source declared ("s", "ms", "By", …), or "".
	// Prometheus series carry their unit in the name (…_seconds) instead.
	Unit       string
	Samples    []Sample
	Histograms []Histogram
}

// Batch is what a decoder makes of one request.
type Batch struct {
	Series []Series
	// Dropped counts the series or points the decoder left out because they
	// were invalid or of a kind nines does not take (summaries, say);
	// Problems says why for the first few, naming each.
	Dropped  int
	Problems []error
}

// MaxProblems is how many problems a Batch or a Report keeps in full;
// further ones are only counted.
const MaxProblems = 10

// AddProblem counts one dropped item and keeps err if there is room.
func (b *Batch) AddProblem(err error) {
	b.Dropped++
	if len(b.Problems) < MaxProblems {
		b.Problems = append(b.Problems, err)
	}
}

// isMetricName reports whether s is a legacy Prometheus metric name, which
// PromQL writes bare.
func isMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// isLabelName reports whether s is a legacy Prometheus label name.
func isLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func writeLabelName(b *strings.Builder, name string) {
	if isLabelName(name) {
		b.WriteString(name)
	} else {
		b.WriteString(strconv.Quote(name))
	}
}

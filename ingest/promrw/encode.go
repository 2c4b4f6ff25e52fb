package promrw

import (
	"math"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nines-sre/nines/ingest/metrics"
)

// Encode returns req as a remote write 1.0 body: the WriteRequest protobuf,
// snappy-compressed, ready to send with Content-Encoding: snappy. It is
// the inverse of Decode for the fields nines reads, and is what tests and
// tools use to produce real payloads.
func Encode(req *WriteRequest) []byte {
	return snappy.Encode(nil, AppendProto(nil, req))
}

// AppendProto appends the uncompressed WriteRequest protobuf of req to dst.
// Integer histograms (Float false) are written delta-encoded with
// count_int and zero_count_int, float ones with absolute counts, as
// Prometheus does; counts of integer histograms are rounded.
func AppendProto(dst []byte, req *WriteRequest) []byte {
	var buf []byte
	for i := range req.Series {
		buf = appendSeries(buf[:0], &req.Series[i])
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendBytes(dst, buf)
	}
	for _, m := range req.Metadata {
		buf = buf[:0]
		if t := metadataEnum(m.Type); t != 0 {
			buf = protowire.AppendTag(buf, 1, protowire.VarintType)
			buf = protowire.AppendVarint(buf, t)
		}
		buf = appendString(buf, 2, m.MetricFamilyName)
		buf = appendString(buf, 4, m.Help)
		buf = appendString(buf, 5, m.Unit)
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendBytes(dst, buf)
	}
	return dst
}

func metadataEnum(t metrics.MetricType) uint64 {
	switch t {
	case metrics.TypeCounter:
		return 1
	case metrics.TypeGauge:
		return 2
	case metrics.TypeHistogram:
		return 3
	case metrics.TypeGaugeHistogram:
		return 4
	case metrics.TypeSummary:
		return 5
	}
	return 0
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendMessage appends field num holding the message that fill appends.
func appendMessage(b []byte, num protowire.Number, fill func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	at := len(b)
	b = fill(b)
	n := len(b) - at
	// Move the body right to make room for its length.
	var lenBuf [binaryMaxVarintLen]byte
	l := protowire.AppendVarint(lenBuf[:0], uint64(n))
	b = append(b, l...)
	copy(b[at+len(l):], b[at:at+n])
	copy(b[at:], l)
	return b
}

const binaryMaxVarintLen = 10

func appendSeries(b []byte, s *metrics.Series) []byte {
	for _, l := range s.Labels {
		b = appendMessage(b, 1, func(b []byte) []byte {
			b = appendString(b, 1, l.Name)
			return appendString(b, 2, l.Value)
		})
	}
	for _, smp := range s.Samples {
		b = appendMessage(b, 2, func(b []byte) []byte {
			b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
			b = protowire.AppendFixed64(b, math.Float64bits(smp.V))
			if smp.T != 0 {
				b = protowire.AppendTag(b, 2, protowire.VarintType)
				b = protowire.AppendVarint(b, uint64(smp.T))
			}
			return b
		})
	}
	for i := range s.Histograms {
		h := &s.Histograms[i]
		b = appendMessage(b, 4, func(b []byte) []byte { return appendHistogram(b, h) })
	}
	return b
}

func appendHistogram(b []byte, h *metrics.Histogram) []byte {
	fixed := func(b []byte, num protowire.Number, v float64) []byte {
		b = protowire.AppendTag(b, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v))
	}
	varint := func(b []byte, num protowire.Number, v uint64) []byte {
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, v)
	}
	if h.Float {
		b = fixed(b, hCountFloat, h.Count)
	} else {
		b = varint(b, hCountInt, uint64(math.Round(h.Count)))
	}
	b = fixed(b, hSum, h.Sum)
	b = varint(b, hSchema, protowire.EncodeZigZag(int64(h.Schema)))
	b = fixed(b, hZeroThreshold, h.ZeroThreshold)
	if h.Float {
		b = fixed(b, hZeroCountFloat, h.ZeroCount)
	} else {
		b = varint(b, hZeroCountInt, uint64(math.Round(h.ZeroCount)))
	}
	sides := []struct {
		spans                  []metrics.Span
		counts                 []float64
		spanF, deltaF, countsF protowire.Number
	}{
		{h.NegativeSpans, h.NegativeBuckets, hNegSpans, hNegDeltas, hNegCounts},
		{h.PositiveSpans, h.PositiveBuckets, hPosSpans, hPosDeltas, hPosCounts},
	}
	for _, sd := range sides {
		for _, sp := range sd.spans {
			b = appendMessage(b, sd.spanF, func(b []byte) []byte {
				b = varint(b, 1, protowire.EncodeZigZag(int64(sp.Offset)))
				return varint(b, 2, uint64(sp.Length))
			})
		}
		if len(sd.counts) == 0 {
			continue
		}
		if h.Float {
			b = appendMessage(b, sd.countsF, func(b []byte) []byte {
				for _, c := range sd.counts {
					b = protowire.AppendFixed64(b, math.Float64bits(c))
				}
				return b
			})
		} else {
			b = appendMessage(b, sd.deltaF, func(b []byte) []byte {
				var prev int64
				for _, c := range sd.counts {
					v := int64(math.Round(c))
					b = protowire.AppendVarint(b, protowire.EncodeZigZag(v-prev))
					prev = v
				}
				return b
			})
		}
	}
	if h.ResetHint != metrics.ResetUnknown {
		b = varint(b, hResetHint, uint64(h.ResetHint))
	}
	if h.T != 0 {
		b = varint(b, hTimestamp, uint64(h.T))
	}
	if len(h.CustomValues) > 0 {
		b = appendMessage(b, hCustomValues, func(b []byte) []byte {
			for _, v := range h.CustomValues {
				b = protowire.AppendFixed64(b, math.Float64bits(v))
			}
			return b
		})
	}
	return b
}

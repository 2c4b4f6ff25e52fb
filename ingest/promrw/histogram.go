package promrw

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nines-sre/nines/ingest/metrics"
)

// Histogram field numbers (prompb.Histogram).
const (
	hCountInt       = 1
	hCountFloat     = 2
	hSum            = 3
	hSchema         = 4
	hZeroThreshold  = 5
	hZeroCountInt   = 6
	hZeroCountFloat = 7
	hNegSpans       = 8
	hNegDeltas      = 9
	hNegCounts      = 10
	hPosSpans       = 11
	hPosDeltas      = 12
	hPosCounts      = 13
	hResetHint      = 14
	hTimestamp      = 15
	hCustomValues   = 16
)

var histFieldNames = [...]string{
	hCountInt: "count_int", hCountFloat: "count_float", hSum: "sum", hSchema: "schema",
	hZeroThreshold: "zero_threshold", hZeroCountInt: "zero_count_int", hZeroCountFloat: "zero_count_float",
	hNegSpans: "negative_spans", hNegDeltas: "negative_deltas", hNegCounts: "negative_counts",
	hPosSpans: "positive_spans", hPosDeltas: "positive_deltas", hPosCounts: "positive_counts",
	hResetHint: "reset_hint", hTimestamp: "timestamp", hCustomValues: "custom_values",
}

// wantType is the wire type of each scalar histogram field, unpacked.
var wantType = [...]protowire.Type{
	hCountInt: protowire.VarintType, hCountFloat: protowire.Fixed64Type, hSum: protowire.Fixed64Type,
	hSchema: protowire.VarintType, hZeroThreshold: protowire.Fixed64Type, hZeroCountInt: protowire.VarintType,
	hZeroCountFloat: protowire.Fixed64Type, hNegSpans: protowire.BytesType, hNegDeltas: protowire.VarintType,
	hNegCounts: protowire.Fixed64Type, hPosSpans: protowire.BytesType, hPosDeltas: protowire.VarintType,
	hPosCounts: protowire.Fixed64Type, hResetHint: protowire.VarintType, hTimestamp: protowire.VarintType,
	hCustomValues: protowire.Fixed64Type,
}

// histogram decodes one Histogram message in [start, end). The repeated
// fields may come in any order and interleaved, so each list is read in a
// pass of its own into the shared arenas; scalars come in the first pass.
// A framing error fails the request; a histogram that decodes but breaks
// the data model drops its series (d.dropped).
func (d *decoder) histogram(start, end int, at loc) error {
	var h metrics.Histogram
	var hasDeltas, hasCounts [2]bool // [negative, positive]
	floatForm := false
	fieldPath := func(num protowire.Number) loc {
		if num >= 0 && int(num) < len(histFieldNames) {
			return at.with(histFieldNames[num])
		}
		return at
	}
	// Pass 1: scalars, and checks of every known field's wire type.
	for off := start; off < end; {
		num, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		known := num >= 1 && int(num) < len(wantType)
		if known {
			want := wantType[num]
			packable := num == hNegDeltas || num == hNegCounts || num == hPosDeltas || num == hPosCounts || num == hCustomValues
			if typ != want && !(packable && typ == protowire.BytesType) {
				return wrongType(fieldPath(num), off, typ)
			}
		}
		next, _, _, v, err := d.value(num, typ, voff, end, fieldPath(num))
		if err != nil {
			return err
		}
		switch num {
		case hCountInt:
			h.Count = float64(v)
		case hCountFloat:
			h.Count, floatForm = math.Float64frombits(v), true
		case hSum:
			h.Sum = math.Float64frombits(v)
		case hSchema:
			// sint32: protobuf decoders keep the low 32 bits.
			h.Schema = int32(protowire.DecodeZigZag(v & math.MaxUint32))
		case hZeroThreshold:
			h.ZeroThreshold = math.Float64frombits(v)
		case hZeroCountInt:
			h.ZeroCount = float64(v)
		case hZeroCountFloat:
			h.ZeroCount, floatForm = math.Float64frombits(v), true
		case hNegDeltas:
			hasDeltas[0] = true
		case hPosDeltas:
			hasDeltas[1] = true
		case hNegCounts:
			hasCounts[0], floatForm = true, true
		case hPosCounts:
			hasCounts[1], floatForm = true, true
		case hResetHint:
			if v > uint64(metrics.ResetGauge) {
				v = uint64(metrics.ResetUnknown) // an unknown enum value: no hint
			}
			h.ResetHint = metrics.ResetHint(v)
		case hTimestamp:
			h.T = int64(v)
		}
		off = next
	}
	h.Float = floatForm
	var dropErr error
	for side, name := range []string{"negative", "positive"} {
		if hasDeltas[side] && hasCounts[side] {
			dropErr = fmt.Errorf("%s buckets given both as deltas and as counts", name)
		}
	}
	// Passes 2-7: spans, then bucket counts, for each side; custom values.
	var err error
	s0 := len(d.spans)
	if err = d.spanList(start, end, hNegSpans, fieldPath(hNegSpans)); err != nil {
		return err
	}
	h.NegativeSpans = clip(d.spans[s0:])
	s0 = len(d.spans)
	if err = d.spanList(start, end, hPosSpans, fieldPath(hPosSpans)); err != nil {
		return err
	}
	h.PositiveSpans = clip(d.spans[s0:])
	for side := range 2 {
		deltas, counts := protowire.Number(hNegDeltas), protowire.Number(hNegCounts)
		if side == 1 {
			deltas, counts = hPosDeltas, hPosCounts
		}
		f0 := len(d.floats)
		var bad error
		if hasDeltas[side] {
			bad, err = d.deltaList(start, end, deltas, fieldPath(deltas))
		} else if hasCounts[side] {
			err = d.doubleList(start, end, counts, fieldPath(counts))
		}
		if err != nil {
			return err
		}
		if bad != nil && dropErr == nil {
			dropErr = bad
		}
		if side == 0 {
			h.NegativeBuckets = clip(d.floats[f0:])
		} else {
			h.PositiveBuckets = clip(d.floats[f0:])
		}
	}
	f0 := len(d.floats)
	if err = d.doubleList(start, end, hCustomValues, fieldPath(hCustomValues)); err != nil {
		return err
	}
	h.CustomValues = clip(d.floats[f0:])
	if dropErr == nil && !h.IsStale() {
		// A stale marker carries no buckets worth checking.
		dropErr = h.Validate()
	}
	if dropErr != nil {
		if d.dropped == nil {
			d.dropped = fmt.Errorf("%s: %w", at, dropErr)
		}
		return nil
	}
	d.hists = append(d.hists, h)
	return nil
}

// clip returns s with no spare capacity, or nil when empty, so that an
// append by a consumer can never write into the arena.
func clip[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s[:len(s):len(s)]
}

// spanList appends the BucketSpan messages of field num.
func (d *decoder) spanList(start, end int, num protowire.Number, at loc) error {
	for off := start; off < end; {
		n, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		next, ps, pe, _, err := d.value(n, typ, voff, end, at)
		if err != nil {
			return err
		}
		if n == num {
			var sp metrics.Span
			for o := ps; o < pe; {
				fn, ft, fv, err := d.next(o, pe, at)
				if err != nil {
					return err
				}
				nx, _, _, v, err := d.value(fn, ft, fv, pe, at)
				if err != nil {
					return err
				}
				switch fn {
				case 1: // sint32 offset
					if ft != protowire.VarintType {
						return wrongType(at.with(at.field+".offset"), o, ft)
					}
					sp.Offset = int32(protowire.DecodeZigZag(v & math.MaxUint32))
				case 2: // uint32 length
					if ft != protowire.VarintType {
						return wrongType(at.with(at.field+".length"), o, ft)
					}
					sp.Length = uint32(v)
				}
				o = nx
			}
			d.spans = append(d.spans, sp)
		}
		off = next
	}
	return nil
}

// deltaList appends the absolute counts encoded by the sint64 deltas of
// field num (packed or not). bad reports counts that are negative or
// overflow, which drop the series rather than fail the request.
func (d *decoder) deltaList(start, end int, num protowire.Number, at loc) (bad error, err error) {
	var run int64
	add := func(v uint64) {
		delta := protowire.DecodeZigZag(v)
		sum := run + delta
		if (delta > 0 && sum < run) || (delta < 0 && sum > run) {
			bad = errors.New("bucket count overflows int64")
		} else if sum < 0 && bad == nil {
			bad = fmt.Errorf("bucket count %d is negative", sum)
		}
		run = sum
		d.floats = append(d.floats, float64(run))
	}
	err = d.repeated(start, end, num, at, protowire.VarintType, add)
	return bad, err
}

// doubleList appends the doubles of field num (packed or not).
func (d *decoder) doubleList(start, end int, num protowire.Number, at loc) error {
	return d.repeated(start, end, num, at, protowire.Fixed64Type, func(v uint64) {
		d.floats = append(d.floats, math.Float64frombits(v))
	})
}

// repeated calls add for every element of repeated scalar field num,
// whether packed (one length-delimited run) or not.
func (d *decoder) repeated(start, end int, num protowire.Number, at loc, elem protowire.Type, add func(uint64)) error {
	for off := start; off < end; {
		n, typ, voff, err := d.next(off, end, at)
		if err != nil {
			return err
		}
		next, ps, pe, v, err := d.value(n, typ, voff, end, at)
		if err != nil {
			return err
		}
		if n == num {
			if typ != protowire.BytesType {
				add(v)
			} else {
				for o := ps; o < pe; {
					var x uint64
					var k int
					if elem == protowire.VarintType {
						x, k = protowire.ConsumeVarint(d.b[o:pe])
					} else {
						x, k = protowire.ConsumeFixed64(d.b[o:pe])
					}
					if k < 0 {
						return fieldErr(at, o, protowire.ParseError(k))
					}
					add(x)
					o += k
				}
			}
		}
		off = next
	}
	return nil
}

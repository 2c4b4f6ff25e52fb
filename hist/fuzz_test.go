package hist

import (
	"bytes"
	"math"
	"slices"
	"testing"
)

func FuzzUnmarshalBinary(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 1, 50, 0xfd, 0, 1})
	f.Add([]byte{0, 3, 0xec, 1, 0, 1, 0xce, 0xff, 0, 1, 10, 0xfd, 0, 1})
	f.Add([]byte{0, 1, 10, 0, 7, 1, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0, 2, 0xff, 0, 0, 3, 10, 0x80, 0, 1})
	f.Add([]byte{0xff, 0xff, 10, 0, 0, 1})
	f.Add(fromValues(f, []float64{0, 1e-5, 0.002, 0.0021, 3, -7, 1e100}).AppendBinary(nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Histogram
		if err := h.UnmarshalBinary(b); err != nil {
			if !h.Equal(New()) {
				t.Fatal("histogram changed on error")
			}
			return
		}
		enc := h.AppendBinary(nil)
		var back Histogram
		if err := back.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if !back.Equal(&h) {
			t.Fatal("decode(encode(decode(b))) != decode(b)")
		}
		if again := back.AppendBinary(nil); !bytes.Equal(again, enc) {
			t.Fatal("encoding is not canonical")
		}
		var n uint64
		for b := range h.Bins() {
			n += b.Count
		}
		if n != h.Count() {
			t.Fatalf("bins add up to %d, Count %d", n, h.Count())
		}
		_ = h.Quantile(0.5)
		_ = h.Modes()
	})
}

func FuzzInsert(f *testing.F) {
	for _, v := range []float64{0, 0.005, math.Nextafter(0.005, 0), -0.25, 1e-128, math.Nextafter(1e-128, 0),
		math.Nextafter(1e128, 0), 1e128, math.Inf(1), math.NaN(), 5e-324, math.MaxFloat64, 9.9e5} {
		f.Add(v, 0.005)
	}
	f.Fuzz(func(t *testing.T, v, x float64) {
		var h Histogram
		if err := h.Insert(v); err != nil {
			if !(math.IsNaN(v) || math.Abs(v) >= 1e128) {
				t.Fatalf("Insert(%v): %v", v, err)
			}
			if h.Count() != 0 {
				t.Fatal("histogram changed on error")
			}
			return
		}
		var bins []Bin
		for b := range h.Bins() {
			bins = append(bins, b)
		}
		if len(bins) != 1 || bins[0].Count != 1 {
			t.Fatalf("Insert(%v) gave bins %v", v, bins)
		}
		b := bins[0]
		switch {
		case b.Lower == 0 && b.Upper == 0:
			if math.Abs(v) >= 1e-128 {
				t.Fatalf("%v in the zero bin", v)
			}
		case v > 0:
			if !(b.Lower <= v && v < b.Upper) {
				t.Fatalf("%v in [%v, %v)", v, b.Lower, b.Upper)
			}
		default:
			if !(b.Lower < v && v <= b.Upper) {
				t.Fatalf("%v in (%v, %v]", v, b.Lower, b.Upper)
			}
		}
		if lo, hi, ok := BinBounds(v); !ok || lo != b.Lower || hi != b.Upper {
			t.Fatalf("BinBounds(%v) = %v, %v, %v; bin [%v, %v]", v, lo, hi, ok, b.Lower, b.Upper)
		}
		// The first insert made v's block and window entry; the second
		// finds its counter the fast way and must count the same bin.
		if err := h.Insert(v); err != nil {
			t.Fatalf("second Insert(%v): %v", v, err)
		}
		if got := slices.Collect(h.Bins()); len(got) != 1 || got[0] != (Bin{Lower: b.Lower, Upper: b.Upper, Count: 2}) {
			t.Fatalf("Insert(%v) twice gave bins %v", v, got)
		}
		if err := h.InsertN(v, math.MaxUint64); err != ErrCountOverflow {
			t.Fatalf("InsertN(%v, 2^64-1) after two samples: %v, want ErrCountOverflow", v, err)
		}
		h.Reset()
		_ = h.Insert(v)
		// Queries at any x: the counts bracket the truth and stay in range.
		below, atOrBelow, above := h.CountBelow(x), h.CountAtOrBelow(x), h.CountAbove(x)
		lt, le := uint64(0), uint64(0)
		if v < x {
			lt = 1
		}
		if v <= x {
			le = 1
		}
		if x == x && !(below <= lt && le <= atOrBelow && atOrBelow+above == 1) {
			t.Fatalf("v=%v x=%v: below %d atOrBelow %d above %d", v, x, below, atOrBelow, above)
		}
		if q := h.Quantile(x); !math.IsNaN(q) && !(q >= b.Lower && q <= b.Upper) {
			t.Fatalf("Quantile(%v) = %v outside [%v, %v]", x, q, b.Lower, b.Upper)
		}
	})
}

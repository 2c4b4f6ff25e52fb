package hist

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestCompactRoundTripsAndMerges(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	draw := func() []float64 {
		switch r.IntN(4) {
		case 0:
			return nil
		case 1: // a sparse minute
			return lognormal(r, 1+r.IntN(4), 0.003, 0.8)
		case 2: // negative, zero and far-apart values
			return []float64{-r.ExpFloat64(), 0, 1e-200, r.ExpFloat64() * 1e9, 5e-3, -1e127, 9.9e127}
		}
		return lognormal(r, 500, 0.02, 2)
	}
	for i := range 500 {
		src := fromValues(t, draw())
		var back Histogram
		if err := back.MergeCompact(src.AppendCompact(nil)); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !back.Equal(src) {
			t.Fatalf("case %d: %d bins came back as %d", i, src.NumBins(), back.NumBins())
		}
		dst := fromValues(t, draw())
		want := dst.Clone()
		want.Merge(src)
		if err := dst.MergeCompact(src.AppendCompact([]byte{})); err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !dst.Equal(want) {
			t.Fatalf("case %d: MergeCompact differs from Merge", i)
		}
		// Inserting afterwards must find the blocks MergeCompact added.
		for _, v := range draw() {
			_ = dst.Insert(v)
			_ = want.Insert(v)
		}
		if !dst.Equal(want) {
			t.Fatalf("case %d: inserts after MergeCompact differ from inserts after Merge", i)
		}
	}
}

func TestCompactIsSmallForASparseMinute(t *testing.T) {
	h := fromValues(t, []float64{0.0021, 0.0034, 0.0034, 0.012})
	if n := len(h.AppendCompact(nil)); n > 9 {
		t.Errorf("three bins take %d bytes, want at most 9", n)
	}
}

func TestMergeCompactRefusesCorruptInputUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"A code cut short.", []byte{0x80}},
		{"A count missing.", []byte{5}},
		{"A count cut short.", []byte{5, 0x80}},
		{"A code of zero.", []byte{0, 1}},
		{"A code that does not ascend.", []byte{5, 1, 0, 1}},
		{"A code beyond the last bin.", []byte{0xff, 0xff, 0x7f, 1}},
		{"A count of zero.", []byte{5, 0}},
		{"Counts past 2^64-1.", []byte{5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fromValues(t, []float64{0.5, 3, math.SmallestNonzeroFloat64})
			before := h.Clone()
			if err := h.MergeCompact(tc.in); !errors.Is(err, ErrCorrupt) {
				t.Errorf("MergeCompact(% x) = %v, want an error wrapping ErrCorrupt", tc.in, err)
			}
			if !h.Equal(before) {
				t.Error("the histogram changed")
			}
		})
	}
}

func FuzzMergeCompact(f *testing.F) {
	f.Add(fromValues(f, []float64{0, -2, 0.003, 1e9}).AppendCompact(nil))
	f.Add([]byte{5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Histogram
		if err := h.MergeCompact(b); err != nil {
			return
		}
		// What it accepted must come back the same.
		var again Histogram
		if err := again.MergeCompact(h.AppendCompact(nil)); err != nil || !again.Equal(&h) {
			t.Fatalf("re-encoding % x: %v", b, err)
		}
	})
}

package hist

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSubUndoesMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 3))
	for i := range 40 {
		va := randomValues(r, i, 1+r.IntN(2000))
		vb := randomValues(r, i+1+r.IntN(4), 1+r.IntN(2000))
		t.Run(fmt.Sprintf("shapes %d and %d", i%5, (i+1)%5), func(t *testing.T) {
			a, b := fromValues(t, va), fromValues(t, vb)
			ab := merged(a, b)
			got := ab.Clone()
			if err := got.Sub(b); err != nil {
				t.Fatalf("Sub: %v", err)
			}
			if !got.Equal(a) {
				t.Fatalf("(a+b)-b has %d samples in %d bins, want a's %d in %d", got.Count(), got.NumBins(), a.Count(), a.NumBins())
			}
			// Blocks emptied by the subtraction are gone: the encoding and
			// a histogram built from the samples agree byte for byte.
			if !slices.Equal(got.AppendBinary(nil), a.AppendBinary(nil)) {
				t.Fatal("encoding of (a+b)-b differs from a's")
			}
			// The result keeps working as a histogram.
			got.Merge(b)
			if !got.Equal(ab) {
				t.Fatal("(a+b)-b+b != a+b")
			}
		})
	}
}

func TestSubRefusesWhatIsNotContained(t *testing.T) {
	cases := []struct {
		name string
		h, o []float64
	}{
		{"a bin holds fewer", []float64{0.005, 0.005}, []float64{0.005, 0.005, 0.005}},
		{"a decade is missing", []float64{0.005}, []float64{0.5}},
		{"a bin is missing in a present decade", []float64{0.005}, []float64{0.006}},
		{"the zero bin holds fewer", []float64{0, 1}, []float64{0, 0}},
		{"more samples in all", []float64{1}, []float64{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, o := fromValues(t, tc.h), fromValues(t, tc.o)
			before := h.Clone()
			if err := h.Sub(o); !errors.Is(err, ErrNotContained) {
				t.Fatalf("Sub: %v, want ErrNotContained", err)
			}
			if !h.Equal(before) {
				t.Fatal("a refused Sub changed the histogram")
			}
		})
	}
}

func TestSubEdgeCases(t *testing.T) {
	h := fromValues(t, []float64{-2, 0, 0.001, 3})
	before := h.Clone()
	if err := h.Sub(nil); err != nil || !h.Equal(before) {
		t.Fatalf("Sub(nil): %v", err)
	}
	if err := h.Sub(New()); err != nil || !h.Equal(before) {
		t.Fatalf("Sub(empty): %v", err)
	}
	if err := h.Sub(h); err != nil || h.Count() != 0 || !h.Equal(New()) {
		t.Fatalf("h.Sub(h): %v, %d left", err, h.Count())
	}
	all := fromValues(t, []float64{-2, 0, 0.001, 3})
	if err := all.Sub(before); err != nil || !all.Equal(New()) || len(all.AppendBinary(nil)) != 2 {
		t.Fatalf("subtracting everything: %v, %d left", err, all.Count())
	}
}

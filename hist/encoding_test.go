package hist

import (
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestEncodingKnownBytes(t *testing.T) {
	f := func(name string, vals []float64, want []byte) {
		t.Helper()
		h := fromValues(t, vals)
		if got := h.AppendBinary(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendBinary = %x, want %x", name, got, want)
		}
		var back Histogram
		if err := back.UnmarshalBinary(want); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !back.Equal(h) {
			t.Errorf("%s: decoded histogram differs", name)
		}
	}
	f("empty", nil, []byte{0, 0})
	f("5 ms", []float64{0.005}, []byte{0, 1, 50, 0xfd, 0, 1})
	f("zero first", []float64{1, 0}, []byte{0, 2, 0, 0, 0, 1, 10, 0, 0, 1})
	f("negative first, largest magnitude first", []float64{-0.5, -20, 1e-3},
		[]byte{0, 3, 0xec, 1, 0, 1, 0xce, 0xff, 0, 1, 10, 0xfd, 0, 1})
	h := New()
	if err := h.InsertN(2, 0x1234); err != nil {
		t.Fatal(err)
	}
	if got, want := h.AppendBinary(nil), []byte{0, 1, 20, 0, 1, 0x34, 0x12}; !bytes.Equal(got, want) {
		t.Errorf("count 0x1234: %x, want %x (little-endian count bytes)", got, want)
	}
}

func TestAppendBinaryAppends(t *testing.T) {
	h := fromValues(t, []float64{0.001, 0.002})
	prefix := []byte("prefix")
	got := h.AppendBinary(prefix)
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], h.AppendBinary(nil)) {
		t.Fatalf("AppendBinary(prefix) = %q", got)
	}
	m, err := h.MarshalBinary()
	if err != nil || !bytes.Equal(m, got[len(prefix):]) {
		t.Fatalf("MarshalBinary = %x, %v", m, err)
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for shape := range 5 {
		h := fromValues(t, randomValues(r, shape, 3000))
		var back Histogram
		if err := back.UnmarshalBinary(h.AppendBinary(nil)); err != nil {
			t.Fatal(err)
		}
		if !back.Equal(h) {
			t.Fatalf("shape %d: round trip differs", shape)
		}
	}
}

func TestDecodeStream(t *testing.T) {
	a := fromValues(t, []float64{0.001, 0.003})
	b := fromValues(t, []float64{-2, 0, 7e7})
	buf := b.AppendBinary(a.AppendBinary(nil))
	var got Histogram
	rest, err := got.Decode(buf)
	if err != nil || !got.Equal(a) {
		t.Fatalf("first: %v", err)
	}
	rest, err = got.Decode(rest)
	if err != nil || !got.Equal(b) || len(rest) != 0 {
		t.Fatalf("second: %v, %d bytes left", err, len(rest))
	}
}

func TestDecodeLenient(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want *Histogram
	}{
		{"bins out of order", []byte{0, 2, 20, 0, 0, 1, 10, 0, 0, 1}, fromValues(t, []float64{1, 2})},
		{"repeated bin adds", []byte{0, 2, 10, 0, 0, 1, 10, 0, 0, 2}, fromValues(t, []float64{1, 1, 1})},
		{"zero count skipped", []byte{0, 2, 10, 0, 0, 0, 20, 0, 0, 1}, fromValues(t, []float64{2})},
		{"NaN bin skipped", []byte{0, 2, 0xff, 0, 0, 3, 10, 0, 0, 1}, fromValues(t, []float64{1})},
		{"val 100 is NaN too", []byte{0, 1, 100, 0, 0, 3}, New()},
		{"zero bin with an exponent", []byte{0, 1, 0, 5, 0, 2}, fromValues(t, []float64{0, 0})},
		{"8-byte count", []byte{0, 1, 10, 0, 7, 1, 0, 0, 0, 0, 0, 0, 1}, func() *Histogram {
			h := New()
			_ = h.InsertN(1, 1<<56+1)
			return h
		}()},
		{"non-minimal count width", []byte{0, 1, 10, 0, 3, 5, 0, 0, 0}, fromValues(t, []float64{1, 1, 1, 1, 1})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			if err := h.UnmarshalBinary(tc.in); err != nil {
				t.Fatal(err)
			}
			if !h.Equal(tc.want) {
				t.Errorf("decoded %v, want %v", h.AppendBinary(nil), tc.want.AppendBinary(nil))
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    []byte
		msg   string // substring of the error
		trunc bool   // wraps io.ErrUnexpectedEOF
	}{
		{"empty", nil, "at byte 0: need 2 bytes for the bin count, have 0", true},
		{"one byte", []byte{0}, "at byte 0: need 2 bytes", true},
		{"missing bin", []byte{0, 1}, "at byte 2: bin 0 of 1: need 3 header bytes, have 0", true},
		{"short header", []byte{0, 2, 10, 0, 0, 1, 10, 0}, "at byte 6: bin 1 of 2: need 3 header bytes, have 2", true},
		{"short count", []byte{0, 1, 10, 0, 3, 1, 2}, "at byte 5: bin 0 of 1: need 4 count bytes, have 2", true},
		{"bad length code", []byte{0, 1, 10, 0, 8, 1}, "at byte 4: bin 0 of 1: count length code 8, want 0..7", false},
		{"total overflows", []byte{0, 2, 10, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 20, 0, 0, 1},
			"at byte 13: bin 1 of 2: total count exceeds 2^64-1", false},
		{"trailing bytes", []byte{0, 0, 1, 2, 3}, "3 trailing bytes at byte 2", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fromValues(t, []float64{0.5})
			before := h.Clone()
			err := h.UnmarshalBinary(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrCorrupt) || errors.Is(err, io.ErrUnexpectedEOF) != tc.trunc {
				t.Errorf("error %q: Is(ErrCorrupt) %v, Is(ErrUnexpectedEOF) %v", err, errors.Is(err, ErrCorrupt), errors.Is(err, io.ErrUnexpectedEOF))
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q, want it to contain %q", err, tc.msg)
			}
			if !h.Equal(before) {
				t.Error("histogram changed on error")
			}
		})
	}
}

func TestDecodeReusesStorage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	enc := fromValues(t, lognormal(r, 5000, 0.002, 0.7)).AppendBinary(nil)
	var h Histogram
	if err := h.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = h.UnmarshalBinary(enc) }); allocs != 0 {
		t.Errorf("UnmarshalBinary into a used histogram allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { enc = h.AppendBinary(enc[:0]) }); allocs != 0 {
		t.Errorf("AppendBinary into a large enough buffer allocates %v times", allocs)
	}
}

func TestEncodedSizeBound(t *testing.T) {
	h := New()
	_ = h.InsertN(1, math.MaxUint64)
	if got := len(h.AppendBinary(nil)); got != 2+3+8 {
		t.Errorf("size %d", got)
	}
}

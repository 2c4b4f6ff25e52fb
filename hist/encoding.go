package hist

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// The libcircllhist serialization, as written by its hist_serialize and by
// circonusllhist's Serialize:
//
//	nbins  uint16, big-endian: number of bins that follow
//	nbins × bin:
//	  val   int8   ±10..±99, or 0 for the zero bin
//	  exp   int8   -128..127
//	  code  uint8  0..7: the count takes code+1 bytes
//	  count code+1 bytes, least significant first
//
// Bins with a zero count are not written. Bins are written in ascending value
// order; for samples ≥ 0 this is circonusllhist's order too. (circonusllhist
// v0.4.1 sorts by magnitude ignoring the sign, and in fact files a negative
// sample into the positive bin of the same magnitude when that bin exists,
// so no byte compatibility with it is possible for negative samples; the
// order here is libcircllhist's.)

// ErrCorrupt is wrapped by every error of UnmarshalBinary and Decode.
// Truncated input wraps io.ErrUnexpectedEOF as well.
var ErrCorrupt = errors.New("hist: corrupt circllhist encoding")

// AppendBinary appends the libcircllhist serialization of h to dst and
// returns the extended slice. The output is byte-identical to
// circonusllhist's Serialize for the same samples when none is negative.
//
// Unlike encoding.BinaryAppender it returns no error: encoding cannot fail.
func (h *Histogram) AppendBinary(dst []byte) []byte {
	// The bin count goes first; it is patched in at the end rather than
	// counted beforehand, which took as long as writing the bins.
	at := len(dst)
	dst = append(dst, 0, 0)
	n := 0
	appendBin := func(val, exp int8, c uint64) {
		n++
		code := 0
		if c > 0xff {
			code = (bits.Len64(c) - 1) / 8
		}
		dst = append(dst, byte(val), byte(exp), byte(code))
		for i := 0; i <= code; i++ {
			dst = append(dst, byte(c>>(8*i)))
		}
	}
	zeroDone := h.zero == 0
	for d, blk := range h.blocks {
		if !zeroDone && d >= numDecades {
			zeroDone = true
			appendBin(0, 0, h.zero)
		}
		if d < numDecades {
			exp := int8(numDecades - 1 - d - 128)
			for j := binsPerDecade - 1; j >= 0; j-- {
				if c := blk[j]; c != 0 {
					appendBin(int8(-10-j), exp, c)
				}
			}
			continue
		}
		exp := int8(d - numDecades - 128)
		for j, c := range blk {
			if c != 0 {
				appendBin(int8(10+j), exp, c)
			}
		}
	}
	if !zeroDone {
		appendBin(0, 0, h.zero)
	}
	dst[at], dst[at+1] = byte(n>>8), byte(n)
	return dst
}

// MarshalBinary returns the libcircllhist serialization of h (see
// AppendBinary). It implements encoding.BinaryMarshaler and never fails.
func (h *Histogram) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, 2+6*h.NumBins())), nil
}

// UnmarshalBinary replaces the contents of h with the histogram serialized in
// b, which must hold exactly one libcircllhist serialization. See Decode for
// what is accepted. On error h is unchanged.
func (h *Histogram) UnmarshalBinary(b []byte) error {
	_, err := h.decode(b, true)
	return err
}

// Decode replaces the contents of h with the libcircllhist serialization at
// the start of b and returns the bytes after it, so that several histograms
// can be read from one buffer without copying.
//
// Like libcircllhist's reader it accepts bins in any order and repeated bins
// (their counts add), skips bins with a zero count, and skips the NaN bins
// that libcircllhist writes for NaN and infinite samples (val 1..9 or
// 100..128 in magnitude): those are not samples any reader counts. A zero
// bin is accepted with any exponent.
//
// Errors wrap ErrCorrupt and say what is wrong at which byte offset: a
// truncated buffer (also wrapping io.ErrUnexpectedEOF), a count length code
// above 7, or counts whose total exceeds 2^64-1. On error h is unchanged.
// Decode never panics.
func (h *Histogram) Decode(b []byte) (rest []byte, err error) {
	return h.decode(b, false)
}

// decode implements Decode; whole requires b to hold nothing else.
func (h *Histogram) decode(b []byte, whole bool) (rest []byte, err error) {
	// First pass: check everything and find the decades, so that h is
	// only touched once the input is known good.
	end, total, occ, err := check(b)
	if err != nil {
		return b, err
	}
	if whole && end != len(b) {
		return b, fmt.Errorf("%w: %d trailing bytes at byte %d", ErrCorrupt, len(b)-end, end)
	}

	n := 0
	for _, o := range occ {
		n += bits.OnesCount64(o)
	}
	h.occ, h.total, h.zero = occ, total, 0
	h.setRanks()
	if cap(h.counts) < n*binsPerDecade {
		h.counts = make([]uint64, n*binsPerDecade)
	} else {
		h.counts = h.counts[:n*binsPerDecade]
		clear(h.counts)
	}
	// Second pass cannot fail: same input, and no counter can overflow as
	// the total did not.
	_, _ = scan(b, func(d, j int, c uint64) error {
		if d < 0 {
			h.zero += c
			return nil
		}
		r, _ := h.pos(d)
		h.counts[r*binsPerDecade+j] += c
		return nil
	})
	return b[end:], nil
}

// check is the first pass of decode: it finds the end
// of the serialization at the start of b, its total count (refusing one
// past 2^64-1) and the decades it occupies.
func check(b []byte) (end int, total uint64, occ [decades / 64]uint64, err error) {
	end, err = scan(b, func(d, _ int, c uint64) error {
		sum, carry := bits.Add64(total, c, 0)
		if carry != 0 {
			return errors.New("total count exceeds 2^64-1")
		}
		total = sum
		if d >= 0 {
			occ[d>>6] |= 1 << (d & 63)
		}
		return nil
	})
	return end, total, occ, err
}

// scan walks the serialized bins in b and calls f for every bin that holds
// samples, with its decade d and offset j (d = -1 for the zero bin). It returns
// the offset just past the serialization.
func scan(b []byte, f func(d, j int, c uint64) error) (end int, err error) {
	if len(b) < 2 {
		return 0, fmt.Errorf("%w at byte 0: need 2 bytes for the bin count, have %d: %w", ErrCorrupt, len(b), io.ErrUnexpectedEOF)
	}
	nbins := int(b[0])<<8 | int(b[1])
	off := 2
	for i := range nbins {
		if len(b)-off < 3 {
			return 0, fmt.Errorf("%w at byte %d: bin %d of %d: need 3 header bytes, have %d: %w",
				ErrCorrupt, off, i, nbins, len(b)-off, io.ErrUnexpectedEOF)
		}
		val, exp, code := int8(b[off]), int8(b[off+1]), int(b[off+2])
		if code > 7 {
			return 0, fmt.Errorf("%w at byte %d: bin %d of %d: count length code %d, want 0..7",
				ErrCorrupt, off+2, i, nbins, code)
		}
		if len(b)-off-3 < code+1 {
			return 0, fmt.Errorf("%w at byte %d: bin %d of %d: need %d count bytes, have %d: %w",
				ErrCorrupt, off+3, i, nbins, code+1, len(b)-off-3, io.ErrUnexpectedEOF)
		}
		var c uint64
		for k := range code + 1 {
			c |= uint64(b[off+3+k]) << (8 * k)
		}
		at := off
		off += 4 + code
		if c == 0 {
			continue
		}
		d, j := -1, 0
		switch av := int(val); {
		case av == 0:
		case av >= 10 && av <= 99:
			d, j = numDecades+int(exp)+128, av-10
		case av <= -10 && av >= -99:
			d, j = numDecades-1-(int(exp)+128), -av-10
		default:
			continue // a NaN bin
		}
		if err := f(d, j, c); err != nil {
			return 0, fmt.Errorf("%w at byte %d: bin %d of %d: %v", ErrCorrupt, at, i, nbins, err)
		}
	}
	return off, nil
}

package hist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// The compact form is nines' own in-memory encoding of a histogram, for
// holding many small ones (a year of one-minute rollups) in few bytes:
// for each occupied bin in ascending code order, the uvarint difference
// of its code from the previous one and the uvarint count, where the
// zero bin is code 1 and bin j of decade d is 2 + 90·d + j. A minute of
// a few requests takes 6 to 10 bytes, against 4 bytes a bin and 2 more
// in the circllhist serialization. Its layout may change with nines:
// store and exchange histograms with AppendBinary.

// AppendCompact walks a decade's counters ten at a time: this fails to
// compile unless they come in tens.
var _ [binsPerDecade % 10]struct{} = [0]struct{}{}

// maxCompactCode is the code of the last bin of the last decade.
const maxCompactCode = 2 + decades*binsPerDecade - 1

// AppendCompact appends the compact form of h to dst (see above).
func (h *Histogram) AppendCompact(dst []byte) []byte {
	prev := uint64(0)
	if h.zero != 0 {
		dst = binary.AppendUvarint(dst, 1)
		dst = binary.AppendUvarint(dst, h.zero)
		prev = 1
	}
	for d, blk := range h.blocks {
		base := 2 + uint64(d)*binsPerDecade
		// A minute of a few requests has a few bins in 270 counters: skip
		// ten empty ones at a time.
		for g := 0; g < binsPerDecade; g += 10 {
			ten := (*[10]uint64)(blk[g : g+10])
			if ten[0]|ten[1]|ten[2]|ten[3]|ten[4]|ten[5]|ten[6]|ten[7]|ten[8]|ten[9] == 0 {
				continue
			}
			for k, c := range ten {
				if c != 0 {
					code := base + uint64(g+k)
					dst = binary.AppendUvarint(dst, code-prev)
					dst = binary.AppendUvarint(dst, c)
					prev = code
				}
			}
		}
	}
	return dst
}

// MergeCompact adds the histogram whose compact form is all of b to h, as
// Merge adds a decoded one (counts saturate at 2^64-1). An error wraps
// ErrCorrupt, says what is wrong at which byte, and leaves h unchanged.
func (h *Histogram) MergeCompact(b []byte) error {
	// First pass: check everything, so that h is only touched once the
	// input is known good.
	var total uint64
	err := scanCompact(b, func(_ uint64, c uint64) error {
		sum, carry := bits.Add64(total, c, 0)
		if carry != 0 {
			return errors.New("total count exceeds 2^64-1")
		}
		total = sum
		return nil
	})
	if err != nil {
		return err
	}
	_ = scanCompact(b, func(code, c uint64) error {
		if code == 1 {
			h.zero = addSat(h.zero, c)
			return nil
		}
		d, j := int((code-2)/binsPerDecade), int((code-2)%binsPerDecade)
		r, ok := h.pos(d)
		if !ok {
			h.addBlock(d)
			r, _ = h.pos(d)
		}
		i := r*binsPerDecade + j
		h.counts[i] = addSat(h.counts[i], c)
		return nil
	})
	h.total = addSat(h.total, total)
	return nil
}

// scanCompact calls f with the code and count of each bin of the compact
// form b, checking that codes ascend within range and counts are not zero.
func scanCompact(b []byte, f func(code, c uint64) error) error {
	var code uint64
	for off := 0; off < len(b); {
		at := off
		delta, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return fmt.Errorf("%w at byte %d: compact bin code cut short or too long", ErrCorrupt, at)
		}
		off += n
		c, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return fmt.Errorf("%w at byte %d: compact bin count cut short or too long", ErrCorrupt, off)
		}
		off += n
		switch {
		case delta == 0 || delta > maxCompactCode-code:
			return fmt.Errorf("%w at byte %d: compact bin code %d after %d, want one above it up to %d", ErrCorrupt, at, code+delta, code, maxCompactCode)
		case c == 0:
			return fmt.Errorf("%w at byte %d: compact bin with a count of zero", ErrCorrupt, at)
		}
		code += delta
		if err := f(code, c); err != nil {
			return fmt.Errorf("%w at byte %d: %v", ErrCorrupt, at, err)
		}
	}
	return nil
}

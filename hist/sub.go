package hist

import (
	"errors"
	"math/bits"
)

// ErrNotContained is returned by Sub when some bin of the histogram to
// subtract holds more than the same bin of the receiver.
var ErrNotContained = errors.New("hist: subtrahend is not contained in the histogram")

// Sub removes the samples of o from h, bin by bin, so that h describes the
// samples of h that are not in o. It is the inverse of Merge: after
// h.Merge(o), h.Sub(o) restores h exactly.
//
// Every bin of o must hold at most what the same bin of h holds, or Sub
// returns ErrNotContained and leaves h unchanged: a histogram cannot hold
// negative counts, and a partial result would be wrong silently. A nil o
// is a no-op; h.Sub(h) empties h.
func (h *Histogram) Sub(o *Histogram) error {
	if o == nil || o.total == 0 {
		return nil
	}
	if !h.contains(o) {
		return ErrNotContained
	}
	if o == h {
		h.Reset()
		return nil
	}
	h.zero -= o.zero
	h.total -= o.total
	emptied := false
	for dst, src := range h.pairedBlocks(o) {
		var left uint64
		for i := range dst {
			dst[i] -= src[i]
			left |= dst[i]
		}
		emptied = emptied || left == 0
	}
	if emptied {
		h.dropEmptyBlocks()
	}
	return nil
}

// contains reports whether every bin of o holds at most what the same bin
// of h holds.
func (h *Histogram) contains(o *Histogram) bool {
	if o.total > h.total || o.zero > h.zero {
		return false
	}
	for w, ow := range o.occ {
		if ow&^h.occ[w] != 0 {
			return false // o has a decade h lacks (o's blocks are never all zero)
		}
	}
	for dst, src := range h.pairedBlocks(o) {
		for i := range src {
			if src[i] > dst[i] {
				return false
			}
		}
	}
	return true
}

// dropEmptyBlocks removes the blocks whose counters are all zero, which
// Equal and the encoding rely on never existing.
func (h *Histogram) dropEmptyBlocks() {
	keep := 0
	r := 0
	for w := range h.occ {
		for o := h.occ[w]; o != 0; {
			b := bits.TrailingZeros64(o)
			o &= o - 1
			blk := h.counts[r*binsPerDecade : (r+1)*binsPerDecade]
			r++
			if allZero(blk) {
				h.occ[w] &^= 1 << b
				continue
			}
			copy(h.counts[keep*binsPerDecade:], blk)
			keep++
		}
	}
	h.counts = h.counts[:keep*binsPerDecade]
	h.setRanks()
}

// allZero reports whether every counter of blk is zero. (A sum could wrap
// to zero.)
func allZero(blk []uint64) bool {
	var or uint64
	for _, c := range blk {
		or |= c
	}
	return or == 0
}

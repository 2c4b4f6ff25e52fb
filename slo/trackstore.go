package slo

import "encoding/binary"

// How a Tracker keeps its quanta. A 30-day window of one-minute quanta is
// 43,200 contributions; held as they are (64 bytes each) that is 2.6 MiB
// per SLO, 26 GiB for 10,000 SLOs. Almost all of them repeat: a month
// with a day of traffic is 29 days of quanta nothing reported for, each
// the same contribution. So the ring is cut into blocks of blockSlots
// slots, and each block is kept as a string: its sums (for Span) and then
// its contributions as runs of equal ones, counts as varints. A block of
// silence is a few bytes, and neighbouring blocks that encode alike share
// one string. One block at a time is decoded (hot) for writing: time moves
// forward and late data lands near the head, so writes stay in it. Every
// figure is an integer sum of the same contributions as before, so the
// answers are exactly those of the dense ring.

// blockSlots is how many ring slots one block holds: Span adds up a 3-day
// span from 72 block sums and two ragged edges instead of 4,320 slots.
const blockSlots = 60

// A block's counts of quanta are kept in a byte each.
var _ [255 - blockSlots]struct{}

// spanSum is what Span adds up of a run of slots.
type spanSum struct {
	quanta, unmeasured, good, bad int
	attempted, goodEvents         uint64
	down                          downtime
}

// add adds (sign 1) or takes away (sign -1) one slot's contribution.
func (s *spanSum) add(c *contribution, sign int) { s.addN(c, sign) }

// addN adds n slots holding c (n < 0 takes them away).
func (s *spanSum) addN(c *contribution, n int) {
	if !c.set || c.verdict == quantumOutside || n == 0 {
		return
	}
	s.quanta += n
	if c.unmeasured {
		s.unmeasured += n
	}
	switch c.verdict {
	case quantumGood:
		s.good += n
	case quantumBad:
		s.bad += n
	}
	// Unsigned sums wrap exactly: adding n copies and taking them away
	// again restores the sum whatever the sign.
	s.attempted += c.attempted * uint64(n)
	s.goodEvents += c.good * uint64(n)
	s.down += c.down * downtime(n)
}

func (s *spanSum) merge(o *spanSum) {
	s.quanta += o.quanta
	s.unmeasured += o.unmeasured
	s.good += o.good
	s.bad += o.bad
	s.attempted += o.attempted
	s.goodEvents += o.goodEvents
	s.down += o.down
}

// addN adds n copies of o to the sum c (n < 0 takes them away).
func (c *contribution) addN(o *contribution, n int64) {
	m := uint64(n)
	c.attempted += o.attempted * m
	c.good += o.good * m
	c.errors += o.errors * m
	c.slow += o.slow * m
	c.latencies += o.latencies * m
	c.over += o.over * m
	c.down += o.down * downtime(n)
}

// The tag byte of an encoded contribution: bit 0 set, bit 1 unmeasured,
// bits 2–3 the verdict, bit 4 counts follow, bits 5–6 the downtime (none,
// a whole quantum, or a varint follows). Bits 5–6 both set is no
// downtime a judge gives: that tag marks a repeat of the entry before,
// with the number of extra copies as a varint.
const (
	tagSet        = 1 << 0
	tagUnmeasured = 1 << 1
	tagVerdict    = 2
	tagCounts     = 1 << 4
	tagDownShift  = 5
	downNone      = 0
	downWhole     = 1
	downVarint    = 2
	tagRepeat     = 3 << tagDownShift
)

// appendEntry appends the encoding of c.
func appendEntry(b []byte, c *contribution) []byte {
	if !c.set {
		return append(b, 0)
	}
	tag := byte(tagSet) | byte(c.verdict)<<tagVerdict
	if c.unmeasured {
		tag |= tagUnmeasured
	}
	counts := c.attempted|c.good|c.errors|c.slow|c.latencies|c.over != 0
	if counts {
		tag |= tagCounts
	}
	switch c.down {
	case 0:
	case downUnit:
		tag |= downWhole << tagDownShift
	default:
		tag |= downVarint << tagDownShift
	}
	b = append(b, tag)
	if counts {
		for _, v := range [...]uint64{c.attempted, c.good, c.errors, c.slow, c.latencies, c.over} {
			b = binary.AppendUvarint(b, v)
		}
	}
	if c.down != 0 && c.down != downUnit {
		b = binary.AppendUvarint(b, uint64(c.down))
	}
	return b
}

// uvarint reads a varint from s at i; it returns the value and the index
// after it. The encodings are the tracker's own, so they are well formed.
func uvarint(s string, i int) (uint64, int) {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		b := s[i]
		i++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, i
		}
	}
}

// blockWriter encodes a block from its contributions in slot order.
type blockWriter struct {
	buf []byte
	sum spanSum
	cur contribution
	n   int
	set bool
}

// add appends n slots holding c.
func (w *blockWriter) add(c *contribution, n int) {
	if n <= 0 {
		return
	}
	if w.n > 0 && w.cur == *c {
		w.n += n
	} else {
		w.emit()
		w.cur, w.n = *c, n
	}
	w.sum.addN(c, n)
	w.set = w.set || c.set
}

func (w *blockWriter) emit() {
	if w.n == 0 {
		return
	}
	w.buf = appendEntry(w.buf, &w.cur)
	if w.n > 1 {
		w.buf = append(w.buf, tagRepeat)
		w.buf = binary.AppendUvarint(w.buf, uint64(w.n-1))
	}
	w.n = 0
}

// finish appends the block's encoding to dst: empty for a block of unset
// slots, else its sums and then its runs.
func (w *blockWriter) finish(dst []byte) []byte {
	w.emit()
	if !w.set {
		return dst
	}
	// The quanta counts of a block fit a byte each; Span reads them
	// for every block it adds up.
	dst = append(dst, byte(w.sum.quanta), byte(w.sum.unmeasured), byte(w.sum.good), byte(w.sum.bad))
	for _, v := range [...]uint64{w.sum.attempted, w.sum.goodEvents, uint64(w.sum.down)} {
		dst = binary.AppendUvarint(dst, v)
	}
	return append(dst, w.buf...)
}

// blockHeader reads the sums at the head of an encoded block and returns
// them with the index of its first entry.
func blockHeader(enc string) (spanSum, int) {
	var s spanSum
	if enc == "" {
		return s, 0
	}
	s = spanSum{quanta: int(enc[0]), unmeasured: int(enc[1]), good: int(enc[2]), bad: int(enc[3])}
	var down uint64
	i := 4
	s.attempted, i = uvarint(enc, i)
	s.goodEvents, i = uvarint(enc, i)
	down, i = uvarint(enc, i)
	s.down = downtime(down)
	return s, i
}

// runReader walks the runs of equal contributions of an encoded block.
type runReader struct {
	enc  string
	i    int
	left int // slots of an empty block not yet returned
	c    contribution
	n    int
}

func newRunReader(enc string, size int) runReader {
	if enc == "" {
		return runReader{left: size}
	}
	_, i := blockHeader(enc)
	return runReader{enc: enc, i: i}
}

// next moves to the next run: c repeated n times. It reports false at the
// end of the block.
func (r *runReader) next() bool {
	if r.enc == "" {
		r.c, r.n, r.left = contribution{}, r.left, 0
		return r.n > 0
	}
	if r.i >= len(r.enc) {
		return false
	}
	tag := r.enc[r.i]
	r.i++
	r.c, r.n = contribution{}, 1
	if tag&tagSet != 0 {
		r.c.set = true
		r.c.unmeasured = tag&tagUnmeasured != 0
		r.c.verdict = verdict(tag>>tagVerdict) & 3
		if tag&tagCounts != 0 {
			var v [6]uint64
			for k := range v {
				v[k], r.i = uvarint(r.enc, r.i)
			}
			r.c.attempted, r.c.good, r.c.errors, r.c.slow, r.c.latencies, r.c.over = v[0], v[1], v[2], v[3], v[4], v[5]
		}
		switch tag >> tagDownShift & 3 {
		case downWhole:
			r.c.down = downUnit
		case downVarint:
			var d uint64
			d, r.i = uvarint(r.enc, r.i)
			r.c.down = downtime(d)
		}
	}
	if r.i < len(r.enc) && r.enc[r.i] == tagRepeat {
		var k uint64
		k, r.i = uvarint(r.enc, r.i+1)
		r.n += int(k)
	}
	return true
}

// blockSize is the number of slots of block b (the last may be short).
func (t *Tracker) blockSize(b int) int { return min(blockSlots, t.n-b*blockSlots) }

// blockSum is the sum of block b's slots.
func (t *Tracker) blockSum(b int) spanSum {
	if b == t.hot {
		return t.hotSum
	}
	s, _ := blockHeader(t.blocks[b])
	return s
}

// load makes block b the decoded one, writing the one before back.
func (t *Tracker) load(b int) {
	if b == t.hot {
		return
	}
	t.flush()
	if t.hotSlots == nil {
		t.hotSlots = make([]contribution, blockSlots)
	}
	size := t.blockSize(b)
	r := newRunReader(t.blocks[b], size)
	k := 0
	for r.next() {
		for range r.n {
			t.hotSlots[k] = r.c
			k++
		}
	}
	t.hotSum, _ = blockHeader(t.blocks[b])
	t.hot = b
}

// flush encodes the decoded block back into its string.
func (t *Tracker) flush() {
	if t.hot < 0 {
		return
	}
	var w blockWriter
	var entries, out [512]byte
	w.buf = entries[:0]
	for k := range t.blockSize(t.hot) {
		w.add(&t.hotSlots[k], 1)
	}
	t.blocks[t.hot] = t.intern(w.finish(out[:0]))
	t.hot = -1
}

// intern returns enc as a string, the one the last block encoded to when
// it is equal: a window of silence is one string, shared.
func (t *Tracker) intern(enc []byte) string {
	if string(enc) == t.lastEnc {
		return t.lastEnc
	}
	t.lastEnc = string(enc)
	return t.lastEnc
}

// slotAt is the contribution of the ring's slot for the quantum at start.
func (t *Tracker) slotAt(start int64) contribution {
	i := t.index(start)
	b, off := i/blockSlots, i%blockSlots
	if b == t.hot {
		return t.hotSlots[off]
	}
	r := newRunReader(t.blocks[b], t.blockSize(b))
	for pos := 0; r.next(); pos += r.n {
		if off < pos+r.n {
			return r.c
		}
	}
	return contribution{}
}

// setIndex replaces the contribution of ring slot i, keeping its block's
// sums. Every write of one slot goes through it.
func (t *Tracker) setIndex(i int, c contribution) {
	b, off := i/blockSlots, i%blockSlots
	t.load(b)
	t.hotSum.add(&t.hotSlots[off], -1)
	t.hotSlots[off] = c
	t.hotSum.add(&c, 1)
}

// fill writes c into the n slots of the quanta from start on; whole
// blocks are encoded at once.
func (t *Tracker) fill(start, n int64, c contribution) {
	i := t.index(start)
	for n > 0 {
		b, off := i/blockSlots, i%blockSlots
		size := t.blockSize(b)
		k := min(int64(size-off), n)
		if off == 0 && int(k) == size {
			if b == t.hot {
				t.hot = -1
			}
			var w blockWriter
			var out [64]byte
			w.add(&c, size)
			t.blocks[b] = t.intern(w.finish(out[:0]))
		} else {
			for j := range int(k) {
				t.setIndex(i+j, c)
			}
		}
		n -= k
		if i += int(k); i == t.n {
			i = 0
		}
	}
}

// sumSlots adds n slots of the ring from index i on (wrapping) to sum,
// whole blocks from their sums.
func (t *Tracker) sumSlots(sum *spanSum, i, n int) {
	for n > 0 {
		b, off := i/blockSlots, i%blockSlots
		size := t.blockSize(b)
		k := min(size-off, n)
		switch {
		case k == size:
			s := t.blockSum(b)
			sum.merge(&s)
		case b == t.hot:
			for j := off; j < off+k; j++ {
				sum.add(&t.hotSlots[j], 1)
			}
		case 2*k > size:
			// More than half the block: its sum less the rest.
			s := t.blockSum(b)
			sum.merge(&s)
			t.sumRuns(sum, b, 0, off, -1)
			t.sumRuns(sum, b, off+k, size, -1)
		default:
			t.sumRuns(sum, b, off, off+k, 1)
		}
		n -= k
		if i += k; i == t.n {
			i = 0
		}
	}
}

// sumRuns adds (sign -1: takes away) slots [lo, hi) of encoded block b.
func (t *Tracker) sumRuns(sum *spanSum, b, lo, hi, sign int) {
	if lo >= hi {
		return
	}
	r := newRunReader(t.blocks[b], t.blockSize(b))
	for pos := 0; pos < hi && r.next(); pos += r.n {
		if l, h := max(pos, lo), min(pos+r.n, hi); l < h {
			sum.addN(&r.c, sign*(h-l))
		}
	}
}

// eachRun calls fn with the runs of equal contributions of the quanta in
// [from, to), oldest first, until fn returns false. The quanta must be
// within the ring's reach (the last t.n before t.at).
func (t *Tracker) eachRun(from, to int64, fn func(start int64, n int, c *contribution) bool) {
	var runs [blockSlots]run
	var c contribution // what fn sees escapes: one copy for the walk
	for from < to {
		off := t.index(from) % blockSlots
		seg := min(to, from+int64(t.blockSize(t.index(from)/blockSlots)-off)*t.q)
		for j := range t.segment(from, seg, &runs) {
			c = runs[j].c
			if !fn(runs[j].start, runs[j].n, &c) {
				return
			}
		}
		from = seg
	}
}

// eachRunBack is eachRun newest first.
func (t *Tracker) eachRunBack(from, to int64, fn func(start int64, n int, c *contribution) bool) {
	var runs [blockSlots]run
	var c contribution // what fn sees escapes: one copy for the walk
	for to > from {
		off := t.index(to-t.q) % blockSlots
		seg := max(from, to-int64(off+1)*t.q)
		for j := t.segment(seg, to, &runs) - 1; j >= 0; j-- {
			c = runs[j].c
			if !fn(runs[j].start, runs[j].n, &c) {
				return
			}
		}
		to = seg
	}
}

// run is c held by n quanta from start on.
type run struct {
	start int64
	n     int
	c     contribution
}

// segment puts the runs of [from, to), quanta of one block, into dst and
// returns how many there are.
func (t *Tracker) segment(from, to int64, dst *[blockSlots]run) int {
	i := t.index(from)
	b, off := i/blockSlots, i%blockSlots
	k := int((to - from) / t.q)
	m := 0
	if b == t.hot {
		for j := range k {
			dst[m] = run{from + int64(j)*t.q, 1, t.hotSlots[off+j]}
			m++
		}
		return m
	}
	r := newRunReader(t.blocks[b], t.blockSize(b))
	for pos := 0; pos < off+k && r.next(); pos += r.n {
		if lo, hi := max(pos, off), min(pos+r.n, off+k); lo < hi {
			dst[m] = run{from + int64(lo-off)*t.q, hi - lo, r.c}
			m++
		}
	}
	return m
}

package metrics

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// State format, version 1. Integers are varints (zig-zag for signed),
// floats 8 bytes little-endian, strings and byte blocks length-prefixed:
//
//	magic     "nines-metrics-state\x01"
//	quantum   varint ns
//	anySample byte; newestMs varint; flushed varint ns
//	nseries   uvarint, then per series:
//	  labels  uvarint count, name/value strings
//	  type    byte; unit string; flags byte (delta, seen, has, hasH)
//	  lastT, touch varint ms; lastV float; lastStart varint ms
//	  if hasH: native histogram (see appendNative)
//	nsources  uvarint, then per source:
//	  name    string; npartials uvarint, then per open quantum:
//	    start varint ns; flags byte (measured, approx)
//	    good, bad, total, attempted, errors, slow, over: float
//	    latency bytes (hist's circllhist serialization)
//	    nclassic uvarint, then group key string, isError byte,
//	      nbounds uvarint, (le float, cum float)…
//
// Sources and series are keyed by name and labels, not by position, so a
// state survives a change of configuration: series get their roles from
// the new configuration, and open quanta of SLIs no longer configured are
// discarded.

const stateMagic = "nines-metrics-state\x01"

// Flag bits of a series.
const (
	flagDelta = 1 << iota
	flagSeen
	flagHas
	flagHasH
)

// MarshalState returns everything the Collector remembers: each series'
// baseline (last cumulative value, native histogram, timestamps) and the
// open quanta not yet flushed. Restoring it with UnmarshalState after a
// restart keeps counter increases across the restart instead of losing
// one scrape interval per series to new baselines.
//
// Commit it in the same transaction as the rollups that Flush returned
// since the previous snapshot (store.Appender.SetState exists for this):
// then a crash can neither count an increase twice (rollups stored, state
// not) nor lose it (state stored, rollups not). Between snapshots nothing
// of a cumulative counter is lost either: after a restart from an older
// snapshot, the first new sample's increase covers the gap (counted in
// its quantum rather than the original ones). Only delta points (OTLP
// delta temporality) taken in since the snapshot are lost, so snapshot as
// often as delta senders need. The size is about 100 bytes per series
// plus the open quanta; the order of series in it is unspecified.
func (c *Collector) MarshalState() ([]byte, error) {
	b := []byte(stateMagic)
	b = binary.AppendVarint(b, c.quantum)
	b = appendBool(b, c.anySample)
	b = binary.AppendVarint(b, c.newestMs)
	b = binary.AppendVarint(b, c.flushed)
	b = binary.AppendUvarint(b, uint64(c.nSeries))
	for _, head := range c.series {
		for st := head; st != nil; st = st.next {
			b = appendSeries(b, st)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(c.srcs)))
	for i := range c.srcs {
		src := &c.srcs[i]
		b = appendString(b, src.Name)
		b = binary.AppendUvarint(b, uint64(len(src.partials)))
		starts := make([]int64, 0, len(src.partials))
		for s := range src.partials {
			starts = append(starts, s)
		}
		slices.Sort(starts) // a deterministic encoding
		for _, s := range starts {
			b = appendPartial(b, src.partials[s])
		}
	}
	return b, nil
}

func appendSeries(b []byte, st *seriesState) []byte {
	b = binary.AppendUvarint(b, uint64(len(st.labels)))
	for _, l := range st.labels {
		b = appendString(b, l.Name)
		b = appendString(b, l.Value)
	}
	b = append(b, byte(st.typ))
	b = appendString(b, st.unit)
	var f byte
	for _, x := range []struct {
		on  bool
		bit byte
	}{{st.delta, flagDelta}, {st.seen, flagSeen}, {st.has, flagHas}, {st.hasH, flagHasH}} {
		if x.on {
			f |= x.bit
		}
	}
	b = append(b, f)
	b = binary.AppendVarint(b, st.lastT)
	b = binary.AppendVarint(b, st.touch)
	b = appendFloat(b, st.lastV)
	b = binary.AppendVarint(b, st.lastStart)
	if st.hasH {
		b = appendNative(b, st.lastH)
	}
	return b
}

func appendNative(b []byte, nh *nativeHist) []byte {
	b = binary.AppendVarint(b, int64(nh.schema))
	b = appendFloat(b, nh.zt)
	b = appendFloat(b, nh.zero)
	b = appendFloat(b, nh.count)
	b = binary.AppendVarint(b, nh.start)
	b = binary.AppendUvarint(b, uint64(len(nh.custom)))
	for _, v := range nh.custom {
		b = appendFloat(b, v)
	}
	for _, side := range [][]bucketN{nh.pos, nh.neg} {
		b = binary.AppendUvarint(b, uint64(len(side)))
		for _, x := range side {
			b = binary.AppendVarint(b, int64(x.idx))
			b = appendFloat(b, x.n)
		}
	}
	return b
}

func appendPartial(b []byte, p *partial) []byte {
	b = binary.AppendVarint(b, p.start)
	var f byte
	if p.measured {
		f |= 1
	}
	if p.approx {
		f |= 2
	}
	b = append(b, f)
	for _, v := range []float64{p.good, p.bad, p.total, p.attempted, p.errors, p.slow, p.over} {
		b = appendFloat(b, v)
	}
	lat := p.latency.AppendBinary(nil)
	b = binary.AppendUvarint(b, uint64(len(lat)))
	b = append(b, lat...)
	b = binary.AppendUvarint(b, uint64(len(p.classic)))
	keys := make([]*groupInfo, 0, len(p.classic))
	for g := range p.classic {
		keys = append(keys, g)
	}
	slices.SortFunc(keys, func(x, y *groupInfo) int { return strings.Compare(x.key, y.key) })
	for _, g := range keys {
		a := p.classic[g]
		b = appendString(b, g.key)
		b = appendBool(b, a.isError)
		b = binary.AppendUvarint(b, uint64(len(a.les)))
		for i := range a.les {
			b = appendFloat(b, a.les[i])
			b = appendFloat(b, a.cum[i])
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendFloat(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// ErrState is wrapped by every error of UnmarshalState.
var ErrState = errors.New("metrics: bad collector state")

// UnmarshalState replaces what the Collector remembers with a state from
// MarshalState. Series take their roles from the Collector's current
// configuration; open quanta of SLIs it no longer has are discarded. A
// state written with another quantum is refused (its open quanta would not
// line up). On error the Collector is unchanged.
func (c *Collector) UnmarshalState(data []byte) error {
	r := stateReader{b: data}
	if !strings.HasPrefix(string(data), stateMagic) {
		return fmt.Errorf("%w: not a nines collector state (or another version)", ErrState)
	}
	r.off = len(stateMagic)
	q := r.varint()
	if r.err == nil && q != c.quantum {
		return fmt.Errorf("%w: written with a quantum of %d ns, the collector has %d ns", ErrState, q, c.quantum)
	}
	// Build into a fresh Collector sharing the configuration, then swap it
	// in, so a bad state leaves c as it was.
	n := &Collector{
		quantum: c.quantum, quantumD: c.quantumD, lagMs: c.lagMs, idleMs: c.idleMs,
		byName: c.byName, wild: c.wild, seed: c.seed, warnings: c.warnings,
		series: make(map[uint64]*seriesState), groups: make(map[string]*groupInfo),
	}
	n.srcs = make([]source, len(c.srcs))
	for i := range c.srcs {
		n.srcs[i] = source{SLISource: c.srcs[i].SLISource, kind: c.srcs[i].kind, thr: c.srcs[i].thr,
			hasThr: c.srcs[i].hasThr, partials: make(map[int64]*partial)}
	}
	n.anySample = r.bool()
	n.newestMs = r.varint()
	n.flushed = r.varint()
	count := r.count(8)
	for i := 0; i < count && r.err == nil; i++ {
		n.readSeries(&r)
	}
	nsrc := r.count(2)
	for i := 0; i < nsrc && r.err == nil; i++ {
		name := r.string()
		var dst *source
		for j := range n.srcs {
			if n.srcs[j].Name == name {
				dst = &n.srcs[j]
			}
		}
		np := r.count(11)
		for k := 0; k < np && r.err == nil; k++ {
			p := n.readPartial(&r)
			if dst != nil && p != nil {
				if _, dup := dst.partials[p.start]; dup {
					r.fail("quantum %d of SLI %q twice", p.start, name)
				}
				dst.partials[p.start] = p
			}
		}
	}
	if r.err == nil && r.off != len(data) {
		r.fail("%d bytes after the end", len(data)-r.off)
	}
	if r.err != nil {
		return r.err
	}
	c.series, c.nSeries, c.groups, c.srcs = n.series, n.nSeries, n.groups, n.srcs
	c.anySample, c.newestMs, c.flushed = n.anySample, n.newestMs, n.flushed
	return nil
}

func (c *Collector) readSeries(r *stateReader) {
	nl := r.count(2)
	ls := make(Labels, 0, min(nl, 64))
	for i := 0; i < nl && r.err == nil; i++ {
		ls = append(ls, Label{r.string(), r.string()})
	}
	typ := MetricType(r.byte())
	unit := r.string()
	f := r.byte()
	lastT, touch := r.varint(), r.varint()
	lastV := r.float()
	lastStart := r.varint()
	var nh nativeHist
	if f&flagHasH != 0 {
		r.native(&nh)
	}
	if r.err != nil {
		return
	}
	if err := ls.Validate(); err != nil {
		r.fail("series %d labels: %v", c.nSeries, err)
		return
	}
	h := c.hash(ls)
	for st := c.series[h]; st != nil; st = st.next {
		if st.labels.Equal(ls) {
			r.fail("series %s twice", ls)
			return
		}
	}
	st := c.newState(ls, typ, unit, f&flagDelta != 0)
	st.seen, st.has, st.hasH = f&flagSeen != 0, f&flagHas != 0, f&flagHasH != 0
	st.lastT, st.touch, st.lastV, st.lastStart = lastT, touch, lastV, lastStart
	*st.lastH = nh
	st.next = c.series[h]
	c.series[h] = st
	c.nSeries++
}

func (c *Collector) readPartial(r *stateReader) *partial {
	p := &partial{start: r.varint()}
	f := r.byte()
	p.measured, p.approx = f&1 != 0, f&2 != 0
	for _, v := range []*float64{&p.good, &p.bad, &p.total, &p.attempted, &p.errors, &p.slow, &p.over} {
		*v = r.float()
		if !(*v >= 0) || math.IsInf(*v, 0) {
			r.fail("open quantum count %v", *v)
		}
	}
	lat := r.bytes()
	if r.err == nil {
		if err := p.latency.UnmarshalBinary(lat); err != nil {
			r.fail("latency histogram: %v", err)
		}
	}
	nc := r.count(3)
	for i := 0; i < nc && r.err == nil; i++ {
		key := r.string()
		a := &classicAcc{isError: r.bool()}
		nb := r.count(16)
		for j := 0; j < nb && r.err == nil; j++ {
			le, cum := r.float(), r.float()
			if math.IsNaN(le) || j > 0 && !(le > a.les[j-1]) || !(cum >= 0) {
				r.fail("classic bucket le=%v cum=%v", le, cum)
			}
			a.les = append(a.les, le)
			a.cum = append(a.cum, cum)
		}
		g := c.groups[key]
		if g == nil {
			// No live series of this histogram: its open quanta still
			// resolve, through a group no series holds.
			g = &groupInfo{key: key}
		}
		if p.classic == nil {
			p.classic = make(map[*groupInfo]*classicAcc)
		}
		if p.classic[g] != nil {
			r.fail("histogram %q twice in one quantum", key)
		}
		p.classic[g] = a
	}
	if r.err != nil {
		return nil
	}
	return p
}

// stateReader reads the state format, remembering the first error; every
// read after an error returns zero values.
type stateReader struct {
	b   []byte
	off int
	err error
}

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrState, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad or truncated varint")
		return 0
	}
	r.off += n
	return v
}

func (r *stateReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad or truncated varint")
		return 0
	}
	r.off += n
	return v
}

// count reads a length and checks it against the bytes left, given that
// each element takes at least minSize bytes, so garbage cannot make the
// reader allocate or loop far beyond the input.
func (r *stateReader) count(minSize int) int {
	v := r.uvarint()
	if r.err == nil && v > uint64(len(r.b)-r.off)/uint64(minSize) {
		r.fail("count %d exceeds the data", v)
		return 0
	}
	return int(v)
}

func (r *stateReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *stateReader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad boolean")
	return false
}

func (r *stateReader) bytes() []byte {
	n := r.count(1)
	if r.err != nil {
		return nil
	}
	v := r.b[r.off : r.off+n]
	r.off += n
	return v
}

func (r *stateReader) string() string { return string(r.bytes()) }

func (r *stateReader) float() float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.fail("truncated")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

func (r *stateReader) native(nh *nativeHist) {
	s := r.varint()
	if r.err == nil && (s != CustomBucketsSchema && (s < MinSchema || s > MaxSchema)) {
		r.fail("schema %d", s)
	}
	nh.schema = int32(s)
	nh.zt, nh.zero, nh.count = r.float(), r.float(), r.float()
	nh.start = r.varint()
	nc := r.count(8)
	for i := 0; i < nc && r.err == nil; i++ {
		nh.custom = append(nh.custom, r.float())
	}
	for side := range 2 {
		nb := r.count(9)
		var dst []bucketN
		for i := 0; i < nb && r.err == nil; i++ {
			idx, n := r.varint(), r.float()
			if idx < math.MinInt32 || idx > math.MaxInt32 || i > 0 && int32(idx) <= dst[i-1].idx || !(n >= 0) || math.IsInf(n, 0) {
				r.fail("native bucket %d: %v", idx, n)
			}
			dst = append(dst, bucketN{int32(idx), n})
		}
		if side == 0 {
			nh.pos = dst
		} else {
			nh.neg = dst
		}
	}
}

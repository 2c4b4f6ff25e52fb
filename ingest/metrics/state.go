package metrics

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// State format, version 2. Integers are varints (zig-zag for signed),
// floats 8 bytes little-endian, strings and byte blocks length-prefixed:
//
//	magic     "nines-metrics-state\x02"
//	quantum   varint ns
//	anySample byte; newestMs varint; flushed varint ns; prunedMs varint
//	nextID    uvarint
//	nseries   uvarint, then per series (see appendSeries):
//	  id      varint, the id less the previous series' (0 before the first)
//	  flags   byte (delta, seen, has, hasH, labels: always set here,
//	          plain, step: see below)
//	  labels  uvarint count, name/value strings; type byte; unit string
//	  unless plain: lastT varint, newestMs − lastT; touch varint,
//	          touch − lastT; lastStart varint ms (plain: newestMs, lastT, 0)
//	  lastV   num (with step, in a record: varint, the change of lastV)
//	  if hasH: native histogram (see appendNative)
//	nsources  uvarint, then per source:
//	  name    string; npartials uvarint, then per open quantum:
//	    start varint ns; flags byte (measured, approx)
//	    good, bad, total, attempted, errors, slow, over: num
//	    latency bytes (hist's circllhist serialization)
//	    nclassic uvarint, then group key string, isError byte,
//	      nbounds uvarint, (le float, cum num)…
//
// A num is a count, most often whole: uvarint 2n for a whole n below
// 2^52, else uvarint 1 and the float.
//
// Version 1 (nines before durable remote write) lacks prunedMs, nextID
// and the series' ids, writes lastT and touch as they are, labels first,
// and every num as a float; it is still read.
//
// Sources and series are keyed by name and labels, not by position, so a
// state survives a change of configuration: series get their roles from
// the new configuration, and open quanta of SLIs no longer configured are
// discarded.

const (
	stateMagic   = "nines-metrics-state\x02"
	stateMagicV1 = "nines-metrics-state\x01"
)

// Flag bits of a series.
const (
	flagDelta = 1 << iota
	flagSeen
	flagHas
	flagHasH
	// flagLabels: labels, type and unit follow (always in a state; in a
	// record for a series the store does not know yet).
	flagLabels
	// flagPlain: lastT is newestMs, touch is lastT and lastStart is 0,
	// and none of them is written (most series of a scrape).
	flagPlain
	// flagStep: lastV is written as the difference from the value it had
	// before the change, a zig-zag varint (records only; whole values).
	flagStep
)

// MarshalState returns everything the Collector remembers: each series'
// baseline (last cumulative value, native histogram, timestamps) and the
// open quanta not yet flushed. Series an SLI does not read are left out:
// they have no baseline. Restoring it with UnmarshalState after a
// restart keeps counter increases across the restart instead of losing
// one scrape interval per series to new baselines.
//
// A server keeps it with the records of the changes since (see Change and
// ApplyRecord): the state alone is as old as its last save. The size is
// about 100 bytes per series plus the open quanta; series are in the
// order of their ids. It must not be called while a Change is open.
func (c *Collector) MarshalState() ([]byte, error) {
	if c.open != nil {
		return nil, ErrChangeOpen
	}
	// Most of a state is its series; about as many bytes as last time.
	b := append(make([]byte, 0, c.stateSize+c.stateSize/8), stateMagic...)
	b = binary.AppendVarint(b, c.quantum)
	b = appendBool(b, c.anySample)
	b = binary.AppendVarint(b, c.newestMs)
	b = binary.AppendVarint(b, c.flushed)
	b = binary.AppendVarint(b, c.prunedMs)
	b = binary.AppendUvarint(b, c.nextID)
	// Series with a verdict (unknown, unused, refused) hold no baseline:
	// the configuration gives them their verdict again when they return.
	all := make([]*seriesState, 0, c.nSeries)
	for _, head := range c.series {
		for st := head; st != nil; st = st.next {
			if !st.hasVerdict {
				all = append(all, st)
			}
		}
	}
	b = binary.AppendUvarint(b, uint64(len(all)))
	// By id, so that equal states are equal bytes.
	slices.SortFunc(all, func(a, b *seriesState) int { return cmp.Compare(a.id, b.id) })
	var prev uint64
	for _, st := range all {
		b = appendSeries(b, st, c.newestMs, true, prev, nil)
		prev = st.id
	}
	b = appendSources(b, c.srcs, func(src *source) map[int64]*partial { return src.partials }, nil)
	c.stateSize = len(b)
	return b, nil
}

// appendSources writes the open quanta of every source that has some in
// the map quanta picks, by source name; with les, a record's (see
// appendPartial).
func appendSources(b []byte, srcs []source, quanta func(*source) map[int64]*partial, les map[float64]int) []byte {
	n := 0
	for i := range srcs {
		if len(quanta(&srcs[i])) > 0 {
			n++
		}
	}
	b = binary.AppendUvarint(b, uint64(n))
	for i := range srcs {
		ps := quanta(&srcs[i])
		if len(ps) == 0 {
			continue
		}
		b = appendString(b, srcs[i].Name)
		b = binary.AppendUvarint(b, uint64(len(ps)))
		starts := make([]int64, 0, len(ps))
		for s := range ps {
			starts = append(starts, s)
		}
		slices.Sort(starts) // a deterministic encoding
		for _, s := range starts {
			b = appendPartial(b, ps[s], les)
		}
	}
	return b
}

// appendSeries writes a series' id (less prev, the id written before),
// flags, labels when withLabels, and baseline, its times relative to
// newestMs, its value relative to base when there is one (a record's:
// the value before the change): in order of ids or of arrival, most
// series of a scrape then take a byte of id, a byte of flags and a byte
// or two of value.
func appendSeries(b []byte, st *seriesState, newestMs int64, withLabels bool, prev uint64, base *float64) []byte {
	b = binary.AppendVarint(b, int64(st.id-prev))
	plain := st.lastT == newestMs && st.touch == st.lastT && st.lastStart == 0
	step := base != nil && whole(*base) && whole(st.lastV)
	var f byte
	for _, x := range []struct {
		on  bool
		bit byte
	}{{st.delta, flagDelta}, {st.seen, flagSeen}, {st.has, flagHas}, {st.hasH, flagHasH}, {withLabels, flagLabels},
		{plain, flagPlain}, {step, flagStep}} {
		if x.on {
			f |= x.bit
		}
	}
	b = append(b, f)
	if withLabels {
		b = binary.AppendUvarint(b, uint64(len(st.labels)))
		for _, l := range st.labels {
			b = appendString(b, l.Name)
			b = appendString(b, l.Value)
		}
		b = append(b, byte(st.typ))
		b = appendString(b, st.unit)
	}
	if !plain {
		b = binary.AppendVarint(b, newestMs-st.lastT)
		b = binary.AppendVarint(b, st.touch-st.lastT)
		b = binary.AppendVarint(b, st.lastStart)
	}
	if step {
		b = binary.AppendVarint(b, int64(st.lastV)-int64(*base))
	} else {
		b = appendNum(b, st.lastV)
	}
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

// appendPartial writes an open quantum. Its classic histograms are named
// by their group key and their bounds written as floats; in a record
// (les set), by the id of a bucket series of theirs and the bounds' index
// in the record's table les: a record's increases come from series the
// same record holds, and a few bytes do where a key takes a hundred.
func appendPartial(b []byte, p *partial, les map[float64]int) []byte {
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
		b = appendNum(b, v)
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
		if les != nil {
			b = binary.AppendUvarint(b, a.ref.id)
		} else {
			b = appendString(b, g.key)
		}
		b = appendBool(b, a.isError)
		b = binary.AppendUvarint(b, uint64(len(a.les)))
		for i := range a.les {
			if les != nil {
				b = binary.AppendUvarint(b, uint64(les[a.les[i]]))
			} else {
				b = appendFloat(b, a.les[i])
			}
			b = appendNum(b, a.cum[i])
		}
	}
	return b
}

// appendNum writes a count: most are whole, and take a byte or three.
func appendNum(b []byte, v float64) []byte {
	if whole(v) {
		return binary.AppendUvarint(b, uint64(v)<<1)
	}
	return appendFloat(append(b, 1), v)
}

// whole reports whether v is a whole number that converts to an integer
// and back exactly (-0 is not: it would come back as 0).
func whole(v float64) bool {
	return v >= 0 && v < 1<<52 && v == math.Trunc(v) && !math.Signbit(v)
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

// ErrState is wrapped by every error of UnmarshalState and ApplyRecord.
var ErrState = errors.New("metrics: bad collector state")

// UnmarshalState replaces what the Collector remembers with a state from
// MarshalState. Series take their roles from the Collector's current
// configuration; open quanta of SLIs it no longer has are discarded. A
// state written with another quantum is refused (its open quanta would not
// line up). On error the Collector is unchanged. Every series counts as
// unknown to the store (see Change.AppendRecord) until MarkLogged.
func (c *Collector) UnmarshalState(data []byte) error {
	if c.open != nil {
		return ErrChangeOpen
	}
	v1 := strings.HasPrefix(string(data), stateMagicV1)
	r := stateReader{b: data, v1: v1}
	if !v1 && !strings.HasPrefix(string(data), stateMagic) {
		return fmt.Errorf("%w: not a nines collector state (or another version)", ErrState)
	}
	r.off = len(stateMagic)
	q := r.varint()
	if r.err == nil && q != c.quantum {
		return fmt.Errorf("%w: written with a quantum of %d ns, the collector has %d ns", ErrState, q, c.quantum)
	}
	// Build into a fresh Collector sharing the configuration, then swap it
	// in, so a bad state leaves c as it was.
	n := c.emptyCopy()
	n.anySample = r.bool()
	n.newestMs = r.varint()
	n.flushed = r.varint()
	if !v1 {
		n.prunedMs = r.varint()
		n.nextID = r.uvarint()
	}
	count := r.count(8)
	var prev uint64
	for i := 0; i < count && r.err == nil; i++ {
		var e entry
		if v1 {
			r.seriesV1(&e)
		} else {
			r.series(&e, n.newestMs, prev, nil)
		}
		prev = e.id
		if r.err != nil {
			break
		}
		if !e.labeled {
			r.fail("series %d without labels", i)
			break
		}
		if v1 {
			e.id = n.nextID
		}
		if err := e.labels.Validate(); err != nil {
			r.fail("series %d labels: %v", i, err)
			break
		}
		if n.find(e.labels) != nil {
			r.fail("series %s twice", e.labels)
			break
		}
		n.insert(&e)
	}
	nsrc := r.count(2)
	for i := 0; i < nsrc && r.err == nil; i++ {
		name := r.string()
		dst := n.sourceNamed(name)
		np := r.count(11)
		for k := 0; k < np && r.err == nil; k++ {
			p, keyed := readPartial(&r, nil)
			if dst == nil || p == nil {
				continue
			}
			if _, dup := dst.partials[p.start]; dup {
				r.fail("quantum %d of SLI %q twice", p.start, name)
				break
			}
			n.attach(dst, p, keyed)
			dst.partials[p.start] = p
		}
	}
	if r.err == nil && r.off != len(data) {
		r.fail("%d bytes after the end", len(data)-r.off)
	}
	if r.err != nil {
		return r.err
	}
	c.series, c.nSeries, c.groups, c.srcs = n.series, n.nSeries, n.groups, n.srcs
	c.anySample, c.newestMs, c.flushed, c.prunedMs, c.nextID = n.anySample, n.newestMs, n.flushed, n.prunedMs, n.nextID
	c.byID = nil
	return nil
}

// emptyCopy returns a Collector with c's configuration and nothing in it.
func (c *Collector) emptyCopy() *Collector {
	n := &Collector{
		quantum: c.quantum, quantumD: c.quantumD, lagMs: c.lagMs, idleMs: c.idleMs,
		byName: c.byName, wild: c.wild, seed: c.seed, warnings: c.warnings,
		series: make(map[uint64]*seriesState), groups: make(map[string]*groupInfo),
		flushed: math.MinInt64,
	}
	n.srcs = make([]source, len(c.srcs))
	for i := range c.srcs {
		n.srcs[i] = source{SLISource: c.srcs[i].SLISource, kind: c.srcs[i].kind, thr: c.srcs[i].thr,
			hasThr: c.srcs[i].hasThr, partials: make(map[int64]*partial)}
	}
	return n
}

func (c *Collector) sourceNamed(name string) *source {
	for j := range c.srcs {
		if c.srcs[j].Name == name {
			return &c.srcs[j]
		}
	}
	return nil
}

// find returns the series with labels ls, or nil.
func (c *Collector) find(ls Labels) *seriesState {
	for st := c.series[c.hash(ls)]; st != nil; st = st.next {
		if st.labels.Equal(ls) {
			return st
		}
	}
	return nil
}

// insert adds the series of e, which must be new, with the roles the
// configuration gives it.
func (c *Collector) insert(e *entry) *seriesState {
	next := c.nextID
	st := c.newState(e.labels, e.typ, e.unit, e.flags&flagDelta != 0)
	st.id, c.nextID = e.id, max(next, e.id+1)
	st.setFields(&e.f)
	h := c.hash(e.labels)
	st.next = c.series[h]
	c.series[h] = st
	c.nSeries++
	if c.byID != nil {
		c.byID[st.id] = st
	}
	return st
}

// entry is a series as a state or record holds it.
type entry struct {
	id      uint64
	labeled bool
	labels  Labels
	typ     MetricType
	unit    string
	flags   byte
	f       fields
}

// series reads what appendSeries wrote after the series of id prev;
// base, for a record, gives the value a series had before the change.
func (r *stateReader) series(e *entry, newestMs int64, prev uint64, base func(e *entry) float64) {
	e.id = prev + uint64(r.varint())
	e.flags = r.byte()
	e.labeled = e.flags&flagLabels != 0
	if e.labeled {
		r.labels(e)
	}
	if e.flags&flagPlain != 0 {
		e.f.lastT, e.f.touch = newestMs, newestMs
	} else {
		e.f.lastT = newestMs - r.varint()
		e.f.touch = e.f.lastT + r.varint()
		e.f.lastStart = r.varint()
	}
	switch {
	case e.flags&flagStep == 0:
		e.f.lastV = r.num()
	case base == nil:
		r.fail("series %d: a change of value in a state", e.id)
	default:
		b := base(e)
		if e.f.lastV = b + float64(r.varint()); !whole(b) || !whole(e.f.lastV) {
			r.fail("series %d: value %v changed to %v", e.id, b, e.f.lastV)
		}
	}
	r.flags(e)
}

// seriesV1 reads a series of a version 1 state.
func (r *stateReader) seriesV1(e *entry) {
	r.labels(e)
	e.labeled = true
	e.flags = r.byte() &^ (flagLabels | flagPlain | flagStep)
	e.f.lastT, e.f.touch = r.varint(), r.varint()
	e.f.lastV = r.num()
	e.f.lastStart = r.varint()
	r.flags(e)
}

func (r *stateReader) labels(e *entry) {
	nl := r.count(2)
	e.labels = make(Labels, 0, min(nl, 64))
	for i := 0; i < nl && r.err == nil; i++ {
		e.labels = append(e.labels, Label{r.string(), r.string()})
	}
	e.typ = MetricType(r.byte())
	e.unit = r.string()
}

// flags sets what the flags say, and reads the native baseline.
func (r *stateReader) flags(e *entry) {
	e.f.seen, e.f.has, e.f.hasH = e.flags&flagSeen != 0, e.flags&flagHas != 0, e.flags&flagHasH != 0
	if e.f.hasH {
		e.f.lastH = new(nativeHist)
		r.native(e.f.lastH)
	}
}

// keyedAcc is a classic histogram's accumulator as read, by group key or
// by the id of a series of the group.
type keyedAcc struct {
	key string
	ref uint64
	acc *classicAcc
}

// readPartial reads what appendPartial wrote (with les, a record's table
// of bounds); its classic accumulators come apart, by key or by series,
// for attach.
func readPartial(r *stateReader, les []float64) (*partial, []keyedAcc) {
	p := &partial{start: r.varint()}
	f := r.byte()
	p.measured, p.approx = f&1 != 0, f&2 != 0
	for _, v := range []*float64{&p.good, &p.bad, &p.total, &p.attempted, &p.errors, &p.slow, &p.over} {
		*v = r.num()
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
	var keyed []keyedAcc
	for i := 0; i < nc && r.err == nil; i++ {
		var k keyedAcc
		if les != nil {
			k.ref = r.uvarint()
		} else {
			k.key = r.string()
		}
		a := &classicAcc{isError: r.bool()}
		nb := r.count(2)
		for j := 0; j < nb && r.err == nil; j++ {
			var le float64
			if les != nil {
				if i := r.uvarint(); i < uint64(len(les)) {
					le = les[i]
				} else {
					r.fail("bound %d of a table of %d", i, len(les))
				}
			} else {
				le = r.float()
			}
			cum := r.num()
			if math.IsNaN(le) || j > 0 && !(le > a.les[j-1]) || !(cum >= 0) || math.IsInf(cum, 0) {
				r.fail("classic bucket le=%v cum=%v", le, cum)
			}
			a.les = append(a.les, le)
			a.cum = append(a.cum, cum)
		}
		if slices.ContainsFunc(keyed, func(o keyedAcc) bool { return o.key == k.key && o.ref == k.ref }) {
			r.fail("histogram %q (series %d) twice in one quantum", k.key, k.ref)
		}
		k.acc = a
		keyed = append(keyed, k)
	}
	if r.err != nil {
		return nil, nil
	}
	return p, keyed
}

// attach gives p the accumulators read with it, each under the group of
// its key (or of its series' labels, for src): the live series' group,
// or one no series holds (its open quanta still resolve through it),
// kept for the series that may come.
func (c *Collector) attach(src *source, p *partial, keyed []keyedAcc) {
	for _, k := range keyed {
		var g *groupInfo
		if k.key == "" {
			// byRef: ApplyRecord checked that the series is held.
			if src.Histogram == nil {
				continue
			}
			g = c.group(src.Histogram.Name, c.byID[k.ref].labels)
		} else if g = c.groups[k.key]; g == nil {
			g = &groupInfo{key: k.key}
			c.groups[k.key] = g
		}
		if p.classic == nil {
			p.classic = make(map[*groupInfo]*classicAcc, len(keyed))
		}
		p.classic[g] = k.acc
	}
}

// stateReader reads the state format, remembering the first error; every
// read after an error returns zero values.
type stateReader struct {
	b   []byte
	off int
	err error
	v1  bool // a version 1 state: nums are floats
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

// num reads what appendNum wrote (a float in a version 1 state).
func (r *stateReader) num() float64 {
	if r.v1 {
		return r.float()
	}
	switch u := r.uvarint(); {
	case u&1 == 0:
		return float64(u >> 1)
	case u == 1:
		return r.float()
	}
	r.fail("bad number")
	return 0
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

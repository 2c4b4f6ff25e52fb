package metrics

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Record format, version 1: what one Change did, in the encodings of the
// state format (state.go):
//
//	magic     "nines-metrics-change\x01"
//	quantum   varint ns
//	anySample byte; newestMs varint; nextID uvarint (after the change)
//	flush     byte 0, or 1 and the horizon, varint ns
//	nseries   uvarint, then every series the change touched, as in the
//	          state, labels only for those the store has not seen
//	          (flagLabels), whole values as their change (flagStep)
//	nles      uvarint, then the classic histograms' bounds, floats
//	nsources  uvarint, then per source with increases:
//	  name    string; npartials uvarint, then the increases the change
//	          added to each open quantum, as a partial whose classic
//	          histograms are named by the id of a bucket series of theirs
//	          that the record holds, not by key, and their bounds by
//	          their index in the table of bounds
//
// A series is a few bytes of id, its baseline and timestamps: a request
// costs what it carries, not what the Collector holds.

const recordMagic = "nines-metrics-change\x01"

// AppendRecord appends to dst the record of the change: the new baselines
// of the series it touched, the increases it added to open quanta and
// the horizon it flushed up to. Replaying the records of a Collector's
// changes in order with ApplyRecord, onto the state it had when the
// first began, gives the state it had after the last: a server commits
// each change's record with its Results, and after a crash rebuilds the
// Collector from its last saved state and the records since.
//
// Call it before Commit: a series the store does not know yet is written
// with its labels, and counts as known once the change commits.
func (ch *Change) AppendRecord(dst []byte) []byte {
	c := ch.c
	b := append(dst, recordMagic...)
	b = binary.AppendVarint(b, c.quantum)
	b = appendBool(b, c.anySample)
	b = binary.AppendVarint(b, c.newestMs)
	b = binary.AppendUvarint(b, c.nextID)
	if ch.before == math.MinInt64 {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = binary.AppendVarint(b, ch.before)
	}
	b = binary.AppendUvarint(b, uint64(len(ch.saved)))
	var prev uint64
	for i := range ch.saved {
		st := ch.saved[i].st
		b = appendSeries(b, st, c.newestMs, !st.logged, prev, &ch.saved[i].f.lastV)
		prev = st.id
	}
	// The classic histograms' bounds, once each.
	var les []float64
	for i := range c.srcs {
		for _, p := range c.srcs[i].delta {
			for _, a := range p.classic {
				les = append(les, a.les...)
			}
		}
	}
	slices.Sort(les)
	les = slices.Compact(les)
	index := make(map[float64]int, len(les))
	b = binary.AppendUvarint(b, uint64(len(les)))
	for i, le := range les {
		index[le] = i
		b = appendFloat(b, le)
	}
	return appendSources(b, c.srcs, func(src *source) map[int64]*partial { return src.delta }, index)
}

// MarkLogged records that the store knows every series' labels: call it
// once a state of this Collector is stored, or once the Collector was
// rebuilt from the store (UnmarshalState and ApplyRecord), so that
// records name those series by id alone.
func (c *Collector) MarkLogged() {
	for _, head := range c.series {
		for st := head; st != nil; st = st.next {
			st.logged = true
		}
	}
}

// ApplyRecord replays a record of AppendRecord: the Collector must hold
// the state it had when the recorded change began (a state restored with
// UnmarshalState, then the records before this one, in order). Series
// take their roles from the current configuration and increases to SLIs
// it no longer has are discarded, as with UnmarshalState. A record that
// is malformed, of another quantum, or names a series by an id the
// Collector does not hold is refused with an error wrapping ErrState, and
// the Collector is unchanged.
func (c *Collector) ApplyRecord(data []byte) error {
	if c.open != nil {
		return ErrChangeOpen
	}
	if !strings.HasPrefix(string(data), recordMagic) {
		return fmt.Errorf("%w: not a nines collector record (or another version)", ErrState)
	}
	r := stateReader{b: data, off: len(recordMagic)}
	if q := r.varint(); r.err == nil && q != c.quantum {
		return fmt.Errorf("%w: record of a quantum of %d ns, the collector has %d ns", ErrState, q, c.quantum)
	}
	anySample := r.bool()
	newestMs := r.varint()
	nextID := r.uvarint()
	before := int64(math.MinInt64)
	switch r.byte() {
	case 0:
	case 1:
		before = r.varint()
	default:
		r.fail("bad flush flag")
	}
	if c.byID == nil {
		c.byID = make(map[uint64]*seriesState, c.nSeries)
		for _, head := range c.series {
			for st := head; st != nil; st = st.next {
				c.byID[st.id] = st
			}
		}
	}
	// Read and check everything before changing anything.
	ns := r.count(7)
	entries := make([]entry, 0, ns)
	seen := make(map[uint64]bool, ns)
	var prev uint64
	// A value is written as its change from the value before: that of
	// the series held, or none (0) for one the change met first.
	base := func(e *entry) float64 {
		st := c.byID[e.id]
		if st == nil && e.labeled {
			st = c.find(e.labels)
		}
		if st == nil {
			return 0
		}
		return st.lastV
	}
	for i := 0; i < ns && r.err == nil; i++ {
		var e entry
		r.series(&e, newestMs, prev, base)
		prev = e.id
		if r.err != nil {
			break
		}
		st := c.byID[e.id]
		switch {
		case seen[e.id]:
			r.fail("series %d twice", e.id)
		case e.id >= nextID:
			r.fail("series %d at or past the next id %d", e.id, nextID)
		case !e.labeled && st == nil:
			r.fail("series %d is named by id but the collector does not hold it", e.id)
		case e.labeled && st != nil && !st.labels.Equal(e.labels):
			r.fail("series %d is %s, the record says %s", e.id, st.labels, e.labels)
		case e.labeled:
			if err := e.labels.Validate(); err != nil {
				r.fail("series %d labels: %v", e.id, err)
			}
		}
		seen[e.id] = true
		entries = append(entries, e)
	}
	type deltas struct {
		src   *source
		p     *partial
		keyed []keyedAcc
	}
	nles := r.count(8)
	les := make([]float64, 0, nles)
	for range nles {
		les = append(les, r.float())
	}
	var ds []deltas
	nsrc := r.count(2)
	for i := 0; i < nsrc && r.err == nil; i++ {
		name := r.string()
		src := c.sourceNamed(name)
		np := r.count(11)
		starts := map[int64]bool{}
		for k := 0; k < np && r.err == nil; k++ {
			p, keyed := readPartial(&r, les)
			if p == nil {
				break
			}
			for _, k := range keyed {
				if c.byID[k.ref] == nil && !seen[k.ref] {
					r.fail("histogram of series %d, which neither the collector nor the record holds", k.ref)
				}
			}
			if starts[p.start] {
				r.fail("quantum %d of SLI %q twice", p.start, name)
			}
			starts[p.start] = true
			if src != nil {
				ds = append(ds, deltas{src, p, keyed})
			}
		}
	}
	if r.err == nil && r.off != len(data) {
		r.fail("%d bytes after the end", len(data)-r.off)
	}
	if r.err != nil {
		return r.err
	}

	for i := range entries {
		e := &entries[i]
		st := c.byID[e.id]
		if st == nil {
			if !e.labeled {
				// An entry before it gave its series another id: a
				// record naming one series twice, which none does.
				continue
			}
			if st = c.find(e.labels); st != nil {
				// Known by another id (a state of another process): the
				// record's id is the one later records use.
				delete(c.byID, st.id)
				st.id = e.id
				c.byID[e.id] = st
			} else {
				st = c.insert(e)
			}
		}
		st.setFields(&e.f)
		st.logged = true
	}
	c.anySample, c.newestMs, c.nextID = anySample, newestMs, max(c.nextID, nextID)
	for _, d := range ds {
		c.attach(d.src, d.p, d.keyed)
		if p := d.src.partials[d.p.start]; p != nil {
			p.merge(d.p)
		} else {
			d.src.partials[d.p.start] = d.p
		}
	}
	if before != math.MinInt64 {
		for i := range c.srcs {
			c.forget(&c.srcs[i], before)
		}
		c.flushed = max(c.flushed, before)
		c.prune()
	}
	return nil
}

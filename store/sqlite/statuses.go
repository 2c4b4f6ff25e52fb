package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// The per-status counts of a rollup (rollups.statuses, slo.Rollup.Statuses)
// are a compact binary form; NULL means the rollup kept none:
//
//	version  byte     1
//	n        uvarint  number of statuses, at least 1
//	derived  uvarint  0: every status's histogram is written below;
//	                  i+1: status i's is not, it is the rollup's own
//	                  histogram (rollups.hist) minus the other statuses'
//	n × status, in ascending order of code:
//	  code     uvarint  code + 3: 0 ok=false, 1 ok=true, 2 no status,
//	                    3 + c the HTTP status c (0–999)
//	  count    uvarint  events
//	  untimed  uvarint  events without a latency: count − timed
//	  over     uvarint  timed events over the SLI's latency threshold
//	  histlen  uvarint  bytes of histogram that follow: 0 when it is
//	                    empty, compacted away or derived
//	  hist     histlen bytes, the libcircllhist serialization of the
//	           status's latencies in seconds, as rollups.hist
//
// Nearly every event of a minute has one status (200), whose histogram is
// then nearly the rollup's: deriving it instead of writing it keeps the
// statuses to a few dozen bytes a minute. The writer derives the status
// with the most timed events whenever the rollup's histogram is exactly
// the sum of the statuses' (always, unless a source without statuses was
// merged in); the reader checks the subtraction.
//
// Compact drops the statuses' histograms with the rollup's (histlen 0,
// derived 0) and keeps the counts.

const statusesVersion = 1

// codeBias maps the lowest status key, slo.StatusOKFalse, to 0.
const codeBias = -slo.StatusOKFalse

// errStatuses is wrapped by every decoding error.
var errStatuses = errors.New("corrupt per-status counts")

// statusRec is one status as stored, its histogram left encoded.
type statusRec struct {
	code               int
	count, timed, over uint64
	hist               []byte // nil when empty, compacted or derived
}

// statusCodec encodes and decodes statuses with scratch space reused
// across rows. It is not safe for concurrent use.
type statusCodec struct {
	recs      []statusRec
	rest, tmp hist.Histogram
	hbuf      []byte
	ends      []int
}

// parse reads blob into c.recs (whose hist slices alias blob) and returns
// the derived field.
func (c *statusCodec) parse(blob []byte) (derived int, err error) {
	c.recs = c.recs[:0]
	if len(blob) == 0 || blob[0] != statusesVersion {
		return 0, fmt.Errorf("%w: unknown format", errStatuses)
	}
	b := blob[1:]
	next := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			err = fmt.Errorf("%w: truncated", errStatuses)
			b = nil
			return 0
		}
		b = b[n:]
		return v
	}
	n, d := next(), next()
	if err == nil && (n == 0 || n > uint64(len(b)) || d > n) {
		return 0, fmt.Errorf("%w: %d statuses, derived %d, in %d bytes", errStatuses, n, d, len(blob))
	}
	for i := uint64(0); i < n && err == nil; i++ {
		code, count, untimed, over, hl := next(), next(), next(), next(), next()
		if err != nil {
			break
		}
		if code > 1<<16 || !slo.ValidStatusKey(int(code)-codeBias) || untimed > count || over > count-untimed || hl > uint64(len(b)) {
			return 0, fmt.Errorf("%w: status %d of %d", errStatuses, i, n)
		}
		r := statusRec{code: int(code) - codeBias, count: count, timed: count - untimed, over: over}
		if hl > 0 {
			r.hist, b = b[:hl], b[hl:]
		}
		if len(c.recs) > 0 && r.code <= c.recs[len(c.recs)-1].code {
			return 0, fmt.Errorf("%w: codes out of order", errStatuses)
		}
		c.recs = append(c.recs, r)
	}
	if err == nil && len(b) != 0 {
		err = fmt.Errorf("%w: %d bytes left over", errStatuses, len(b))
	}
	return int(d), err
}

// write appends the encoding of c.recs to dst.
func (c *statusCodec) write(dst []byte, derived int) []byte {
	dst = append(dst, statusesVersion)
	dst = binary.AppendUvarint(dst, uint64(len(c.recs)))
	dst = binary.AppendUvarint(dst, uint64(derived))
	for i := range c.recs {
		r := &c.recs[i]
		dst = binary.AppendUvarint(dst, uint64(r.code+codeBias))
		dst = binary.AppendUvarint(dst, r.count)
		dst = binary.AppendUvarint(dst, r.count-r.timed)
		dst = binary.AppendUvarint(dst, r.over)
		dst = binary.AppendUvarint(dst, uint64(len(r.hist)))
		dst = append(dst, r.hist...)
	}
	return dst
}

// encode appends the encoding of r.Statuses to dst[:0], or returns nil
// (SQL NULL) when r keeps none. r must pass slo.Rollup.CheckStatuses.
func (c *statusCodec) encode(dst []byte, r *slo.Rollup) []byte {
	if len(r.Statuses) == 0 {
		return nil
	}
	derived := c.derivable(r)
	c.recs = c.recs[:0]
	c.hbuf = c.hbuf[:0]
	// Histograms go to hbuf first; recs point into it once it stops
	// growing.
	ends := c.ends[:0]
	for i := range r.Statuses {
		s := &r.Statuses[i]
		if i+1 != derived && s.Latency.Count() > 0 {
			c.hbuf = s.Latency.AppendBinary(c.hbuf)
		}
		ends = append(ends, len(c.hbuf))
		c.recs = append(c.recs, statusRec{code: s.Code, count: s.Count, timed: s.Timed, over: s.Over})
	}
	c.ends = ends
	at := 0
	for i := range c.recs {
		if ends[i] > at {
			c.recs[i].hist = c.hbuf[at:ends[i]]
		}
		at = ends[i]
	}
	return c.write(dst[:0], derived)
}

// derivable returns i+1 when the histogram of status i, the one with the
// most latencies, is exactly r.Latency minus the other statuses', or 0.
func (c *statusCodec) derivable(r *slo.Rollup) int {
	best := -1
	for i := range r.Statuses {
		if n := r.Statuses[i].Latency.Count(); n > 0 && (best < 0 || n > r.Statuses[best].Latency.Count()) {
			best = i
		}
	}
	if best < 0 {
		return 0
	}
	c.rest.Reset()
	for i := range r.Statuses {
		if i != best {
			c.rest.Merge(&r.Statuses[i].Latency)
		}
	}
	r.Latency.CopyTo(&c.tmp)
	if c.tmp.Sub(&c.rest) != nil || !c.tmp.Equal(&r.Statuses[best].Latency) {
		return 0
	}
	return best + 1
}

// decode sets r.Statuses from blob, reusing their storage; r.Latency must
// hold the rollup's histogram already. A nil blob is a rollup without
// statuses.
func (c *statusCodec) decode(r *slo.Rollup, blob []byte) error {
	if blob == nil {
		r.Statuses = nil
		return nil
	}
	derived, err := c.parse(blob)
	if err != nil {
		return err
	}
	sts := r.Statuses[:0]
	if cap(sts) < len(c.recs) {
		sts = slices.Grow(sts, len(c.recs))
	}
	sts = sts[:len(c.recs)]
	for i := range c.recs {
		rec, s := &c.recs[i], &sts[i]
		s.Code, s.Count, s.Timed, s.Over = rec.code, rec.count, rec.timed, rec.over
		if err := decode(&s.Latency, rec.hist); err != nil {
			return fmt.Errorf("%w: histogram of status %s: %w", errStatuses, slo.StatusName(rec.code), err)
		}
		if s.Latency.Count() > s.Timed {
			return fmt.Errorf("%w: status %s: %d latencies of %d timed events", errStatuses, slo.StatusName(s.Code), s.Latency.Count(), s.Timed)
		}
	}
	r.Statuses = sts
	if derived == 0 {
		return nil
	}
	d := &sts[derived-1]
	r.Latency.CopyTo(&d.Latency)
	for i := range sts {
		if i != derived-1 {
			if err := d.Latency.Sub(&sts[i].Latency); err != nil {
				return fmt.Errorf("%w: histogram of status %s: %w", errStatuses, slo.StatusName(d.Code), err)
			}
		}
	}
	if d.Latency.Count() > d.Timed {
		return fmt.Errorf("%w: status %s: %d latencies of %d timed events", errStatuses, slo.StatusName(d.Code), d.Latency.Count(), d.Timed)
	}
	return nil
}

// strip appends blob without its histograms to dst, as Compact keeps it.
func (c *statusCodec) strip(dst, blob []byte) ([]byte, error) {
	if blob == nil {
		return nil, nil
	}
	if _, err := c.parse(blob); err != nil {
		return nil, err
	}
	for i := range c.recs {
		c.recs[i].hist = nil
	}
	return c.write(dst, 0), nil
}

// setOver appends blob with the Over of each status replaced by r's to
// dst. r must hold the same statuses with the same counts, or the error
// wraps store.ErrConflict.
func (c *statusCodec) setOver(dst, blob []byte, r *slo.Rollup) ([]byte, error) {
	if blob == nil {
		if len(r.Statuses) > 0 {
			return nil, errConflictf("the stored rollup keeps no statuses, the new counts %d", len(r.Statuses))
		}
		return nil, nil
	}
	derived, err := c.parse(blob)
	if err != nil {
		return nil, err
	}
	if len(c.recs) != len(r.Statuses) {
		return nil, errConflictf("%d statuses stored, %d in the new counts", len(c.recs), len(r.Statuses))
	}
	for i := range c.recs {
		rec, s := &c.recs[i], &r.Statuses[i]
		switch {
		case rec.code != s.Code || rec.count != s.Count || rec.timed != s.Timed:
			return nil, errConflictf("status %s: %d events, %d timed stored; status %s: %d, %d in the new counts",
				slo.StatusName(rec.code), rec.count, rec.timed, slo.StatusName(s.Code), s.Count, s.Timed)
		}
		rec.over = s.Over
	}
	return c.write(dst, derived), nil
}

func errConflictf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrConflict}, args...)...)
}

package slo

import (
	"fmt"
	"io"
	"slices"
)

// A PageFile keeps the pages of a Compact that do not fit its memory
// budget (KeepPagesIn): nines eval gives it a temporary file, so that a
// log spanning decades is evaluated in the same few dozen MiB as one
// spanning a year. The Compact writes each slab once, at increasing
// offsets, and reads it back from several goroutines at once, as an
// *os.File allows.
type PageFile interface {
	io.ReaderAt
	io.WriterAt
}

// segment is a run of records of a page: n bytes at offset at of a
// slab, for the slots first to last, each once and ascending.
type segment struct {
	page        int64
	slab        int32
	at, n       int32
	first, last uint16
}

// slab is a block of segments: in memory until the budget is reached,
// then written to the page file at off, and read from there.
type slab struct {
	mem []byte
	off int64
}

// KeepPagesIn makes c keep at most about budget bytes of pages in
// memory and write the others to f, in slabs of 64 KiB. Call it before
// the first spill. A write that fails ends the read (Seal returns the
// error), and one that fails to read back is reported by Series.Err.
func (c *Compact) KeepPagesIn(f PageFile, budget int) {
	c.file, c.budget = f, budget
}

// store copies b into the current slab and returns where it is. c.mu
// must be held.
func (c *Compact) store(b []byte) segment {
	if n := len(c.slabs); n == 0 || len(c.slabs[n-1].mem)+len(b) > cap(c.slabs[n-1].mem) {
		c.newSlab(len(b))
	}
	k := len(c.slabs) - 1
	s := &c.slabs[k]
	at := len(s.mem)
	s.mem = append(s.mem, b...)
	return segment{slab: int32(k), at: int32(at), n: int32(len(b)), first: 0, last: pageLen - 1}
}

// newSlab starts a slab of at least need bytes, first writing the oldest
// slabs still in memory to the file while the new one would pass the
// budget.
func (c *Compact) newSlab(need int) {
	size := max(slabSize, need)
	for c.file != nil && c.inMemory+size > c.budget && c.written < len(c.slabs) {
		s := &c.slabs[c.written]
		if _, err := c.file.WriteAt(s.mem, c.fileEnd); err != nil {
			// Keep everything in memory from here on; Seal reports it.
			c.err = fmt.Errorf("slo: writing compact rollups to their file: %w", err)
			c.file = nil
			break
		}
		s.off = c.fileEnd
		c.fileEnd += int64(len(s.mem))
		c.inMemory -= cap(s.mem)
		s.mem = nil
		c.written++
	}
	c.slabs = append(c.slabs, slab{mem: make([]byte, 0, size)})
	c.inMemory += size
}

// load returns the bytes of each segment of segs, reading those in the
// file into buf, which it returns for reuse. The bytes stay valid until
// buf is used again.
func (c *Compact) load(segs []segment, parts [][]byte, buf []byte) ([][]byte, []byte, error) {
	parts = parts[:0]
	size := 0
	for _, sg := range segs {
		if c.slabs[sg.slab].mem == nil {
			size += int(sg.n)
		}
	}
	buf = slices.Grow(buf[:0], size)
	for _, sg := range segs {
		s := &c.slabs[sg.slab]
		if s.mem != nil {
			parts = append(parts, s.mem[sg.at:sg.at+sg.n])
			continue
		}
		at := len(buf)
		buf = buf[:at+int(sg.n)]
		if _, err := c.file.ReadAt(buf[at:], s.off+int64(sg.at)); err != nil {
			return parts[:0], buf, fmt.Errorf("slo: reading compact rollups back from their file: %w", err)
		}
		parts = append(parts, buf[at:])
	}
	return parts, buf, nil
}

// readFailed records the first error reading pages back after Seal, for
// Series.Err.
func (c *Compact) readFailed(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readErr == nil {
		c.readErr = err
	}
}

// Err returns the first error reading the series' rollups back from its
// page file (Compact.KeepPagesIn): an evaluation after it has missed
// rollups, so its results must not be trusted.
func (s *Series) Err() error {
	if s.compact == nil {
		return nil
	}
	s.compact.mu.Lock()
	defer s.compact.mu.Unlock()
	return s.compact.readErr
}

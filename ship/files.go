package ship

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// inode names a file whatever its path: renames keep it.
type inode struct{ dev, ino uint64 }

// entry is a content being followed: its checkpoint and the files that
// carry it now.
type entry struct {
	fileState
	// home is the plain file it is followed in by inode, nil while it has
	// none (its file was truncated, or it lives on in copies only).
	home *carrier
	// carriers hold its bytes from offset 0: home, copies, compressed
	// copies.
	carriers []*carrier
	// skipping is set inside a line too long to keep, until its end.
	skipping bool
	// src is the carrier of the last read.
	src *carrier
}

// carrier is one file on disk that holds an entry's bytes.
type carrier struct {
	id   inode
	path string
	gz   bool
	// f is open for as long as a plain file is followed, so that a file
	// renamed out of the patterns, or deleted, is still read to its end.
	f    *os.File
	size int64 // plain: its size; gzip: its compressed size
	// inGlob and grew are the last polls that found it under a pattern
	// and saw its size change.
	inGlob, grew time.Time
	e            *entry
	z            *gzCursor // an open gzip stream, between reads
	// zLen is the length of a gzip copy's content once read to its end
	// (-1 until then); zTorn is the compressed size at which it last
	// ended early (gzip was still writing it), so that it is tried again
	// only once it changes.
	zLen, zTorn int64
}

// tracker finds the files the patterns match and tells their contents
// apart.
type tracker struct {
	patterns   []string
	rotateWait time.Duration
	forget     time.Duration
	log        *slog.Logger
	// fromEnd: contents found at the first poll of a shipper without a
	// state file start at their end.
	fromEnd bool
	polled  bool

	doc     *stateDoc // for NextID
	byInode map[inode]*carrier
	entries map[string]*entry
	// ignored are files that are not logs nines can read (another
	// compression), by inode, with the size they were judged at.
	ignored map[inode]int64

	buf    []byte // ReadAt buffer
	prefix []byte // head comparisons
}

// chunkSize is how much is read at a time; lines longer than it are
// skipped as they stream by.
const chunkSize = 1 << 20

func newTracker(patterns []string, doc *stateDoc, fromEnd bool, rotateWait, forget time.Duration, log *slog.Logger) *tracker {
	t := &tracker{patterns: patterns, rotateWait: rotateWait, forget: forget, log: log, fromEnd: fromEnd, doc: doc,
		byInode: map[inode]*carrier{}, entries: map[string]*entry{}, ignored: map[inode]int64{},
		buf: make([]byte, chunkSize), prefix: make([]byte, fpMax)}
	for _, f := range doc.Files {
		t.entries[f.ID] = &entry{fileState: f}
	}
	return t
}

// sorted returns the entries in the order they were found, so that
// reading and state files are deterministic.
func (t *tracker) sorted() []*entry {
	out := make([]*entry, 0, len(t.entries))
	for _, e := range t.entries {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b *entry) int { return compareIDs(a.ID, b.ID) })
	return out
}

// compareIDs orders "f12" after "f9".
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return bytes.Compare([]byte(a), []byte(b))
}

// poll looks at the patterns and at every file followed: new files,
// renames, copies, truncation, files gone.
func (t *tracker) poll(now time.Time) {
	found := map[inode]bool{}
	for _, pat := range t.patterns {
		paths, _ := filepath.Glob(pat) // patterns were checked by New
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil || !fi.Mode().IsRegular() {
				continue // gone since the glob, or a directory
			}
			dev, ino, _ := fileID(fi)
			id := inode{dev, ino}
			if found[id] {
				continue // matched by two patterns, or linked twice
			}
			found[id] = true
			c := t.byInode[id]
			if c == nil {
				if sz, ok := t.ignored[id]; ok && sz == fi.Size() {
					continue
				}
				if c = t.open(p, id, fi.Size(), now); c == nil {
					continue
				}
			}
			c.path, c.inGlob = p, now
			c.e.Path, c.e.Seen = p, now
			if c.gz && c.size != fi.Size() {
				c.size, c.grew = fi.Size(), now
			}
		}
	}
	for _, c := range t.carriers() {
		switch {
		case c.gz && !found[c.id]:
			t.drop(c)
		case !c.gz:
			t.check(c, now)
		}
	}
	for _, c := range t.carriers() {
		if !c.gz && !found[c.id] && now.Sub(c.inGlob) >= t.rotateWait && now.Sub(c.grew) >= t.rotateWait &&
			(c.e.Done || c.e.Offset >= c.size) {
			t.log.Info("nines ship: done with a file that left the patterns", "path", c.path, "bytes", c.e.Offset)
			t.drop(c)
		}
	}
	for _, e := range t.entries {
		t.settle(e)
	}
	for id, e := range t.entries {
		if len(e.carriers) == 0 && e.Acked == e.Offset && now.Sub(e.Seen) >= t.forget {
			delete(t.entries, id)
		}
	}
	t.polled = true
}

// carriers lists the files followed, in a stable order.
func (t *tracker) carriers() []*carrier {
	out := make([]*carrier, 0, len(t.byInode))
	for _, c := range t.byInode {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *carrier) int {
		if c := compareIDs(a.e.ID, b.e.ID); c != 0 {
			return c
		}
		switch {
		case a.id.dev != b.id.dev:
			return cmp.Compare(a.id.dev, b.id.dev)
		}
		return cmp.Compare(a.id.ino, b.id.ino)
	})
	return out
}

// Magic numbers of compressions nines ship does not read.
var otherCompressions = []struct{ magic, name string }{
	{"\xFD7zXZ\x00", "xz"}, {"BZh", "bzip2"}, {"\x28\xB5\x2F\xFD", "zstd"}, {"\x04\x22\x4D\x18", "lz4"},
}

// open starts following a file found under a pattern: it reads its head,
// recognises a content already known (the same inode after a restart, or
// a copy) or starts a new one. It returns nil for a file to pass over
// for now.
func (t *tracker) open(path string, id inode, size int64, now time.Time) *carrier {
	f, err := os.Open(path)
	if err != nil {
		t.log.Warn("nines ship: cannot open a file the patterns match", "path", path, "err", err)
		t.ignored[id] = size
		return nil
	}
	var magic [6]byte
	n, _ := f.ReadAt(magic[:], 0)
	for _, oc := range otherCompressions {
		if n >= len(oc.magic) && string(magic[:len(oc.magic)]) == oc.magic {
			t.log.Warn("nines ship: skipping a file compressed with "+oc.name+"; nines ship reads plain and gzip files", "path", path)
			f.Close()
			t.ignored[id] = size
			return nil
		}
	}
	c := &carrier{id: id, path: path, size: size, inGlob: now, grew: now, zLen: -1}
	var head []byte
	if n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		c.gz = true
		head, err = gzipHead(f, t.prefix)
		f.Close()
		if err != nil {
			// gzip may have written too little yet; try when it grows.
			t.ignored[id] = size
			return nil
		}
	} else {
		c.f = f
		m, err := f.ReadAt(t.prefix[:min(int64(fpMax), size)], 0)
		if err != nil && !errors.Is(err, io.EOF) {
			t.log.Warn("nines ship: cannot read a file the patterns match", "path", path, "err", err)
			f.Close()
			t.ignored[id] = size
			return nil
		}
		head = t.prefix[:m]
		if len(head) < fpMax && bytes.IndexByte(head, '\n') < 0 {
			// No whole line yet: a file just created, or a copy being
			// written. Its head could not tell a copy from a new log,
			// so it is looked at again once it grows.
			f.Close()
			t.ignored[id] = size
			return nil
		}
	}
	e := t.recognise(c, head)
	if e == nil {
		e = t.newEntry(c, head)
	}
	t.attach(e, c)
	t.byInode[id] = c
	return c
}

// recognise returns the known content that c carries: the entry whose
// home inode c is, after a restart, if its head still matches; else the
// entry whose head c's head repeats (a copy), preferring the longest
// match, then one without a home.
func (t *tracker) recognise(c *carrier, head []byte) *entry {
	if !c.gz {
		for _, e := range t.sorted() {
			if e.home == nil && e.Dev == c.id.dev && e.Ino == c.id.ino && len(e.Head) <= len(head) &&
				bytes.Equal(head[:len(e.Head)], e.Head) {
				return e
			}
		}
	}
	var best *entry
	bestN := 0
	for _, e := range t.sorted() {
		n := min(len(e.Head), len(head))
		// The compared bytes must hold a whole line, or the whole
		// fingerprint: a short first line still being written could be
		// the start of anything.
		if n == 0 || !bytes.Equal(e.Head[:n], head[:n]) || (n < fpMax && bytes.IndexByte(head[:n], '\n') < 0) {
			continue
		}
		if n > bestN || (n == bestN && best.home != nil && e.home == nil) {
			best, bestN = e, n
		}
	}
	return best
}

// newEntry starts a new content in c.
func (t *tracker) newEntry(c *carrier, head []byte) *entry {
	t.doc.NextID++
	e := &entry{fileState: fileState{ID: "f" + strconv.FormatUint(t.doc.NextID, 10), Path: c.path,
		Head: bytes.Clone(head), Seen: c.inGlob}}
	if t.fromEnd && !t.polled {
		// The first start reads only what is written from now on; the
		// lines already there are history, which the server would
		// refuse as late anyway after a few minutes.
		if c.gz {
			e.Done = true
		} else {
			e.Offset = lastLineEnd(c.f, c.size, t.buf)
			e.Acked = e.Offset
		}
	}
	t.entries[e.ID] = e
	t.log.Info("nines ship: following a new file", "path", c.path, "id", e.ID, "from", e.Offset)
	return e
}

// attach makes c a carrier of e, and its home if it is a plain file and
// e has none.
func (t *tracker) attach(e *entry, c *carrier) {
	c.e = e
	e.carriers = append(e.carriers, c)
	if !c.gz && e.home == nil {
		e.home = c
		e.Dev, e.Ino = c.id.dev, c.id.ino
	}
}

// detach ends c's part in its entry.
func (t *tracker) detach(c *carrier) {
	e := c.e
	e.carriers = slices.DeleteFunc(e.carriers, func(x *carrier) bool { return x == c })
	if e.src == c {
		e.src = nil
	}
	if e.home == c {
		e.home = nil
		e.Dev, e.Ino = 0, 0
		for _, x := range e.carriers {
			if !x.gz {
				e.home = x
				e.Dev, e.Ino = x.id.dev, x.id.ino
				break
			}
		}
	}
	c.closeZ()
	c.e = nil
}

// drop stops following c.
func (t *tracker) drop(c *carrier) {
	t.detach(c)
	if c.f != nil {
		c.f.Close()
	}
	delete(t.byInode, c.id)
}

// check looks at a plain file followed: its size, and whether it still
// holds its content's head. A file that was truncated, or rewritten in
// place, holds a new content from now on (its old one lives on in a copy
// if logrotate made one).
func (t *tracker) check(c *carrier, now time.Time) {
	fi, err := c.f.Stat()
	if err != nil {
		t.log.Warn("nines ship: cannot stat a followed file", "path", c.path, "err", err)
		return
	}
	if fi.Size() != c.size {
		c.size, c.grew = fi.Size(), now
	}
	e := c.e
	head, same, err := t.holds(c, c.size)
	if err != nil {
		t.log.Warn("nines ship: cannot read a followed file", "path", c.path, "err", err)
		return
	}
	if !same {
		t.log.Info("nines ship: a file was truncated or rewritten in place; reading it from its start", "path", c.path,
			"was", e.ID, "read", e.Offset)
		t.detach(c)
		ne := t.newEntryAt(c, head)
		t.attach(ne, c)
		return
	}
	if c == e.home && len(head) > len(e.Head) {
		e.Head = append(e.Head[:0:0], head...)
	}
}

// holds reads c's first bytes, up to limit, and reports whether c still
// holds its content: a file truncated, or rewritten in place, does not.
// head is valid until the next call.
func (t *tracker) holds(c *carrier, limit int64) (head []byte, same bool, err error) {
	e := c.e
	m, err := c.f.ReadAt(t.prefix[:min(int64(fpMax), limit)], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	head = t.prefix[:m]
	n := min(len(e.Head), len(head))
	same = bytes.Equal(e.Head[:n], head[:n])
	if c == e.home && (c.size < e.Offset || len(head) < len(e.Head)) {
		same = false
	}
	return head, same, nil
}

// readPlain reads e's bytes from the plain file c at off into buf. The
// file's head is read again after the bytes: the file may have been
// truncated and written again since the last poll (copytruncate while
// the server goes on writing), and bytes read from a new content at the
// old one's offset would be sent as the old one's. A file that no longer
// holds e is handed to check, which starts its new content; ok is then
// false and nothing was read.
func (t *tracker) readPlain(e *entry, c *carrier, buf []byte, off int64) (n int, ok bool, err error) {
	n, err = c.f.ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, false, fmt.Errorf("reading %s at byte %d: %w", c.path, off, err)
	}
	if _, same, err := t.holds(c, fpMax); err != nil {
		return 0, false, fmt.Errorf("reading %s: %w", c.path, err)
	} else if !same {
		t.check(c, time.Now())
		return 0, false, nil
	}
	return n, true, nil
}

// newEntryAt is newEntry for a file that changed under the shipper: its
// new bytes are read from the start, whatever the first start said.
func (t *tracker) newEntryAt(c *carrier, head []byte) *entry {
	polled := t.polled
	t.polled = true
	e := t.newEntry(c, head)
	t.polled = polled
	return e
}

// lastLineEnd returns the offset just after the last newline in the
// first size bytes of f, so that reading from the end starts at a whole
// line.
func lastLineEnd(f *os.File, size int64, buf []byte) int64 {
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return size
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

// gzipHead decompresses up to len(buf) first bytes of a gzip file.
func gzipHead(f *os.File, buf []byte) ([]byte, error) {
	zr, err := gzip.NewReader(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	// Not io.ReadFull: it turns the clean end of a short content into
	// the io.ErrUnexpectedEOF of a torn stream.
	n := 0
	for n < len(buf) && err == nil {
		var m int
		m, err = zr.Read(buf[n:])
		n += m
	}
	if err == nil || err == io.EOF {
		// Full, or the whole content is shorter than buf and ended where
		// gzip's trailer says.
		return buf[:n], nil
	}
	// A stream gzip is still writing: a head cut short would not match
	// the content it copies, and would be taken for a new one.
	return nil, fmt.Errorf("the compressed stream ends early (%w): gzip may still be writing it", err)
}

// source picks the carrier to read e from: the plain file with the most
// bytes past the offset, else a compressed copy that may hold more.
func (t *tracker) source(e *entry) *carrier {
	var best *carrier
	for _, c := range e.carriers {
		if !c.gz && c.size > e.Offset && (best == nil || c.size > best.size) {
			best = c
		}
	}
	if best != nil {
		return best
	}
	for _, c := range e.carriers {
		if c.gz && (c.zLen < 0 || c.zLen > e.Offset) && c.zTorn != c.size {
			return c
		}
	}
	return nil
}

// chunk is what one read of an entry gave.
type chunk struct {
	// data holds whole lines from the entry's offset on; it is valid
	// until the next read.
	data []byte
	// long: data is the start of a line longer than a whole read,
	// without its end.
	long bool
	// final: data ends with a last line that has no newline, at the end
	// of a complete compressed copy.
	final bool
}

// read returns the next whole lines of e, or an empty chunk when there
// are none yet.
func (t *tracker) read(e *entry) (chunk, error) {
	if e.Done {
		return chunk{}, nil
	}
	c := t.source(e)
	if c == nil {
		return chunk{}, nil
	}
	if c.gz {
		return t.readGzip(e, c)
	}
	n, ok, err := t.readPlain(e, c, t.buf, e.Offset)
	if err != nil || !ok {
		return chunk{}, err
	}
	e.src = c
	data := t.buf[:n]
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		return chunk{data: data[:i+1]}, nil
	}
	if n == len(t.buf) {
		return chunk{data: data, long: true}, nil
	}
	return chunk{}, nil // a line still being written
}

// consume marks n bytes of e's last chunk as read.
func (t *tracker) consume(e *entry, n int) {
	e.Offset += int64(n)
	if c := e.src; c != nil && c.z != nil {
		c.z.consume(n)
	}
}

// readGzip reads e from the compressed copy c, keeping the stream open
// between reads.
func (t *tracker) readGzip(e *entry, c *carrier) (chunk, error) {
	if c.z == nil || c.z.pos != e.Offset {
		c.closeZ()
		z, err := openGzip(c.path, e.Offset)
		if err != nil {
			c.zTorn = c.size
			t.log.Warn("nines ship: cannot read a compressed file; trying again when it changes", "path", c.path, "err", err)
			return chunk{}, nil
		}
		c.z = z
	}
	e.src = c
	data, end, err := c.z.fill()
	if end {
		c.zLen = c.z.pos + int64(len(data))
	}
	i := bytes.LastIndexByte(data, '\n')
	switch {
	case end && len(data) == 0:
		t.finishGzip(e, c)
		return chunk{}, nil
	case end && i == len(data)-1:
		return chunk{data: data}, nil
	case end:
		return chunk{data: data, final: true}, nil
	case err != nil:
		// A stream gzip is still writing ends early, as does a damaged
		// one: the whole lines it held are read, the rest once the file
		// changes.
		c.zTorn = c.size
		t.log.Debug("nines ship: a compressed file ends early; trying again when it changes", "path", c.path, "err", err)
		c.closeZ()
		if i >= 0 {
			return chunk{data: data[:i+1]}, nil
		}
		return chunk{}, nil
	case i >= 0:
		return chunk{data: data[:i+1]}, nil
	}
	return chunk{data: data, long: true}, nil
}

// settle marks done a content that lives on only in compressed copies
// read to their end, so that a restart does not decompress them again to
// find out.
func (t *tracker) settle(e *entry) {
	if e.Done || e.home != nil {
		return
	}
	for _, c := range e.carriers {
		if c.gz && c.zLen >= 0 && e.Offset >= c.zLen {
			e.Done = true
			return
		}
	}
}

// finishGzip closes a compressed copy read to its end; a content that
// lives on only in compressed copies is then done.
func (t *tracker) finishGzip(e *entry, c *carrier) {
	c.closeZ()
	if e.home == nil && e.Offset >= c.zLen {
		e.Done = true
	}
}

func (c *carrier) closeZ() {
	if c.z != nil {
		c.z.close()
		c.z = nil
	}
}

// gzCursor is an open gzip stream positioned in its content.
type gzCursor struct {
	f  *os.File
	zr *gzip.Reader
	// carry holds decompressed content not yet consumed from carry[skip]
	// on; pos is the content offset of carry[skip]. Consumed bytes are
	// dropped by the next fill, not by consume, so that the chunk a
	// caller is still reading stays in place.
	pos   int64
	carry []byte
	skip  int
	eof   bool
}

// openGzip opens path and skips its first offset bytes of content.
func openGzip(path string, offset int64) (*gzCursor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	g := &gzCursor{f: f, zr: zr, carry: make([]byte, 0, chunkSize)}
	n, err := io.CopyN(io.Discard, zr, offset)
	g.pos = n
	if err != nil && !errors.Is(err, io.EOF) {
		g.close()
		return nil, err
	}
	g.eof = errors.Is(err, io.EOF)
	return g, nil
}

// fill reads more content after what is carried; end reports the end of
// the stream, err a stream that ended early or is damaged.
func (g *gzCursor) fill() (data []byte, end bool, err error) {
	if g.skip > 0 {
		g.carry = g.carry[:copy(g.carry, g.carry[g.skip:])]
		g.skip = 0
	}
	for !g.eof && len(g.carry) < cap(g.carry) {
		n, rerr := g.zr.Read(g.carry[len(g.carry):cap(g.carry)])
		g.carry = g.carry[:len(g.carry)+n]
		if errors.Is(rerr, io.EOF) {
			g.eof = true
			break
		}
		if rerr != nil {
			return g.carry, false, rerr
		}
	}
	return g.carry, g.eof, nil
}

// consume drops n bytes read from the front of the carried content.
func (g *gzCursor) consume(n int) {
	n = min(n, len(g.carry)-g.skip)
	g.skip += n
	g.pos += int64(n)
}

func (g *gzCursor) close() {
	g.zr.Close()
	g.f.Close()
}

// errGone is a range whose bytes no file holds any more.
var errGone = errors.New("no file holds these bytes any more")

// readRange calls fn with the bytes [start, end) of e, in chunks cut as
// read cuts them, from a file that still holds them: the pending batches
// of a restarted shipper are rebuilt from it.
func (t *tracker) readRange(e *entry, start, end int64, fn func(chunk)) error {
	for pos := start; pos < end; {
		src := rangeSource(e, end)
		if src == nil {
			return fmt.Errorf("%s bytes %d-%d: %w", e.Path, start, end, errGone)
		}
		at, err := t.readRangeFrom(e, src, pos, end, fn)
		if err != nil {
			return fmt.Errorf("%s bytes %d-%d: %w", src.path, start, end, err)
		}
		if at == end {
			break
		}
		if at == pos && slices.Contains(e.carriers, src) {
			return fmt.Errorf("%s bytes %d-%d: the file changed while it was read: %w", src.path, start, end, errGone)
		}
		// src was truncated since the last poll; its copy, if logrotate
		// made one, is found by polling now.
		t.poll(time.Now())
		pos = at
	}
	return nil
}

// rangeSource picks the file to read bytes of e up to end from: its home
// or another plain file that holds them, else a compressed copy.
func rangeSource(e *entry, end int64) *carrier {
	var src *carrier
	for _, c := range e.carriers {
		if !c.gz && c.size >= end && (src == nil || c == e.home) {
			src = c
		}
	}
	if src != nil {
		return src
	}
	for _, c := range e.carriers {
		if c.gz && c.zTorn != c.size {
			return c
		}
	}
	return nil
}

// readRangeFrom is readRange from src, from pos on. It returns where it
// stopped: end, or before it when src turned out not to hold e any more
// (src is then no carrier of e, and the rest is read from another).
func (t *tracker) readRangeFrom(e *entry, src *carrier, pos, end int64, fn func(chunk)) (int64, error) {
	var z *gzCursor
	if src.gz {
		var err error
		if z, err = openGzip(src.path, pos); err != nil {
			return pos, err
		}
		defer z.close()
	}
	for pos < end {
		var data []byte
		if z != nil {
			d, _, err := z.fill()
			if err != nil && len(d) == 0 {
				return pos, err
			}
			data = d[:min(int64(len(d)), end-pos)]
		} else {
			n, ok, err := t.readPlain(e, src, t.buf[:min(int64(len(t.buf)), end-pos)], pos)
			if err != nil || !ok {
				return pos, err
			}
			data = t.buf[:n]
		}
		if len(data) == 0 {
			return pos, fmt.Errorf("it ends at byte %d: %w", pos, errGone)
		}
		ch := chunk{data: data}
		switch i := bytes.LastIndexByte(data, '\n'); {
		case pos+int64(len(data)) == end:
			ch.final = i < len(data)-1
		case i >= 0:
			ch.data = data[:i+1]
		default:
			ch.long = true
		}
		fn(ch)
		pos += int64(len(ch.data))
		if z != nil {
			z.consume(len(ch.data))
		}
	}
	return pos, nil
}

package ingest

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Format is an input format.
type Format uint8

// The formats Read understands. Auto picks one from the first lines.
const (
	Auto Format = iota
	JSONL
	Nginx
	Envoy
)

var formatNames = [...]string{"auto", "jsonl", "nginx", "envoy"}

// String returns the name ParseFormat accepts.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat reads a format name: auto, jsonl, nginx or envoy, in any case.
func ParseFormat(s string) (Format, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range formatNames {
		if t == n {
			return Format(i), nil
		}
	}
	return Auto, fmt.Errorf("ingest: unknown format %q (want auto, jsonl, nginx or envoy)", s)
}

// UnmarshalText implements encoding.TextUnmarshaler, so a Format works
// with flag.TextVar and in config files.
func (f *Format) UnmarshalText(b []byte) error {
	v, err := ParseFormat(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// Options configure Read. SLI and Quantum are required; the rest have
// defaults that suit a file on a laptop.
type Options struct {
	// Log names the input's format as users write it: a preset, a format
	// string, field names; its Format empty or "auto" detects a preset
	// from the first lines (with Log's Fields and Timezone). It wins over
	// Format when its Format is set.
	Log Config
	// Format of the input, for callers that know it is one of nines'
	// first three; Auto (with Log.Format empty) detects it.
	Format Format
	// SLI classifies each event; it is only read, and shared by workers.
	SLI *slo.SLI
	// Quantum is the rollup width, one minute by default in nines.
	Quantum time.Duration
	// KeepStatuses keeps counts and latencies per status code in every
	// rollup (slo.Rollup.Statuses), so a store can judge them again when
	// the SLI is edited. nines eval has no use for them and leaves it off.
	KeepStatuses bool
	// Compact keeps the rollups in a few dozen bytes a quantum instead of
	// about 2 KiB (slo.Compact), so that a file spanning a year fits in
	// a few dozen MiB. The Series then has no Rollups for Range; Evaluate
	// and BurnRate read it. Not with KeepStatuses.
	Compact bool
	// PageFile, with Compact, takes the compact rollups past PageBudget
	// bytes (slo.Compact.KeepPagesIn), so that memory stays bounded
	// whatever the span; nil keeps them all in memory.
	PageFile   slo.PageFile
	PageBudget int
	// Strict stops at the first malformed line with a LineError naming
	// it, instead of counting it and going on.
	Strict bool
	// Workers parse in parallel; 0 means runtime.GOMAXPROCS(0).
	Workers int
	// MaxLine is the longest line in bytes (0: 64 KiB). Longer lines are
	// malformed and skipped without being held in memory whole.
	MaxLine int
	// MaxErrors is how many malformed lines the Report keeps with their
	// messages (0: 10; negative: none). The rest are only counted.
	MaxErrors int
	// Progress, if set, is called now and then with the number of bytes
	// read so far from r (compressed bytes for gzip input, so it can be
	// compared with the file's size). It is called from the goroutine
	// that called Read and should return quickly.
	Progress func(bytesRead int64)

	// blockSize overrides the read block size; tests set it small to
	// cross many block boundaries with little input.
	blockSize int
}

const (
	defaultBlockSize = 1 << 20
	firstBlockSize   = 64 << 10
	defaultMaxLine   = 64 << 10
	defaultMaxErrors = 10
)

// LineError is a malformed line: its 1-based number in the input and what
// was wrong with it.
type LineError struct {
	Line int64
	Msg  string
}

// Error returns "line 12: status: want an integer 0-999, got \"5x3\"".
func (e LineError) Error() string {
	return "line " + strconv.FormatInt(e.Line, 10) + ": " + e.Msg
}

// Report says what Read made of its input.
type Report struct {
	// Format is the name of the format read, detected or given (see
	// Parser.Name); "auto" if the input held no non-empty line.
	Format string
	// Lines counts every line, empty ones included: it is the number of
	// the last line. Events counts the lines that became events and
	// Malformed those that could not be read; empty lines are neither.
	Lines, Events, Malformed int64
	// Errors holds the first MaxErrors malformed lines, in line order.
	Errors []LineError
	// Reasons counts the malformed lines by reason, most frequent first
	// (ties by reason), all of them: not only those in Errors.
	Reasons []ReasonCount
	// First and Last are the earliest and latest event times seen, in
	// Unix nanoseconds; valid when Events > 0. Lines need not be in time
	// order, so these are a minimum and a maximum, not the ends.
	First, Last int64
}

// ReasonCount is how many lines were malformed for one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int64  `json:"count"`
}

// Read parses events from r and folds them into the rollups of opts.SLI.
// Input compressed with gzip is decompressed transparently.
//
// Malformed lines are counted in the Report and skipped, or, with
// opts.Strict, end the read with a LineError. The Series is nil whenever
// the error is not; the Report always says how far the read got. Read
// stops early, with ctx's error, when ctx is done.
func Read(ctx context.Context, r io.Reader, opts Options) (*slo.Series, *Report, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, &Report{Format: opts.Format.String()}, err
	}
	rd := &reading{opts: o, rep: &Report{Format: Auto.String()}}
	if o.Log.Format != "" && !strings.EqualFold(strings.TrimSpace(o.Log.Format), "auto") {
		rd.parser, err = NewParser(o.Log)
	} else if o.Format != Auto {
		c := o.Log
		c.Format = o.Format.String()
		rd.parser, err = NewParser(c)
	}
	if err != nil {
		return nil, rd.rep, err
	}
	if rd.parser != nil {
		if err := rd.parser.Check(o.SLI); err != nil {
			return nil, rd.rep, err
		}
		rd.rep.Format = rd.parser.Name()
	}
	return rd.run(ctx, r)
}

// withDefaults checks opts and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	switch {
	case o.SLI == nil:
		return o, errors.New("ingest: no SLI given")
	case o.Quantum <= 0:
		return o, fmt.Errorf("ingest: quantum %v: must be positive", o.Quantum)
	case o.Format > Envoy:
		return o, fmt.Errorf("ingest: unknown format %v", o.Format)
	case o.Workers < 0 || o.MaxLine < 0:
		return o, errors.New("ingest: Workers and MaxLine must not be negative")
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxLine == 0 {
		o.MaxLine = defaultMaxLine
	}
	switch {
	case o.MaxErrors == 0:
		o.MaxErrors = defaultMaxErrors
	case o.MaxErrors < 0:
		o.MaxErrors = 0
	}
	if o.blockSize <= 0 {
		o.blockSize = defaultBlockSize
	}
	// A buffer must hold the longest allowed line with its "\r\n", so that
	// a full buffer without a newline always means a line too long.
	o.blockSize = max(o.blockSize, o.MaxLine+2)
	return o, nil
}

// block is a run of whole lines handed to a worker, or, when long > 0, a
// single line too long to keep, of that many bytes.
type block struct {
	seq    int64
	parser *Parser // nil until the format is known
	buf    []byte  // the buffer data lives in, returned to the pool after
	data   []byte
	long   int64
}

// lineProblem is a malformed line numbered within its block.
type lineProblem struct {
	line int64
	msg  string
}

// blockResult is what a worker made of one block.
type blockResult struct {
	seq                      int64
	lines, events, malformed int64
	errs                     []lineProblem
	reasons                  map[string]int64 // nil while no line is malformed
	first, last              int64
}

// reading is the state of one Read.
type reading struct {
	opts   Options
	rep    *Report
	parser *Parser // nil until given or detected

	blocks  chan *block
	results chan blockResult
	free    chan []byte // buffers workers are done with
	nbufs   int         // buffers allocated so far
	maxBufs int

	cancel context.CancelCauseFunc
	aggs   []*slo.Aggregator
	strict error // the first malformed line, in Strict mode

	// sentLines counts the lines sent while the format is still unknown,
	// so that a detection error can name its line.
	sentLines int64
	reasons   map[string]int64
}

// errStrictStop is the cancel cause when Strict mode found a bad line.
var errStrictStop = errors.New("stopped at a malformed line")

func (rd *reading) run(parent context.Context, r io.Reader) (*slo.Series, *Report, error) {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	rd.cancel = cancel

	o := rd.opts
	rd.blocks = make(chan *block, 1)
	rd.results = make(chan blockResult, o.Workers)
	// Every worker holds one buffer, one waits in the channel, and the
	// reader fills one while carrying a partial line into another.
	rd.maxBufs = o.Workers + 3
	rd.free = make(chan []byte, rd.maxBufs)

	var workers sync.WaitGroup
	rd.aggs = make([]*slo.Aggregator, o.Workers)
	var compact *slo.Compact
	if o.Compact && !o.KeepStatuses {
		compact = slo.NewCompact(o.Quantum)
		if o.PageFile != nil {
			compact.KeepPagesIn(o.PageFile, o.PageBudget)
		}
	}
	for w := range rd.aggs {
		rd.aggs[w] = slo.NewAggregator(o.SLI, o.Quantum)
		if o.KeepStatuses {
			rd.aggs[w].KeepStatuses()
		} else if compact != nil {
			rd.aggs[w].SpillTo(compact)
		}
		wk := &worker{opts: &rd.opts, agg: rd.aggs[w]}
		workers.Go(func() { wk.run(ctx, rd.blocks, rd.results, rd.free) })
	}
	collected := make(chan struct{})
	go func() {
		rd.collect()
		close(collected)
	}()

	readErr := rd.split(ctx, r)
	close(rd.blocks)
	workers.Wait()
	close(rd.results)
	<-collected
	rd.rep.Reasons = sortReasons(rd.reasons)

	switch {
	case rd.strict != nil:
		return nil, rd.rep, rd.strict
	case parent.Err() != nil:
		return nil, rd.rep, fmt.Errorf("ingest: stopped after %d lines: %w", rd.rep.Lines, parent.Err())
	case readErr != nil:
		return nil, rd.rep, readErr
	}
	agg := rd.aggs[0]
	for _, a := range rd.aggs[1:] {
		if err := agg.Merge(a); err != nil {
			// Each worker's events fitted; together they count more than
			// a quantum holds (slo.ErrOverflow).
			return nil, rd.rep, fmt.Errorf("ingest: %w", err)
		}
	}
	if compact != nil {
		series, err := agg.CompactSeries()
		if err != nil {
			return nil, rd.rep, fmt.Errorf("ingest: %w", err)
		}
		return series, rd.rep, nil
	}
	return agg.Series(), rd.rep, nil
}

// collect applies block results in sequence order, so that line numbers
// become absolute and errors stay in line order however the workers raced.
func (rd *reading) collect() {
	pending := make(map[int64]blockResult)
	var next, base int64
	rep := rd.rep
	for res := range rd.results {
		pending[res.seq] = res
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if rd.strict != nil {
				continue
			}
			for _, e := range b.errs {
				if len(rep.Errors) < rd.opts.MaxErrors {
					rep.Errors = append(rep.Errors, LineError{Line: base + e.line, Msg: e.msg})
				}
			}
			if b.events > 0 {
				if rep.Events == 0 || b.first < rep.First {
					rep.First = b.first
				}
				if rep.Events == 0 || b.last > rep.Last {
					rep.Last = b.last
				}
			}
			rep.Lines += b.lines
			rep.Events += b.events
			rep.Malformed += b.malformed
			for why, n := range b.reasons {
				if rd.reasons == nil {
					rd.reasons = map[string]int64{}
				}
				rd.reasons[why] += n
			}
			if rd.opts.Strict && b.malformed > 0 {
				rd.strict = LineError{Line: base + b.errs[0].line, Msg: b.errs[0].msg}
				rd.cancel(errStrictStop)
			}
			base += b.lines
		}
	}
}

// getBuf returns an empty buffer, reusing one a worker is done with or
// allocating up to maxBufs; beyond that it waits, which bounds memory.
func (rd *reading) getBuf(ctx context.Context) ([]byte, error) {
	select {
	case b := <-rd.free:
		return b[:0], nil
	default:
	}
	if rd.nbufs < rd.maxBufs {
		// The first buffer is small, so that reading a small input (an
		// HTTP body, a test) does not cost a full block; it still holds
		// the longest allowed line, which is all the splitter needs.
		size := rd.opts.blockSize
		if rd.nbufs == 0 {
			size = min(size, max(firstBlockSize, rd.opts.MaxLine+2))
		}
		rd.nbufs++
		return make([]byte, 0, size), nil
	}
	select {
	case b := <-rd.free:
		return b[:0], nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// send hands a block to the workers, detecting the format first if
// needed.
func (rd *reading) send(ctx context.Context, b *block) error {
	if rd.parser == nil && b.long == 0 {
		p, err := detect(b.data, rd.sentLines+1, rd.opts.Log)
		if err != nil {
			return err
		}
		if p != nil {
			if err := p.Check(rd.opts.SLI); err != nil {
				return err
			}
			rd.parser, rd.rep.Format = p, p.Name()
		}
	}
	b.parser = rd.parser
	if b.parser == nil {
		if b.long > 0 {
			rd.sentLines++
		} else {
			rd.sentLines += int64(bytes.Count(b.data, []byte{'\n'}))
		}
	}
	select {
	case rd.blocks <- b:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// utf8BOM is stripped from the start of the input: editors on Windows
// write it, and it would make the first line malformed.
const utf8BOM = "\xEF\xBB\xBF"

// split reads r in blocks cut after their last newline and sends them to
// the workers. A line longer than a whole buffer is skipped as it streams
// by and sent as its length alone.
func (rd *reading) split(ctx context.Context, r io.Reader) error {
	cr := &countingReader{r: r}
	src, gz, err := decompress(cr)
	if err != nil {
		return err
	}
	what := "input"
	if gz {
		what = "gzip input"
	}
	progress := func() {
		if rd.opts.Progress != nil {
			rd.opts.Progress(cr.n)
		}
	}
	cur, err := rd.getBuf(ctx)
	if err != nil {
		return err
	}
	var seq int64
	n, eof, start := 0, false, true
	for {
		if !eof {
			m, e, err := fill(src, cur[n:cap(cur)])
			n += m
			eof = e
			if err != nil {
				return fmt.Errorf("ingest: reading %s after %d bytes: %w", what, cr.n, err)
			}
			progress()
		}
		cur = cur[:n]
		if start {
			start = false
			if bytes.HasPrefix(cur, []byte(utf8BOM)) {
				n = copy(cur, cur[len(utf8BOM):])
				if !eof {
					// Fill the buffer again: a full buffer without a
					// newline must keep meaning a line too long.
					continue
				}
				cur = cur[:n]
			}
		}
		if eof {
			if n == 0 {
				return nil
			}
			return rd.send(ctx, &block{seq: seq, buf: cur, data: cur})
		}
		nl := bytes.LastIndexByte(cur, '\n')
		if nl < 0 {
			// A full buffer without a newline: the line is longer than
			// MaxLine (see withDefaults). Skip to its end.
			long, rest, e, err := skipLong(src, cur[:cap(cur)])
			if err != nil {
				return fmt.Errorf("ingest: reading %s after %d bytes: %w", what, cr.n, err)
			}
			progress()
			n, eof = rest, e
			if err := rd.send(ctx, &block{seq: seq, long: long}); err != nil {
				return err
			}
			seq++
			continue
		}
		next, err := rd.getBuf(ctx)
		if err != nil {
			return err
		}
		n = copy(next[:cap(next)], cur[nl+1:])
		if err := rd.send(ctx, &block{seq: seq, buf: cur, data: cur[:nl+1]}); err != nil {
			return err
		}
		seq++
		cur = next
	}
}

// fill reads into buf until it is full or the input ends.
func fill(r io.Reader, buf []byte) (n int, eof bool, err error) {
	for empty := 0; n < len(buf); {
		m, err := r.Read(buf[n:])
		n += m
		switch {
		case err == io.EOF:
			return n, true, nil
		case err != nil:
			return n, false, err
		case m == 0:
			// A reader that keeps returning nothing would spin forever.
			if empty++; empty > 100 {
				return n, false, io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	return n, false, nil
}

// skipLong reads past the rest of a line that filled all of buf, using buf
// as scratch. It returns the line's length (without "\r\n"), how many
// bytes after its newline it left at the start of buf, and whether the
// input ended.
func skipLong(r io.Reader, buf []byte) (long int64, rest int, eof bool, err error) {
	long = int64(len(buf))
	last := buf[len(buf)-1]
	for !eof {
		var m int
		m, eof, err = fill(r, buf)
		if err != nil {
			return long, 0, false, err
		}
		if i := bytes.IndexByte(buf[:m], '\n'); i >= 0 {
			long += int64(i)
			if i > 0 {
				last = buf[i-1]
			}
			if last == '\r' {
				long--
			}
			return long, copy(buf, buf[i+1:m]), eof, nil
		}
		long += int64(m)
		if m > 0 {
			last = buf[m-1]
		}
	}
	if last == '\r' {
		long--
	}
	return long, 0, true, nil
}

// countingReader counts the bytes read through it, for Progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// decompress returns a reader of r's content, gunzipped if r starts with
// the gzip magic number. Concatenated gzip members (rotated logs joined
// with cat) are read as one stream.
func decompress(r io.Reader) (io.Reader, bool, error) {
	// A small buffer to peek with: reads of whole blocks go past it
	// straight into the block buffers.
	br := bufio.NewReaderSize(r, 512)
	head, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return nil, false, fmt.Errorf("ingest: reading input: %w", err)
	}
	if len(head) < 2 || head[0] != 0x1f || head[1] != 0x8b {
		return br, false, nil
	}
	// flate reads a few bytes at a time: give it a buffer of its own.
	zr, err := gzip.NewReader(bufio.NewReaderSize(br, 64<<10))
	if err != nil {
		return nil, true, fmt.Errorf("ingest: reading gzip header: %w", err)
	}
	return zr, true, nil
}

// worker parses blocks into its own Aggregator.
type worker struct {
	opts   *Options
	agg    *slo.Aggregator
	parser *Parser // this worker's clone of the blocks' parser
}

func (w *worker) run(ctx context.Context, blocks <-chan *block, results chan<- blockResult, free chan<- []byte) {
	for b := range blocks {
		if ctx.Err() != nil {
			// Stopping: drain without parsing.
			if b.buf != nil {
				free <- b.buf
			}
			continue
		}
		res := w.process(b)
		if b.buf != nil {
			free <- b.buf
		}
		results <- res
	}
}

// tooLong is the problem of a line over the limit.
func tooLong(n int64, limit int) *problem {
	return &problem{what: "longer than the " + strconv.Itoa(limit) + "-byte limit", detail: " (" + strconv.FormatInt(n, 10) + " bytes)"}
}

// sortReasons returns the counts most frequent first, ties by reason.
func sortReasons(m map[string]int64) []ReasonCount {
	out := make([]ReasonCount, 0, len(m))
	for why, n := range m {
		out = append(out, ReasonCount{Reason: why, Count: n})
	}
	slices.SortFunc(out, func(a, b ReasonCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
	return out
}

// process parses the lines of one block.
func (w *worker) process(b *block) blockResult {
	res := blockResult{seq: b.seq, first: math.MaxInt64, last: math.MinInt64}
	keep := w.opts.MaxErrors
	if w.opts.Strict {
		keep = 1
	}
	bad := func(p *problem) bool {
		res.malformed++
		if res.reasons == nil {
			res.reasons = map[string]int64{}
		}
		res.reasons[p.what]++
		if len(res.errs) < keep {
			res.errs = append(res.errs, lineProblem{line: res.lines, msg: p.message()})
		}
		return w.opts.Strict
	}
	if b.long > 0 {
		res.lines = 1
		bad(tooLong(b.long, w.opts.MaxLine))
		return res
	}
	if w.parser == nil && b.parser != nil {
		// One Read has one format: the first block's parser serves all.
		w.parser = b.parser.Clone()
	}
	// A block sent before the format was known holds only blank lines
	// (detection looked at every one), so parser is only nil for those.
	parser := w.parser
	var ev slo.Event
	data := b.data
	for len(data) > 0 {
		line, rest, plain := cutPlainLine(data)
		data = rest
		res.lines++
		if len(line) == 0 || ((line[0] == ' ' || line[0] == '\t') && isBlank(line)) {
			continue
		}
		var p *problem
		switch {
		case len(line) > w.opts.MaxLine:
			p = tooLong(int64(len(line)), w.opts.MaxLine)
		default:
			if !plain {
				p = checkText(line)
			}
			if p == nil {
				p = parser.parse(line, &ev)
			}
		}
		if p != nil {
			if bad(p) {
				break
			}
			continue
		}
		if err := w.agg.Add(&ev); err != nil {
			// Its count would take the quantum past 2^64−1 events.
			if bad(&problem{what: err.Error()}) {
				break
			}
			continue
		}
		res.events++
		res.first = min(res.first, ev.Time)
		res.last = max(res.last, ev.Time)
	}
	return res
}

// ReadEvents reads the JSON lines of events sent to nines serve for SLO s
// (the events API, probe results, verifier reads) as every such path
// does: judged by s's SLI into quanta of s's size, counts per status
// kept so an edited SLI can be re-judged, the first ten malformed lines
// described.
func ReadEvents(ctx context.Context, r io.Reader, s *slo.SLO) (*slo.Series, *Report, error) {
	return Read(ctx, r, Options{Format: JSONL, SLI: &s.SLI, Quantum: s.Quantum, MaxErrors: 10, KeepStatuses: true})
}

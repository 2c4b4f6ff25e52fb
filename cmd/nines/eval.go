package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

const evalAbout = `Measure the SLOs of a spec file against events read from a file
(gzip-compressed or not): nines' JSON lines, or an access log in a format
nines knows (nginx, Apache, Caddy, Traefik, Envoy, HAProxy, AWS ALB,
Google Cloud load balancers, LTSV; see docs/formats.md), detected from
its first lines, named with --format, taken from the spec's sli.log, or
compiled from the server's own format string with --log-format. Every
calendar window the data touches is reported, or for a rolling window the
one ending at the evaluation time, which is the end of the data unless
--at sets it.

Exit code 0 when every window met its objective, 1 when one was violated,
2 on usage or input errors.

Examples:
  nines eval --spec checkout.yaml --events access.log
  nines eval --spec checkout.yaml --events events.jsonl --json
  zcat access.log.gz | nines eval --spec checkout.yaml --events - --format nginx
  nines eval --spec web.yaml --events access.log \
    --log-format apache:'%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" %D'
  nines eval --spec web.yaml --events caddy.log --format json \
    --field time=ts:unix_s --field status=status --field latency=duration:s`

type evalFlags struct {
	logFlags
	spec, events, at, only string
	json, strict           bool
	workers                int
	// compact keeps the rollups in little memory (ingest.Options.Compact):
	// eval reads them only through slo.Evaluate and slo.BurnRate.
	compact bool
	// pageBudget is how many bytes of them stay in memory, the rest going
	// to a temporary file (evalPageBudget; tests make it small).
	pageBudget int
}

// logFor is the log format SLO s is read with: the command line's when
// it names one (given), else the spec's sli.log, with --log-timezone
// over the spec's timezone; checked against the SLI.
func logFor(flags ingest.Config, given bool, s *slo.SLO) (ingest.Config, error) {
	c := flags
	if !given && s.SLI.Log != nil {
		var err error
		if c, err = ingest.ConfigOf(s.SLI.Log); err != nil {
			return c, usageError("slo %s: sli.log: %v", s.Name, err)
		}
		if flags.Timezone != nil {
			c.Timezone = flags.Timezone
		}
	}
	if err := c.Check(&s.SLI); err != nil {
		return c, usageError("slo %s: %v", s.Name, err)
	}
	return c, nil
}

func runEval(ctx context.Context, e *env, args []string) error {
	return evalWith(ctx, e, args, evalFlags{compact: true, pageBudget: evalPageBudget})
}

// evalWith is runEval with the settings no flag reaches already in f.
func evalWith(ctx context.Context, e *env, args []string, f evalFlags) error {
	fs := newFlagSet(e, "eval", "--spec FILE --events FILE [flags]", evalAbout)
	fs.StringVar(&f.spec, "spec", "", "SLO spec `file` (YAML, one or more SLOs)")
	fs.StringVar(&f.events, "events", "", "events `file`, or - for standard input")
	f.logFlags.register(fs, true)
	fs.StringVar(&f.at, "at", "", "evaluation `time` (RFC 3339); default: the end of the data")
	fs.StringVar(&f.only, "slo", "", "evaluate only the SLO with this `name`")
	fs.BoolVar(&f.json, "json", false, "print one JSON document instead of a text report")
	fs.BoolVar(&f.strict, "strict", false, "stop at the first malformed line instead of counting it")
	fs.IntVar(&f.workers, "workers", 0, "parsing goroutines (default: one per CPU)")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if f.spec == "" || f.events == "" {
		return usageError("eval: --spec and --events are required (see nines eval --help)")
	}
	format, err := f.logConfig("eval")
	if err != nil {
		return err
	}
	var at time.Time
	if f.at != "" {
		if at, err = time.Parse(time.RFC3339, f.at); err != nil {
			return usageError("eval: --at %q: want an RFC 3339 time such as 2026-11-25T00:00:00Z", f.at)
		}
	}

	slos, err := loadSpec(e, f.spec, f.only)
	if err != nil {
		return err
	}
	for _, s := range slos {
		if p := s.SLI.Probe; p != nil {
			return usageError("eval: SLO %s is fed by probe %s: its quanta are the consensus of the probe's locations, which nines serve computes from their results; read it from the store with nines replay, or GET /api/v1/slos/%s/status", s.Name, p.Name, s.Name)
		}
	}
	if f.events == "-" && len(slos) > 1 {
		return usageError("eval: standard input can be read once: choose one of the %d SLOs with --slo", len(slos))
	}

	// Every SLO's log format is checked against its SLI before a line is
	// read: a latency rule on a log without latency fails here, at once.
	formats := make([]ingest.Config, len(slos))
	for k, s := range slos {
		if formats[k], err = logFor(format, f.fieldsGiven(), s); err != nil {
			return err
		}
	}

	docs := make([]report.Document, 0, len(slos))
	violated := false
	var failed error
	// Every SLO's rollups are held until the report is written, so they
	// share the budget; each SLO's past its share go to a file of their
	// own.
	f.pageBudget /= max(len(slos), 1)
	for k, s := range slos {
		pages := &tempPages{}
		defer pages.remove()
		doc, err := evalOne(ctx, e, &f, formats[k], at, s, pages, &failed)
		if err != nil {
			return err
		}
		windows := doc.Stream
		doc.Stream = func(yield func(report.Window) bool) {
			for w := range windows {
				violated = violated || !w.Met
				if !yield(w) {
					return
				}
			}
		}
		docs = append(docs, doc)
	}
	if f.json {
		err = report.WriteJSON(e.stdout, docs)
	} else {
		err = report.WriteText(e.stdout, docs)
	}
	if failed != nil {
		return failed
	}
	if err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	if violated {
		return errViolated
	}
	return nil
}

func loadSpec(e *env, path, only string) ([]*slo.SLO, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("spec: %w", err)}
	}
	slos, warnings, err := spec.Load(path, data)
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "nines: warning: %s\n", w)
	}
	if err != nil {
		return nil, &exitError{code: exitUsage, err: err}
	}
	if only == "" {
		return slos, nil
	}
	names := make([]string, 0, len(slos))
	for _, s := range slos {
		if s.Name == only {
			return []*slo.SLO{s}, nil
		}
		names = append(names, s.Name)
	}
	return nil, usageError("eval: %s has no SLO named %q (it has %s)", path, only, strings.Join(names, ", "))
}

// evalOne reads the events for one SLO and evaluates every window they
// touch.
//
// The document's windows are evaluated as the report is written; an
// evaluation that fails all the same stops it and sets *failed.
func evalOne(ctx context.Context, e *env, f *evalFlags, format ingest.Config, at time.Time, s *slo.SLO, pages *tempPages, failed *error) (report.Document, error) {
	series, rep, err := readEvents(ctx, e, f, format, s, pages)
	if err != nil {
		return report.Document{}, err
	}
	in := inputOf(f.events, rep)
	first, last, ok := series.Span()
	if !ok {
		// Every line failed, or there were none: say why, as a report
		// would have.
		why := ""
		for _, l := range in.MalformedLines() {
			why += "\n  " + l
		}
		if rep.Malformed > 0 {
			why += "\n  if the log is not " + rep.Format + ", name its format: --format PRESET (nines eval --help) or --log-format nginx:'...' or apache:'...'"
		}
		return report.Document{}, &exitError{code: exitUsage, err: fmt.Errorf("%s: no events to evaluate (%s, %d malformed, read as %s)%s",
			f.events, plural(rep.Lines, "line"), rep.Malformed, rep.Format, why)}
	}
	if at.IsZero() {
		at = time.Unix(0, last).UTC()
	}
	// The SLO's life starts with the file's first data (or the spec's
	// since:), as it does in nines serve: time before it is no one's
	// outage.
	series.Since = slo.LifeStart(s, series)
	if series.Since > at.UnixNano() {
		return report.Document{}, usageError("slo %s: the SLO's life starts at %s (the data covers %s to %s), after the evaluation time %s: nothing to evaluate",
			s.Name, time.Unix(0, series.Since).UTC().Format(time.RFC3339), time.Unix(0, first).UTC().Format(time.RFC3339),
			time.Unix(0, last).UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
	}
	// The windows are walked, not listed: a century of calendar days is
	// tens of thousands of them.
	windows := s.Window.CoveringSeq(time.Unix(0, first), at)
	if empty(windows) {
		containing := s.Window.Containing(at)
		windows = func(yield func(slo.Window) bool) { yield(containing) }
	}
	// Every window is checked before any is evaluated: the report is
	// written while they are, and a refusal must leave no half of it.
	n := 0
	for w := range windows {
		if err := slo.CheckWindow(s, series, w, at); err != nil {
			return report.Document{}, &exitError{code: exitUsage, err: fmt.Errorf("slo %s: %w", s.Name, err)}
		}
		if !slo.Measured(s, series, w, at) {
			return report.Document{}, &exitError{code: exitUsage, err: fmt.Errorf(
				"slo %s: window %s: the data covers %s to %s, none of it in this window",
				s.Name, w, time.Unix(0, first).UTC().Format(time.RFC3339), time.Unix(0, last).UTC().Format(time.RFC3339))}
		}
		n++
	}
	doc := report.Build(s, at, nil, burnRates(s, series, at), in)
	if err := series.Err(); err != nil {
		return report.Document{}, err
	}
	doc.Stream = windowStream(s, series, windows, n, at, f.workers, failed)
	return doc, nil
}

func empty[T any](seq iter.Seq[T]) bool {
	for range seq {
		return false
	}
	return true
}

// windowStream evaluates the windows on as many goroutines as parse the
// file, a few windows ahead of the writer, and yields their reports in
// order: a year of daily windows is evaluated on every core while its
// report is written, and only the windows in flight are held.
//
// CheckWindow passed every window, so Evaluate cannot refuse one; if it
// does all the same, the stream ends there and failed holds why.
func windowStream(s *slo.SLO, series *slo.Series, windows iter.Seq[slo.Window], n int, at time.Time, workers int, failed *error) iter.Seq[report.Window] {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(min(workers, n), 1)
	return func(yield func(report.Window) bool) {
		// ahead bounds the windows dispatched and not yet written, so
		// that slot i%ahead holds at most the one of window i.
		ahead := 2 * workers
		type evaluated struct {
			w   report.Window
			err error
		}
		slots := make([]chan evaluated, ahead)
		for k := range slots {
			slots[k] = make(chan evaluated, 1)
		}
		tokens := make(chan struct{}, ahead)
		type job struct {
			i int
			w slo.Window
		}
		jobs := make(chan job)
		done := make(chan struct{})
		var wg sync.WaitGroup
		defer func() {
			close(done)
			wg.Wait()
		}()
		wg.Go(func() {
			defer close(jobs)
			i := 0
			for w := range windows {
				select {
				case tokens <- struct{}{}:
				case <-done:
					return
				}
				select {
				case jobs <- job{i, w}:
				case <-done:
					return
				}
				i++
			}
		})
		for range workers {
			wg.Go(func() {
				for j := range jobs {
					var ev evaluated
					r, err := slo.Evaluate(s, series, j.w, at)
					if err != nil {
						// CheckWindow passed every window: a bug.
						ev.err = &exitError{code: exitUsage, err: fmt.Errorf("slo %s: %w", s.Name, err)}
					} else {
						ev.w = report.NewWindow(s, r)
					}
					slots[j.i%ahead] <- ev
				}
			})
		}
		for i := range n {
			ev := <-slots[i%ahead]
			<-tokens
			if ev.err == nil {
				// A window evaluated with rollups missing is not reported.
				ev.err = series.Err()
			}
			if ev.err != nil {
				*failed = ev.err
				return
			}
			if !yield(ev.w) {
				return
			}
		}
	}
}

// burnRates measures the alerting spans that end at the evaluation time,
// as nines serve does: time before the SLO's life began spent nothing.
func burnRates(s *slo.SLO, series *slo.Series, at time.Time) []report.Burn {
	at = time.Unix(0, slo.QuantumStart(at.UnixNano(), s.Quantum))
	burns := make([]report.Burn, 0, len(report.BurnSpans))
	for _, span := range report.BurnSpans {
		if span%s.Quantum != 0 {
			continue
		}
		rate := math.NaN()
		if r, err := slo.BurnRate(s, series, at.Add(-span), at); err == nil {
			rate = r
		}
		burns = append(burns, report.Burn{Span: slo.FormatDuration(span), Rate: report.Number(rate)})
	}
	return burns
}

func readEvents(ctx context.Context, e *env, f *evalFlags, format ingest.Config, s *slo.SLO, pages *tempPages) (*slo.Series, *ingest.Report, error) {
	var r io.Reader = e.stdin
	var size int64
	if f.events != "-" {
		file, err := os.Open(f.events)
		if err != nil {
			return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("events: %w", err)}
		}
		defer file.Close()
		if st, err := file.Stat(); err == nil {
			size = st.Size()
		}
		r = file
	}
	opts := ingest.Options{Log: format, SLI: &s.SLI, Quantum: s.Quantum, Strict: f.strict, Workers: f.workers, Compact: f.compact}
	if pages != nil {
		opts.PageFile, opts.PageBudget = pages, f.pageBudget
	}
	var p *progress
	if e.stderrIsTTY {
		p = &progress{w: e.stderr, name: f.events, size: size}
		opts.Progress = p.update
		defer p.done()
	}
	series, rep, err := ingest.Read(ctx, r, opts)
	if err != nil {
		return nil, nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", f.events, err)}
	}
	return series, rep, nil
}

func inputOf(name string, rep *ingest.Report) *report.Input {
	in := &report.Input{
		File: name, Format: rep.Format, Lines: rep.Lines,
		Events: rep.Events, Malformed: rep.Malformed,
	}
	for _, le := range rep.Errors {
		in.Errors = append(in.Errors, le.Error())
	}
	for _, r := range rep.Reasons {
		in.Reasons = append(in.Reasons, report.Reason{Reason: r.Reason, Count: r.Count})
	}
	if rep.Events > 0 {
		first, last := time.Unix(0, rep.First).UTC(), time.Unix(0, rep.Last).UTC()
		in.First, in.Last = &first, &last
	}
	return in
}

// evalPageBudget is how many bytes of compact rollups nines eval keeps
// in memory before it writes them to a temporary file: a year of sparse
// minutes (about 7 MB) stays in memory, a decade goes mostly to the file.
const evalPageBudget = 8 << 20

// tempPages is the page file of nines eval (slo.PageFile): a temporary
// file made at the first write, so that a log whose rollups fit in
// memory makes none, and removed when the command ends.
type tempPages struct {
	mu sync.Mutex
	f  *os.File
}

func (t *tempPages) WriteAt(p []byte, off int64) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f == nil {
		f, err := os.CreateTemp("", "nines-eval-*.rollups")
		if err != nil {
			return 0, fmt.Errorf("a file for the rollups that do not fit in memory: %w (TMPDIR names where it goes)", err)
		}
		t.f = f
	}
	return t.f.WriteAt(p, off)
}

func (t *tempPages) ReadAt(p []byte, off int64) (int, error) {
	t.mu.Lock()
	f := t.f
	t.mu.Unlock()
	if f == nil {
		return 0, errors.New("nothing was written to the rollups' file")
	}
	return f.ReadAt(p, off)
}

// remove closes and deletes the file, if one was made.
func (t *tempPages) remove() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.f != nil {
		t.f.Close()
		os.Remove(t.f.Name())
		t.f = nil
	}
}

// progress draws one self-overwriting line on a terminal while a large
// file is read, at most a few times a second.
type progress struct {
	w    io.Writer
	name string
	size int64

	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func (p *progress) update(read int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	line := fmt.Sprintf("reading %s: %s", p.name, mebibytes(read))
	if p.size > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", mebibytes(p.size), read*100/p.size)
	}
	fmt.Fprintf(p.w, "\r%-70s", line)
	p.drawn = true
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintf(p.w, "\r%-70s\r", "")
	}
}

func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

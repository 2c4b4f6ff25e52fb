package ship

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// Config configures a Shipper. Server, one of SLOs and Service,
// Patterns, Parser and StatePath are required; the rest have defaults.
type Config struct {
	// Server is the base URL of nines serve.
	Server string
	// TokenFile holds the bearer token, when the server requires one. It
	// is read again after a 401, so a rotated token is picked up.
	TokenFile string
	// SLOs names the SLOs the lines are for, or Service every SLO of a
	// service.
	SLOs    []string
	Service string
	// Patterns are the files to follow, as filepath.Match globs.
	Patterns []string
	// Parser reads one line into an event.
	Parser Parser
	// StatePath is the checkpoint file.
	StatePath string
	// Rollup counts rollups per quantum here and sends those instead of
	// every line.
	Rollup bool
	// ReadFromBeginning makes the first start (no state file yet) read
	// the files already there from their start; by default it reads
	// only what is written from then on. Files found later are always
	// read from their start.
	ReadFromBeginning bool

	// Poll is how often the patterns and files are looked at (250ms).
	Poll time.Duration
	// BatchWait is the longest a line waits for its batch to fill (1s
	// for lines, 10s for rollups). BatchLines (10,000 for lines;
	// 5,000,000 lines read for rollups) and BatchBytes (4 MiB of events)
	// send a batch sooner.
	BatchWait  time.Duration
	BatchLines int
	BatchBytes int
	// InFlight is how many batches may be on their way at once (2).
	InFlight int
	// MaxLine is the longest line read (64 KiB); longer ones are
	// malformed.
	MaxLine int
	// RotateWait is how long a file that left the patterns is still
	// read after it stopped growing (5s): a server writes to a renamed
	// log until it reopens its file.
	RotateWait time.Duration
	// Forget drops the checkpoint of a file no pattern has matched for
	// that long (1h).
	Forget time.Duration
	// Timeout bounds one request (30s); MinBackoff and MaxBackoff the
	// waits between retries (250ms, 30s).
	Timeout, MinBackoff, MaxBackoff time.Duration
	// DefinitionsEvery is how often, with Rollup, the SLIs are asked of
	// the server again to notice an edit (30s).
	DefinitionsEvery time.Duration
	// Logger receives what the shipper does; Client makes its requests.
	Logger *slog.Logger
	Client *http.Client
	// Nonce fixes the state's nonce (16 hex digits) for tests; random
	// by default.
	Nonce string
}

// Shipper follows log files into nines serve.
type Shipper struct {
	cfg Config
	m   *metrics
}

// New checks cfg and fills in its defaults.
func New(cfg Config) (*Shipper, error) {
	switch {
	case cfg.Server == "":
		return nil, errors.New("no server: give its URL (--server http://127.0.0.1:9797)")
	case len(cfg.SLOs) == 0 && cfg.Service == "":
		return nil, errors.New("name the SLOs the lines are for: --slo NAME (repeatable) or --service NAME")
	case len(cfg.SLOs) > 0 && cfg.Service != "":
		return nil, errors.New("give --slo or --service, not both")
	case len(cfg.Patterns) == 0:
		return nil, errors.New("no files to follow: give paths or glob patterns, such as '/var/log/nginx/access.log*'")
	case cfg.Parser == nil:
		return nil, errors.New("no parser")
	case cfg.StatePath == "":
		return nil, errors.New("no state file: give --state, such as /var/lib/nines-ship/access.state")
	case cfg.Nonce != "" && (len(cfg.Nonce) != 16 || !isHex(cfg.Nonce)):
		return nil, fmt.Errorf("nonce %q: want 16 hex digits", cfg.Nonce)
	}
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want an http or https URL such as http://127.0.0.1:9797", cfg.Server)
	}
	cfg.Server = strings.TrimRight(cfg.Server, "/")
	for _, p := range cfg.Patterns {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("pattern %q: %w", p, err)
		}
	}
	for _, name := range cfg.SLOs {
		if strings.TrimSpace(name) == "" {
			return nil, errors.New("an empty SLO name")
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(d *int, v int) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Poll, 250*time.Millisecond)
	if cfg.Rollup {
		def(&cfg.BatchWait, 10*time.Second)
		defInt(&cfg.BatchLines, 5_000_000)
	} else {
		def(&cfg.BatchWait, time.Second)
		defInt(&cfg.BatchLines, 10_000)
	}
	defInt(&cfg.BatchBytes, 4<<20)
	defInt(&cfg.InFlight, 2)
	defInt(&cfg.MaxLine, 64<<10)
	def(&cfg.RotateWait, 5*time.Second)
	def(&cfg.Forget, time.Hour)
	def(&cfg.Timeout, 30*time.Second)
	def(&cfg.MinBackoff, 250*time.Millisecond)
	def(&cfg.MaxBackoff, 30*time.Second)
	def(&cfg.DefinitionsEvery, 30*time.Second)
	for _, c := range []struct {
		name string
		bad  bool
	}{
		{"poll interval", cfg.Poll < 0},
		{"batch wait", cfg.BatchWait < 0},
		{"batch lines", cfg.BatchLines < 0},
		{"batch bytes (at most 16 MiB: the server takes 32 MiB)", cfg.BatchBytes < 0 || cfg.BatchBytes > 16<<20},
		{"in-flight batches (1 to 64)", cfg.InFlight < 1 || cfg.InFlight > 64},
		{"longest line (up to 1 MiB)", cfg.MaxLine < 0 || cfg.MaxLine > chunkSize},
		{"rotate wait", cfg.RotateWait < 0},
		{"forget time", cfg.Forget < 0},
		{"request timeout", cfg.Timeout < 0},
		{"backoff", cfg.MinBackoff < 0 || cfg.MaxBackoff < cfg.MinBackoff},
	} {
		if c.bad {
			return nil, fmt.Errorf("%s out of range", c.name)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	return &Shipper{cfg: cfg, m: newMetrics()}, nil
}

// Metrics returns what the shipper has done so far.
func (s *Shipper) Metrics() Snapshot { return s.m.snapshot() }

// MetricsHandler serves /metrics (Prometheus text format) and /healthz.
func (s *Shipper) MetricsHandler() http.Handler { return s.m.handler() }

// target is what the state file is bound to.
func (s *Shipper) target() string {
	if s.cfg.Service != "" {
		return "service=" + s.cfg.Service
	}
	return "slo=" + strings.Join(s.cfg.SLOs, ",")
}

// Run follows the files until ctx ends, and returns nil then. It returns
// an error at once when the state file cannot be used or the server does
// not know the SLOs, and later only when the state cannot be written.
func (s *Shipper) Run(ctx context.Context) error {
	cfg := &s.cfg
	lock, err := lockState(cfg.StatePath)
	if err != nil {
		return err
	}
	defer lock.Close()
	doc, resumed, err := loadState(cfg.StatePath, s.target())
	if err != nil {
		return err
	}
	if !resumed {
		nonce := cfg.Nonce
		if nonce == "" {
			var b [8]byte
			rand.Read(b[:])
			nonce = hex.EncodeToString(b[:])
		}
		doc = &stateDoc{Nonce: nonce, Target: s.target()}
	}
	p := &poster{base: cfg.Server, tokenFile: cfg.TokenFile, hc: cfg.Client, timeout: cfg.Timeout,
		minWait: cfg.MinBackoff, maxWait: cfg.MaxBackoff, log: cfg.Logger, m: s.m}
	if err := p.readToken(); err != nil {
		return err
	}
	r := &runner{s: s, cfg: cfg, p: p, doc: doc, log: cfg.Logger, m: s.m,
		t: newTracker(cfg.Patterns, doc, !resumed && !cfg.ReadFromBeginning, cfg.RotateWait, cfg.Forget, cfg.Logger)}
	if err := r.resolve(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	cfg.Logger.Info("nines ship: started", "server", cfg.Server, "target", s.target(), "rollup", cfg.Rollup,
		"state", cfg.StatePath, "resumed", resumed, "pending", len(doc.Pending))
	return r.run(ctx)
}

// runner is one Run: the reading goroutine's state.
type runner struct {
	s   *Shipper
	cfg *Config
	p   *poster
	doc *stateDoc
	t   *tracker
	log *slog.Logger
	m   *metrics

	enc     encoder
	targets []*target // with Rollup
	fetched time.Time // when targets were last asked for

	cur     *batch
	pending []*batch // sealed and not acknowledged, oldest first
	done    map[*batch]bool
	requeue []*batch // refused batches to send again
	sendq   chan *batch
	acks    chan *batch
	dirty   bool
	saved   time.Time

	// malformed lines logged in the current minute, and since when.
	logged      int
	loggedSince time.Time
	suppressed  int64
}

// resolve reads the target SLOs' definitions from the server: it checks
// that they exist and that the log format can judge their SLIs, and, with
// Rollup, gives the SLIs to count by.
func (r *runner) resolve(ctx context.Context) error {
	targets, err := r.fetchTargets(ctx)
	if err != nil {
		return err
	}
	if c, ok := r.cfg.Parser.(interface{ Check(*slo.SLI) error }); ok {
		for _, t := range targets {
			if err := c.Check(&t.sli); err != nil {
				return fmt.Errorf("SLO %q: %w", t.name, err)
			}
		}
	}
	if !r.cfg.Rollup {
		q := url.Values{}
		if r.cfg.Service != "" {
			q.Set("service", r.cfg.Service)
		}
		for _, name := range r.cfg.SLOs {
			q.Add("slo", name)
		}
		r.enc = newLinesEncoder(q, r.cfg.BatchLines, r.cfg.BatchBytes)
		return nil
	}
	r.targets = targets
	r.enc = &rollupEncoder{targets: targets, maxLines: r.cfg.BatchLines, log: r.log}
	return nil
}

// sloNames lists the SLOs of the target: the names given, or those of
// the service.
func (r *runner) sloNames(ctx context.Context) ([]string, error) {
	if r.cfg.Service == "" {
		return r.cfg.SLOs, nil
	}
	var list struct {
		SLOs []struct {
			Name    string `json:"name"`
			Service string `json:"service"`
		} `json:"slos"`
	}
	if err := r.p.getJSON(ctx, "/api/v1/slos", &list); err != nil {
		return nil, err
	}
	var names []string
	for _, o := range list.SLOs {
		if o.Service == r.cfg.Service {
			names = append(names, o.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("the server has no SLO of service %q", r.cfg.Service)
	}
	return names, nil
}

// fetchTargets reads each target SLO's definition from the server: its
// SLI and quantum, which rollups must be counted by.
func (r *runner) fetchTargets(ctx context.Context) ([]*target, error) {
	names, err := r.sloNames(ctx)
	if err != nil {
		return nil, err
	}
	var out []*target
	for _, name := range names {
		var doc struct {
			Spec string `json:"spec"`
		}
		if err := r.p.getJSON(ctx, "/api/v1/slos/"+url.PathEscape(name), &doc); err != nil {
			return nil, fmt.Errorf("SLO %q: %w", name, err)
		}
		slos, _, err := spec.Load(name+" (from the server)", []byte(doc.Spec))
		if err != nil || len(slos) != 1 {
			return nil, fmt.Errorf("SLO %q: the server's definition cannot be read (%v): is the server a newer nines?", name, err)
		}
		o := slos[0]
		out = append(out, &target{name: name, sli: o.SLI, quantum: o.Quantum, definition: doc.Spec})
	}
	r.fetched = time.Now()
	return out, nil
}

// refreshTargets asks for the SLIs again; changed reports an edit, after
// which the open batch is counted again under the new SLIs.
func (r *runner) refreshTargets(ctx context.Context) (changed bool, err error) {
	targets, err := r.fetchTargets(ctx)
	if err != nil {
		return false, err
	}
	if len(targets) == len(r.targets) {
		same := true
		for i := range targets {
			same = same && targets[i].name == r.targets[i].name && targets[i].definition == r.targets[i].definition
		}
		if same {
			return false, nil
		}
	}
	r.log.Info("nines ship: the SLOs' definitions changed on the server; counting by the new ones")
	r.targets = targets
	r.enc.(*rollupEncoder).targets = targets
	return true, nil
}

// refresh asks for the SLIs again; a failure keeps the ones known (the
// requests then say what is wrong).
func (r *runner) refresh(ctx context.Context) bool {
	changed, err := r.refreshTargets(ctx)
	if err != nil {
		r.fetched = time.Now()
		if ctx.Err() == nil {
			r.log.Error("nines ship: asking the server for the SLOs' definitions", "err", err)
		}
	}
	return changed
}

// run is the reading loop: poll, read, batch, checkpoint, hand batches
// to the sender, apply its acknowledgements.
func (r *runner) run(ctx context.Context) error {
	r.sendq = make(chan *batch, r.cfg.InFlight)
	r.acks = make(chan *batch, r.cfg.InFlight+1)
	r.done = map[*batch]bool{}
	sendCtx, stopSend := context.WithCancel(ctx)
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		r.send(sendCtx)
	}()
	defer func() {
		stopSend()
		<-senderDone
	}()

	now := time.Now()
	r.t.poll(now)
	if err := r.resend(ctx); err != nil {
		return r.stop(ctx, err)
	}
	tick := time.NewTicker(r.cfg.Poll)
	defer tick.Stop()
	lastPoll := now
	for {
		if err := r.drainAcks(ctx); err != nil {
			return r.stop(ctx, err)
		}
		for len(r.requeue) > 0 {
			b := r.requeue[0]
			r.requeue = r.requeue[1:]
			if err := r.enqueue(ctx, b); err != nil {
				return r.stop(ctx, err)
			}
		}
		if now := time.Now(); now.Sub(lastPoll) >= r.cfg.Poll {
			r.t.poll(now)
			lastPoll = now
		}
		read, err := r.readAll(ctx)
		if err != nil {
			return r.stop(ctx, err)
		}
		if err := r.maybeSeal(ctx, time.Now()); err != nil {
			return r.stop(ctx, err)
		}
		if r.dirty && time.Since(r.saved) >= time.Second {
			if err := r.save(); err != nil {
				return r.stop(ctx, err)
			}
		}
		r.gauges(time.Now())
		if read {
			continue
		}
		select {
		case <-ctx.Done():
			return r.stop(ctx, nil)
		case b := <-r.acks:
			if err := r.ack(ctx, b); err != nil {
				return r.stop(ctx, err)
			}
		case <-tick.C:
		}
	}
}

// stop ends a run: the checkpoint is written as it stands, so that a
// restart resends only what is still pending.
func (r *runner) stop(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	var refused *ServerRefusedError
	if err == nil || errors.As(err, &refused) {
		// What was acknowledged before the stop is not sent again.
		r.drainAcks(ctx)
		if serr := r.save(); err == nil {
			err = serr
		}
	}
	return err
}

// readAll reads every content once, up to a chunk each; read reports
// whether anything was read.
func (r *runner) readAll(ctx context.Context) (read bool, err error) {
	for _, e := range r.t.sorted() {
		ch, err := r.t.read(e)
		if err != nil {
			r.log.Warn("nines ship: reading a file", "err", err)
			continue
		}
		if len(ch.data) == 0 {
			continue
		}
		read = true
		r.m.bytesRead.Add(int64(len(ch.data)))
		for data := ch; len(data.data) > 0; {
			if r.cur == nil {
				r.cur = r.newBatch()
			}
			start := e.Offset
			n, full := r.feed(e, r.cur, data, start, &e.skipping, true)
			r.t.consume(e, n)
			if n > 0 {
				r.cur.extend(e.ID, start, start+int64(n))
			}
			data.data = data.data[n:]
			if full {
				if err := r.seal(ctx); err != nil {
					return read, err
				}
			}
		}
	}
	return read, nil
}

func (r *runner) newBatch() *batch {
	b := &batch{started: time.Now()}
	r.enc.newBatch(b)
	return b
}

// feed reads the lines of ch, which starts at byte at of e, into b and
// returns how many bytes it took: whole lines, up to the line after which
// b is full when live (a batch rebuilt after a restart takes all of its
// range). skipping carries the state of a line too long to keep across
// chunks.
func (r *runner) feed(e *entry, b *batch, ch chunk, at int64, skipping *bool, live bool) (n int, full bool) {
	data := ch.data
	i := 0
	for i < len(data) {
		j := bytes.IndexByte(data[i:], '\n')
		if *skipping {
			if j < 0 {
				return len(data), false
			}
			i += j + 1
			*skipping = false
			continue
		}
		var line []byte
		next := 0
		switch {
		case j >= 0:
			line, next = data[i:i+j], i+j+1
		case ch.long:
			if live {
				r.m.linesRead.Add(1)
				r.malformed(e, at+int64(i), "line too long", fmt.Errorf("a line longer than %d bytes", chunkSize))
			}
			*skipping = true
			return len(data), false
		case ch.final:
			line, next = data[i:], len(data)
		default:
			return i, false // the rest of a line, read next time
		}
		r.line(e, b, line, at+int64(i), live)
		i = next
		if live && r.enc.full(b) {
			return i, true
		}
	}
	return i, false
}

// line parses one line into b.
func (r *runner) line(e *entry, b *batch, line []byte, at int64, live bool) {
	if live {
		r.m.linesRead.Add(1)
	}
	if len(line) > r.cfg.MaxLine {
		if live {
			r.malformed(e, at, "line too long", fmt.Errorf("%d bytes, over the %d allowed", len(line), r.cfg.MaxLine))
		}
		return
	}
	ev, err := r.cfg.Parser.Parse(line)
	if errors.Is(err, ingest.ErrEmpty) {
		return
	}
	if err != nil {
		if live {
			r.malformed(e, at, reasonOf(err), err)
		}
		return
	}
	if err := r.enc.add(b, &ev); err != nil {
		if live {
			r.malformed(e, at, "count overflow", err)
		}
		return
	}
	b.lines++
	b.newest = max(b.newest, ev.Time)
}

// malformed counts a line that could not be read, and logs the first ten
// of each minute.
func (r *runner) malformed(e *entry, at int64, reason string, err error) {
	r.m.bump(r.m.malformed, reason, 1)
	now := time.Now()
	if now.Sub(r.loggedSince) >= time.Minute {
		if r.suppressed > 0 {
			r.log.Warn("nines ship: more malformed lines were not logged", "count", r.suppressed)
		}
		r.logged, r.loggedSince, r.suppressed = 0, now, 0
	}
	if r.logged >= 10 {
		r.suppressed++
		return
	}
	r.logged++
	r.log.Warn("nines ship: malformed line, not sent", "path", e.Path, "byte", at, "reason", reason, "err", err)
}

// maybeSeal sends the open batch once its first line has waited
// BatchWait, unless a line too long to keep is being skipped.
func (r *runner) maybeSeal(ctx context.Context, now time.Time) error {
	if r.cur == nil || now.Sub(r.cur.started) < r.cfg.BatchWait {
		return nil
	}
	for _, e := range r.t.entries {
		if e.skipping {
			return nil
		}
	}
	return r.seal(ctx)
}

// seal closes the open batch, writes it into the checkpoint as pending
// and hands it to the sender.
func (r *runner) seal(ctx context.Context) error {
	b := r.cur
	r.cur = nil
	if len(b.ranges) == 0 {
		return nil
	}
	if r.cfg.Rollup && time.Since(r.fetched) >= r.cfg.DefinitionsEvery {
		r.refresh(ctx)
	}
	b.key = batchKey(r.doc.Nonce, b.ranges)
	if err := r.enc.seal(b); err != nil {
		return err
	}
	r.pending = append(r.pending, b)
	if len(b.reqs) > 0 {
		// The batch is on disk as pending before any byte of it leaves.
		if err := r.save(); err != nil {
			return err
		}
	}
	return r.enqueue(ctx, b)
}

// enqueue hands b to the sender, applying acknowledgements while it
// waits for room.
func (r *runner) enqueue(ctx context.Context, b *batch) error {
	for {
		select {
		case r.sendq <- b:
			return nil
		case a := <-r.acks:
			if err := r.ack(ctx, a); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// resend rebuilds the batches pending in the state file, from the same
// bytes, and queues them before anything new: the server stores those it
// had not and replays the answer to those it had.
func (r *runner) resend(ctx context.Context) error {
	for _, p := range r.doc.Pending {
		b, err := r.rebuild(p.Ranges, p.Key)
		if err != nil {
			return err
		}
		if err := r.enc.seal(b); err != nil {
			return err
		}
		r.log.Info("nines ship: sending again a batch that was on its way when nines ship stopped", "key", b.key,
			"lines", b.lines, "requests", len(b.reqs))
		r.pending = append(r.pending, b)
		if err := r.enqueue(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// rebuild counts the lines of ranges into a new batch. Ranges whose bytes
// are gone are left out and counted as lost; the batch keeps them, and
// its key.
func (r *runner) rebuild(ranges []rangeState, key string) (*batch, error) {
	b := r.newBatch()
	b.ranges, b.key, b.resent = ranges, key, true
	for _, rg := range ranges {
		e := r.t.entries[rg.ID]
		if e == nil {
			return nil, fmt.Errorf("internal error: pending range of unknown file %s", rg.ID)
		}
		skipping := false
		pos := rg.Start
		err := r.t.readRange(e, rg.Start, rg.End, func(ch chunk) {
			r.feed(e, b, ch, pos, &skipping, false)
			pos += int64(len(ch.data))
		})
		if err != nil {
			r.m.linesLost.Add(1)
			r.log.Error("nines ship: lines that were on their way when nines ship stopped cannot be read again; "+
				"the server may or may not have them", "file", e.Path, "from", rg.Start, "to", rg.End, "err", err)
		}
	}
	return b, nil
}

// send is the sending goroutine: batches in order, each request until
// it is answered for good.
func (r *runner) send(ctx context.Context) {
	for {
		var b *batch
		select {
		case <-ctx.Done():
			return
		case b = <-r.sendq:
		}
		b.refused = false
		for i := range b.reqs {
			a, err := r.p.post(ctx, &b.reqs[i])
			if ctx.Err() != nil {
				return // the batch stays pending
			}
			if err != nil {
				// The run stops; the batch stays pending in the state.
				b.err = err
				select {
				case r.acks <- b:
				case <-ctx.Done():
				}
				return
			}
			r.m.bump(r.m.batches, a.outcome.String(), 1)
			switch a.outcome {
			case refused:
				b.refused = true
				r.log.Error("nines ship: the server refused a batch for good", "key", b.reqs[i].key,
					"status", a.status, "answer", errorMessage(a.body))
			case conflict:
				r.log.Warn("nines ship: the server had this batch under another body (the SLI or the format changed since it was first sent); "+
					"counted as delivered", "key", b.reqs[i].key)
			default:
				r.count(a.body)
			}
		}
		select {
		case r.acks <- b:
		case <-ctx.Done():
			return
		}
	}
}

// count reads the late and future quanta of an answer into the metrics.
func (r *runner) count(body []byte) {
	var a struct {
		Late   int64 `json:"quanta_late"`
		Future int64 `json:"quanta_future"`
		SLOs   []struct {
			Late   int64 `json:"quanta_late"`
			Future int64 `json:"quanta_future"`
		} `json:"slos"`
	}
	if json.Unmarshal(body, &a) != nil {
		return
	}
	for _, s := range a.SLOs {
		a.Late += s.Late
		a.Future += s.Future
	}
	r.m.quantaLate.Add(a.Late)
	r.m.quantaFuture.Add(a.Future)
}

// drainAcks applies the acknowledgements that have come.
func (r *runner) drainAcks(ctx context.Context) error {
	for {
		select {
		case b := <-r.acks:
			if err := r.ack(ctx, b); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// ack applies an answered batch: the contents' acknowledged offsets
// advance over every batch answered in order. A batch of rollups the
// server refused is first judged again if the SLIs changed meanwhile (the
// server checks rollups against its SLI), and sent again under its key.
func (r *runner) ack(ctx context.Context, b *batch) error {
	if b.err != nil {
		return b.err
	}
	if b.refused && r.cfg.Rollup && !b.rejudged {
		b.rejudged = true
		if r.refresh(ctx) {
			if err := r.enc.seal(b); err != nil {
				return err
			}
			r.log.Info("nines ship: sending a refused batch again, judged by the edited SLIs", "key", b.key)
			r.requeue = append(r.requeue, b)
			return nil
		}
	}
	if b.refused {
		r.m.linesRefused.Add(b.lines)
		r.log.Error("nines ship: dropped the lines of a batch the server refused for good", "key", b.key, "lines", b.lines)
	} else {
		r.m.linesSent.Add(b.lines)
	}
	r.done[b] = true
	for len(r.pending) > 0 && r.done[r.pending[0]] {
		p := r.pending[0]
		delete(r.done, p)
		r.pending = r.pending[1:]
		for _, rg := range p.ranges {
			if e := r.t.entries[rg.ID]; e != nil {
				e.Acked = rg.End
			}
		}
		r.dirty = true
	}
	return nil
}

// save writes the checkpoint: the contents with the offsets of what is
// pending or acknowledged (bytes of the open batch are read again after a
// restart), and the pending batches.
func (r *runner) save() error {
	doc := r.doc
	doc.Files = doc.Files[:0]
	open := map[string]int64{}
	if r.cur != nil {
		for _, rg := range r.cur.ranges {
			if at, ok := open[rg.ID]; !ok || rg.Start < at {
				open[rg.ID] = rg.Start
			}
		}
	}
	for _, e := range r.t.sorted() {
		f := e.fileState
		if at, ok := open[e.ID]; ok {
			f.Offset = at
		}
		doc.Files = append(doc.Files, f)
	}
	doc.Pending = doc.Pending[:0]
	for _, b := range r.pending {
		doc.Pending = append(doc.Pending, pendingState{Key: b.key, Ranges: b.ranges})
	}
	if err := doc.check(); err != nil {
		return fmt.Errorf("internal error: the checkpoint would be inconsistent: %w", err)
	}
	data, err := encodeState(doc)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(r.cfg.StatePath, data); err != nil {
		return err
	}
	r.m.stateWrites.Add(1)
	r.dirty, r.saved = false, time.Now()
	return nil
}

// gauges sets the lag, backlog and file gauges.
func (r *runner) gauges(now time.Time) {
	var oldest time.Time
	for _, b := range r.pending {
		if oldest.IsZero() || b.started.Before(oldest) {
			oldest = b.started
		}
	}
	if r.cur != nil && (oldest.IsZero() || r.cur.started.Before(oldest)) {
		oldest = r.cur.started
	}
	if oldest.IsZero() {
		r.m.setLag(0)
	} else {
		r.m.setLag(now.Sub(oldest).Seconds())
	}
	var behind int64
	for _, e := range r.t.entries {
		if e.Done {
			continue
		}
		var size int64
		for _, c := range e.carriers {
			switch {
			case !c.gz:
				size = max(size, c.size)
			case c.zLen >= 0:
				size = max(size, c.zLen)
			}
		}
		behind += max(0, size-e.Acked)
	}
	r.m.behindBytes.Store(behind)
	r.m.files.Store(int64(len(r.t.byInode)))
}

package chaos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is one request as the proxy saw it, for the cohorts' SLIs and
// the proxy's own figures.
type Outcome struct {
	Start  time.Time
	Cohort Cohort
	// Keyed is false for a request without a sticky key (Outside).
	Keyed bool
	// Fault names the fault applied, "" for none.
	Fault    string
	Method   string
	Path     string
	Upstream string
	// Run is the run the request fell in, and SLO the cohort SLO its
	// outcome counts in ("" outside a cohort or a run).
	Run, SLO string
	// Status is the status sent to the client; 0 when none was (a reset,
	// a timeout, a client that left before the answer).
	Status  int
	Latency time.Duration
}

// Recorder takes every request's outcome. It is called on the request's
// goroutine once the answer is complete, so it must not block.
type Recorder interface {
	Record(Outcome)
}

// Config configures a Proxy.
type Config struct {
	Upstream *url.URL
	Assigner Assigner
	Faults   []*Fault
	Recorder Recorder
	// Injecting says whether faults apply now: the run is on and the
	// control plane was heard from recently. A proxy that cannot tell
	// injects nothing (it fails open). Nil: never.
	Injecting func() bool
	// Transport reaches the upstreams; a tuned http.Transport by default.
	Transport http.RoundTripper
	Now       func() time.Time
	Logger    *slog.Logger
	// Pauser, Throttle and Metrics are optional (pause.go, throttle.go,
	// metrics.go); Metrics also receives every Outcome.
	Pauser   *Pauser
	Throttle *Throttle
	Metrics  *Metrics
}

// Proxy is an HTTP reverse proxy that injects faults into an
// experiment cohort. It streams bodies, passes protocol upgrades
// (WebSockets) through untouched and unrecorded, and never fails on what
// an upstream does: an upstream that cannot be reached or breaks off is
// a 502, recorded like any answer.
type Proxy struct {
	cfg Config
	// orders are the cohorts and faults in force: those of Config, or
	// those the control plane sent last (Follow).
	orders  atomic.Pointer[orders]
	mu      sync.Mutex
	proxies map[string]*httputil.ReverseProxy // by upstream URL
	// upgrades counts requests passed through as protocol upgrades;
	// lastErrLog limits the log of upstream failures to one a second.
	upgrades   atomic.Int64
	lastErrLog atomic.Int64
	errsSince  atomic.Int64
}

// NewProxy checks cfg and returns its proxy.
func NewProxy(cfg Config) (*Proxy, error) {
	if cfg.Upstream == nil || cfg.Upstream.Host == "" || (cfg.Upstream.Scheme != "http" && cfg.Upstream.Scheme != "https") {
		return nil, errors.New("chaos proxy: the upstream must be an http:// or https:// URL")
	}
	if cfg.Assigner != (Assigner{}) || len(cfg.Faults) > 0 {
		if err := cfg.Assigner.Check(); err != nil {
			return nil, fmt.Errorf("chaos proxy: %w", err)
		}
	}
	for _, f := range cfg.Faults {
		if err := f.Check(); err != nil {
			return nil, fmt.Errorf("chaos proxy: %w", err)
		}
	}
	if cfg.Recorder == nil {
		return nil, errors.New("chaos proxy: a recorder is required: the cohorts are measured")
	}
	if cfg.Metrics != nil {
		cfg.Recorder = tee{cfg.Recorder, cfg.Metrics}
	}
	if cfg.Injecting == nil {
		cfg.Injecting = func() bool { return false }
	}
	if cfg.Transport == nil {
		cfg.Transport = &http.Transport{
			Proxy:                 nil,
			DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          1024,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			// A proxy passes bodies as they are: no gzip asked for on the
			// client's behalf, and none undone.
			DisableCompression: true,
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{cfg: cfg, proxies: map[string]*httputil.ReverseProxy{}}
	p.orders.Store(&orders{assigner: cfg.Assigner, faults: cfg.Faults})
	return p, nil
}

// orders are what the proxy applies: no assigner puts every request
// outside.
type orders struct {
	assigner Assigner
	faults   []*Fault
	run      string
	slos     CohortNames
}

// Follow puts the control plane's assignment in force: a new run's
// cohorts and faults, or none. Requests under way keep the orders they
// started with.
func (p *Proxy) Follow(a Assignment) error {
	o := &orders{run: a.Run, slos: a.SLOs}
	if a.Run != "" {
		o.assigner = Assigner{Key: a.Key, Salt: a.Salt, Share: a.Share}
		if err := o.assigner.Check(); err != nil {
			return fmt.Errorf("run %s: %w", a.Run, err)
		}
		for _, fs := range a.Faults {
			f, err := fs.Fault()
			if err != nil {
				return fmt.Errorf("run %s: %w", a.Run, err)
			}
			o.faults = append(o.faults, f)
		}
	}
	if cur := p.orders.Load(); cur.run == o.run && cur.run != "" {
		return nil // the same run: keep its faults' counts of active requests
	}
	p.orders.Store(o)
	return nil
}

// reverse is the reverse proxy to u, made once.
func (p *Proxy) reverse(u *url.URL) *httputil.ReverseProxy {
	key := u.String()
	p.mu.Lock()
	defer p.mu.Unlock()
	if rp := p.proxies[key]; rp != nil {
		return rp
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: p.cfg.Transport,
		// The default flushes a body of unknown length (a stream, server
		// events) as each chunk comes, and lets a body of known length
		// go out in as few writes as it can.
		FlushInterval: 0,
		BufferPool:    copyBuffers,
		ErrorHandler:  p.upstreamFailed,
	}
	p.proxies[key] = rp
	return rp
}

// copyBuffers are the buffers bodies are copied through: one per request
// in flight, reused, rather than 32 KiB of garbage per request.
var copyBuffers = &bufferPool{pool: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}

type bufferPool struct{ pool sync.Pool }

func (p *bufferPool) Get() []byte  { return *p.pool.Get().(*[]byte) }
func (p *bufferPool) Put(b []byte) { p.pool.Put(&b) }

// upstreamFailed answers 502 for an upstream that could not be reached
// or broke off, and logs it at most once a second, with how many since.
func (p *Proxy) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	n := p.errsSince.Add(1)
	now := p.cfg.Now().UnixNano()
	if last := p.lastErrLog.Load(); now-last >= int64(time.Second) && p.lastErrLog.CompareAndSwap(last, now) {
		p.errsSince.Store(0)
		p.cfg.Logger.Warn("chaos proxy: the upstream failed; answered 502", "err", err, "path", r.URL.Path, "failures_since_last_log", n)
	}
	if errors.Is(err, context.Canceled) {
		return // the client left: nobody to answer
	}
	http.Error(w, "502 bad gateway: the upstream failed", http.StatusBadGateway)
}

// ServeHTTP assigns the request, applies the experiment cohort's fault
// while injecting, proxies it and records the outcome.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !p.admit(w, r) {
		return
	}
	if r.Header.Get("Upgrade") != "" {
		p.upgrades.Add(1)
		p.reverse(p.cfg.Upstream).ServeHTTP(w, r)
		return
	}
	start := p.cfg.Now()
	ord := p.orders.Load()
	cohort, keyed := Outside, false
	if ord.assigner.Share > 0 {
		cohort, keyed = ord.assigner.Assign(r)
	}
	out := Outcome{Start: start, Cohort: cohort, Keyed: keyed, Method: r.Method, Path: r.URL.Path, Upstream: p.cfg.Upstream.String(), Run: ord.run}
	switch cohort {
	case Control:
		out.SLO = ord.slos.Control
	case Experiment:
		out.SLO = ord.slos.Experiment
	}
	rw := &recordingWriter{ResponseWriter: w}
	var fault *Fault
	if cohort == Experiment && p.cfg.Injecting() {
		fault = pick(ord.faults, r)
	}
	defer func() {
		out.Status = rw.status
		out.Latency = p.cfg.Now().Sub(start)
		p.cfg.Recorder.Record(out)
	}()
	upstream := p.cfg.Upstream
	if fault != nil {
		defer fault.leave()
		out.Fault = fault.Name
		if fault.Upstream != nil {
			upstream = fault.Upstream
			out.Upstream = upstream.String()
		}
		if !p.apply(fault, rw, r) {
			return
		}
		if fault.RateLimit > 0 {
			rw.limit = fault.RateLimit
		}
	}
	p.reverse(upstream).ServeHTTP(rw, r)
}

// pick is the first fault whose match and percentage take r, if it has
// room (MaxActive).
func pick(faults []*Fault, r *http.Request) *Fault {
	for _, f := range faults {
		if f.Match.matches(r) && rand.Float64()*100 < f.Percentage && f.enter() {
			return f
		}
	}
	return nil
}

// apply delays or aborts the request; false when it was answered (or
// broken off) and must not go upstream.
func (p *Proxy) apply(f *Fault, w *recordingWriter, r *http.Request) bool {
	if f.Delay != nil {
		if !sleep(r.Context(), f.Delay.draw(rand.Float64)) {
			return false // the client left
		}
	}
	a := f.Abort
	switch {
	case a == nil:
		return true
	case a.Status != 0:
		http.Error(w, fmt.Sprintf("%d %s: fault %q injected by nines chaos", a.Status, strings.ToLower(http.StatusText(a.Status)), f.Name), a.Status)
	case a.Timeout:
		hold := a.Hold
		if hold == 0 {
			hold = time.Hour
		}
		sleep(r.Context(), hold)
		panic(http.ErrAbortHandler)
	case a.Reset:
		// The server closes the connection (HTTP/1.1) or resets the
		// stream (HTTP/2) without an answer.
		panic(http.ErrAbortHandler)
	}
	return false
}

// sleep waits d or until ctx ends, and says whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// recordingWriter notes the status sent and, with a limit, paces the
// body at that many bytes per second. Unwrap lets http.ResponseController
// reach the connection's Flush and Hijack.
type recordingWriter struct {
	http.ResponseWriter
	status  int
	limit   int64 // bytes per second; 0: none
	started time.Time
	written int64
}

func (w *recordingWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.limit == 0 {
		return w.ResponseWriter.Write(b)
	}
	if w.started.IsZero() {
		w.started = time.Now()
	}
	// Paced in slices of a tenth of a second's worth, so that a large
	// write trickles rather than bursts.
	chunk := max(w.limit/10, 1)
	var n int
	for len(b) > 0 {
		k := min(int64(len(b)), chunk)
		m, err := w.ResponseWriter.Write(b[:k])
		n += m
		w.written += int64(m)
		if err != nil {
			return n, err
		}
		b = b[k:]
		http.NewResponseController(w.ResponseWriter).Flush()
		due := w.started.Add(time.Duration(float64(w.written) / float64(w.limit) * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
	}
	return n, nil
}

func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Upgrades counts requests passed through as protocol upgrades.
func (p *Proxy) Upgrades() int64 { return p.upgrades.Load() }

package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Agent connects a proxy to nines serve: it polls the proxy's orders
// (the run going on, its cohorts and faults) and sends each cohort's
// requests to the cohort's SLO as events. It is the proxy's Injecting
// and Recorder.
//
// The proxy fails open: it injects only while it heard from nines serve
// within FailOpen, so a proxy cut off from its control plane, or a run
// stopped there, stops faulting within that time.
type Agent struct {
	cfg   AgentConfig
	proxy *Proxy

	lastOK atomic.Int64 // Unix ns of the last orders received
	run    atomic.Pointer[string]

	mu      sync.Mutex
	pending map[string]*bytes.Buffer // event lines by cohort SLO
	lines   map[string]int
	seq     int64

	outside, dropped, sent atomic.Int64
}

// AgentConfig configures an Agent.
type AgentConfig struct {
	// Server is nines serve's base URL; Name the proxy's name in the
	// experiment files; Token the bearer token, if the server wants one.
	Server, Name, Token string
	// Poll is how often orders are asked for (250 ms), FailOpen how long
	// without them the proxy still injects (1 s), Flush how often events
	// are sent (250 ms).
	Poll, FailOpen, Flush time.Duration
	// MaxPending bounds the event lines held while nines serve cannot
	// take them; past it the oldest batch is dropped, counted.
	MaxPending int
	Client     *http.Client
	Now        func() time.Time
	Logger     *slog.Logger
}

// NewAgent returns an agent; give its Injecting and Record to the proxy
// and the proxy to Attach.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("chaos proxy: --server %q: want nines serve's URL, such as http://nines:9797", cfg.Server)
	}
	if cfg.Name == "" {
		return nil, fmt.Errorf("chaos proxy: a name is required: the proxy's name in the experiment files (proxy:)")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 250 * time.Millisecond
	}
	if cfg.FailOpen <= 0 {
		cfg.FailOpen = time.Second
	}
	if cfg.Flush <= 0 {
		cfg.Flush = 250 * time.Millisecond
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 1_000_000
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, pending: map[string]*bytes.Buffer{}, lines: map[string]int{}}
	none := ""
	a.run.Store(&none)
	return a, nil
}

// Attach gives the agent the proxy whose orders it keeps.
func (a *Agent) Attach(p *Proxy) { a.proxy = p }

// Injecting reports whether the proxy may inject now: a run is going on
// and its orders are fresh.
func (a *Agent) Injecting() bool {
	return *a.run.Load() != "" && a.cfg.Now().UnixNano()-a.lastOK.Load() < int64(a.cfg.FailOpen)
}

// Record keeps the outcome of a cohort request as an event line for its
// cohort SLO; other requests are only counted.
func (a *Agent) Record(o Outcome) {
	if o.SLO == "" {
		a.outside.Add(1)
		return
	}
	// Written by hand: this runs for every cohort request.
	var buf [128]byte
	line := append(buf[:0], `{"time":"`...)
	line = o.Start.UTC().AppendFormat(line, time.RFC3339Nano)
	line = append(line, `","latency_ms":`...)
	line = strconv.AppendFloat(line, float64(o.Latency)/float64(time.Millisecond), 'g', -1, 64)
	if o.Status == 0 {
		line = append(line, `,"ok":false}`...) // no answer: a reset, a timeout, a client that left
	} else {
		line = append(line, `,"status":`...)
		line = strconv.AppendInt(line, int64(o.Status), 10)
		line = append(line, '}')
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.pending[o.SLO]
	if b == nil {
		b = &bytes.Buffer{}
		a.pending[o.SLO] = b
	}
	if a.lines[o.SLO] >= a.cfg.MaxPending {
		a.dropped.Add(1)
		return
	}
	b.Write(line)
	b.WriteByte('\n')
	a.lines[o.SLO]++
}

// Run polls orders and sends events until ctx ends, then sends what is
// left once.
func (a *Agent) Run(ctx context.Context) {
	poll := time.NewTicker(a.cfg.Poll)
	defer poll.Stop()
	flush := time.NewTicker(a.cfg.Flush)
	defer flush.Stop()
	a.poll(ctx)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			a.flush(fctx)
			cancel()
			return
		case <-poll.C:
			a.poll(ctx)
		case <-flush.C:
			a.flush(ctx)
		}
	}
}

func (a *Agent) request(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(a.cfg.Server, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if a.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
	}
	return req, nil
}

// poll asks for the proxy's orders and puts them in force.
func (a *Agent) poll(ctx context.Context) {
	req, err := a.request(ctx, http.MethodGet, "/api/v1/proxies/"+url.PathEscape(a.cfg.Name)+"/assignment", nil)
	if err != nil {
		return
	}
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return // fail open: Injecting turns false by itself
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return
	}
	var as Assignment
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&as); err != nil {
		a.cfg.Logger.Warn("chaos proxy: the orders from nines serve cannot be read", "err", err)
		return
	}
	if a.proxy != nil && a.proxy.cfg.Pauser != nil {
		if as.Paused {
			a.proxy.cfg.Pauser.Pause()
		} else {
			a.proxy.cfg.Pauser.Resume()
		}
	}
	if a.proxy != nil {
		if err := a.proxy.Follow(as); err != nil {
			a.cfg.Logger.Warn("chaos proxy: orders refused (nothing is injected)", "err", err)
			return
		}
	}
	prev := *a.run.Load()
	if prev != as.Run {
		a.cfg.Logger.Info("chaos proxy: orders changed", "run", as.Run, "experiment", as.Experiment)
	}
	run := as.Run
	a.run.Store(&run)
	a.lastOK.Store(a.cfg.Now().UnixNano())
}

// flush sends each cohort SLO's lines as one batch, with an idempotency
// key, so that a batch sent again after a lost answer counts once.
func (a *Agent) flush(ctx context.Context) {
	a.mu.Lock()
	batches := a.pending
	counts := a.lines
	a.pending, a.lines = map[string]*bytes.Buffer{}, map[string]int{}
	a.mu.Unlock()
	for name, b := range batches {
		a.seq++
		key := fmt.Sprintf("chaos-%s-%d-%d-%d", a.cfg.Name, os.Getpid(), a.cfg.Now().UnixNano(), a.seq)
		if err := a.send(ctx, name, b.Bytes(), key); err != nil {
			a.cfg.Logger.Warn("chaos proxy: events not taken by nines serve; kept for the next flush", "slo", name, "events", counts[name], "err", err)
			a.mu.Lock()
			if a.lines[name]+counts[name] <= a.cfg.MaxPending {
				old := a.pending[name]
				nb := bytes.NewBuffer(append([]byte(nil), b.Bytes()...))
				if old != nil {
					nb.Write(old.Bytes())
				}
				a.pending[name] = nb
				a.lines[name] += counts[name]
			} else {
				a.dropped.Add(int64(counts[name]))
			}
			a.mu.Unlock()
			continue
		}
		a.sent.Add(int64(counts[name]))
	}
}

func (a *Agent) send(ctx context.Context, slo string, body []byte, key string) error {
	req, err := a.request(ctx, http.MethodPost, "/api/v1/events?slo="+url.QueryEscape(slo), body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Idempotency-Key", key)
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusConflict:
		return nil // this key was taken before: the batch counted once
	case resp.StatusCode/100 == 4:
		// Never taken, however often sent: counted as dropped.
		a.dropped.Add(int64(bytes.Count(body, []byte{'\n'})))
		a.cfg.Logger.Error("chaos proxy: nines serve refused the cohort's events", "slo", slo, "status", resp.Status, "answer", strings.TrimSpace(string(msg)))
		return nil
	}
	return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg)))
}

// Stats are the agent's counts, for the proxy's /metrics.
type AgentStats struct {
	Outside, Sent, Dropped int64
	Run                    string
}

func (a *Agent) Stats() AgentStats {
	return AgentStats{Outside: a.outside.Load(), Sent: a.sent.Load(), Dropped: a.dropped.Load(), Run: *a.run.Load()}
}

package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// AgentConfig configures an Agent.
type AgentConfig struct {
	// Server is nines serve's base URL, Location the agent's location,
	// Token a bearer token when the server wants one.
	Server, Location, Token string
	// MaxPending bounds the event lines held while nines serve cannot
	// take them (100,000); past it the oldest batch is dropped, counted.
	MaxPending int
	// MaxLag is nines serve's --ingest.max-lag (5 minutes): a clock off
	// by more has its results counted as late, and is told so.
	MaxLag time.Duration
	// MaxSkew is how far ahead of nines serve's clock results may be
	// stamped (1 minute); a clock further ahead has its results refused
	// as in the future.
	MaxSkew time.Duration
	// MinBackoff and MaxBackoff bound the wait before a batch is sent
	// again (1 s, 1 min).
	MinBackoff, MaxBackoff time.Duration
	Client                 *http.Client
	Now                    func() time.Time
	Logger                 *slog.Logger
}

// Agent sends results to nines serve as events: each check to the
// probe's LocationSLO, each certificate seen to its CertSLO. It is the
// Sink of a Scheduler.
//
// Results are cut into batches when they arrive, each batch with its own
// idempotency key, and a batch keeps its key however often it is sent:
// a batch whose answer was lost is sent again and counted once (the
// server answers the retry with the first answer, or 409 while the first
// is still being stored). Batches wait in order, in bounded memory, while
// nines serve cannot take them; a batch the server refuses (4xx) is
// logged and dropped, since sending it again would be refused again.
type Agent struct {
	cfg   AgentConfig
	boot  int64
	seq   atomic.Int64
	ready chan struct{}

	mu      sync.Mutex
	queue   []*batch
	pending int // lines in queue

	sent, dropped, refused, late, future atomic.Int64
	lastSkewLog                          time.Time
}

type batch struct {
	slo, key string
	body     []byte
	lines    int
	tries    int
}

// NewAgent returns an agent; run it with Run and give it to a
// Scheduler as its Sink.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("probe agent: --server %q: want nines serve's URL, such as http://nines:9797", cfg.Server)
	}
	if !ValidLocation(cfg.Location) {
		return nil, fmt.Errorf("probe agent: --location %q: want a name of letters, digits, - and _ (not \"cert\"), as the probes' locations: lists", cfg.Location)
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100_000
	}
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = 5 * time.Minute
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = time.Minute
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(time.Minute, cfg.MinBackoff)
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Agent{cfg: cfg, boot: cfg.Now().UnixNano(), ready: make(chan struct{}, 1)}, nil
}

// Results cuts rs into one batch per SLO and queues them.
func (a *Agent) Results(_ context.Context, rs []Result) {
	bodies := map[string][]byte{}
	lines := map[string]int{}
	var order []string
	add := func(slo string, line []byte) {
		if _, ok := bodies[slo]; !ok {
			order = append(order, slo)
		}
		bodies[slo] = append(append(bodies[slo], line...), '\n')
		lines[slo]++
	}
	var buf []byte
	for i := range rs {
		r := &rs[i]
		buf = r.EventLine(buf[:0])
		add(LocationSLO(r.Probe, r.Location), buf)
		if buf = r.CertLine(buf[:0]); len(buf) > 0 {
			add(CertSLO(r.Probe), buf)
		}
	}
	a.mu.Lock()
	for _, slo := range order {
		key := "probe-" + a.cfg.Location + "-" + strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(a.boot, 36) + "-" + strconv.FormatInt(a.seq.Add(1), 10)
		a.queue = append(a.queue, &batch{slo: slo, key: key, body: bodies[slo], lines: lines[slo]})
		a.pending += lines[slo]
	}
	for a.pending > a.cfg.MaxPending && len(a.queue) > 0 {
		old := a.queue[0]
		a.queue = a.queue[1:]
		a.pending -= old.lines
		a.dropped.Add(int64(old.lines))
		a.cfg.Logger.Error("probe agent: results dropped: nines serve has not taken them and the buffer is full", "slo", old.slo, "events", old.lines, "max_pending", a.cfg.MaxPending)
	}
	a.mu.Unlock()
	select {
	case a.ready <- struct{}{}:
	default:
	}
}

// Run sends queued batches until ctx ends, then tries once more, for a
// few seconds, to send what is left.
func (a *Agent) Run(ctx context.Context) {
	backoff := time.Duration(0)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if backoff > 0 {
			timer.Reset(backoff)
			select {
			case <-ctx.Done():
				a.drain()
				return
			case <-timer.C:
			}
		} else {
			select {
			case <-ctx.Done():
				a.drain()
				return
			case <-a.ready:
			}
		}
		if err := a.sendQueued(ctx); err != nil {
			backoff = min(max(2*backoff, a.cfg.MinBackoff), a.cfg.MaxBackoff)
			a.cfg.Logger.Warn("probe agent: nines serve did not take the results; they are kept and sent again", "err", err, "retry_in", backoff.String(), "pending", a.Pending())
			continue
		}
		backoff = 0
	}
}

func (a *Agent) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.sendQueued(ctx); err != nil {
		a.cfg.Logger.Error("probe agent: results not sent before stopping", "err", err, "events", a.Pending())
	}
}

// Flush sends everything queued now; for tests and `nines probe check`.
func (a *Agent) Flush(ctx context.Context) error { return a.sendQueued(ctx) }

// sendQueued sends batches in order until the queue is empty or one
// fails; a failed batch stays first, with its key.
func (a *Agent) sendQueued(ctx context.Context) error {
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.mu.Unlock()
			return nil
		}
		b := a.queue[0]
		a.mu.Unlock()
		b.tries++
		err := a.send(ctx, b)
		if err != nil {
			return err
		}
		a.mu.Lock()
		// The head may have been dropped meanwhile (a full buffer).
		if len(a.queue) > 0 && a.queue[0] == b {
			a.queue = a.queue[1:]
			a.pending -= b.lines
		}
		a.mu.Unlock()
	}
}

// errRetry marks an answer worth sending again.
var errRetry = errors.New("retry")

func (a *Agent) send(ctx context.Context, b *batch) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(a.cfg.Server, "/")+"/api/v1/events?slo="+url.QueryEscape(b.slo), bytes.NewReader(b.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Idempotency-Key", b.key)
	if a.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+a.cfg.Token)
	}
	sentAt := a.cfg.Now()
	resp, err := a.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.checkClock(resp, sentAt)
	switch {
	case resp.StatusCode/100 == 2:
		a.sent.Add(int64(b.lines))
		a.readReply(b, msg)
		return nil
	case resp.StatusCode == http.StatusConflict:
		// The key was taken before (this batch, sent earlier and
		// stored, or being stored now): it counts once.
		a.sent.Add(int64(b.lines))
		return nil
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %s: %s", errRetry, resp.Status, strings.TrimSpace(string(msg)))
	case resp.StatusCode/100 == 4:
		a.refused.Add(int64(b.lines))
		a.cfg.Logger.Error("probe agent: nines serve refused the results; they are dropped (sending them again would be refused again)", "slo", b.slo, "events", b.lines, "status", resp.Status, "answer", strings.TrimSpace(string(msg)))
		return nil
	}
	return fmt.Errorf("%w: %s: %s", errRetry, resp.Status, strings.TrimSpace(string(msg)))
}

// readReply counts the quanta nines serve refused as late or future.
func (a *Agent) readReply(b *batch, msg []byte) {
	var rep struct {
		SLOs []struct {
			SLO    string `json:"slo"`
			Late   int64  `json:"quanta_late"`
			Future int64  `json:"quanta_future"`
		} `json:"slos"`
	}
	if json.Unmarshal(msg, &rep) != nil {
		return
	}
	for _, s := range rep.SLOs {
		a.late.Add(s.Late)
		a.future.Add(s.Future)
		if s.Late > 0 || s.Future > 0 {
			a.cfg.Logger.Warn("probe agent: nines serve counted results outside its time limits", "slo", s.SLO, "late_quanta", s.Late, "future_quanta", s.Future, "retries", b.tries-1)
		}
	}
}

// checkClock compares the agent's clock with the server's Date header.
// The header has whole seconds and the answer took some time, so the
// skew is known to within the round trip plus a second; only skews
// beyond the limits (MaxLag behind, MaxSkew ahead) are reported, at most
// every 5 minutes.
func (a *Agent) checkClock(resp *http.Response, sentAt time.Time) {
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	now := a.cfg.Now()
	mid := sentAt.Add(now.Sub(sentAt) / 2)
	// The Date header drops the fraction: the server's clock read d
	// plus half a second, on average.
	skew := mid.Sub(d.Add(time.Second / 2)) // > 0: the agent's clock is ahead
	slack := now.Sub(sentAt) + time.Second
	if skew <= a.cfg.MaxSkew+slack && -skew <= a.cfg.MaxLag+slack {
		return
	}
	a.mu.Lock()
	quiet := !a.lastSkewLog.IsZero() && now.Sub(a.lastSkewLog) < 5*time.Minute
	if !quiet {
		a.lastSkewLog = now
	}
	a.mu.Unlock()
	if quiet {
		return
	}
	if skew < 0 {
		a.cfg.Logger.Error(fmt.Sprintf("probe agent: this machine's clock is %s behind nines serve's, more than the lateness limit %s: its results are counted as late and do not update their quanta; set the clock (NTP)", (-skew).Round(time.Second), a.cfg.MaxLag),
			"skew", skew.Round(time.Second).String(), "location", a.cfg.Location)
	} else {
		a.cfg.Logger.Error(fmt.Sprintf("probe agent: this machine's clock is %s ahead of nines serve's: more than the %s nines serve allows: its results are counted as in the future and refused; set the clock (NTP)", skew.Round(time.Second), a.cfg.MaxSkew),
			"skew", skew.Round(time.Second).String(), "location", a.cfg.Location)
	}
}

// Pending is how many event lines wait to be sent.
func (a *Agent) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending
}

// AgentStats are an agent's counts of event lines (Late and Future
// count quanta, as nines serve answers).
type AgentStats struct {
	Sent, Dropped, Refused, Late, Future int64
	Pending                              int
}

func (a *Agent) Stats() AgentStats {
	return AgentStats{Sent: a.sent.Load(), Dropped: a.dropped.Load(), Refused: a.refused.Load(),
		Late: a.late.Load(), Future: a.future.Load(), Pending: a.Pending()}
}

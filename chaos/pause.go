package chaos

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// PauseConfig bounds what a paused proxy holds.
type PauseConfig struct {
	// Queue is the most requests held at once; one more is answered 503.
	Queue int
	// MaxHold is the longest a request is held; past it, 503.
	MaxHold time.Duration
	// ReleaseRate is how many held requests a second go upstream after a
	// resume, in arrival order, so that the upstream that just came back
	// is not stampeded by the whole queue at once.
	ReleaseRate float64
}

// Check refuses bounds that would hold nothing, or hold forever.
func (c PauseConfig) Check() error {
	if c.Queue < 1 || c.Queue > 1_000_000 {
		return fmt.Errorf("pause: queue %d: want 1 to 1,000,000 held requests, such as 1000", c.Queue)
	}
	if c.MaxHold <= 0 || c.MaxHold > time.Hour {
		return fmt.Errorf("pause: max hold %s: want above 0 and at most 1h, such as 30s (longer than the failover it covers)", c.MaxHold)
	}
	if !(c.ReleaseRate > 0 && c.ReleaseRate <= 1e6) {
		return fmt.Errorf("pause: release rate %g: want above 0 and at most 1e6 requests a second, such as 200", c.ReleaseRate)
	}
	return nil
}

// Pauser holds new requests while paused (a dependency fails over), in
// arrival order, and releases them in that order on resume. While the
// queue drains after a resume, new requests join its end rather than
// overtake it.
type Pauser struct {
	cfg PauseConfig
	now func() time.Time

	mu          sync.Mutex
	paused      bool
	pausedSince time.Time
	pausedTotal time.Duration
	queue       list.List // of *waiter, oldest first
	draining    bool      // a release loop runs

	held, full, expired, left atomic.Int64
}

// waiter is one held request; released is closed when it may go on.
type waiter struct {
	released chan struct{}
	elem     *list.Element
}

// NewPauser checks cfg; now is the clock (time.Now when nil).
func NewPauser(cfg PauseConfig, now func() time.Time) (*Pauser, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Pauser{cfg: cfg, now: now}, nil
}

// Pause holds new requests from now on; pausing a paused proxy changes
// nothing.
func (p *Pauser) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused, p.pausedSince = true, p.now()
	}
}

// Resume releases the held requests in arrival order at the release
// rate; resuming a running proxy changes nothing.
func (p *Pauser) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		return
	}
	p.paused = false
	p.pausedTotal += p.now().Sub(p.pausedSince)
	if p.queue.Len() > 0 && !p.draining {
		p.draining = true
		go p.drain()
	}
}

// drain releases the queue's head at ReleaseRate until the queue is
// empty or the proxy is paused again. It wakes at most every
// millisecond and releases what the rate allows since it started, so
// that rates above a thousand a second are kept too; requests released
// in the same wake-up race each other to the upstream.
func (p *Pauser) drain() {
	start := time.Now() // before the ticker: its first tick is a whole gap later
	t := time.NewTicker(max(time.Duration(float64(time.Second)/p.cfg.ReleaseRate), time.Millisecond))
	defer t.Stop()
	released := 0.0
	for {
		due := 1 + math.Floor(time.Since(start).Seconds()*p.cfg.ReleaseRate) // the first goes at once
		p.mu.Lock()
		for ; released < due && !p.paused && p.queue.Len() > 0; released++ {
			w := p.queue.Remove(p.queue.Front()).(*waiter)
			w.elem = nil
			close(w.released)
		}
		if p.paused || p.queue.Len() == 0 {
			p.draining = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		<-t.C
	}
}

// PauseStatus is what a pauser reports.
type PauseStatus struct {
	Paused bool `json:"paused"`
	// Queued is how many requests are held now.
	Queued int `json:"queued"`
	// PausedSeconds is the total time paused, the current pause included.
	PausedSeconds float64 `json:"paused_seconds"`
	// Held counts requests ever held; Full those refused for a full
	// queue, Expired those refused after the maximum hold, Left those
	// whose client left while held.
	Held    int64 `json:"held"`
	Full    int64 `json:"refused_queue_full"`
	Expired int64 `json:"refused_hold_expired"`
	Left    int64 `json:"client_left"`
}

// Status reports the pauser now.
func (p *Pauser) Status() PauseStatus {
	p.mu.Lock()
	s := PauseStatus{Paused: p.paused, Queued: p.queue.Len(), PausedSeconds: p.pausedTotal.Seconds()}
	if p.paused {
		s.PausedSeconds += p.now().Sub(p.pausedSince).Seconds()
	}
	p.mu.Unlock()
	s.Held, s.Full, s.Expired, s.Left = p.held.Load(), p.full.Load(), p.expired.Load(), p.left.Load()
	return s
}

// Why Wait did not let a request through.
var (
	errQueueFull   = errors.New("the pause queue is full")
	errHoldExpired = errors.New("held past the maximum hold")
	errClientLeft  = errors.New("the client left while held")
)

// Wait lets r through at once when not paused and nothing is queued;
// otherwise it holds r until released (nil), the queue is full, the
// maximum hold passes, or the client leaves (an error, and r is no
// longer queued).
func (p *Pauser) Wait(r *http.Request) error {
	p.mu.Lock()
	if !p.paused && p.queue.Len() == 0 {
		p.mu.Unlock()
		return nil
	}
	if p.queue.Len() >= p.cfg.Queue {
		p.mu.Unlock()
		p.full.Add(1)
		return errQueueFull
	}
	w := &waiter{released: make(chan struct{})}
	w.elem = p.queue.PushBack(w)
	p.held.Add(1) // under the lock: Status never shows a request queued but not held
	p.mu.Unlock()

	t := time.NewTimer(p.cfg.MaxHold)
	defer t.Stop()
	var why error
	select {
	case <-w.released:
		return nil
	case <-t.C:
		why = errHoldExpired
	case <-r.Context().Done():
		why = errClientLeft
	}
	p.mu.Lock()
	if w.elem == nil { // released as the timer or the client fired
		p.mu.Unlock()
		if why == errClientLeft {
			p.left.Add(1)
			return why
		}
		return nil
	}
	p.queue.Remove(w.elem)
	w.elem = nil
	p.mu.Unlock()
	if why == errHoldExpired {
		p.expired.Add(1)
	} else {
		p.left.Add(1)
	}
	return why
}

// refuse answers a request the pauser did not let through: 503
// with Retry-After (the maximum hold, when the proxy is likely resumed),
// or nothing when the client left.
func (p *Pauser) refuse(w http.ResponseWriter, why error) {
	if errors.Is(why, errClientLeft) {
		return
	}
	w.Header().Set("Retry-After", retryAfter(p.cfg.MaxHold))
	http.Error(w, "503 service unavailable: the proxy is paused and "+why.Error()+"; retry later", http.StatusServiceUnavailable)
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

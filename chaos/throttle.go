package chaos

import (
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// ThrottleConfig is a rate limit shared by the proxy's replicas: each
// replica admits GlobalRate/Replicas requests a second, so that the
// replicas together admit GlobalRate when the load spreads evenly over
// them (as behind a round-robin balancer).
type ThrottleConfig struct {
	GlobalRate float64 // requests a second, all replicas together
	Replicas   int     // how many proxy replicas share GlobalRate
	// Burst is how many requests a replica admits at once above its
	// rate, after a quiet spell: the token bucket's size.
	Burst int
}

// Check refuses a limit that admits nothing or cannot be divided.
func (c ThrottleConfig) Check() error {
	if !(c.GlobalRate > 0 && c.GlobalRate <= 1e9) {
		return fmt.Errorf("throttle: global rate %g: want above 0 and at most 1e9 requests a second", c.GlobalRate)
	}
	if c.Replicas < 1 || c.Replicas > 10_000 {
		return fmt.Errorf("throttle: replicas %d: want the number of proxy replicas sharing the global rate, 1 to 10,000", c.Replicas)
	}
	if c.Burst < 1 || c.Burst > 1_000_000 {
		return fmt.Errorf("throttle: burst %d: want 1 to 1,000,000 requests, such as the replica's rate for one second", c.Burst)
	}
	return nil
}

// Rate is one replica's share of the global rate, requests a second.
func (c ThrottleConfig) Rate() float64 { return c.GlobalRate / float64(c.Replicas) }

// Throttle is one replica's token bucket.
type Throttle struct {
	cfg  ThrottleConfig
	rate float64 // tokens a nanosecond
	now  func() time.Time

	mu     sync.Mutex
	tokens float64
	last   time.Time

	throttled atomic.Int64
}

// NewThrottle checks cfg and returns a full bucket; now is the clock
// (time.Now when nil).
func NewThrottle(cfg ThrottleConfig, now func() time.Time) (*Throttle, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{cfg: cfg, rate: cfg.Rate() / 1e9, now: now, tokens: float64(cfg.Burst), last: now()}, nil
}

// Allow takes a token, or says how long until one is there.
func (t *Throttle) Allow() (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if dt := now.Sub(t.last); dt > 0 {
		t.tokens = min(float64(t.cfg.Burst), t.tokens+float64(dt)*t.rate)
		t.last = now
	}
	if t.tokens >= 1 {
		t.tokens--
		return true, 0
	}
	t.throttled.Add(1)
	return false, time.Duration((1 - t.tokens) / t.rate)
}

// Throttled counts the requests refused.
func (t *Throttle) Throttled() int64 { return t.throttled.Load() }

// refuse answers 429 with Retry-After, the wait for the next token.
func (t *Throttle) refuse(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	http.Error(w, fmt.Sprintf("429 too many requests: this proxy replica admits %g requests a second (%g over %d replicas); retry later",
		t.cfg.Rate(), t.cfg.GlobalRate, t.cfg.Replicas), http.StatusTooManyRequests)
}

// admit is the proxy's gate before a request is assigned and proxied:
// the throttle first (a refused request costs nothing upstream and is
// not held), then the pause. False when the request was answered here
// or its client left.
func (p *Proxy) admit(w http.ResponseWriter, r *http.Request) bool {
	if t := p.cfg.Throttle; t != nil {
		if ok, wait := t.Allow(); !ok {
			t.refuse(w, wait)
			return false
		}
	}
	if ps := p.cfg.Pauser; ps != nil {
		if err := ps.Wait(r); err != nil {
			ps.refuse(w, err)
			return false
		}
	}
	return true
}

package chaos

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Fault is what the experiment cohort's requests suffer. Its fields
// follow Envoy's HTTP fault filter (percentage, headers, delay, abort,
// response_rate_limit, upstream_cluster, max_active_faults), so that a
// reader of one reads the other.
type Fault struct {
	Name string
	// Match limits the fault to requests of these path prefixes, methods
	// and headers; empty matches every request of the cohort.
	Match Match
	// Percentage of the matching experiment requests that get the fault,
	// in (0, 100].
	Percentage float64
	// One or more of:
	Delay     *Delay
	Abort     *Abort
	RateLimit int64    // response body bytes per second; 0: none
	Upstream  *url.URL // send the request there instead (an experiment cluster)
	// MaxActive bounds the requests inside this fault at once (a delayed
	// or throttled request counts until it ends); beyond it requests pass
	// untouched, counted. 0: no bound.
	MaxActive int64

	active atomic.Int64
}

// Match selects requests.
type Match struct {
	Routes  []string // path prefixes
	Methods []string
	Headers []HeaderMatch
}

// HeaderMatch is a header that must be present, or equal a value.
type HeaderMatch struct {
	Name  string
	Exact string // "" : present with any value
}

// Delay holds a request before it is sent upstream: Fixed, or drawn
// uniformly from [Min, Max], or exponentially with mean Mean.
type Delay struct {
	Fixed, Min, Max, Mean time.Duration
}

// Abort answers instead of the upstream: with Status, or by resetting
// the connection, or by never answering (Timeout) until the client gives
// up or Hold passes, then resetting.
type Abort struct {
	Status  int
	Reset   bool
	Timeout bool
	Hold    time.Duration
}

// Check refuses a fault that does nothing or cannot be applied.
func (f *Fault) Check() error {
	if !(f.Percentage > 0 && f.Percentage <= 100) {
		return fmt.Errorf("fault %q: percentage %g: want above 0 and at most 100", f.Name, f.Percentage)
	}
	if f.Delay == nil && f.Abort == nil && f.RateLimit == 0 && f.Upstream == nil {
		return fmt.Errorf("fault %q: it does nothing; give a delay, an abort, a response rate limit or an upstream", f.Name)
	}
	if d := f.Delay; d != nil {
		n := 0
		for _, set := range []bool{d.Fixed > 0, d.Max > 0, d.Mean > 0} {
			if set {
				n++
			}
		}
		if n != 1 || d.Min < 0 || d.Min > d.Max && d.Max > 0 || d.Min > 0 && d.Max == 0 {
			return fmt.Errorf("fault %q: delay: give one of fixed, min and max (min ≤ max), or mean", f.Name)
		}
	}
	if a := f.Abort; a != nil {
		n := 0
		for _, set := range []bool{a.Status != 0, a.Reset, a.Timeout} {
			if set {
				n++
			}
		}
		if n != 1 || a.Status != 0 && (a.Status < 200 || a.Status > 599) || a.Hold < 0 {
			return fmt.Errorf("fault %q: abort: give one of status (200–599), reset or timeout", f.Name)
		}
	}
	if f.RateLimit < 0 || f.MaxActive < 0 {
		return fmt.Errorf("fault %q: response rate limit and max active must not be negative", f.Name)
	}
	if u := f.Upstream; u != nil && (u.Scheme != "http" && u.Scheme != "https" || u.Host == "") {
		return fmt.Errorf("fault %q: upstream %q: want an http:// or https:// URL", f.Name, u)
	}
	return nil
}

// matches says whether r is one of the fault's requests.
func (m *Match) matches(r *http.Request) bool {
	if len(m.Methods) > 0 && !slices.Contains(m.Methods, r.Method) {
		return false
	}
	if len(m.Routes) > 0 && !slices.ContainsFunc(m.Routes, func(p string) bool { return strings.HasPrefix(r.URL.Path, p) }) {
		return false
	}
	for _, h := range m.Headers {
		v, ok := r.Header[http.CanonicalHeaderKey(h.Name)]
		if !ok || h.Exact != "" && !slices.Contains(v, h.Exact) {
			return false
		}
	}
	return true
}

// draw is the delay for one request.
func (d *Delay) draw(rng func() float64) time.Duration {
	switch {
	case d.Fixed > 0:
		return d.Fixed
	case d.Max > 0:
		return d.Min + time.Duration(rng()*float64(d.Max-d.Min))
	default:
		return time.Duration(rand.ExpFloat64() * float64(d.Mean))
	}
}

// enter admits a request into the fault, or says it is at MaxActive.
func (f *Fault) enter() bool {
	if f.MaxActive == 0 {
		f.active.Add(1)
		return true
	}
	for {
		n := f.active.Load()
		if n >= f.MaxActive {
			return false
		}
		if f.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (f *Fault) leave() { f.active.Add(-1) }

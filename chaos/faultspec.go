package chaos

import (
	"fmt"
	"net/url"
	"time"
)

// FaultSpec is a Fault as the control plane sends it to a proxy.
type FaultSpec struct {
	Name       string        `json:"name"`
	Percentage float64       `json:"percentage"`
	Routes     []string      `json:"routes,omitempty"`
	Methods    []string      `json:"methods,omitempty"`
	Headers    []HeaderMatch `json:"headers,omitempty"`
	Delay      *DelaySpec    `json:"delay,omitempty"`
	Abort      *AbortSpec    `json:"abort,omitempty"`
	RateLimit  int64         `json:"response_rate_limit,omitempty"`
	Upstream   string        `json:"upstream,omitempty"`
	MaxActive  int64         `json:"max_active,omitempty"`
}

// DelaySpec and AbortSpec carry durations in milliseconds, as Envoy's
// fault filter writes fixed_delay.
type DelaySpec struct {
	FixedMs float64 `json:"fixed_ms,omitempty"`
	MinMs   float64 `json:"min_ms,omitempty"`
	MaxMs   float64 `json:"max_ms,omitempty"`
	MeanMs  float64 `json:"mean_ms,omitempty"`
}

type AbortSpec struct {
	Status  int     `json:"status,omitempty"`
	Reset   bool    `json:"reset,omitempty"`
	Timeout bool    `json:"timeout,omitempty"`
	HoldMs  float64 `json:"hold_ms,omitempty"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func fromMs(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// specOf is f as sent.
func specOf(f *Fault) FaultSpec {
	s := FaultSpec{Name: f.Name, Percentage: f.Percentage, Routes: f.Match.Routes, Methods: f.Match.Methods, Headers: f.Match.Headers,
		RateLimit: f.RateLimit, MaxActive: f.MaxActive}
	if d := f.Delay; d != nil {
		s.Delay = &DelaySpec{FixedMs: ms(d.Fixed), MinMs: ms(d.Min), MaxMs: ms(d.Max), MeanMs: ms(d.Mean)}
	}
	if a := f.Abort; a != nil {
		s.Abort = &AbortSpec{Status: a.Status, Reset: a.Reset, Timeout: a.Timeout, HoldMs: ms(a.Hold)}
	}
	if f.Upstream != nil {
		s.Upstream = f.Upstream.String()
	}
	return s
}

// Fault is the fault s describes, checked.
func (s FaultSpec) Fault() (*Fault, error) {
	f := &Fault{Name: s.Name, Percentage: s.Percentage, Match: Match{Routes: s.Routes, Methods: s.Methods, Headers: s.Headers},
		RateLimit: s.RateLimit, MaxActive: s.MaxActive}
	if d := s.Delay; d != nil {
		f.Delay = &Delay{Fixed: fromMs(d.FixedMs), Min: fromMs(d.MinMs), Max: fromMs(d.MaxMs), Mean: fromMs(d.MeanMs)}
	}
	if a := s.Abort; a != nil {
		f.Abort = &Abort{Status: a.Status, Reset: a.Reset, Timeout: a.Timeout, Hold: fromMs(a.HoldMs)}
	}
	if s.Upstream != "" {
		u, err := url.Parse(s.Upstream)
		if err != nil {
			return nil, fmt.Errorf("fault %q: upstream: %w", s.Name, err)
		}
		f.Upstream = u
	}
	return f, f.Check()
}

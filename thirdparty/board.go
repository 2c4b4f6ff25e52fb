package thirdparty

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrNoVendor is wrapped by the error for a vendor the configuration does
// not name.
var ErrNoVendor = errors.New("no such vendor")

// Counter counts an SLO's good and total over a span, as its SLO counts
// them (quanta for a time-based SLO, events for an event-based one): the
// availability an SLA month is judged on.
type Counter interface {
	Count(ctx context.Context, slo string, from, to time.Time) (good, total uint64, err error)
}

// Board is what nines serve keeps of its third parties: the latest
// evaluation, the tracker's history, and the SLA months read on demand.
// Tick evaluates and returns the changes to notify; the views answer the
// API and the UI. It is safe for concurrent use.
type Board struct {
	cfg     *Config
	in      Reader
	count   Counter
	tracker *Tracker

	mu     sync.Mutex
	latest []VendorState
	errs   error
}

// NewBoard returns a board over cfg, reading states through in and SLA
// months through count (nil: no SLA rows), taking a new state after hold
// evaluations in a row (NewTracker).
func NewBoard(cfg *Config, in Reader, count Counter, hold int) (*Board, error) {
	if cfg == nil || in == nil {
		return nil, errors.New("third parties: a board needs the configuration and a reader")
	}
	tr, err := NewTracker(hold)
	if err != nil {
		return nil, err
	}
	return &Board{cfg: cfg, in: in, count: count, tracker: tr}, nil
}

// Tick evaluates every vendor at at and returns the changes of state, for
// the notifier (Change.Notifications). The error lists the SLOs that could
// not be read; the evaluation still counts.
func (b *Board) Tick(ctx context.Context, at time.Time) ([]Change, error) {
	states, err := Evaluate(ctx, b.cfg, b.in, at)
	changes := b.tracker.Observe(states)
	b.mu.Lock()
	b.latest, b.errs = states, err
	b.mu.Unlock()
	return changes, err
}

// View is one vendor as the API and the UI show it.
type View struct {
	VendorState
	Summary string `json:"summary"`
	// Since is when the tracked state began; zero before one was known.
	Since time.Time `json:"since,omitzero"`
	// Evaluated is false before the first Tick.
	Evaluated bool `json:"evaluated"`
	// History is the tracked state intervals, oldest first; only in a
	// vendor's own view.
	History []Interval `json:"history,omitempty"`
	// SLA is the promise and its months, oldest first; nil without one.
	SLA *SLAView `json:"sla,omitempty"`
	// Problem says what failed while reading the vendor's figures.
	Problem string `json:"problem,omitempty"`
}

// SLAView is a vendor's SLA as shown.
type SLAView struct {
	Objective string       `json:"objective"`
	SLO       string       `json:"slo"`
	Zone      string       `json:"time_zone"`
	Credits   []CreditView `json:"credits"`
	Months    []SLARow     `json:"months"`
}

// CreditView is a credit tier as shown: below a percentage, a percentage
// of the fee.
type CreditView struct {
	Below  float64 `json:"below"`
	Credit float64 `json:"credit_percent"`
}

// Vendors returns every vendor's view at now, with the SLA's last months
// (the current one and the one before).
func (b *Board) Vendors(ctx context.Context, now time.Time) ([]View, error) {
	out := make([]View, 0, len(b.cfg.Vendors))
	for _, v := range b.cfg.Vendors {
		view, err := b.view(ctx, v, now, 2, false)
		if err != nil {
			return nil, err
		}
		out = append(out, view)
	}
	return out, nil
}

// Vendor returns one vendor's view at now with its history and months SLA
// months; an error wrapping ErrNoVendor when there is no such vendor.
func (b *Board) Vendor(ctx context.Context, name string, now time.Time, months int) (*View, error) {
	v := b.cfg.Vendor(name)
	if v == nil {
		return nil, fmt.Errorf("third parties: vendor %q: %w", name, ErrNoVendor)
	}
	view, err := b.view(ctx, v, now, months, true)
	if err != nil {
		return nil, err
	}
	return &view, nil
}

func (b *Board) view(ctx context.Context, v *Vendor, now time.Time, months int, history bool) (View, error) {
	view := View{VendorState: VendorState{Vendor: v.Name, State: Unknown}}
	b.mu.Lock()
	for _, s := range b.latest {
		if s.Vendor == v.Name {
			view.VendorState, view.Evaluated = s, true
		}
	}
	b.mu.Unlock()
	view.Summary = view.VendorState.Summary()
	// The state holds where it does since the last of those regions
	// entered it.
	for _, r := range view.Regions {
		if r.State != view.State {
			continue
		}
		if st, since, ok := b.tracker.Since(v.Name, r.Region); ok && st == view.State && since.After(view.Since) {
			view.Since = since
		}
	}
	if history {
		view.History = b.tracker.History(v.Name)
	}
	if v.SLA == nil || b.count == nil {
		return view, nil
	}
	s := v.SLA
	view.SLA = &SLAView{Objective: s.Objective.String(), SLO: s.SLO, Zone: s.Zone.String(), Credits: []CreditView{}}
	for _, c := range s.Credits {
		view.SLA.Credits = append(view.SLA.Credits, CreditView{Below: c.Below.Percent(), Credit: c.Percent})
	}
	ms, err := Months(now, months, s.Zone)
	if err != nil {
		return View{}, err
	}
	counts := make([]MonthCount, len(ms))
	for i, m := range ms {
		end := m.End
		if now.Before(end) {
			end, counts[i].Partial = now, true
		}
		counts[i].Month = m
		if !end.After(m.Start) {
			continue
		}
		good, total, err := b.count.Count(ctx, s.SLO, m.Start, end)
		if err != nil {
			view.Problem = fmt.Sprintf("SLA of %s: reading SLO %s: %v", v.Name, s.SLO, err)
			return view, nil
		}
		counts[i].Good, counts[i].Total = good, total
	}
	if view.SLA.Months, err = Monthly(s, counts); err != nil {
		view.Problem = err.Error()
	}
	return view, nil
}

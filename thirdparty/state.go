package thirdparty

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// State is what a vendor, or one of its regions, is doing.
type State string

// The five states of a vendor, and Unknown for when nines cannot tell.
// When several hold at once the state shown is the first of Down,
// Degraded, APIDown, LimitedVisibility (docs/thirdparties.md says why);
// the others stay listed among the conditions.
const (
	// Operational: everything watched works.
	Operational State = "operational"
	// Degraded: the data plane answers, but slowly or with more errors
	// than its conditions allow.
	Degraded State = "degraded"
	// LimitedVisibility: the data plane works, the vendor's telemetry or
	// log delivery does not.
	LimitedVisibility State = "limited-visibility"
	// APIDown: the data plane works, the vendor's configuration API or
	// portal does not.
	APIDown State = "api-down"
	// Down: the data plane fails.
	Down State = "down"
	// Unknown is no state of the vendor but of nines' sight: no SLO of
	// the data plane has a recent quantum. It is never notified; the
	// tracker keeps the last known state through it.
	Unknown State = "unknown"
)

// States are the vendor states worst first: the precedence when several
// hold.
var States = []State{Down, Degraded, APIDown, LimitedVisibility, Operational}

// rank orders states by precedence: higher is worse; Unknown is below
// every known state, so that a region nines cannot see never hides one it
// can.
func (s State) rank() int {
	if i := slices.Index(States, s); i >= 0 {
		return len(States) - i
	}
	return 0
}

// Worse reports whether s takes precedence over o.
func (s State) Worse(o State) bool { return s.rank() > o.rank() }

// Severity is the severity label a change into s is notified with: page
// for down (users fail now), ticket for the states in which the vendor
// still serves, info for operational and unknown.
func (s State) Severity() string {
	switch s {
	case Down:
		return "page"
	case Degraded, APIDown, LimitedVisibility:
		return "ticket"
	}
	return "info"
}

// Quantum is what Reader says of the latest judged quantum of an SLO.
type Quantum struct {
	// Start is the quantum's start.
	Start time.Time
	// Measured is false when the SLO has no quantum at all.
	Measured bool
	// Good is the SLO's own judgement of the quantum.
	Good bool
	// Attempted and Failed are its events, for error-share conditions.
	Attempted, Failed uint64
}

// Reader gives the SLO figures states are judged from.
type Reader interface {
	// Latest returns the latest judged quantum of the SLO called name
	// that ended at or before at; Measured false when there is none.
	Latest(ctx context.Context, name string, at time.Time) (Quantum, error)
}

// RegionState is the state of a vendor in one region ("" for a vendor
// without regions) and why.
type RegionState struct {
	Region string `json:"region,omitempty"`
	State  State  `json:"state"`
	// Conditions are every state that holds, worst first (State among
	// them unless it is Operational or Unknown).
	Conditions []State `json:"conditions"`
	// Reasons say which SLO put each condition there.
	Reasons []string `json:"reasons"`
	// Unmeasured are the SLOs without a quantum within the vendor's Stale
	// bound: they said nothing.
	Unmeasured []string `json:"unmeasured,omitempty"`
}

// VendorState is a vendor's state at one time.
type VendorState struct {
	Vendor string    `json:"vendor"`
	At     time.Time `json:"at"`
	// State is the worst known state among the regions.
	State State `json:"state"`
	// Where are the regions in that state; empty when it holds in every
	// region (or the vendor has none).
	Where   []string      `json:"where,omitempty"`
	Regions []RegionState `json:"regions"`
}

// Summary says the state in words, naming the regions: "down in
// eu-west", "operational".
func (v *VendorState) Summary() string {
	if len(v.Where) == 0 {
		return string(v.State)
	}
	return string(v.State) + " in " + strings.Join(v.Where, ", ")
}

// Evaluate judges every vendor of cfg at at. An SLO that cannot be read
// counts as unmeasured, and the error (which lists every such SLO) comes
// beside states still worth showing.
func Evaluate(ctx context.Context, cfg *Config, in Reader, at time.Time) ([]VendorState, error) {
	e := &evaluation{ctx: ctx, in: in, at: at, seen: map[string]Quantum{}, failed: map[string]bool{}}
	out := make([]VendorState, 0, len(cfg.Vendors))
	for _, v := range cfg.Vendors {
		out = append(out, e.vendor(v))
	}
	return out, errors.Join(e.errs...)
}

// evaluation reads each SLO once, however many regions name it.
type evaluation struct {
	ctx    context.Context
	in     Reader
	at     time.Time
	seen   map[string]Quantum
	failed map[string]bool
	errs   []error
}

func (e *evaluation) latest(name string) (Quantum, bool) {
	if q, ok := e.seen[name]; ok {
		return q, true
	}
	if e.failed[name] {
		return Quantum{}, false
	}
	q, err := e.in.Latest(e.ctx, name, e.at)
	if err != nil {
		e.failed[name] = true
		e.errs = append(e.errs, fmt.Errorf("third parties: SLO %s: %w", name, err))
		return Quantum{}, false
	}
	e.seen[name] = q
	return q, true
}

// fresh returns the SLO's latest quantum when it is recent enough to
// speak for now.
func (e *evaluation) fresh(name string, stale time.Duration) (Quantum, bool) {
	q, ok := e.latest(name)
	if !ok || !q.Measured || q.Start.After(e.at) || e.at.Sub(q.Start) > stale {
		return Quantum{}, false
	}
	return q, true
}

func (e *evaluation) vendor(v *Vendor) VendorState {
	vs := VendorState{Vendor: v.Name, At: e.at, State: Unknown}
	regions := v.Regions
	if len(regions) == 0 {
		regions = []string{""}
	}
	for _, r := range regions {
		rs := e.region(v, r)
		vs.Regions = append(vs.Regions, rs)
		switch {
		case rs.State.Worse(vs.State):
			vs.State, vs.Where = rs.State, []string{r}
		case rs.State == vs.State:
			vs.Where = append(vs.Where, r)
		}
	}
	if len(vs.Where) == len(regions) {
		vs.Where = nil // everywhere
	}
	return vs
}

func (e *evaluation) region(v *Vendor, region string) RegionState {
	rs := RegionState{Region: region, Conditions: []State{}, Reasons: []string{}}
	// part says whether any fresh SLO of names is bad, and whether any
	// is fresh at all.
	part := func(what string, names []string) (failing, measured bool) {
		for _, name := range names {
			q, ok := e.fresh(name, v.Stale)
			if !ok {
				rs.Unmeasured = append(rs.Unmeasured, name)
				continue
			}
			measured = true
			if !q.Good {
				failing = true
				rs.Reasons = append(rs.Reasons, fmt.Sprintf("%s: SLO %s failed its quantum at %s", what, name, q.Start.UTC().Format(time.RFC3339)))
			}
		}
		return failing, measured
	}
	down, known := part("data plane", v.DataPlane.For(region))
	degraded := false
	if known && !down {
		for _, c := range v.Degraded {
			if c.Region != "" && c.Region != region {
				continue
			}
			q, ok := e.fresh(c.SLO, v.Stale)
			if !ok {
				rs.Unmeasured = append(rs.Unmeasured, c.SLO)
				continue
			}
			switch {
			case c.ErrorShareAbove > 0 && q.Attempted > 0 && float64(q.Failed)/float64(q.Attempted) > c.ErrorShareAbove:
				degraded = true
				rs.Reasons = append(rs.Reasons, fmt.Sprintf("degraded: SLO %s failed %d of %d events at %s, above %g %%", c.SLO, q.Failed, q.Attempted, q.Start.UTC().Format(time.RFC3339), c.ErrorShareAbove*100))
			case c.ErrorShareAbove == 0 && !q.Good:
				degraded = true
				rs.Reasons = append(rs.Reasons, fmt.Sprintf("degraded: SLO %s failed its quantum at %s", c.SLO, q.Start.UTC().Format(time.RFC3339)))
			}
		}
	}
	apiDown, _ := part("configuration API", v.ConfigAPI.For(region))
	blind, _ := part("telemetry", v.Telemetry.For(region))
	for _, c := range []struct {
		holds bool
		s     State
	}{{down, Down}, {degraded, Degraded}, {apiDown, APIDown}, {blind, LimitedVisibility}} {
		if c.holds {
			rs.Conditions = append(rs.Conditions, c.s)
		}
	}
	switch {
	case !known:
		rs.State = Unknown
		rs.Reasons = append(rs.Reasons, fmt.Sprintf("no SLO of the data plane has a quantum in the last %s", v.Stale))
	case len(rs.Conditions) > 0:
		rs.State = rs.Conditions[0]
	default:
		rs.State = Operational
	}
	slices.Sort(rs.Unmeasured)
	rs.Unmeasured = slices.Compact(rs.Unmeasured)
	return rs
}

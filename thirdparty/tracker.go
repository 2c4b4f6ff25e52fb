package thirdparty

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// AlertName is the alert label of every third-party notification.
const AlertName = "ThirdPartyState"

// MaxHistory bounds the intervals kept per vendor and region: older ones
// are dropped first.
const MaxHistory = 1000

// Interval is a span of time a vendor's region held one state.
type Interval struct {
	Region string    `json:"region,omitempty"`
	State  State     `json:"state"`
	From   time.Time `json:"from"`
	// To is zero while the state holds.
	To      time.Time `json:"to,omitzero"`
	Reasons []string  `json:"reasons,omitempty"`
}

// Change is one change of a vendor's state in one region.
type Change struct {
	Vendor string `json:"vendor"`
	// Region is "" for a vendor without regions.
	Region string `json:"region,omitempty"`
	// From is "" for the first state nines saw (after a start).
	From State `json:"from,omitempty"`
	To   State `json:"to"`
	// FromSince is when the state left began; At is when the new one did
	// (its first evaluation, before any hold).
	FromSince time.Time `json:"from_since,omitzero"`
	At        time.Time `json:"at"`
	Reasons   []string  `json:"reasons,omitempty"`
}

// Tracker keeps each vendor's state per region over time and says when
// it changes. It is safe for concurrent use. It keeps nothing across
// restarts: after one, the first state seen of a vendor that is not
// operational is notified again.
type Tracker struct {
	hold int
	mu   sync.Mutex
	keys map[trackKey]*track
}

type trackKey struct{ vendor, region string }

type track struct {
	// current is the state notified last; its interval is the last of
	// history.
	current State
	// pending is a new state seen in n evaluations in a row, since.
	pending      State
	n            int
	pendingSince time.Time
	reasons      []string
	history      []Interval
}

// NewTracker returns a tracker that takes a new state only after hold
// evaluations in a row have shown it (1: at once). A hold of 2 or 3 keeps
// a state that flickers between two evaluations from notifying twice;
// the change is still dated from its first evaluation.
func NewTracker(hold int) (*Tracker, error) {
	if hold < 1 || hold > 100 {
		return nil, fmt.Errorf("third parties: a hold of %d evaluations; want 1 (change at once) to 100", hold)
	}
	return &Tracker{hold: hold, keys: map[trackKey]*track{}}, nil
}

// Observe takes one evaluation and returns a Change for each region whose
// state changed, sorted by vendor and region. A state that holds gives no
// change however often it is observed; Unknown is never a change, and the
// last known state holds through it.
func (t *Tracker) Observe(states []VendorState) []Change {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Change
	for _, vs := range states {
		for _, rs := range vs.Regions {
			if c, ok := t.observe(vs.Vendor, rs, vs.At); ok {
				out = append(out, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Vendor, b.Vendor), cmp.Compare(a.Region, b.Region))
	})
	return out
}

func (t *Tracker) observe(vendor string, rs RegionState, at time.Time) (Change, bool) {
	k := trackKey{vendor, rs.Region}
	tr := t.keys[k]
	if tr == nil {
		tr = &track{}
		t.keys[k] = tr
	}
	if rs.State == Unknown {
		return Change{}, false
	}
	if rs.State == tr.current {
		tr.pending, tr.n = "", 0
		if h := &tr.history[len(tr.history)-1]; !slices.Equal(h.Reasons, rs.Reasons) && len(rs.Reasons) > 0 {
			h.Reasons = rs.Reasons
		}
		return Change{}, false
	}
	if rs.State != tr.pending {
		tr.pending, tr.n, tr.pendingSince = rs.State, 0, at
	}
	tr.n++
	tr.reasons = rs.Reasons
	if tr.n < t.hold && tr.current != "" {
		return Change{}, false
	}
	c := Change{Vendor: vendor, Region: rs.Region, From: tr.current, To: rs.State, At: tr.pendingSince, Reasons: tr.reasons}
	if n := len(tr.history); n > 0 {
		tr.history[n-1].To = c.At
		c.FromSince = tr.history[n-1].From
	}
	tr.history = append(tr.history, Interval{Region: rs.Region, State: rs.State, From: c.At, Reasons: tr.reasons})
	if len(tr.history) > MaxHistory {
		tr.history = slices.Delete(tr.history, 0, len(tr.history)-MaxHistory)
	}
	tr.current, tr.pending, tr.n = rs.State, "", 0
	if c.From == "" && c.To == Operational {
		// Nothing to say of a vendor first seen working.
		return Change{}, false
	}
	return c, true
}

// History returns the state intervals of vendor in every region, oldest
// first (by start, then region).
func (t *Tracker) History(vendor string) []Interval {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Interval
	for k, tr := range t.keys {
		if k.vendor == vendor {
			out = append(out, tr.history...)
		}
	}
	slices.SortFunc(out, func(a, b Interval) int {
		return cmp.Or(a.From.Compare(b.From), cmp.Compare(a.Region, b.Region))
	})
	return out
}

// Since returns the state held in vendor's region and since when; ok is
// false before any known state was seen.
func (t *Tracker) Since(vendor, region string) (State, time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.keys[trackKey{vendor, region}]
	if tr == nil || len(tr.history) == 0 {
		return "", time.Time{}, false
	}
	h := tr.history[len(tr.history)-1]
	return h.State, h.From, true
}

// Labels are the change's labels in Alertmanager's model, for the new
// state: alert, vendor, region (when the vendor has regions), state and
// severity.
func (c Change) Labels() map[string]string { return labels(c.Vendor, c.Region, c.To) }

func labels(vendor, region string, s State) map[string]string {
	l := map[string]string{"alert": AlertName, "vendor": vendor, "state": string(s), "severity": s.Severity()}
	if region != "" {
		l["region"] = region
	}
	return l
}

// Summary says the change in words: "edgecdn is down in eu-west (was
// operational)".
func (c Change) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is %s", c.Vendor, c.To)
	if c.Region != "" {
		fmt.Fprintf(&b, " in %s", c.Region)
	}
	if c.From != "" {
		fmt.Fprintf(&b, " (was %s)", c.From)
	}
	return b.String()
}

// Annotations describe the change: summary, description (the reasons),
// since, and the state left.
func (c Change) Annotations() map[string]string {
	a := map[string]string{"summary": c.Summary(), "since": c.At.UTC().Format(time.RFC3339)}
	if len(c.Reasons) > 0 {
		a["description"] = strings.Join(c.Reasons, "; ")
	} else {
		a["description"] = "every SLO watching " + c.Vendor + " is good"
	}
	if c.From != "" {
		a["previous_state"] = string(c.From)
	}
	return a
}

// Notification is an alert in Alertmanager's model: a firing one has a
// zero EndsAt.
type Notification struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

// Notifications are the alerts a change sends: the state left, resolved,
// unless it was operational or none; and the new state, firing, unless it
// is operational. Each state is its own alert (its labels differ), so a
// route can page on down and ticket the rest.
func (c Change) Notifications() []Notification {
	var out []Notification
	if c.From != "" && c.From != Operational {
		out = append(out, Notification{Labels: labels(c.Vendor, c.Region, c.From), Annotations: c.Annotations(), StartsAt: c.FromSince, EndsAt: c.At})
	}
	if c.To != Operational {
		out = append(out, Notification{Labels: c.Labels(), Annotations: c.Annotations(), StartsAt: c.At})
	}
	return out
}

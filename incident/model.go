package incident

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Errors callers tell apart with errors.Is; the server maps them to HTTP
// status codes.
var (
	// ErrInvalid wraps input that can never be accepted (400).
	ErrInvalid = errors.New("invalid incident input")
	// ErrNotFound is returned for an incident or repair item that does not
	// exist (404).
	ErrNotFound = errors.New("not found")
	// ErrClosed is returned for a change to an incident whose postmortem is
	// done; reopen it first (409).
	ErrClosed = errors.New("incident is closed (postmortem done); reopen it to change it")
	// ErrDuplicate is returned for a repair item whose title an item of the
	// same incident already has (409).
	ErrDuplicate = errors.New("duplicate repair item")
	// ErrConflict is wrapped by *ConflictError (409).
	ErrConflict = errors.New("incident changed since it was read")
)

// ConflictError says that a change was based on an old version.
type ConflictError struct {
	ID               int64
	Expected, Actual int64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("incident %d: version %d expected, it is at version %d: %v; read it again and reapply the change",
		e.ID, e.Expected, e.Actual, ErrConflict)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// Status is where an incident is in its life.
type Status string

// The statuses in order. An incident moves forward only, except by an
// explicit reopen.
const (
	Open           Status = "open"
	Mitigated      Status = "mitigated"
	Resolved       Status = "resolved"
	PostmortemDone Status = "postmortem-done"
)

var statuses = []Status{Open, Mitigated, Resolved, PostmortemDone}

func (s Status) rank() int { return slices.Index(statuses, s) }

// ParseStatus reads a status name.
func ParseStatus(v string) (Status, error) {
	s := Status(strings.ToLower(strings.TrimSpace(v)))
	if s == "postmortem" || s == "done" || s == "closed" {
		s = PostmortemDone
	}
	if s.rank() < 0 {
		return "", fmt.Errorf("%w: status %q: want one of %s", ErrInvalid, v, joinStrings(statuses))
	}
	return s, nil
}

// DetectedBy says who noticed first: monitoring, or a customer or anyone
// else. Customer-detected outages have about ten times the TTD.
type DetectedBy string

const (
	ByMonitoring DetectedBy = "monitoring"
	ByCustomer   DetectedBy = "customer"
	ByOther      DetectedBy = "other"
)

// ParseDetectedBy reads how an incident was detected.
func ParseDetectedBy(v string) (DetectedBy, error) {
	d := DetectedBy(strings.ToLower(strings.TrimSpace(v)))
	switch d {
	case ByMonitoring, ByCustomer, ByOther:
		return d, nil
	}
	return "", fmt.Errorf("%w: detected-by %q: want monitoring, customer or other", ErrInvalid, v)
}

// Role is a responder's role on the incident.
type Role string

const (
	Commander      Role = "commander"
	Communications Role = "communications"
	Operations     Role = "operations"
)

// ParseRole reads a role; the empty string is no particular role.
func ParseRole(v string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(v)))
	switch r {
	case "", Commander, Communications, Operations:
		return r, nil
	case "ic", "incident-commander":
		return Commander, nil
	case "comms", "communication":
		return Communications, nil
	case "ops":
		return Operations, nil
	}
	return "", fmt.Errorf("%w: role %q: want commander, communications or operations", ErrInvalid, v)
}

// Responder is a person paged for the incident. Order is the order of
// paging (1 first); Engaged marks the one who took it on. The on-call
// hops of an incident are the responders paged before the first who
// engaged.
type Responder struct {
	Name    string    `json:"name"`
	Order   int       `json:"order"`
	Role    Role      `json:"role,omitempty"`
	Paged   time.Time `json:"paged,omitzero"`
	Engaged bool      `json:"engaged,omitempty"`
}

// Kind is the activity a timeline entry records, after the incident
// activity taxonomy of docs/reference.md §4.
type Kind string

const (
	Decode       Kind = "decode"       // decoding reports into patterns
	KeepWorking  Kind = "keep-working" // acting to keep things working
	Irreversible Kind = "irreversible" // weighing an irreversible action
	Sacrifice    Kind = "sacrifice"    // accepting one loss to avoid a larger one
	Resources    Kind = "resources"    // gathering resources
	Bottleneck   Kind = "bottleneck"   // anticipating a bottleneck, e.g. a hand-off
	Assessment   Kind = "assessment"   // assessment and communication
	Note         Kind = "note"         // anything else
)

// Kinds lists the timeline kinds with what each means.
var Kinds = []struct {
	Kind  Kind
	About string
}{
	{Decode, "decoding reports into patterns"},
	{KeepWorking, "acting to keep things working"},
	{Irreversible, "weighing an irreversible action"},
	{Sacrifice, "sacrifice decision: accepting one loss to avoid a larger one"},
	{Resources, "gathering resources"},
	{Bottleneck, "anticipating a bottleneck"},
	{Assessment, "assessment and communication"},
	{Note, "note"},
}

// ParseKind reads a timeline kind; empty is a note.
func ParseKind(v string) (Kind, error) {
	k := Kind(strings.ToLower(strings.TrimSpace(v)))
	if k == "" {
		return Note, nil
	}
	for _, x := range Kinds {
		if x.Kind == k {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, x := range Kinds {
		names[i] = string(x.Kind)
	}
	return "", fmt.Errorf("%w: timeline kind %q: want one of %s", ErrInvalid, v, strings.Join(names, ", "))
}

// Entry is one line of an incident's timeline.
type Entry struct {
	// Seq numbers the entries of an incident from 1; 0 for one not stored
	// yet.
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Kind   Kind      `json:"kind"`
	Text   string    `json:"text"`
	Author string    `json:"author,omitempty"`
}

// Link is a reference from the incident: a chat channel, a dashboard, a
// ticket.
type Link struct {
	Title string `json:"title,omitempty"`
	URL   string `json:"url"`
}

// Burn is the error budget an incident burned on one SLO, between impact
// start and mitigation (or the time it was computed, while unmitigated),
// from the SLO's rollups.
type Burn struct {
	SLO  string    `json:"slo"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Unit is the budget's unit (events, quanta, minutes); Spent is how
	// much of it the incident burned and Total the budget of the SLO's
	// window, so Share = Spent/Total.
	Unit  string  `json:"unit"`
	Spent float64 `json:"spent"`
	Total float64 `json:"total"`
	Share float64 `json:"share"`
	// Error is set when the budget could not be computed (an SLO no longer
	// loaded, say); the other figures are then zero.
	Error string `json:"error,omitempty"`
}

// Incident is one incident with everything recorded about it.
type Incident struct {
	ID      int64  `json:"id"`
	Version int64  `json:"version"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// Services are the services affected, the first the primary one.
	// Metrics count the incident for each.
	Services []string `json:"services"`
	// Owner overrides the services' owners from the configuration for the
	// per-owner figures.
	Owner      string     `json:"owner,omitempty"`
	Severity   int        `json:"severity"`
	Status     Status     `json:"status"`
	DetectedBy DetectedBy `json:"detected_by"`
	// GroupKey ties the incident to the alert group that opened it, so a
	// repeat of the alert attaches instead of opening another.
	GroupKey string `json:"group_key,omitempty"`

	ImpactStart time.Time `json:"impact_start,omitzero"`
	Detected    time.Time `json:"detected,omitzero"`
	Engaged     time.Time `json:"engaged,omitzero"`
	Mitigated   time.Time `json:"mitigated,omitzero"`
	Resolved    time.Time `json:"resolved,omitzero"`

	Responders []Responder  `json:"responders"`
	Timeline   []Entry      `json:"timeline"`
	Repairs    []RepairItem `json:"repairs"`
	Links      []Link       `json:"links"`
	SLOs       []string     `json:"slos"`
	Burn       []Burn       `json:"budget_burned"`
	Postmortem string       `json:"postmortem,omitempty"`
	Created    time.Time    `json:"created"`
	Updated    time.Time    `json:"updated"`
	Metrics    *IncidentTTx `json:"metrics,omitempty"`
}

// IncidentTTx are one incident's times, for display; nil durations are
// missing a timestamp.
type IncidentTTx struct {
	TTD  *Dur `json:"ttd"`
	TTE  *Dur `json:"tte"`
	TTF  *Dur `json:"ttf"`
	TTM  *Dur `json:"ttm"`
	Hops *int `json:"hops"`
}

// Service returns the primary service.
func (inc *Incident) Service() string {
	if len(inc.Services) == 0 {
		return ""
	}
	return inc.Services[0]
}

// Closed reports whether the incident takes no more changes.
func (inc *Incident) Closed() bool { return inc.Status == PostmortemDone }

// Hops is the number of responders paged before the first who engaged;
// ok is false when nobody is marked as engaged.
func (inc *Incident) Hops() (hops int, ok bool) {
	rs := slices.Clone(inc.Responders)
	slices.SortStableFunc(rs, func(a, b Responder) int { return a.Order - b.Order })
	for i, r := range rs {
		if r.Engaged {
			return i, true
		}
	}
	return 0, false
}

// Times returns the incident's TTx as far as its timestamps allow.
func (inc *Incident) Times() IncidentTTx {
	f := inc.Facts()
	var t IncidentTTx
	if d, ok := f.TTD(); ok {
		t.TTD = durPtr(d)
	}
	if d, ok := f.TTE(); ok {
		t.TTE = durPtr(d)
	}
	if d, ok := f.TTF(); ok {
		t.TTF = durPtr(d)
	}
	if d, ok := f.TTM(); ok {
		t.TTM = durPtr(d)
	}
	if f.Hops >= 0 {
		h := f.Hops
		t.Hops = &h
	}
	return t
}

func durPtr(d time.Duration) *Dur { x := Dur(d); return &x }

// Facts are what the metrics need of an incident: the store can read them
// without the rest of the record.
type Facts struct {
	ID          int64
	Title       string
	Services    []string
	Owner       string
	Severity    int
	Status      Status
	DetectedBy  DetectedBy
	ImpactStart time.Time
	Detected    time.Time
	Engaged     time.Time
	Mitigated   time.Time
	// Hops is -1 when no responder is marked as engaged.
	Hops       int
	Responders int
	// Repaired are the phases the incident's repair items (other than
	// won't-fix ones) flag: what virtual repair debt checks.
	Repaired PhaseSet
}

// Facts returns the incident's facts.
func (inc *Incident) Facts() Facts {
	h, ok := inc.Hops()
	if !ok {
		h = -1
	}
	return Facts{ID: inc.ID, Title: inc.Title, Services: inc.Services, Owner: inc.Owner, Severity: inc.Severity,
		Status: inc.Status, DetectedBy: inc.DetectedBy, ImpactStart: inc.ImpactStart, Detected: inc.Detected,
		Engaged: inc.Engaged, Mitigated: inc.Mitigated, Hops: h, Responders: len(inc.Responders), Repaired: RepairedPhases(inc.Repairs)}
}

func span(from, to time.Time) (time.Duration, bool) {
	if from.IsZero() || to.IsZero() {
		return 0, false
	}
	return to.Sub(from), true
}

// TTD is detected − impact start.
func (f *Facts) TTD() (time.Duration, bool) { return span(f.ImpactStart, f.Detected) }

// TTE is engaged − detected.
func (f *Facts) TTE() (time.Duration, bool) { return span(f.Detected, f.Engaged) }

// TTF is mitigated − engaged.
func (f *Facts) TTF() (time.Duration, bool) { return span(f.Engaged, f.Mitigated) }

// TTM is TTD + TTE + TTF, defined only when all three are: an incident
// missing one of them is incomplete, not quicker.
func (f *Facts) TTM() (time.Duration, bool) {
	d, ok1 := f.TTD()
	e, ok2 := f.TTE()
	x, ok3 := f.TTF()
	return d + e + x, ok1 && ok2 && ok3
}

// stamps are the timestamps in the order they must keep.
func (inc *Incident) stamps() []struct {
	name string
	t    time.Time
} {
	return []struct {
		name string
		t    time.Time
	}{
		{"impact_start", inc.ImpactStart}, {"detected", inc.Detected}, {"engaged", inc.Engaged},
		{"mitigated", inc.Mitigated}, {"resolved", inc.Resolved},
	}
}

// checkOrder reports every pair of set timestamps out of order:
// impact_start ≤ detected ≤ engaged ≤ mitigated ≤ resolved.
func (inc *Incident) checkOrder() error {
	st := inc.stamps()
	var errs []error
	for i := range st {
		if st[i].t.IsZero() {
			continue
		}
		for j := i + 1; j < len(st); j++ {
			if !st[j].t.IsZero() && st[j].t.Before(st[i].t) {
				errs = append(errs, fmt.Errorf("%w: %s %s is before %s %s", ErrInvalid,
					st[j].name, st[j].t.UTC().Format(time.RFC3339), st[i].name, st[i].t.UTC().Format(time.RFC3339)))
			}
		}
	}
	return errors.Join(errs...)
}

func joinStrings[T ~string](xs []T) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}

// Dur is a duration that reads and writes JSON as seconds.
type Dur time.Duration

// MarshalJSON writes seconds.
func (d Dur) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(d).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads seconds.
func (d *Dur) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.Abs(f) > math.MaxInt64/1e9 {
		return fmt.Errorf("duration %s: want seconds", b)
	}
	*d = Dur(f * float64(time.Second))
	return nil
}

package incident

import (
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Term says how soon a repair item should ship: short-term items within
// a week (the default due date), long-term ones when planned.
type Term string

const (
	ShortTerm Term = "short"
	LongTerm  Term = "long"
)

// Phase is the part of the response a repair item makes faster: it is
// what virtual repair debt matches missed goals against.
type Phase string

const (
	Detection  Phase = "detection"  // TTD
	Engagement Phase = "engagement" // TTE
	Diagnosis  Phase = "diagnosis"  // TTF
	Mitigation Phase = "mitigation" // TTF
)

// RepairStatus is the state of a repair item.
type RepairStatus string

const (
	RepairOpen    RepairStatus = "open"
	RepairDone    RepairStatus = "done"
	RepairWontfix RepairStatus = "wontfix"
)

// RepairItem is a fix that stops an outage from recurring or shortens
// it, tracked apart from the product backlog.
type RepairItem struct {
	ID         int64        `json:"id"`
	IncidentID int64        `json:"incident_id"`
	Title      string       `json:"title"`
	Term       Term         `json:"term"`
	Phase      Phase        `json:"phase"`
	Owner      string       `json:"owner,omitempty"`
	Status     RepairStatus `json:"status"`
	Created    time.Time    `json:"created"`
	Due        time.Time    `json:"due,omitzero"`
	// Closed is when the item was done or given up; zero while open.
	Closed time.Time `json:"closed,omitzero"`
	// Link is the item in an external tracker.
	Link string `json:"link,omitempty"`
}

// OpenAt reports whether the item was open at t.
func (r *RepairItem) OpenAt(t time.Time) bool {
	return !r.Created.After(t) && (r.Closed.IsZero() || r.Closed.After(t))
}

// OverdueAt reports whether the item was open and past its due date at t.
func (r *RepairItem) OverdueAt(t time.Time) bool {
	return r.OpenAt(t) && !r.Due.IsZero() && r.Due.Before(t)
}

// ParsePhase reads a phase name.
func ParsePhase(v string) (Phase, error) {
	p := Phase(strings.ToLower(strings.TrimSpace(v)))
	switch p {
	case Detection, Engagement, Diagnosis, Mitigation:
		return p, nil
	case "detect":
		return Detection, nil
	case "engage":
		return Engagement, nil
	case "diagnose":
		return Diagnosis, nil
	case "mitigate":
		return Mitigation, nil
	}
	return "", fmt.Errorf("%w: phase %q: want detection, engagement, diagnosis or mitigation", ErrInvalid, v)
}

// ParseTerm reads short or long.
func ParseTerm(v string) (Term, error) {
	switch t := Term(strings.ToLower(strings.TrimSpace(v))); t {
	case "", ShortTerm, "short-term":
		return ShortTerm, nil
	case LongTerm, "long-term":
		return LongTerm, nil
	}
	return "", fmt.Errorf("%w: term %q: want short or long", ErrInvalid, v)
}

// ParseRepairStatus reads open, done or wontfix.
func ParseRepairStatus(v string) (RepairStatus, error) {
	switch s := RepairStatus(strings.ToLower(strings.TrimSpace(v))); s {
	case RepairOpen, RepairDone, RepairWontfix:
		return s, nil
	case "won't fix", "wont-fix":
		return RepairWontfix, nil
	}
	return "", fmt.Errorf("%w: repair status %q: want open, done or wontfix", ErrInvalid, v)
}

// NormalizeTitle is the form in which two repair titles are the same
// item: case, punctuation and spacing do not count.
func NormalizeTitle(s string) string {
	var b strings.Builder
	space := false
	for _, r := range strings.ToLower(s) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		default:
			space = true
		}
	}
	return b.String()
}

// phasesFor are the repair phases that answer a missed goal.
func phasesFor(m Metric) []Phase {
	switch m {
	case TTD:
		return []Phase{Detection}
	case TTE:
		return []Phase{Engagement}
	case TTF:
		return []Phase{Diagnosis, Mitigation}
	}
	return nil
}

// PhaseSet is a set of phases, for the repair items an incident has.
type PhaseSet uint8

func (p Phase) bit() PhaseSet {
	switch p {
	case Detection:
		return 1
	case Engagement:
		return 2
	case Diagnosis:
		return 4
	case Mitigation:
		return 8
	}
	return 0
}

// Add puts p in the set.
func (s *PhaseSet) Add(p Phase) { *s |= p.bit() }

// Has reports whether p is in the set.
func (s PhaseSet) Has(p Phase) bool { return p.bit() != 0 && s&p.bit() != 0 }

// RepairedPhases is the set of phases the items flag, leaving out the
// items given up on (won't fix): those repair nothing.
func RepairedPhases(items []RepairItem) PhaseSet {
	var s PhaseSet
	for _, r := range items {
		if r.Status != RepairWontfix {
			s.Add(r.Phase)
		}
	}
	return s
}

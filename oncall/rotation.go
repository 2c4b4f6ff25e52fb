// Package oncall computes the load an on-call rotation carries: who is on
// call at any instant (in the rotation's own time zone, so that a
// daylight-saving change moves no hand-off users wrote as local time),
// and, from the pages sent and the incidents recorded, pages per shift,
// pages outside working hours and at night, incidents per shift against a
// limit, time engaged, alert noise and people per rotation against a
// minimum, per rotation and per person, month over month.
//
// It is pure computation: the rotations come from the catalog
// (ParseRotations), the pages and incidents from whatever keeps them
// (sources.go adapts notify's delivery history and incident records),
// and the time is passed in.
package oncall

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Limits on what a rotation may say, checked by the parser.
const (
	MinShift = time.Hour
	MaxShift = 28 * 24 * time.Hour
)

// Member is one person of a rotation; Site is empty for a single-site
// rotation.
type Member struct {
	Name string `json:"name"`
	Site string `json:"site,omitempty"`
}

// Override hands the on-call to Member from From until To (half-open).
// When Replaces is set, it applies only while that person would be on
// call; otherwise it applies whoever is scheduled.
type Override struct {
	Member   string    `json:"member"`
	Replaces string    `json:"replaces,omitempty"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// Clock is a time of day, in minutes after midnight (0–1439).
type Clock int

func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Hours is a span of the day: From ≤ t < To, or, when To ≤ From, a span
// across midnight (t ≥ From or t < To). From == To is the whole day.
type Hours struct {
	From, To Clock
}

// Contains reports whether the time of day c falls in h.
func (h Hours) Contains(c Clock) bool {
	switch {
	case h.From == h.To:
		return true
	case h.From < h.To:
		return c >= h.From && c < h.To
	default:
		return c >= h.From || c < h.To
	}
}

func (h Hours) String() string { return h.From.String() + "-" + h.To.String() }

// WorkingHours are the days of the week and the hours of those days that
// count as working time, in the rotation's zone.
type WorkingHours struct {
	Days  [7]bool // indexed by time.Weekday
	Hours Hours
}

// Contains reports whether the local time t is working time.
func (w WorkingHours) Contains(t time.Time) bool {
	return w.Days[t.Weekday()] && w.Hours.Contains(clockOf(t))
}

func (w WorkingHours) String() string {
	var days []string
	for d := time.Monday; ; d = (d + 1) % 7 {
		if w.Days[d] {
			days = append(days, strings.ToLower(d.String()[:3]))
		}
		if d == time.Sunday {
			break
		}
	}
	return strings.Join(days, ",") + " " + w.Hours.String()
}

// DefaultWorkingHours is Monday to Friday, 09:00–17:00.
func DefaultWorkingHours() WorkingHours {
	w := WorkingHours{Hours: Hours{From: 9 * 60, To: 17 * 60}}
	for d := time.Monday; d <= time.Friday; d++ {
		w.Days[d] = true
	}
	return w
}

// Rotation is one on-call rotation. Shifts follow each other from the
// hand-off time of the start date, in the order of Members, each Shift
// long in local (wall-clock) time.
type Rotation struct {
	Name    string
	Members []Member
	// Shift is the length of a shift in wall-clock time: a 12 h shift
	// across a daylight-saving change lasts 11 or 13 real hours.
	Shift time.Duration
	// Start is the date (midnight, in Zone) of the first shift; Handoff
	// the time of day shifts start at.
	Start     time.Time
	Handoff   Clock
	Zone      *time.Location
	Working   WorkingHours
	Night     *Hours // nil: the report's default
	Sites     []string
	Overrides []Override
	// MinPeople (per site for a multi-site rotation) and MaxIncidents
	// (per shift) are zero for the report's defaults.
	MinPeople    int
	MaxIncidents float64
	// File, Line and Column say where the rotation was declared.
	File         string
	Line, Column int
}

// civil is a wall-clock time written as a UTC time.Time: arithmetic on
// it knows no daylight saving.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return time.Date(y, m, d, h, mi, s, t.Nanosecond(), time.UTC)
}

// instant is the instant the wall-clock time c names in loc. A wall
// time that a spring-forward change skips is moved later by the length
// of the gap (02:30 becomes 03:30); one that a fall-back change repeats
// is its first occurrence (the earlier instant), as java.time does.
func instant(c time.Time, loc *time.Location) time.Time {
	// Zones change their offset at most once in two days, so the offsets
	// a day either side are the ones before and after any change near c.
	_, before := c.Add(-24 * time.Hour).In(loc).Zone()
	_, after := c.Add(24 * time.Hour).In(loc).Zone()
	early := c.Add(-time.Duration(before) * time.Second)
	late := c.Add(-time.Duration(after) * time.Second)
	if before == after {
		return early.In(loc)
	}
	okEarly := civil(early.In(loc)).Equal(c)
	okLate := civil(late.In(loc)).Equal(c)
	switch {
	case okEarly && okLate:
		if late.Before(early) {
			return late.In(loc)
		}
		return early.In(loc)
	case okLate:
		return late.In(loc)
	case okEarly:
		return early.In(loc)
	}
	// In a gap: the wall time read with the offset before the change
	// lands the gap's length later.
	return early.In(loc)
}

func clockOf(t time.Time) Clock {
	h, m, _ := t.Clock()
	return Clock(h*60 + m)
}

// civilStart is the wall-clock start of shift 0.
func (r *Rotation) civilStart() time.Time {
	return civil(r.Start).Add(time.Duration(r.Handoff) * time.Minute)
}

// Boundary returns the instant shift k starts (k may be negative).
func (r *Rotation) Boundary(k int64) time.Time {
	return instant(r.civilStart().Add(time.Duration(k)*r.Shift), r.Zone)
}

// ShiftIndex returns the number of the shift that holds t, and whether t
// is at or after the first shift's start.
func (r *Rotation) ShiftIndex(t time.Time) (int64, bool) {
	d := civil(t.In(r.Zone)).Sub(r.civilStart())
	k := int64(d / r.Shift)
	if d < 0 && d%r.Shift != 0 {
		k--
	}
	// Around a change of offset the wall clock and the instants disagree
	// by up to the change; step to the shift whose bounds hold t.
	for i := 0; i < 4 && r.Boundary(k).After(t); i++ {
		k--
	}
	for i := 0; i < 4 && !r.Boundary(k+1).After(t); i++ {
		k++
	}
	return k, !r.Boundary(0).After(t)
}

// Scheduled is the member the schedule gives shift k, before overrides.
func (r *Rotation) Scheduled(k int64) Member {
	n := int64(len(r.Members))
	return r.Members[((k%n)+n)%n]
}

// OnCall returns who is on call at t: the scheduled member of the shift
// that holds t, unless an override applies. ok is false before the first
// shift.
func (r *Rotation) OnCall(t time.Time) (who string, ok bool) {
	k, ok := r.ShiftIndex(t)
	if !ok {
		return "", false
	}
	who = r.Scheduled(k).Name
	for _, o := range r.Overrides {
		if !t.Before(o.From) && t.Before(o.To) && (o.Replaces == "" || o.Replaces == who) {
			return o.Member, true
		}
	}
	return who, true
}

// Segment is a stretch of time with one person on call within one shift.
type Segment struct {
	From, To time.Time
	Shift    int64
	Person   string
}

// Segments returns who is on call from from until to, split at shift
// boundaries and at the ends of overrides, in order. Time before the
// first shift has no segment.
func (r *Rotation) Segments(from, to time.Time) []Segment {
	if first := r.Boundary(0); from.Before(first) {
		from = first
	}
	if !from.Before(to) {
		return nil
	}
	var out []Segment
	k, _ := r.ShiftIndex(from)
	for start := r.Boundary(k); start.Before(to); k++ {
		end := r.Boundary(k + 1)
		lo, hi := maxTime(start, from), minTime(end, to)
		if lo.Before(hi) {
			// Cut points inside the shift: where an override starts or ends.
			cuts := []time.Time{lo, hi}
			for _, o := range r.Overrides {
				for _, c := range []time.Time{o.From, o.To} {
					if c.After(lo) && c.Before(hi) {
						cuts = append(cuts, c)
					}
				}
			}
			sort.Slice(cuts, func(i, j int) bool { return cuts[i].Before(cuts[j]) })
			cuts = slices.CompactFunc(cuts, func(a, b time.Time) bool { return a.Equal(b) })
			for i := 0; i+1 < len(cuts); i++ {
				who, _ := r.OnCall(cuts[i])
				if n := len(out); n > 0 && out[n-1].Shift == k && out[n-1].Person == who && out[n-1].To.Equal(cuts[i]) {
					out[n-1].To = cuts[i+1]
					continue
				}
				out = append(out, Segment{From: cuts[i], To: cuts[i+1], Shift: k, Person: who})
			}
		}
		start = end
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

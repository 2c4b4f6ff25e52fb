package slo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// CalendarUnit is the length of a calendar window.
type CalendarUnit uint8

// Calendar units. Weeks start on Monday (ISO 8601); quarters start in
// January, April, July and October.
const (
	NotCalendar CalendarUnit = iota
	Day
	Week
	Month
	Quarter
	Year
)

var calendarNames = [...]string{"", "day", "week", "month", "quarter", "year"}

// ParseCalendarUnit reads day, week, month, quarter or year.
func ParseCalendarUnit(s string) (CalendarUnit, error) {
	for i, n := range calendarNames {
		if i > 0 && n == s {
			return CalendarUnit(i), nil
		}
	}
	return NotCalendar, fmt.Errorf("calendar unit %q: want day, week, month, quarter or year", s)
}

func (u CalendarUnit) String() string {
	if int(u) < len(calendarNames) {
		return calendarNames[u]
	}
	return "CalendarUnit(" + strconv.Itoa(int(u)) + ")"
}

// WindowSpec is an assurance window: either Rolling (a duration ending at
// the evaluation time) or Calendar (the calendar unit containing it, cut
// in Location's wall clock, so a day across a daylight-saving change is 23
// or 25 hours long).
type WindowSpec struct {
	Rolling  time.Duration
	Calendar CalendarUnit
	Location *time.Location
}

// Window is a half-open span of time [Start, End).
type Window struct {
	Start, End time.Time
}

// Duration is the window's length.
func (w Window) Duration() time.Duration { return w.End.Sub(w.Start) }

// Contains reports whether t falls inside the window.
func (w Window) Contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.End) }

func (w Window) String() string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// String writes the spec as a spec file would ("rolling 30d",
// "calendar month Europe/Berlin").
func (s WindowSpec) String() string {
	if s.Calendar == NotCalendar {
		return "rolling " + FormatDuration(s.Rolling)
	}
	return "calendar " + s.Calendar.String() + " " + s.location().String()
}

func (s WindowSpec) location() *time.Location {
	if s.Location == nil {
		return time.UTC
	}
	return s.Location
}

// Validate reports a spec that names neither or both kinds of window.
func (s WindowSpec) Validate() error {
	switch {
	case s.Rolling < 0:
		return errors.New("rolling window must be positive")
	case s.Rolling > 0 && s.Calendar != NotCalendar:
		return errors.New("a window is either rolling or calendar, not both")
	case s.Rolling == 0 && s.Calendar == NotCalendar:
		return errors.New("a window needs rolling: DURATION or calendar: UNIT")
	}
	return nil
}

// Containing returns the window the evaluation time t belongs to: for a
// rolling window the one ending at t, for a calendar window the calendar
// unit holding t.
func (s WindowSpec) Containing(t time.Time) Window {
	if s.Calendar == NotCalendar {
		return Window{Start: t.Add(-s.Rolling), End: t}
	}
	start := s.calendarStart(t.In(s.location()))
	return Window{Start: start, End: s.advance(start)}
}

// Next returns the calendar window after w. For a rolling spec it returns
// the window of the same length that follows w.
func (s WindowSpec) Next(w Window) Window {
	if s.Calendar == NotCalendar {
		return Window{Start: w.End, End: w.End.Add(s.Rolling)}
	}
	return Window{Start: w.End, End: s.advance(w.End.In(s.location()))}
}

// Covering returns every window that overlaps [from, to). Rolling specs
// have one answer: the window ending at to.
func (s WindowSpec) Covering(from, to time.Time) []Window {
	if s.Calendar == NotCalendar {
		return []Window{s.Containing(to)}
	}
	var ws []Window
	for w := s.Containing(from); w.Start.Before(to); w = s.Next(w) {
		ws = append(ws, w)
	}
	return ws
}

// calendarStart returns local midnight of the first day of t's unit.
// time.Date normalises a midnight that a DST change skips to the first
// instant that exists.
func (s WindowSpec) calendarStart(t time.Time) time.Time {
	y, m, d := t.Date()
	loc := t.Location()
	switch s.Calendar {
	case Week:
		back := (int(t.Weekday()) + 6) % 7 // days since Monday
		return time.Date(y, m, d-back, 0, 0, 0, 0, loc)
	case Month:
		return time.Date(y, m, 1, 0, 0, 0, 0, loc)
	case Quarter:
		return time.Date(y, m-(m-1)%3, 1, 0, 0, 0, 0, loc)
	case Year:
		return time.Date(y, 1, 1, 0, 0, 0, 0, loc)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// advance returns the start of the unit after the one starting at start.
func (s WindowSpec) advance(start time.Time) time.Time {
	y, m, d := start.Date()
	loc := start.Location()
	switch s.Calendar {
	case Week:
		return time.Date(y, m, d+7, 0, 0, 0, 0, loc)
	case Month:
		return time.Date(y, m+1, 1, 0, 0, 0, 0, loc)
	case Quarter:
		return time.Date(y, m+3, 1, 0, 0, 0, 0, loc)
	case Year:
		return time.Date(y+1, 1, 1, 0, 0, 0, 0, loc)
	}
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc)
}

// durationUnitsProm are the units of Prometheus durations, longest first so
// that "ms" is tried before "m" and "s".
var durationUnitsProm = []struct {
	suffix string
	d      time.Duration
}{
	{"y", 365 * 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour},
	{"h", time.Hour}, {"ms", time.Millisecond}, {"m", time.Minute}, {"s", time.Second},
	{"us", time.Microsecond}, {"µs", time.Microsecond}, {"ns", time.Nanosecond},
}

// ParseDuration reads a duration as Go and Prometheus write them: "30d",
// "1h30m", "5m", "10s", "1w", "1y" (365 days). It rejects negative and
// fractional-unit forms that Prometheus rejects ("1.5h") only when they do
// not parse with time.ParseDuration either.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, errors.New("empty duration")
	}
	if d, err := time.ParseDuration(t); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		return d, nil
	}
	var total time.Duration
	rest := t
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, fmt.Errorf("duration %q: want a number followed by a unit (ms, s, m, h, d, w, y)", s)
		}
		n, err := strconv.ParseInt(rest[:i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, errors.Unwrap(err))
		}
		rest = rest[i:]
		matched := false
		for _, u := range durationUnitsProm {
			if strings.HasPrefix(rest, u.suffix) {
				if n > int64((1<<63-1)/u.d) {
					return 0, fmt.Errorf("duration %q is too long", s)
				}
				total += time.Duration(n) * u.d
				rest = rest[len(u.suffix):]
				matched = true
				break
			}
		}
		if !matched {
			return 0, fmt.Errorf("duration %q: unknown unit at %q (want ms, s, m, h, d, w, y)", s, rest)
		}
		if total < 0 {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
	}
	return total, nil
}

// FormatDuration writes d the way ParseDuration reads it, with days where
// they divide evenly: 720h → "30d", 90m → "1h30m", 36h → "1d12h".
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d <= 0 {
		return d.String()
	}
	var b strings.Builder
	if d >= day {
		b.WriteString(strconv.FormatInt(int64(d/day), 10) + "d")
		d %= day
		if d == 0 {
			return b.String()
		}
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	b.WriteString(s)
	return b.String()
}

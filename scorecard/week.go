package scorecard

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Calendar says where weeks begin: on which day, at midnight in which
// zone. Owners read a scorecard as "last week" in their own office's
// time, so a week is cut on local midnights (23 or 25 hours long across
// a change of clocks), not on UTC ones.
type Calendar struct {
	// Location is the zone of the week's midnights; nil is UTC.
	Location *time.Location
	// Start is the first day of the week; the zero value is Sunday, so
	// use DefaultCalendar or set Monday explicitly.
	Start time.Weekday
}

// DefaultCalendar starts weeks on Monday 00:00 UTC, as ISO 8601 does.
func DefaultCalendar() Calendar { return Calendar{Location: time.UTC, Start: time.Monday} }

// Week is one scorecard week: [Start, End) and its ISO label.
type Week struct {
	// Label is the ISO 8601 week ("2026-W48") of the week's first day.
	Label      string    `json:"week"`
	Start, End time.Time `json:"-"`
}

func (c Calendar) loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

// midnight is 00:00 of the day y-m-d in the calendar's zone; time.Date
// normalises an overflowing day, so d+7 is the same weekday a week on.
func (c Calendar) midnight(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, c.loc())
}

// week builds the week starting at the midnight of y-m-d.
func (c Calendar) week(y int, m time.Month, d int) Week {
	start := c.midnight(y, m, d)
	iy, iw := start.ISOWeek()
	return Week{Label: fmt.Sprintf("%04d-W%02d", iy, iw), Start: start, End: c.midnight(y, m, d+7)}
}

// WeekOf returns the week holding t.
func (c Calendar) WeekOf(t time.Time) Week {
	t = t.In(c.loc())
	back := (int(t.Weekday()) - int(c.Start) + 7) % 7
	return c.week(t.Year(), t.Month(), t.Day()-back)
}

// LastComplete returns the newest week that ended at or before now: the
// week a weekly push reports on.
func (c Calendar) LastComplete(now time.Time) Week {
	return c.Prev(c.WeekOf(now))
}

// Prev returns the week before w.
func (c Calendar) Prev(w Week) Week {
	s := w.Start.In(c.loc())
	return c.week(s.Year(), s.Month(), s.Day()-7)
}

// Next returns the week after w.
func (c Calendar) Next(w Week) Week {
	s := w.Start.In(c.loc())
	return c.week(s.Year(), s.Month(), s.Day()+7)
}

// Parse reads an ISO week such as "2026-W48" and returns the calendar's
// week that starts in it: the week starting on Monday of that ISO week
// or on the first Start day after it.
func (c Calendar) Parse(label string) (Week, error) {
	y, w, ok := strings.Cut(label, "-W")
	year, err1 := strconv.Atoi(y)
	num, err2 := strconv.Atoi(w)
	if !ok || err1 != nil || err2 != nil || len(y) != 4 || len(w) != 2 {
		return Week{}, fmt.Errorf("week %q: want an ISO week such as 2026-W48", label)
	}
	if year < 1970 || year > 2199 || num < 1 || num > 53 {
		return Week{}, fmt.Errorf("week %q: want a year 1970–2199 and a week 01–53", label)
	}
	// 4 January is always in ISO week 1; its Monday starts that week.
	jan4 := time.Date(year, time.January, 4, 0, 0, 0, 0, time.UTC)
	monday := jan4.AddDate(0, 0, -((int(jan4.Weekday())+6)%7)+7*(num-1))
	if iy, iw := monday.ISOWeek(); iy != year || iw != num {
		return Week{}, fmt.Errorf("week %q: %d has no week %d", label, year, num)
	}
	shift := (int(c.Start) - int(time.Monday) + 7) % 7
	return c.week(monday.Year(), monday.Month(), monday.Day()+shift), nil
}

// Span returns the n weeks that end with last, oldest first.
func (c Calendar) Span(last Week, n int) []Week {
	out := make([]Week, n)
	w := last
	for i := n - 1; i >= 0; i-- {
		out[i] = w
		w = c.Prev(w)
	}
	return out
}

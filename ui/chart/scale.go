// Package chart is the geometry of nines' server-side SVG charts: scales
// (linear, logarithmic, time), tick placement, and the shapes of the few
// chart kinds the UI draws (bars against a threshold, lines, a state
// strip, a latency histogram on a log axis). Everything is a pure function
// of its inputs, so tests check positions, not pictures; the SVG writers
// in svg.go only print the geometry.
package chart

import (
	"math"
	"strconv"
	"time"
)

// Linear maps the domain [D0, D1] onto the range [R0, R1]. A range may run
// backwards (R0 > R1), as a y axis does in SVG where y grows downwards.
type Linear struct{ D0, D1, R0, R1 float64 }

// Map returns the position of v. A degenerate domain maps everything to
// the middle of the range rather than dividing by zero.
func (s Linear) Map(v float64) float64 {
	if s.D1 == s.D0 {
		return (s.R0 + s.R1) / 2
	}
	return s.R0 + (v-s.D0)/(s.D1-s.D0)*(s.R1-s.R0)
}

// Clamp returns the position of v held inside the range.
func (s Linear) Clamp(v float64) float64 {
	p := s.Map(v)
	lo, hi := math.Min(s.R0, s.R1), math.Max(s.R0, s.R1)
	return math.Max(lo, math.Min(hi, p))
}

// Log maps [D0, D1] (both > 0) onto [R0, R1] by log10, so each decade gets
// the same length: the axis of a latency histogram, where 1 ms and 1 s
// both matter.
type Log struct{ D0, D1, R0, R1 float64 }

// Map returns the position of v; values ≤ 0 map to the start of the range.
func (s Log) Map(v float64) float64 {
	if v <= 0 || s.D0 <= 0 || s.D1 <= s.D0 {
		return s.R0
	}
	return s.R0 + (math.Log10(v)-math.Log10(s.D0))/(math.Log10(s.D1)-math.Log10(s.D0))*(s.R1-s.R0)
}

// Invert returns the value at position p.
func (s Log) Invert(p float64) float64 {
	if s.R1 == s.R0 {
		return s.D0
	}
	l0, l1 := math.Log10(s.D0), math.Log10(s.D1)
	return math.Pow(10, l0+(p-s.R0)/(s.R1-s.R0)*(l1-l0))
}

// Tick is one axis mark: its value, its position and its label (empty
// for minor ticks that carry a grid line only).
type Tick struct {
	Value, Pos float64
	Label      string
	Major      bool
}

// NiceStep returns a step of 1, 2 or 5 × 10ⁿ that cuts span into about n
// intervals.
func NiceStep(span float64, n int) float64 {
	if !(span > 0) || n < 1 {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f < 1.5:
		return mag
	case f < 3.5:
		return 2 * mag
	case f < 7.5:
		return 5 * mag
	}
	return 10 * mag
}

// NiceMax is the top of an axis from 0 that shows v with about n ticks:
// the first multiple of NiceStep(v, n) at or above v; 1 for v ≤ 0.
func NiceMax(v float64, n int) float64 {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1
	}
	step := NiceStep(v, n)
	return math.Ceil(v/step-1e-9) * step
}

// LinearTicks places about n ticks at nice values inside the domain of s,
// labelled by format.
func LinearTicks(s Linear, n int, format func(float64) string) []Tick {
	lo, hi := math.Min(s.D0, s.D1), math.Max(s.D0, s.D1)
	step := NiceStep(hi-lo, n)
	var ticks []Tick
	for i := math.Ceil(lo/step - 1e-9); i*step <= hi+step*1e-9 && len(ticks) < 50; i++ {
		v := i * step
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, Tick{Value: v, Pos: s.Map(v), Label: format(v), Major: true})
	}
	return ticks
}

// LogTicks places a major, labelled tick at every power of ten inside the
// domain of s and minor ticks at 2× and 5× of each decade. A domain
// narrower than a decade also gets its 2× and 5× ticks labelled, so an
// axis always reads.
func LogTicks(s Log, format func(float64) string) []Tick {
	if s.D0 <= 0 || s.D1 <= s.D0 {
		return nil
	}
	lo, hi := math.Floor(math.Log10(s.D0)), math.Ceil(math.Log10(s.D1))
	decades := 0
	for e := lo; e <= hi; e++ {
		if v := math.Pow(10, e); v >= s.D0*(1-1e-9) && v <= s.D1*(1+1e-9) {
			decades++
		}
	}
	var ticks []Tick
	for e := lo; e <= hi; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < s.D0*(1-1e-9) || v > s.D1*(1+1e-9) {
				continue
			}
			t := Tick{Value: v, Pos: s.Map(v), Major: m == 1}
			if t.Major || decades < 2 {
				t.Label = format(v)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// timeSteps are the tick spacings a time axis chooses from.
var timeSteps = []time.Duration{
	time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// TimeTicks places about n ticks on whole steps (a minute to four weeks)
// between from and to, x mapped by s (whose domain is Unix seconds),
// labelled as times of day for steps under a day and as dates otherwise.
// Steps are whole on zone's wall clock (nil is UTC): an SLO whose days
// are Berlin days gets its ticks at Berlin midnights, 23 or 25 hours
// apart across a daylight-saving change.
func TimeTicks(s Linear, from, to time.Time, n int, zone *time.Location) []Tick {
	span := to.Sub(from)
	if span <= 0 || n < 1 {
		return nil
	}
	if zone == nil {
		zone = time.UTC
	}
	step := timeSteps[len(timeSteps)-1]
	for _, st := range timeSteps {
		if span/st <= time.Duration(n) {
			step = st
			break
		}
	}
	var ticks []Tick
	add := func(t time.Time, layout string) {
		if t.Before(from) || t.After(to) || (len(ticks) > 0 && float64(t.Unix()) <= ticks[len(ticks)-1].Value) {
			return
		}
		ticks = append(ticks, Tick{Value: float64(t.Unix()), Pos: s.Map(float64(t.Unix())), Label: t.Format(layout), Major: true})
	}
	// Walk the local days the span touches; every step divides a day or
	// is whole days.
	lf := from.In(zone)
	day := time.Date(lf.Year(), lf.Month(), lf.Day(), 0, 0, 0, 0, zone)
	if step >= 24*time.Hour {
		days := int(step / (24 * time.Hour))
		// Whole steps count from 0001-01-01 on the wall clock, as
		// time.Truncate counts from the zero time: weeks start on Mondays.
		for ; !day.After(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, zone) {
			if civilDay(day)%days == 0 {
				add(day, "Jan 2")
			}
		}
		return ticks
	}
	for ; !day.After(to); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, zone) {
		for m := time.Duration(0); m < 24*time.Hour; m += step {
			// time.Date moves a wall time that a change skips forward and
			// takes the first of one it repeats; add drops a repeat.
			add(time.Date(day.Year(), day.Month(), day.Day(), 0, int(m/time.Minute), 0, 0, zone), "15:04")
		}
	}
	return ticks
}

// civilDay is the number of the wall-clock day of t since 0001-01-01,
// the zero time.
func civilDay(t time.Time) int {
	const unixToZero = 719162 // days from 0001-01-01 to 1970-01-01
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()/86400) + unixToZero
}

// Seconds formats a latency the way people say it: 250µs, 5ms, 1.5s.
func Seconds(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v < 1e-3:
		return trim(v*1e6) + "µs"
	case v < 1:
		return trim(v*1e3) + "ms"
	}
	return trim(v) + "s"
}

// Percent formats a share (0–1) as a percentage with up to digits
// decimals, trailing zeros dropped.
func Percent(share float64, digits int) string {
	if math.IsNaN(share) {
		return "–"
	}
	return strconv.FormatFloat(share*100, 'f', digits, 64) + "%"
}

func trim(v float64) string {
	s := strconv.FormatFloat(v, 'f', 3, 64)
	for len(s) > 1 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

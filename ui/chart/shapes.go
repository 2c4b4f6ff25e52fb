package chart

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Frame is a chart's size and the margins its axes take, in SVG user
// units (pixels at 100 % zoom).
type Frame struct {
	W, H                     float64
	Left, Right, Top, Bottom float64
}

// X0, X1, Y0 and Y1 are the edges of the plot area; Y1 is its bottom.
func (f Frame) X0() float64 { return f.Left }
func (f Frame) X1() float64 { return f.W - f.Right }
func (f Frame) Y0() float64 { return f.Top }
func (f Frame) Y1() float64 { return f.H - f.Bottom }

// Text is what a chart says for people who cannot see it: a short title
// and a description with its key numbers.
type Text struct {
	ID, Title, Desc string
	// Zone is where the chart's times are cut and written (time-axis
	// ticks, the strip's hover read-out); nil is UTC.
	Zone *time.Location
}

// Bar is one bar of a bar chart, in plot coordinates.
type Bar struct {
	X, Y, W, H float64
	Value      float64
	Label      string
	// Below is true when the value misses the threshold; NoData when the
	// bar has no value at all (drawn as a short hatched stub).
	Below, NoData bool
}

// Bars is a bar chart of shares (availability per day) against a
// threshold (the objective).
type Bars struct {
	Frame
	Text
	Bars       []Bar
	ThresholdY float64
	Threshold  float64
	// ThresholdLabel names the line ("objective 99.9%", "goal 30m").
	ThresholdLabel string
	YTicks         []Tick
	format         func(float64) string
}

// AvailabilityFloor is the bottom of an availability axis: low enough to
// show the lowest value and the objective with room under it (twice the
// objective's error budget below it), never below 0.
func AvailabilityFloor(values []float64, objective float64) float64 {
	floor := objective - 2*(1-objective)
	for _, v := range values {
		if !math.IsNaN(v) && v < floor {
			floor = v - (objective-v)*0.1
		}
	}
	return math.Max(0, floor)
}

// NewBars lays out one bar per value over [floor, 1]. A bar's top is its
// value, clamped into the axis; values below floor still show a bar of
// height 0 marked Below.
func NewBars(f Frame, t Text, labels []string, values []float64, threshold, floor float64) *Bars {
	c := NewScaledBars(f, t, labels, values, threshold, floor, 1, false,
		func(v float64) string { return Percent(v, PercentDecimals(1-floor)) })
	c.ThresholdLabel = "objective " + Percent(threshold, 3)
	c.format = func(v float64) string { return Percent(v, 3) }
	return c
}

// NewScaledBars lays out one bar per value over [lo, hi]. A bar misses
// (Below) when it is under the threshold, or over it when higherIsWorse
// (a time to mitigate against its goal). threshold ≤ lo draws no line.
func NewScaledBars(f Frame, t Text, labels []string, values []float64, threshold, lo, hi float64, higherIsWorse bool, yfmt func(float64) string) *Bars {
	y := Linear{D0: lo, D1: hi, R0: f.Y1(), R1: f.Y0()}
	c := &Bars{Frame: f, Text: t, Threshold: threshold, ThresholdY: y.Map(threshold), format: yfmt}
	if threshold <= lo {
		c.ThresholdY = math.NaN()
	}
	n := len(values)
	if n == 0 {
		return c
	}
	slot := (f.X1() - f.X0()) / float64(n)
	gap := math.Min(2, slot*0.2)
	for i, v := range values {
		b := Bar{X: f.X0() + float64(i)*slot + gap/2, W: slot - gap, Value: v}
		if i < len(labels) {
			b.Label = labels[i]
		}
		if math.IsNaN(v) {
			b.NoData = true
			b.Y, b.H = f.Y1()-4, 4
		} else {
			b.Y = y.Clamp(v)
			b.H = f.Y1() - b.Y
			b.Below = v < threshold
			if higherIsWorse {
				b.Below = threshold > lo && v > threshold
			}
		}
		c.Bars = append(c.Bars, b)
	}
	c.YTicks = LinearTicks(y, 4, yfmt)
	return c
}

// PercentDecimals is how many decimals percentages need on an axis spanning
// span (a share): 99.9 % needs one, 99.99 % two.
func PercentDecimals(span float64) int {
	switch {
	case span >= 0.2:
		return 0
	case span >= 0.02:
		return 1
	case span >= 0.002:
		return 2
	}
	return 3
}

// Point is one value at one time.
type Point struct {
	T time.Time
	V float64
}

// Mark is an annotation on a time axis, such as a deploy.
type Mark struct {
	T     time.Time
	Label string
	X     float64
}

// Line is a time series chart: the series, an optional reference line
// (the ideal burn-down), the zero line and annotations.
type Line struct {
	Frame
	Text
	// Path and Ideal are SVG path data ("M x y L x y …"); a NaN value
	// breaks the path.
	Path, Ideal    string
	ZeroY          float64
	Marks          []Mark
	XTicks, YTicks []Tick
	// Last is the position of the last point, for its label.
	LastX, LastY float64
	Last         float64
	// Second is a second series drawn on the same axes (dashed), such as
	// missed repairs beside open repair items.
	Second string
	// ThresholdY is where a horizontal threshold line is drawn (NaN for
	// none), labelled ThresholdLabel.
	ThresholdY     float64
	ThresholdLabel string
	x, y           Linear
}

// AddSecond draws points as the chart's second series.
func (c *Line) AddSecond(points []Point) { c.Second = path(points, c.x, c.y) }

// AddThreshold draws a horizontal line at v, labelled, when v is inside
// the y axis.
func (c *Line) AddThreshold(v float64, label string) {
	lo, hi := math.Min(c.y.D0, c.y.D1), math.Max(c.y.D0, c.y.D1)
	if math.IsNaN(v) || v < lo || v > hi {
		return
	}
	c.ThresholdY, c.ThresholdLabel = c.y.Map(v), label
}

// NewLine lays out series over [from, to] × [ymin, ymax]; ideal, when it
// has two points, is drawn as a straight reference line.
func NewLine(f Frame, t Text, from, to time.Time, series []Point, ideal []Point, marks []Mark, ymin, ymax float64, yfmt func(float64) string) *Line {
	x := Linear{D0: float64(from.Unix()), D1: float64(to.Unix()), R0: f.X0(), R1: f.X1()}
	y := Linear{D0: ymin, D1: ymax, R0: f.Y1(), R1: f.Y0()}
	c := &Line{Frame: f, Text: t, ZeroY: y.Map(0), Last: math.NaN(), ThresholdY: math.NaN(), x: x, y: y}
	c.Path = path(series, x, y)
	if len(ideal) == 2 {
		c.Ideal = path(ideal, x, y)
	}
	for _, m := range marks {
		if m.T.Before(from) || m.T.After(to) {
			continue
		}
		m.X = x.Map(float64(m.T.Unix()))
		c.Marks = append(c.Marks, m)
	}
	for i := len(series) - 1; i >= 0; i-- {
		if p := series[i]; !math.IsNaN(p.V) {
			c.LastX, c.LastY, c.Last = x.Map(float64(p.T.Unix())), y.Clamp(p.V), p.V
			break
		}
	}
	c.XTicks = TimeTicks(x, from, to, 6, t.Zone)
	c.YTicks = LinearTicks(y, 4, yfmt)
	return c
}

// path writes points as SVG path data, clamped to the plot, starting a
// new subpath after each NaN.
func path(points []Point, x, y Linear) string {
	var b strings.Builder
	pen := false
	for _, p := range points {
		if math.IsNaN(p.V) {
			pen = false
			continue
		}
		if pen {
			b.WriteString(" L")
		} else {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteByte('M')
		}
		b.WriteString(num(x.Map(float64(p.T.Unix()))))
		b.WriteByte(' ')
		b.WriteString(num(y.Clamp(p.V)))
		pen = true
	}
	return b.String()
}

// Sparkline is a small line without axes.
type Sparkline struct {
	Frame
	Text
	Path string
	// Dots mark the points below the threshold, so a bad day shows by
	// shape as well as by position.
	Dots       [][2]float64
	ThresholdY float64
}

// NewSparkline draws values evenly spaced over [lo, hi], with a dot on
// each value under threshold.
func NewSparkline(f Frame, t Text, values []float64, lo, hi, threshold float64) *Sparkline {
	y := Linear{D0: lo, D1: hi, R0: f.Y1(), R1: f.Y0()}
	s := &Sparkline{Frame: f, Text: t, ThresholdY: y.Map(threshold)}
	step := 0.0
	if len(values) > 1 {
		step = (f.X1() - f.X0()) / float64(len(values)-1)
	}
	var b strings.Builder
	pen := false
	for i, v := range values {
		if math.IsNaN(v) {
			pen = false
			continue
		}
		px, py := f.X0()+float64(i)*step, y.Clamp(v)
		if pen {
			b.WriteString(" L")
		} else {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteByte('M')
		}
		b.WriteString(num(px) + " " + num(py))
		pen = true
		if v < threshold {
			s.Dots = append(s.Dots, [2]float64{px, py})
		}
	}
	s.Path = b.String()
	return s
}

// num prints a coordinate with at most two decimals: enough for any
// screen, and it keeps pages small.
func num(v float64) string {
	s := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}

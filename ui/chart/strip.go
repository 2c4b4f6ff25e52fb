package chart

import (
	"math"
	"time"
)

// Cell is one cell of a violation strip: the quanta of one bucket by how
// the SLO judged them. A bucket is one quantum when the range is short
// enough, else several. Pending quanta have begun but are not judged yet
// (the one in progress, and those within the settle delay after it).
type Cell struct {
	Good, Bad, Unmeasured, Pending int
}

// State is what a cell shows: "bad" when any quantum in it was bad (a
// violation must never be averaged away), else "unmeasured" when any was
// not measured, else "good"; "pending" when no quantum in it is judged
// yet but some have begun, so the minute in progress never looks bad or
// missing; "empty" for a bucket with no quanta (the future).
func (c Cell) State() string {
	switch {
	case c.Bad > 0:
		return "bad"
	case c.Unmeasured > 0:
		return "unmeasured"
	case c.Good > 0:
		return "good"
	case c.Pending > 0:
		return "pending"
	}
	return "empty"
}

// Run is a stretch of adjacent cells in the same state, drawn as one
// rectangle: a month of good minutes is one element, not 43,200.
type Run struct {
	X, W        float64
	State       string
	First, Last int // cell indexes, inclusive
}

// Strip is the violation-minutes strip.
type Strip struct {
	Frame
	Text
	From   time.Time
	Bucket time.Duration
	Cells  []Cell
	Runs   []Run
	XTicks []Tick
	// Zoom is the page a selection on the strip opens, with the selected
	// range as ?from=&to= (the SLO's live page, also from a snapshot or an
	// incident); empty, the page the strip is on.
	Zoom string
}

// BucketFor returns the bucket length for showing [from, to) of quantum
// quanta in at most maxCells cells: a whole number of quanta, so no
// quantum is split between cells.
func BucketFor(from, to time.Time, quantum time.Duration, maxCells int) time.Duration {
	n := int64(to.Sub(from) / quantum)
	per := max(1, int64(math.Ceil(float64(n)/float64(max(1, maxCells)))))
	return time.Duration(per) * quantum
}

// NewStrip lays out cells of length bucket from from across the plot.
func NewStrip(f Frame, t Text, from time.Time, bucket time.Duration, cells []Cell) *Strip {
	s := &Strip{Frame: f, Text: t, From: from, Bucket: bucket, Cells: cells}
	n := len(cells)
	if n == 0 {
		return s
	}
	w := (f.X1() - f.X0()) / float64(n)
	for i, c := range cells {
		st := c.State()
		if k := len(s.Runs) - 1; k >= 0 && s.Runs[k].State == st {
			s.Runs[k].Last = i
			s.Runs[k].W = float64(i+1)*w - (s.Runs[k].X - f.X0())
			continue
		}
		s.Runs = append(s.Runs, Run{X: f.X0() + float64(i)*w, W: w, State: st, First: i, Last: i})
	}
	to := from.Add(time.Duration(n) * bucket)
	x := Linear{D0: float64(from.Unix()), D1: float64(to.Unix()), R0: f.X0(), R1: f.X1()}
	s.XTicks = TimeTicks(x, from, to, 6, t.Zone)
	return s
}

// HistBin is one bin of a latency histogram, in seconds.
type HistBin struct {
	Lower, Upper float64
	Count        uint64
}

// Column is one drawn bar of a histogram.
type Column struct {
	X, Y, W, H   float64
	Lower, Upper float64
	Count        uint64
	// Over is true for columns above the threshold.
	Over bool
}

// Marker is a vertical marker on the histogram's axis (a quantile).
type Marker struct {
	Label string
	Value float64
	X     float64
}

// Box is one band of the quantile boxing under the axis: from one
// quantile to the next, darker towards the tail.
type Box struct {
	From, To string
	X, W     float64
	Level    int
}

// Histogram is a latency histogram on a log axis with the threshold, the
// quantiles marked and boxed under the axis.
type Histogram struct {
	Frame
	Text
	Columns    []Column
	ThresholdX float64
	Threshold  float64
	Markers    []Marker
	Boxes      []Box
	BoxY, BoxH float64
	XTicks     []Tick
	Scale      Log
	MaxCount   uint64
}

// Quantile is a quantile of the histogram to mark.
type Quantile struct {
	Q, Seconds float64
}

// NewHistogram merges bins into columns of equal width on a log axis
// spanning whole decades around the data and the threshold (threshold ≤ 0
// for none), and marks the quantiles. Log-linear bins are 10× narrower on
// the screen at the bottom of a decade than at the top, so drawing them
// one to one would make the shape lie; equal columns do not.
func NewHistogram(f Frame, t Text, bins []HistBin, threshold float64, qs []Quantile, columns int) *Histogram {
	h := &Histogram{Frame: f, Text: t, Threshold: threshold}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, b := range bins {
		if b.Count == 0 || b.Lower <= 0 {
			continue
		}
		lo, hi = math.Min(lo, b.Lower), math.Max(hi, b.Upper)
	}
	if threshold > 0 {
		lo, hi = math.Min(lo, threshold), math.Max(hi, threshold)
	}
	if math.IsInf(lo, 1) {
		return h
	}
	lo = math.Pow(10, math.Floor(math.Log10(lo)+1e-9))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)-1e-9))
	if hi <= lo {
		hi = lo * 10
	}
	h.Scale = Log{D0: lo, D1: hi, R0: f.X0(), R1: f.X1()}
	h.XTicks = LogTicks(h.Scale, Seconds)
	if columns < 1 {
		columns = 1
	}
	counts := make([]uint64, columns)
	w := (f.X1() - f.X0()) / float64(columns)
	for _, b := range bins {
		if b.Count == 0 {
			continue
		}
		mid := math.Sqrt(b.Lower * b.Upper)
		if b.Lower <= 0 {
			mid = lo
		}
		i := int((h.Scale.Map(mid) - f.X0()) / w)
		counts[max(0, min(columns-1, i))] += b.Count
	}
	for _, c := range counts {
		h.MaxCount = max(h.MaxCount, c)
	}
	y := Linear{D0: 0, D1: float64(h.MaxCount), R0: f.Y1(), R1: f.Y0()}
	for i, c := range counts {
		if c == 0 {
			continue
		}
		x := f.X0() + float64(i)*w
		col := Column{X: x, W: w, Y: y.Map(float64(c)), Count: c, Lower: h.Scale.Invert(x), Upper: h.Scale.Invert(x + w)}
		col.H = f.Y1() - col.Y
		if col.H < 1 {
			col.Y, col.H = f.Y1()-1, 1 // a single slow request must still show
		}
		col.Over = threshold > 0 && col.Lower >= threshold*(1-1e-9)
		h.Columns = append(h.Columns, col)
	}
	if threshold > 0 {
		h.ThresholdX = h.Scale.Map(threshold)
	}
	h.BoxY, h.BoxH = f.Y1()+22, 10
	prevX, prev := f.X0(), "min"
	for i, q := range qs {
		if math.IsNaN(q.Seconds) {
			continue
		}
		x := h.Scale.Map(math.Max(q.Seconds, lo))
		label := "q(" + trim(q.Q) + ")"
		h.Markers = append(h.Markers, Marker{Label: label, Value: q.Seconds, X: x})
		h.Boxes = append(h.Boxes, Box{From: prev, To: label, X: prevX, W: math.Max(0, x-prevX), Level: i})
		prevX, prev = x, label
	}
	return h
}

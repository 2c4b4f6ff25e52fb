package chart

import (
	"math"
	"strings"
	"testing"
	"time"
)

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestLinearMap(t *testing.T) {
	s := Linear{D0: 0, D1: 10, R0: 100, R1: 0} // a y axis: up is smaller
	f := func(v, want float64) { t.Helper(); near(t, "Map", s.Map(v), want) }
	f(0, 100)
	f(10, 0)
	f(2.5, 75)
	near(t, "Clamp(20)", s.Clamp(20), 0)
	near(t, "Clamp(-5)", s.Clamp(-5), 100)
	near(t, "degenerate", Linear{D0: 1, D1: 1, R0: 0, R1: 10}.Map(1), 5)
}

func TestLogMapAndTicks(t *testing.T) {
	s := Log{D0: 0.001, D1: 10, R0: 0, R1: 400} // 4 decades, 100 px each
	f := func(v, want float64) { t.Helper(); near(t, "Map", s.Map(v), want) }
	f(0.001, 0)
	f(0.01, 100)
	f(0.1, 200)
	f(1, 300)
	f(10, 400)
	f(0.005, 100*math.Log10(5)) // 5 ms sits 69.9 % into the 1–10 ms decade
	near(t, "Invert(250)", s.Invert(250), math.Pow(10, -0.5))

	ticks := LogTicks(s, Seconds)
	var labels []string
	majors := 0
	for _, tk := range ticks {
		if tk.Major {
			majors++
			labels = append(labels, tk.Label)
		} else if tk.Label != "" {
			t.Errorf("minor tick %v labelled %q on a multi-decade axis", tk.Value, tk.Label)
		}
	}
	if got := strings.Join(labels, " "); got != "1ms 10ms 100ms 1s 10s" {
		t.Errorf("major labels %q", got)
	}
	if len(ticks) != 5+4*2 {
		t.Errorf("%d ticks, want 13 (5 decades, 2× and 5× minor in the 4 between)", len(ticks))
	}
	for _, tk := range ticks {
		if tk.Value == 0.02 {
			near(t, "20ms", tk.Pos, 100+100*math.Log10(2))
		}
	}
	// Less than one decade: the minor ticks are labelled.
	narrow := LogTicks(Log{D0: 0.15, D1: 0.6, R0: 0, R1: 100}, Seconds)
	if len(narrow) != 2 || narrow[0].Label != "200ms" || narrow[1].Label != "500ms" {
		t.Errorf("narrow log ticks %+v", narrow)
	}
}

func TestLinearTicksAreNice(t *testing.T) {
	s := Linear{D0: 0.997, D1: 1, R0: 100, R1: 0}
	ticks := LinearTicks(s, 4, func(v float64) string { return Percent(v, 2) })
	var got []string
	for _, tk := range ticks {
		got = append(got, tk.Label)
	}
	if strings.Join(got, " ") != "99.70% 99.80% 99.90% 100.00%" {
		t.Errorf("ticks %v", got)
	}
	near(t, "99.9% position", ticks[2].Pos, 100*(1-0.999)/0.003*1)
	f := func(span float64, n int, want float64) { t.Helper(); near(t, "NiceStep", NiceStep(span, n), want) }
	f(10, 5, 2)
	f(1, 4, 0.2)
	f(0.003, 4, 0.001)
	f(700, 6, 100)
}

func TestBarsGeometry(t *testing.T) {
	f := Frame{W: 240, H: 120, Left: 40, Right: 0, Top: 10, Bottom: 10} // plot 200 × 100
	values := []float64{1, 0.999, 0.998, math.NaN()}
	c := NewBars(f, Text{ID: "b"}, []string{"a", "b", "c", "d"}, values, 0.999, 0.995)
	if len(c.Bars) != 4 {
		t.Fatalf("%d bars", len(c.Bars))
	}
	// y: 0.995 → 110 (bottom), 1 → 10 (top): 20,000 px per unit share.
	near(t, "threshold y", c.ThresholdY, 110-(0.999-0.995)/0.005*100)
	near(t, "bar 0 height", c.Bars[0].H, 100)
	near(t, "bar 1 height", c.Bars[1].H, 80)
	near(t, "bar 2 height", c.Bars[2].H, 60)
	near(t, "bar 1 top equals the threshold", c.Bars[1].Y, c.ThresholdY)
	near(t, "slot width", c.Bars[0].W+2, 50)
	near(t, "bar 2 x", c.Bars[2].X, 40+100+1)
	if c.Bars[1].Below || !c.Bars[2].Below {
		t.Error("the bar at the objective meets it, the one under misses it")
	}
	if !c.Bars[3].NoData {
		t.Error("NaN must be drawn as no data")
	}
	svg := string(c.SVG())
	if strings.Count(svg, `class="bar bad"`) != 1 || strings.Count(svg, `class="bar nodata"`) != 1 {
		t.Errorf("classes in %s", svg)
	}
}

func TestAvailabilityFloor(t *testing.T) {
	near(t, "room under the objective", AvailabilityFloor([]float64{1, 0.9995}, 0.999), 0.997)
	near(t, "lowest value shows", AvailabilityFloor([]float64{0.99}, 0.999), 0.99-0.0009)
	near(t, "never below 0", AvailabilityFloor([]float64{0}, 0.5), 0)
}

func TestLinePathAndMarks(t *testing.T) {
	f := Frame{W: 100, H: 100}
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(10 * time.Hour)
	pts := []Point{{from, 1}, {from.Add(5 * time.Hour), 0.5}, {from.Add(6 * time.Hour), math.NaN()}, {to, -0.5}}
	ideal := []Point{{from, 1}, {to, 0}}
	marks := []Mark{{T: from.Add(2 * time.Hour), Label: "deploy v1"}, {T: to.Add(time.Hour), Label: "outside"}}
	c := NewLine(f, Text{ID: "l"}, from, to, pts, ideal, marks, -1, 1, func(v float64) string { return Percent(v, 0) })
	if c.Path != "M0 0 L50 25 M100 75" {
		t.Errorf("path %q", c.Path)
	}
	if c.Ideal != "M0 0 L100 50" {
		t.Errorf("ideal %q", c.Ideal)
	}
	near(t, "zero line", c.ZeroY, 50)
	if len(c.Marks) != 1 || c.Marks[0].X != 20 {
		t.Errorf("marks %+v", c.Marks)
	}
	near(t, "last", c.Last, -0.5)
}

func TestSparkline(t *testing.T) {
	s := NewSparkline(Frame{W: 30, H: 10}, Text{ID: "s"}, []float64{1, 0.99, math.NaN(), 1}, 0.98, 1, 0.995)
	if s.Path != "M0 0 L10 5 M30 0" {
		t.Errorf("path %q", s.Path)
	}
	if len(s.Dots) != 1 || s.Dots[0] != [2]float64{10, 5} {
		t.Errorf("dots %v", s.Dots)
	}
}

func TestStripRunsAndBuckets(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// 30 days of minutes in at most 720 cells: buckets of one hour.
	if b := BucketFor(from, from.Add(30*24*time.Hour), time.Minute, 720); b != time.Hour {
		t.Errorf("bucket %v", b)
	}
	if b := BucketFor(from, from.Add(6*time.Hour), time.Minute, 720); b != time.Minute {
		t.Errorf("short range bucket %v", b)
	}
	if b := BucketFor(from, from.Add(7*24*time.Hour), time.Minute, 720); b != 14*time.Minute {
		t.Errorf("week bucket %v", b)
	}
	cells := []Cell{{Good: 60}, {Good: 60}, {Good: 59, Bad: 1}, {Good: 58, Unmeasured: 2}, {Good: 60}, {}}
	s := NewStrip(Frame{W: 60, H: 10}, Text{ID: "x"}, from, time.Hour, cells)
	var states []string
	for _, r := range s.Runs {
		states = append(states, r.State)
	}
	if strings.Join(states, " ") != "good bad unmeasured good empty" {
		t.Errorf("runs %v", states)
	}
	near(t, "first run width", s.Runs[0].W, 20)
	near(t, "bad run x", s.Runs[1].X, 20)
	if s.Runs[0].First != 0 || s.Runs[0].Last != 1 {
		t.Errorf("first run %+v", s.Runs[0])
	}
	svg := string(s.SVG())
	if !strings.Contains(svg, `data-cells="60,0,0;60,0,0;59,1,0;58,0,2;60,0,0;0,0,0"`) {
		t.Errorf("cell data missing: %s", svg)
	}
	if strings.Count(svg, `class="cell `) != 5 {
		t.Error("one rectangle per run")
	}
}

func TestHistogramGeometry(t *testing.T) {
	f := Frame{W: 300, H: 110, Left: 0, Right: 0, Top: 10, Bottom: 0} // plot 300 × 100
	bins := []HistBin{
		{Lower: 0.004, Upper: 0.0041, Count: 100}, // ~4 ms
		{Lower: 0.05, Upper: 0.051, Count: 50},    // ~50 ms
		{Lower: 0.2, Upper: 0.21, Count: 5},       // over a 100 ms threshold
	}
	qs := []Quantile{{0.5, 0.004}, {0.9, 0.05}, {0.99, 0.2}, {0.999, 0.205}}
	h := NewHistogram(f, Text{ID: "h"}, bins, 0.1, qs, 30)
	// Data and threshold span 4 ms–210 ms: the axis is 1 ms–1 s, 100 px a decade.
	near(t, "axis from", h.Scale.D0, 0.001)
	near(t, "axis to", h.Scale.D1, 1)
	near(t, "threshold x", h.ThresholdX, 200)
	if len(h.Columns) != 3 {
		t.Fatalf("columns %+v", h.Columns)
	}
	near(t, "tallest column", h.Columns[0].H, 100)
	near(t, "half as many", h.Columns[1].H, 50)
	near(t, "5 of 100", h.Columns[2].H, 5)
	// Columns are 10 px wide: 4 ms (x ≈ 60.3) falls in the column at 60.
	near(t, "4 ms column x", h.Columns[0].X, 60)
	if h.Columns[1].Over || !h.Columns[2].Over {
		t.Error("only the column above the threshold is over it")
	}
	if len(h.Markers) != 4 || h.Markers[2].Label != "q(0.99)" {
		t.Fatalf("markers %+v", h.Markers)
	}
	near(t, "q(0.5) x", h.Markers[0].X, 100*math.Log10(4))
	near(t, "box from q(0.5) to q(0.9)", h.Boxes[1].W, 100*math.Log10(50)-100*math.Log10(4))
	var majors []string
	for _, tk := range h.XTicks {
		if tk.Major {
			majors = append(majors, tk.Label)
		}
	}
	if strings.Join(majors, " ") != "1ms 10ms 100ms 1s" {
		t.Errorf("log axis ticks %v", majors)
	}
	if empty := NewHistogram(f, Text{ID: "e"}, nil, 0, nil, 30); len(empty.Columns) != 0 {
		t.Error("no data, no columns")
	}
}

func TestSVGEscapesText(t *testing.T) {
	c := NewBars(Frame{W: 10, H: 10}, Text{ID: `x"y`, Title: `<script>alert(1)</script>`, Desc: `a & "b"`}, []string{"<b>"}, []float64{1}, 0.9, 0.8)
	svg := string(c.SVG())
	for _, bad := range []string{"<script>", `id="x"y`, "<b>"} {
		if strings.Contains(svg, bad) {
			t.Errorf("unescaped %q in %s", bad, svg)
		}
	}
	if !strings.Contains(svg, "&lt;script&gt;") {
		t.Error("title not escaped as text")
	}
}

func TestFormats(t *testing.T) {
	f := func(v float64, want string) {
		t.Helper()
		if got := Seconds(v); got != want {
			t.Errorf("Seconds(%v) = %q, want %q", v, got, want)
		}
	}
	f(0.00025, "250µs")
	f(0.005, "5ms")
	f(0.0037, "3.7ms")
	f(1.5, "1.5s")
	f(0, "0")
	if Percent(0.99945, 3) != "99.945%" || Percent(math.NaN(), 2) != "–" {
		t.Error("Percent")
	}
}

func TestScaledBarsHigherIsWorse(t *testing.T) {
	f := Frame{W: 100, H: 100} // plot 100 × 100
	// Times to mitigate in minutes against a 30-minute goal on 0–60.
	c := NewScaledBars(f, Text{ID: "ttm"}, []string{"Oct", "Nov"}, []float64{20, 45}, 30, 0, 60, true, func(v float64) string { return trim(v) + "m" })
	near(t, "goal line", c.ThresholdY, 50)
	near(t, "20 min bar", c.Bars[0].H, 100*20.0/60)
	if c.Bars[0].Below || !c.Bars[1].Below {
		t.Error("only the bar over the goal misses it")
	}
	if !strings.Contains(string(c.SVG()), "<title>Nov: 45m</title>") {
		t.Error("bar value text")
	}
	// Without a threshold no line is drawn.
	if svg := string(NewScaledBars(f, Text{ID: "a"}, nil, []float64{0.5}, 0, 0, 1, false, trim).SVG()); strings.Contains(svg, "threshold") {
		t.Error("a line without a threshold")
	}
}

func TestLineSecondSeries(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(10 * time.Hour)
	c := NewLine(Frame{W: 100, H: 100}, Text{ID: "d"}, from, to, []Point{{from, 0}, {to, 10}}, nil, nil, 0, 10, trim)
	c.AddSecond([]Point{{from, 5}, {to, 5}})
	if c.Second != "M0 50 L100 50" {
		t.Errorf("second series %q", c.Second)
	}
}

// TestTimeTicksInUTCAreWholeSteps: in UTC the ticks are the whole steps
// time.Truncate gives, for every step a time axis chooses.
func TestTimeTicksInUTCAreWholeSteps(t *testing.T) {
	from := time.Date(2026, 11, 3, 7, 13, 0, 0, time.UTC)
	for _, span := range []time.Duration{5 * time.Minute, 90 * time.Minute, 7 * time.Hour, 40 * time.Hour, 9 * 24 * time.Hour, 45 * 24 * time.Hour, 200 * 24 * time.Hour} {
		to := from.Add(span)
		x := Linear{D0: float64(from.Unix()), D1: float64(to.Unix()), R0: 0, R1: 100}
		got := TimeTicks(x, from, to, 6, nil)
		var step time.Duration
		for _, st := range timeSteps {
			if span/st <= 6 {
				step = st
				break
			}
		}
		if step == 0 {
			step = timeSteps[len(timeSteps)-1]
		}
		var want []int64
		for tt := from.Truncate(step); !tt.After(to); tt = tt.Add(step) {
			if !tt.Before(from) {
				want = append(want, tt.Unix())
			}
		}
		if len(got) != len(want) {
			t.Fatalf("span %v: %d ticks, want %d", span, len(got), len(want))
		}
		for i := range got {
			if int64(got[i].Value) != want[i] {
				t.Errorf("span %v: tick %d at %v, want %v", span, i, time.Unix(int64(got[i].Value), 0).UTC(), time.Unix(want[i], 0).UTC())
			}
		}
	}
}

// TestTimeTicksInAZone: a Berlin axis has its day ticks at Berlin
// midnights, 23 hours apart on the day daylight saving starts, and its
// hour ticks on Berlin's whole hours, none at the 02:00 that does not
// exist.
func TestTimeTicksInAZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	labels := func(from, to time.Time) []string {
		x := Linear{D0: float64(from.Unix()), D1: float64(to.Unix()), R0: 0, R1: 100}
		var out []string
		for _, tk := range TimeTicks(x, from, to, 6, berlin) {
			out = append(out, tk.Label+"@"+time.Unix(int64(tk.Value), 0).UTC().Format("02T15:04Z"))
		}
		return out
	}
	from := time.Date(2026, 3, 27, 0, 0, 0, 0, berlin)
	got := strings.Join(labels(from, from.AddDate(0, 0, 5)), " ")
	if got != "Mar 27@26T23:00Z Mar 28@27T23:00Z Mar 29@28T23:00Z Mar 30@29T22:00Z Mar 31@30T22:00Z Apr 1@31T22:00Z" {
		t.Errorf("day ticks across the change: %s", got)
	}
	night := time.Date(2026, 3, 29, 0, 0, 0, 0, berlin)
	got = strings.Join(labels(night, night.Add(5*time.Hour)), " ")
	if got != "00:00@28T23:00Z 01:00@29T00:00Z 03:00@29T01:00Z 04:00@29T02:00Z 05:00@29T03:00Z 06:00@29T04:00Z" {
		t.Errorf("hour ticks across the change: %s", got)
	}
	// A month in winter: the December window's first tick is Dec 1, not
	// a UTC Nov 30.
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, berlin)
	if got := labels(dec, dec.AddDate(0, 0, 10)); len(got) == 0 || got[0] != "Dec 1@30T23:00Z" {
		t.Errorf("December ticks %v", got)
	}
}

func TestNiceMax(t *testing.T) {
	f := func(v, want float64) { t.Helper(); near(t, "NiceMax", NiceMax(v, 4), want) }
	f(15.7, 20)
	f(4, 4)
	f(0.0013, 0.0014)
	f(0, 1)
	f(math.NaN(), 1)
}

func TestLineThreshold(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewLine(Frame{W: 100, H: 100}, Text{ID: "e"}, from, from.Add(time.Hour), nil, nil, nil, 0, 0.01, trim)
	if !math.IsNaN(c.ThresholdY) || strings.Contains(string(c.SVG()), "threshold") {
		t.Error("a line without a threshold draws one")
	}
	c.AddThreshold(0.02, "off the axis")
	if !math.IsNaN(c.ThresholdY) {
		t.Error("a threshold above the axis is drawn")
	}
	c.AddThreshold(0.0025, "quantum bad above")
	near(t, "threshold y", c.ThresholdY, 75)
	if svg := string(c.SVG()); !strings.Contains(svg, `<line class="threshold" x1="0" x2="100" y1="75" y2="75"/>`) || !strings.Contains(svg, "quantum bad above") {
		t.Errorf("threshold not drawn: %s", svg)
	}
}

// TestStripPending: a cell whose quanta have begun but none is judged
// is pending, never bad or missing; judged quanta beside pending ones
// decide the cell; the read-out gets the pending count only where there
// is one, and the strip's zone.
func TestStripPending(t *testing.T) {
	for _, c := range []struct {
		cell Cell
		want string
	}{
		{Cell{Pending: 1}, "pending"},
		{Cell{Good: 40, Pending: 20}, "good"},
		{Cell{Bad: 1, Pending: 59}, "bad"},
		{Cell{Unmeasured: 1, Pending: 1}, "unmeasured"},
		{Cell{}, "empty"},
	} {
		if got := c.cell.State(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.cell, got, c.want)
		}
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	from := time.Date(2026, 12, 1, 0, 0, 0, 0, berlin)
	s := NewStrip(Frame{W: 40, H: 10}, Text{ID: "p", Zone: berlin}, from, time.Minute, []Cell{{Good: 1}, {Bad: 1}, {Pending: 1}, {}})
	svg := string(s.SVG())
	for _, want := range []string{`data-cells="1,0,0;0,1,0;0,0,0,1;0,0,0"`, `data-zone="Europe/Berlin"`, `class="cell pending"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("strip lacks %s: %s", want, svg)
		}
	}
	if s.XTicks[0].Label != "00:00" {
		t.Errorf("first tick %q, want Berlin midnight", s.XTicks[0].Label)
	}
}

package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strings"
	"time"
)

// The SVG writers print geometry with CSS classes, never colours: the
// stylesheet owns the palette, so dark mode and the contrast test see one
// place. Every text that could come from a user goes through esc.

func esc(s string) string { return template.HTMLEscapeString(s) }

// open starts an SVG with its text alternative: role img, labelled by the
// title and described by the description with the key numbers.
func open(b *strings.Builder, f Frame, t Text, class string) {
	fmt.Fprintf(b, `<svg class="chart %s" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="none">`,
		class, num(f.W), num(f.H), esc(t.ID), esc(t.ID))
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, esc(t.ID), esc(t.Title), esc(t.ID), esc(t.Desc))
}

func yAxis(b *strings.Builder, f Frame, ticks []Tick) {
	for _, t := range ticks {
		fmt.Fprintf(b, `<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(f.X0()), num(f.X1()), num(t.Pos), num(t.Pos))
		fmt.Fprintf(b, `<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, num(f.X0()-4), num(t.Pos+4), esc(t.Label))
	}
}

func xAxis(b *strings.Builder, f Frame, ticks []Tick, y float64) {
	fmt.Fprintf(b, `<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(f.X0()), num(f.X1()), num(f.Y1()), num(f.Y1()))
	for _, t := range ticks {
		cls := "tickmark"
		if !t.Major {
			cls = "tickmark minor"
		}
		fmt.Fprintf(b, `<line class="%s" x1="%s" x2="%s" y1="%s" y2="%s"/>`, cls, num(t.Pos), num(t.Pos), num(f.Y1()), num(f.Y1()+4))
		if t.Label != "" {
			fmt.Fprintf(b, `<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`, num(t.Pos), num(y), esc(t.Label))
		}
	}
}

// SVG writes the bar chart.
func (c *Bars) SVG() template.HTML {
	var b strings.Builder
	open(&b, c.Frame, c.Text, "bars")
	yAxis(&b, c.Frame, c.YTicks)
	for _, r := range c.Bars {
		cls := "bar good"
		switch {
		case r.NoData:
			cls = "bar nodata"
		case r.Below:
			cls = "bar bad"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"><title>%s: %s</title></rect>`,
			cls, num(r.X), num(r.Y), num(r.W), num(r.H), esc(r.Label), esc(c.valueText(r)))
	}
	if !math.IsNaN(c.ThresholdY) {
		fmt.Fprintf(&b, `<line class="threshold" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(c.X0()), num(c.X1()), num(c.ThresholdY), num(c.ThresholdY))
		fmt.Fprintf(&b, `<text class="tick label" x="%s" y="%s" text-anchor="end">%s</text>`, num(c.X1()), num(c.ThresholdY-4), esc(c.ThresholdLabel))
	}
	// Label every few bars so dates never overlap.
	every := max(1, len(c.Bars)/8)
	for i, r := range c.Bars {
		if i%every == 0 {
			fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`, num(r.X+r.W/2), num(c.Y1()+14), esc(r.Label))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func (c *Bars) valueText(r Bar) string {
	if r.NoData || c.format == nil {
		return "no data"
	}
	return c.format(r.Value)
}

// SVG writes the line chart.
func (c *Line) SVG() template.HTML {
	var b strings.Builder
	open(&b, c.Frame, c.Text, "line")
	yAxis(&b, c.Frame, c.YTicks)
	fmt.Fprintf(&b, `<line class="zero" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(c.X0()), num(c.X1()), num(c.ZeroY), num(c.ZeroY))
	if c.Ideal != "" {
		fmt.Fprintf(&b, `<path class="ideal" d="%s"/>`, c.Ideal)
	}
	for _, m := range c.Marks {
		fmt.Fprintf(&b, `<g class="mark"><line x1="%s" x2="%s" y1="%s" y2="%s"/><path d="M%s %s l-4 -7 h8 z"/><title>%s</title></g>`,
			num(m.X), num(m.X), num(c.Y0()), num(c.Y1()), num(m.X), num(c.Y0()), esc(m.Label))
	}
	if !math.IsNaN(c.ThresholdY) {
		fmt.Fprintf(&b, `<line class="threshold" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(c.X0()), num(c.X1()), num(c.ThresholdY), num(c.ThresholdY))
		fmt.Fprintf(&b, `<text class="tick label" x="%s" y="%s" text-anchor="end">%s</text>`, num(c.X1()), num(c.ThresholdY-4), esc(c.ThresholdLabel))
	}
	if c.Path != "" {
		fmt.Fprintf(&b, `<path class="series" d="%s"/>`, c.Path)
	}
	if c.Second != "" {
		fmt.Fprintf(&b, `<path class="series second" d="%s"/>`, c.Second)
	}
	if !math.IsNaN(c.Last) {
		fmt.Fprintf(&b, `<circle class="last" cx="%s" cy="%s" r="3"/>`, num(c.LastX), num(c.LastY))
	}
	xAxis(&b, c.Frame, c.XTicks, c.Y1()+16)
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// SVG writes the sparkline.
func (s *Sparkline) SVG() template.HTML {
	var b strings.Builder
	open(&b, s.Frame, s.Text, "spark")
	fmt.Fprintf(&b, `<line class="threshold" x1="%s" x2="%s" y1="%s" y2="%s"/>`, num(s.X0()), num(s.X1()), num(s.ThresholdY), num(s.ThresholdY))
	if s.Path != "" {
		fmt.Fprintf(&b, `<path class="series" d="%s"/>`, s.Path)
	}
	for _, d := range s.Dots {
		fmt.Fprintf(&b, `<circle class="dot bad" cx="%s" cy="%s" r="2.5"/>`, num(d[0]), num(d[1]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// SVG writes the strip. The cells' counts go into a data attribute that
// the page's script reads for the hover read-out and the range selection,
// so the strip stays one rectangle per run however many cells it has.
func (s *Strip) SVG() template.HTML {
	var b strings.Builder
	var cells strings.Builder
	for i, c := range s.Cells {
		if i > 0 {
			cells.WriteByte(';')
		}
		fmt.Fprintf(&cells, "%d,%d,%d", c.Good, c.Bad, c.Unmeasured)
		if c.Pending > 0 {
			// Only a cell at the range's end has pending quanta: the
			// fourth count is written where there is one.
			fmt.Fprintf(&cells, ",%d", c.Pending)
		}
	}
	attrs := ""
	if s.Zoom != "" {
		attrs += ` data-zoom="` + html.EscapeString(s.Zoom) + `"`
	}
	if z := s.Zone; z != nil && z != time.UTC {
		// The read-out writes times where the ticks are cut.
		attrs += ` data-zone="` + html.EscapeString(z.String()) + `"`
	}
	fmt.Fprintf(&b, `<div class="strip-wrap" data-from="%d" data-bucket="%d" data-cells="%s"%s>`,
		s.From.Unix(), int64(s.Bucket.Seconds()), cells.String(), attrs)
	open(&b, s.Frame, s.Text, "strip")
	for _, r := range s.Runs {
		fmt.Fprintf(&b, `<rect class="cell %s" x="%s" y="%s" width="%s" height="%s"/>`,
			r.State, num(r.X), num(s.Y0()), num(r.W), num(s.Y1()-s.Y0()))
	}
	xAxis(&b, s.Frame, s.XTicks, s.Y1()+16)
	fmt.Fprintf(&b, `<rect class="sel" x="0" y="%s" width="0" height="%s"/>`, num(s.Y0()), num(s.Y1()-s.Y0()))
	b.WriteString(`</svg></div>`)
	return template.HTML(b.String())
}

// SVG writes the histogram.
func (h *Histogram) SVG() template.HTML {
	var b strings.Builder
	open(&b, h.Frame, h.Text, "histogram")
	for _, c := range h.Columns {
		cls := "col"
		if c.Over {
			cls = "col over"
		}
		fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"><title>%s–%s: %d</title></rect>`,
			cls, num(c.X+0.5), num(c.Y), num(math.Max(0.5, c.W-1)), num(c.H), esc(Seconds(c.Lower)), esc(Seconds(c.Upper)), c.Count)
	}
	xAxis(&b, h.Frame, h.XTicks, h.Y1()+16)
	for i, m := range h.Markers {
		y := h.Y0() + 10 + float64(i%4)*12
		fmt.Fprintf(&b, `<g class="quantile"><line x1="%s" x2="%s" y1="%s" y2="%s"/><text class="tick" x="%s" y="%s">%s %s</text></g>`,
			num(m.X), num(m.X), num(h.Y0()), num(h.Y1()), num(m.X+3), num(y), esc(m.Label), esc(Seconds(m.Value)))
	}
	if h.ThresholdX > 0 {
		fmt.Fprintf(&b, `<line class="threshold" x1="%s" x2="%s" y1="%s" y2="%s"/><text class="tick label" x="%s" y="%s" text-anchor="end">threshold %s</text>`,
			num(h.ThresholdX), num(h.ThresholdX), num(h.Y0()), num(h.Y1()), num(h.ThresholdX-3), num(h.Y0()+70), esc(Seconds(h.Threshold)))
	}
	for _, bx := range h.Boxes {
		fmt.Fprintf(&b, `<rect class="qbox l%d" x="%s" y="%s" width="%s" height="%s"><title>%s to %s</title></rect>`,
			min(bx.Level, 3), num(bx.X), num(h.BoxY), num(bx.W), num(h.BoxH), esc(bx.From), esc(bx.To))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

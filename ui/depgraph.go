package ui

import (
	"fmt"
	"html/template"
	"slices"
	"strings"

	"github.com/nines-sre/nines/catalog"
)

// The dependency graph is drawn on the server as SVG: callers above the
// services they call, one row per depth, so a request flows down the
// page. Services in a cycle share a row, and the cycle's edges are drawn
// thick and dashed in the warning colour. An edge's colour says its
// observed error rate when traces give one, grey otherwise: the band is
// in the class name, so the stylesheet (and the dark theme) decide the
// colours.

// Graph geometry, in SVG user units (pixels at 100 %).
const (
	graphNodeW  = 150
	graphNodeH  = 26
	graphColW   = 170
	graphRowH   = 90
	graphMargin = 12
	graphLabel  = 22 // characters of a name shown in its box
)

// edgeBand is the class of an edge by its observed error rate.
func edgeBand(calls, errors uint64) string {
	switch r := float64(errors) / float64(max(calls, 1)); {
	case calls == 0:
		return "e-none"
	case r < 0.001:
		return "e-ok"
	case r < 0.01:
		return "e-warn"
	default:
		return "e-bad"
	}
}

// graphInput is what a drawing shows: the services (nodes) and edges to
// draw, the one to highlight, and the observed edges by pair.
type graphInput struct {
	nodes    []string
	edges    []catalog.Edge
	focus    string
	observed map[[2]string]catalog.Edge
	// titles puts a hover title on every edge, which a drawing of
	// thousands of edges cannot afford in bytes.
	titles bool
}

// drawGraph lays out and draws the graph as an SVG element.
func drawGraph(in graphInput) template.HTML {
	pos := layoutGraph(in.nodes, in.edges)
	cyc := cycleEdges(in.edges)
	width, height := 0, 0
	for _, p := range pos {
		width, height = max(width, p[0]+graphNodeW), max(height, p[1]+graphNodeH)
	}
	for _, e := range in.edges {
		if f, t := pos[e.From], pos[e.To]; f[1] == t[1] {
			height = max(height, f[1]+graphNodeH+graphRowH/4+2) // the curve's lowest point
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="depgraph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="Dependency graph of %d services and %d dependencies">`,
		width+2*graphMargin, height+2*graphMargin, width+2*graphMargin, height+2*graphMargin, len(in.nodes), len(in.edges))
	fmt.Fprintf(&b, `<g transform="translate(%d %d)">`, graphMargin, graphMargin)
	// Edges first, under the boxes. Without titles, the edges of one
	// class share one path: 10,000 edges cost a few bytes each.
	paths := map[string]*strings.Builder{}
	var classes []string
	for _, e := range in.edges {
		f, t := pos[e.From], pos[e.To]
		class := edgeBand(0, 0)
		o, seen := in.observed[[2]string{e.From, e.To}]
		if seen {
			class = edgeBand(o.Calls, o.Errors)
		}
		if cyc[[2]string{e.From, e.To}] {
			class += " cycle"
		}
		d := edgePath(f, t)
		if in.titles {
			title := e.From + " → " + e.To
			if seen {
				title += fmt.Sprintf(": %d calls, %d errors", o.Calls, o.Errors)
			} else if in.observed != nil {
				title += ": never observed"
			}
			if cyc[[2]string{e.From, e.To}] {
				title += " (on a cycle)"
			}
			fmt.Fprintf(&b, `<path class="edge %s" d="%s"><title>%s</title></path>`, class, d, template.HTMLEscapeString(title))
			continue
		}
		p := paths[class]
		if p == nil {
			p = &strings.Builder{}
			paths[class] = p
			classes = append(classes, class)
		}
		p.WriteString(d)
	}
	slices.Sort(classes)
	for _, c := range classes {
		fmt.Fprintf(&b, `<path class="edge %s" d="%s"/>`, c, paths[c].String())
	}
	for _, n := range in.nodes {
		p := pos[n]
		class := "node"
		if n == in.focus {
			class += " focus"
		}
		label := n
		if r := []rune(label); len(r) > graphLabel {
			label = string(r[:graphLabel-1]) + "…"
		}
		fmt.Fprintf(&b, `<a href="/services/%s"><g class="%s"><title>%s</title><rect x="%d" y="%d" width="%d" height="%d" rx="4"/><text x="%d" y="%d">%s</text></g></a>`,
			template.HTMLEscapeString(n), class, template.HTMLEscapeString(n), p[0], p[1], graphNodeW, graphNodeH,
			p[0]+graphNodeW/2, p[1]+graphNodeH/2+4, template.HTMLEscapeString(label))
	}
	b.WriteString(`</g></svg>`)
	return template.HTML(b.String())
}

// edgePath draws an edge from the box at f to the box at t: down from
// the caller's bottom to the callee's top; up, from top to bottom, for an
// edge back up; and for two boxes in one row (a cycle), a curve dipping
// below them, so that it is not hidden behind the boxes between.
func edgePath(f, t [2]int) string {
	fx, tx := f[0]+graphNodeW/2, t[0]+graphNodeW/2
	switch {
	case t[1] > f[1]:
		return fmt.Sprintf("M%d %dL%d %d", fx, f[1]+graphNodeH, tx, t[1])
	case t[1] < f[1]:
		return fmt.Sprintf("M%d %dL%d %d", fx, f[1], tx, t[1]+graphNodeH)
	}
	y := f[1] + graphNodeH
	return fmt.Sprintf("M%d %dQ%d %d %d %d", fx, y, (fx+tx)/2, y+graphRowH/2, tx, y)
}

// layoutGraph places each node: its row is its depth, the longest chain
// of callers above it (services in one cycle share a row), and within a
// row nodes are ordered by the mean column of their callers, so that
// edges cross less.
func layoutGraph(nodes []string, edges []catalog.Edge) map[string][2]int {
	all := make([]catalog.Edge, 0, len(edges)+len(nodes))
	for _, n := range nodes {
		all = append(all, catalog.Edge{From: n, To: n}) // every node, even alone
	}
	all = append(all, edges...)
	comps := catalog.Components(all)
	compOf := map[string]int{}
	for i, c := range comps {
		for _, n := range c {
			compOf[n] = i
		}
	}
	callers := map[string][]string{}
	for _, e := range edges {
		if compOf[e.From] != compOf[e.To] {
			callers[e.To] = append(callers[e.To], e.From)
		}
	}
	// Components come dependencies first; walk them callers first.
	depth := make([]int, len(comps))
	for i := len(comps) - 1; i >= 0; i-- {
		for _, n := range comps[i] {
			for _, c := range callers[n] {
				depth[i] = max(depth[i], depth[compOf[c]]+1)
			}
		}
	}
	var rows [][]string
	for i, c := range comps {
		for len(rows) <= depth[i] {
			rows = append(rows, nil)
		}
		rows[depth[i]] = append(rows[depth[i]], c...)
	}
	pos := make(map[string][2]int, len(nodes))
	for y, row := range rows {
		key := make(map[string]float64, len(row))
		for _, n := range row {
			sum, k := 0.0, 0
			for _, c := range callers[n] {
				sum += float64(pos[c][0])
				k++
			}
			key[n] = -1
			if k > 0 {
				key[n] = sum / float64(k)
			}
		}
		slices.SortStableFunc(row, func(a, b string) int {
			if key[a] != key[b] {
				if key[a] < key[b] {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		for x, n := range row {
			pos[n] = [2]int{x * graphColW, y * graphRowH}
		}
	}
	return pos
}

// cycleEdges marks the edges that lie on a cycle: both ends in one
// strongly connected component, or a service calling itself.
func cycleEdges(edges []catalog.Edge) map[[2]string]bool {
	compOf := map[string]int{}
	for i, c := range catalog.Components(edges) {
		for _, n := range c {
			compOf[n] = i
		}
	}
	size := map[int]int{}
	for _, c := range compOf {
		size[c]++
	}
	out := map[[2]string]bool{}
	for _, e := range edges {
		if e.From == e.To || compOf[e.From] == compOf[e.To] && size[compOf[e.From]] > 1 {
			out[[2]string{e.From, e.To}] = true
		}
	}
	return out
}

// neighbourhood returns the services within depth calls of focus, in
// either direction, and the edges among them.
func neighbourhood(c *catalog.Catalog, focus string, depth int) ([]string, []catalog.Edge) {
	out := map[string][]string{}
	in := map[string][]string{}
	for _, e := range c.Edges() {
		out[e.From] = append(out[e.From], e.To)
		in[e.To] = append(in[e.To], e.From)
	}
	keep := map[string]bool{focus: true}
	for _, adj := range []map[string][]string{out, in} {
		frontier := []string{focus}
		for range depth {
			var next []string
			for _, n := range frontier {
				for _, m := range adj[n] {
					if !keep[m] {
						keep[m] = true
						next = append(next, m)
					}
				}
			}
			frontier = next
		}
	}
	var nodes []string
	for n := range keep {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	var edges []catalog.Edge
	for _, e := range c.Edges() {
		if keep[e.From] && keep[e.To] {
			edges = append(edges, e)
		}
	}
	return nodes, edges
}

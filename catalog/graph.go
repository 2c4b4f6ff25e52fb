package catalog

import (
	"slices"
	"strings"
)

// Edge is one call edge between services: declared in the catalog, or
// observed in traces with how many calls it carried and how many failed.
type Edge struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Calls  uint64 `json:"calls,omitempty"`
	Errors uint64 `json:"errors,omitempty"`
}

// graph is an edge list indexed for walking: nodes are numbered in name
// order, so that every walk, and every answer, is the same run to run.
type graph struct {
	names []string
	idx   map[string]int
	adj   [][]int
}

func newGraph(edges []Edge) *graph {
	set := map[string]struct{}{}
	for _, e := range edges {
		set[e.From], set[e.To] = struct{}{}, struct{}{}
	}
	g := &graph{names: make([]string, 0, len(set)), idx: make(map[string]int, len(set))}
	for n := range set {
		g.names = append(g.names, n)
	}
	slices.Sort(g.names)
	for i, n := range g.names {
		g.idx[n] = i
	}
	g.adj = make([][]int, len(g.names))
	for _, e := range edges {
		f, t := g.idx[e.From], g.idx[e.To]
		if !slices.Contains(g.adj[f], t) {
			g.adj[f] = append(g.adj[f], t)
		}
	}
	for _, a := range g.adj {
		slices.Sort(a)
	}
	return g
}

// sccs returns the strongly connected components (Tarjan's algorithm,
// without recursion so that a long chain cannot exhaust the stack), each
// sorted, in the reverse topological order Tarjan gives: a component comes
// before every component that reaches it.
func (g *graph) sccs() [][]int {
	n := len(g.names)
	index, low := make([]int, n), make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var out [][]int
	var comp []int
	next := 0
	type frame struct{ v, i int }
	for root := range n {
		if index[root] >= 0 {
			continue
		}
		call := []frame{{root, 0}}
		index[root], low[root] = next, next
		next++
		comp = append(comp, root)
		onStack[root] = true
		for len(call) > 0 {
			f := &call[len(call)-1]
			if f.i < len(g.adj[f.v]) {
				w := g.adj[f.v][f.i]
				f.i++
				if index[w] < 0 {
					index[w], low[w] = next, next
					next++
					comp = append(comp, w)
					onStack[w] = true
					call = append(call, frame{w, 0})
				} else if onStack[w] {
					low[f.v] = min(low[f.v], index[w])
				}
				continue
			}
			v := f.v
			call = call[:len(call)-1]
			if len(call) > 0 {
				p := call[len(call)-1].v
				low[p] = min(low[p], low[v])
			}
			if low[v] == index[v] {
				i := len(comp) - 1
				for comp[i] != v {
					i--
				}
				c := slices.Clone(comp[i:])
				for _, w := range c {
					onStack[w] = false
				}
				comp = comp[:i]
				slices.Sort(c)
				out = append(out, c)
			}
		}
	}
	return out
}

// CycleLimits bound the search for cycles: a dense tangle of services
// holds more elementary cycles than anyone can read, so the search stops
// after MaxCycles cycles or MaxSteps steps and says so. Zero (or less)
// takes the default.
type CycleLimits struct {
	MaxCycles int
	MaxSteps  int
}

// The default cycle limits.
const (
	DefaultMaxCycles = 100
	DefaultMaxSteps  = 1_000_000
)

func (l CycleLimits) orDefault() CycleLimits {
	if l.MaxCycles <= 0 {
		l.MaxCycles = DefaultMaxCycles
	}
	if l.MaxSteps <= 0 {
		l.MaxSteps = DefaultMaxSteps
	}
	return l
}

// Cycles is what FindCycles found.
type Cycles struct {
	// Paths holds each distinct elementary cycle once, as the services
	// along it with the first repeated at the end (a → b → a), starting
	// from its alphabetically first service; sorted.
	Paths [][]string
	// Tangles are the strongly connected groups of services in which the
	// search stopped early: they hold more cycles than Paths shows.
	Tangles [][]string
}

// FindCycles finds the cycles of any edge list, declared or observed.
// Each cycle is reported once, whichever service it is entered from.
func FindCycles(edges []Edge, lim CycleLimits) Cycles {
	lim = lim.orDefault()
	g := newGraph(edges)
	var out Cycles
	steps := 0
	for _, comp := range g.sccs() {
		if len(comp) == 1 && !slices.Contains(g.adj[comp[0]], comp[0]) {
			continue
		}
		in := make(map[int]bool, len(comp))
		for _, v := range comp {
			in[v] = true
		}
		complete := true
		// Root each cycle at its smallest node: a search from s uses only
		// nodes above s, so a cycle is found from its least node alone.
		for _, s := range comp {
			if !g.cyclesFrom(s, in, &out.Paths, lim, &steps) {
				complete = false
				break
			}
		}
		if !complete {
			t := make([]string, len(comp))
			for i, v := range comp {
				t[i] = g.names[v]
			}
			out.Tangles = append(out.Tangles, t)
		}
	}
	slices.SortFunc(out.Paths, func(a, b []string) int { return slices.Compare(a, b) })
	slices.SortFunc(out.Tangles, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// cyclesFrom appends the elementary cycles through s whose other nodes
// are above s; false when a limit stopped it.
func (g *graph) cyclesFrom(s int, in map[int]bool, paths *[][]string, lim CycleLimits, steps *int) bool {
	path := []int{s}
	onPath := map[int]bool{s: true}
	type frame struct{ v, i int }
	call := []frame{{s, 0}}
	for len(call) > 0 {
		*steps++
		if *steps > lim.MaxSteps {
			return false
		}
		f := &call[len(call)-1]
		if f.i >= len(g.adj[f.v]) {
			call = call[:len(call)-1]
			onPath[f.v] = false
			path = path[:len(path)-1]
			continue
		}
		w := g.adj[f.v][f.i]
		f.i++
		switch {
		case w == s:
			if len(*paths) >= lim.MaxCycles {
				return false
			}
			p := make([]string, 0, len(path)+1)
			for _, v := range path {
				p = append(p, g.names[v])
			}
			*paths = append(*paths, append(p, g.names[s]))
		case w > s && in[w] && !onPath[w]:
			onPath[w] = true
			path = append(path, w)
			call = append(call, frame{w, 0})
		}
	}
	return true
}

// EdgeFindings compares the catalog's declared edges with edges observed
// in traces. A declared edge is reported as never observed only when its
// caller shows up in the observed edges at all (as caller or callee): a
// service that sends no traces says nothing about its calls.
func EdgeFindings(c *Catalog, observed []Edge) []Finding {
	seen := map[[2]string]bool{}
	traced := map[string]bool{}
	for _, e := range observed {
		traced[e.From], traced[e.To] = true, true
		if e.Calls > 0 {
			seen[[2]string{e.From, e.To}] = true
		}
	}
	declared := map[[2]string]bool{}
	var out []Finding
	for _, e := range c.Edges() {
		k := [2]string{e.From, e.To}
		declared[k] = true
		if traced[e.From] && !seen[k] {
			out = append(out, Finding{Check: CheckUnobserved, Service: e.From, Path: []string{e.From, e.To},
				Message: e.From + " declares a dependency on " + e.To + " that no trace shows it calling; remove it, or check that the call is traced"})
		}
	}
	for _, e := range observed {
		k := [2]string{e.From, e.To}
		if e.Calls == 0 || declared[k] {
			continue
		}
		declared[k] = true // report each pair once
		msg := e.From + " calls " + e.To + " (" + plural(e.Calls, "call") + " observed) without declaring it; add it to " + e.From + "'s dependencies"
		switch {
		case c.Service(e.From) == nil:
			msg = e.From + " calls " + e.To + " (" + plural(e.Calls, "call") + " observed) but is not in the catalog; add " + e.From + " under services:"
		case c.Service(e.To) == nil:
			msg += " (" + e.To + " is not in the catalog either)"
		}
		out = append(out, Finding{Check: CheckUndeclared, Service: e.From, Path: []string{e.From, e.To}, Message: msg})
	}
	sortFindings(out)
	return out
}

// Components returns the strongly connected components of an edge list,
// each sorted by name, dependencies before the services that reach them:
// a component of more than one service is a set of services that all
// depend on each other.
func Components(edges []Edge) [][]string {
	g := newGraph(edges)
	comps := g.sccs()
	out := make([][]string, len(comps))
	for i, c := range comps {
		out[i] = make([]string, len(c))
		for j, v := range c {
			out[i][j] = g.names[v]
		}
	}
	return out
}

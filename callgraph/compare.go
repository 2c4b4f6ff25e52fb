package callgraph

import "slices"

// Difference is what a declared list of edges and the observed graph
// disagree on.
type Difference struct {
	// Undeclared edges were observed but not declared: a dependency the
	// catalog does not know.
	Undeclared []Edge `json:"undeclared"`
	// Unobserved edges were declared but never observed: a dependency that
	// is gone, or one whose callers are not traced.
	Unobserved []Edge `json:"unobserved"`
}

// Compare returns the edges observed and not declared and those declared
// and not observed, each sorted and without repeats. Edges from a service
// to itself are not dependencies and are left out of both.
func Compare(declared, observed []Edge) Difference {
	norm := func(es []Edge) []Edge {
		out := slices.DeleteFunc(slices.Clone(es), func(e Edge) bool { return e.From == e.To })
		slices.SortFunc(out, compareEdges)
		return slices.Compact(out)
	}
	d, o := norm(declared), norm(observed)
	var diff Difference
	i, j := 0, 0
	for i < len(d) || j < len(o) {
		switch {
		case j == len(o) || (i < len(d) && compareEdges(d[i], o[j]) < 0):
			diff.Unobserved = append(diff.Unobserved, d[i])
			i++
		case i == len(d) || compareEdges(d[i], o[j]) > 0:
			diff.Undeclared = append(diff.Undeclared, o[j])
			j++
		default:
			i++
			j++
		}
	}
	return diff
}

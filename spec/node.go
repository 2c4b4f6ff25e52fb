package spec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// loaded is one SLO a loader mapped, with the node of its name so that a
// duplicate can be reported at both places.
type loaded struct {
	slo       *slo.SLO
	nameNode  *yaml.Node
	nameField string  // the field path of nameNode
	r         *report // the file the SLO is in
	order     int     // the document's index in its file
}

// maxErrors bounds the errors reported for one file. Past it a file is
// not worth reading on, and a hostile one could otherwise make a loader do
// slow work (such as looking up time zones) for every one of thousands of
// documents.
const maxErrors = 50

// report collects the problems of one file while its loaders walk it.
type report struct {
	file  string
	n     int // errors found, including those dropped past maxErrors
	errs  []*Error
	cut   bool // errors were dropped past maxErrors, or reading stopped
	warns []Warning
	// zones caches time.LoadLocation, which reads the disk on every call;
	// a nil entry is a name that failed. Shared by the files of one load.
	zones map[string]*time.Location
}

// full reports whether the file has had as many errors as are reported.
func (r *report) full() bool { return len(r.errs) >= maxErrors }

func (r *report) add(e *Error) {
	r.n++
	if r.full() {
		r.cut = true
		return
	}
	r.errs = append(r.errs, e)
}

// zone loads an IANA time zone. Local is refused: it would make a window
// depend on the machine that evaluates it.
func (r *report) zone(name string) *time.Location {
	if loc, ok := r.zones[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if name == "" || name == "Local" || err != nil {
		loc = nil
	}
	r.zones[name] = loc
	return loc
}

func (r *report) at(n *yaml.Node, field string, err error) *Error {
	e := &Error{File: r.file, Field: field, Err: err}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	return e
}

func (r *report) errorf(n *yaml.Node, field, format string, args ...any) {
	r.add(r.at(n, field, fmt.Errorf(format, args...)))
}

func (r *report) warnf(n *yaml.Node, field, format string, args ...any) {
	w := Warning{File: r.file, Field: field, Message: fmt.Sprintf(format, args...)}
	if n != nil {
		w.Line, w.Column = n.Line, n.Column
	}
	r.warns = append(r.warns, w)
}

// format is a spec format, told apart by a document's apiVersion.
type format uint8

const (
	formatNone format = iota // not a spec document; already reported
	formatNative
	formatOpenSLO
)

// format tells which loader reads doc. Native documents carry no
// apiVersion, so that the common case stays short to write.
func (r *report) format(doc *yaml.Node) format {
	if doc.Kind != yaml.MappingNode {
		hint := "want a mapping of SLO fields such as name: checkout-availability"
		if doc.Kind == yaml.SequenceNode {
			hint = "want one SLO per YAML document, documents separated by ---"
		}
		r.errorf(doc, "", "the document is %s; %s", describe(doc), hint)
		return formatNone
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k := resolve(doc.Content[i])
		if k.Kind != yaml.ScalarNode || k.Value != "apiVersion" {
			continue
		}
		v := resolve(doc.Content[i+1])
		if v.Kind == yaml.ScalarNode && strings.HasPrefix(v.Value, "openslo/") {
			return formatOpenSLO
		}
		r.errorf(v, "apiVersion", "%s is not a spec format nines reads; want openslo/v1 (OpenSLO) or no apiVersion at all (a native nines spec)", describe(v))
		return formatNone
	}
	// A native spec has neither kind nor metadata; with both, the
	// document is OpenSLO without its apiVersion, and the native loader
	// would only list every native field as missing.
	if _, kind := fieldOf(doc, "", "kind"); kind {
		if _, meta := fieldOf(doc, "", "metadata"); meta {
			r.errorf(doc, "apiVersion", "missing; a document with kind and metadata is OpenSLO, which says apiVersion: openslo/v1 (a native nines spec has neither kind nor metadata)")
			return formatNone
		}
	}
	return formatNative
}

// field is one key: value pair of a mapping, its value's aliases resolved.
type field struct {
	path     string // dotted, from the document root
	key, val *yaml.Node
}

// fields checks the keys of mapping m against allowed and returns the known
// ones by name. elsewhere maps names that belong in another mapping to
// where they go, so that a field written one level off gets a pointed hint.
func (r *report) fields(m *yaml.Node, path string, allowed []string, elsewhere map[string]string) map[string]field {
	out := make(map[string]field, len(allowed))
	seen := make(map[string]*yaml.Node, len(m.Content)/2)
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), resolve(m.Content[i+1])
		if isNull(k) {
			r.errorf(k, path, "a key is empty; want a field name")
			continue
		}
		if k.Kind != yaml.ScalarNode {
			r.errorf(k, path, "a key is %s; want a field name", describe(k))
			continue
		}
		if k.Tag == "!!merge" {
			r.errorf(k, path, "merge keys (<<) are not supported; write the fields out")
			continue
		}
		name, p := k.Value, join(path, k.Value)
		if first, dup := seen[name]; dup {
			r.errorf(k, p, "repeated; first set at line %d", first.Line)
			continue
		}
		seen[name] = k
		if !contains(allowed, name) {
			msg := "unknown field"
			if where, ok := elsewhere[name]; ok {
				msg += "; it belongs under " + where
			} else if s := suggest(name, allowed); s != "" {
				msg += "; did you mean " + s + "?"
			}
			r.errorf(k, p, "%s (allowed here: %s)", msg, strings.Join(allowed, ", "))
			continue
		}
		out[name] = field{path: p, key: k, val: v}
	}
	return out
}

// require reports a missing field at the mapping that should hold it.
func (r *report) require(m *yaml.Node, fs map[string]field, path, name, want string) (field, bool) {
	f, ok := fs[name]
	if !ok {
		r.errorf(m, join(path, name), "missing; want %s", want)
	}
	return f, ok
}

// scalar returns the text of a field's value, which must be a scalar.
// Numbers and booleans are taken as written: "99.9" stays "99.9".
func (r *report) scalar(f field, want string) (string, bool) {
	if f.val.Kind != yaml.ScalarNode || isNull(f.val) {
		r.wrongType(f, want)
		return "", false
	}
	return f.val.Value, true
}

// mapping checks that a field's value is a mapping.
func (r *report) mapping(f field, want string) bool {
	if f.val.Kind != yaml.MappingNode {
		r.wrongType(f, want)
		return false
	}
	return true
}

func (r *report) wrongType(f field, want string) {
	if isNull(f.val) {
		r.errorf(f.val, f.path, "has no value; want %s", want)
		return
	}
	r.errorf(f.val, f.path, "got %s; want %s", describe(f.val), want)
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// resolve follows an alias to the node it names. Loaders walk a fixed
// schema a few levels deep and never recurse through arbitrary structure,
// so following aliases cannot blow up the way expanding them can, not even
// for an alias to a node that contains it.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// describe names what a node is, for "got X; want Y".
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "no value"
		}
		return quote(n.Value)
	}
	return "an alias"
}

// quote quotes user text for a message, cut short so that a megabyte of
// value does not become a megabyte of error.
func quote(s string) string {
	const max = 64
	if len(s) <= max {
		return strconv.Quote(s)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// suggest returns the option nearest to s when it is near enough to be a
// slip of the keyboard: a different case, or an edit distance that grows
// with the option's length.
func suggest(s string, options []string) string {
	const longest = 64 // beyond this s is no typo, and distance costs grow
	if len(s) > longest {
		return ""
	}
	best, bestDist := "", -1
	for _, o := range options {
		if strings.EqualFold(s, o) {
			return o
		}
		d := distance(strings.ToLower(s), strings.ToLower(o))
		if d <= 1+utf8.RuneCountInString(o)/5 && (bestDist < 0 || d < bestDist) {
			best, bestDist = o, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b in runes.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// enumNames lists the names a parse function accepts, by asking the model
// rather than repeating its list. The model's enums are runs of values
// (a zero value such as NotCalendar may not be among them), so the first
// value after the run ends the search.
func enumNames[T ~uint8](parse func(string) (T, error)) []string {
	var names []string
	for i := range 256 {
		v := T(i)
		s := fmt.Sprint(v)
		if p, err := parse(s); err == nil && p == v {
			names = append(names, s)
		} else if len(names) > 0 {
			break
		}
	}
	return names
}

// orList writes "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

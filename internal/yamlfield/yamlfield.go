// Package yamlfield reads YAML files field by field and words every
// problem with its file, line, column and field path, the way nines'
// spec files report theirs: a reader collects all the problems of a file
// rather than stopping at the first.
package yamlfield

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// Error is one problem, where it is.
type Error struct {
	File         string
	Line, Column int
	Field        string
	Err          error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// MaxErrors bounds the problems reported for one file: past them a file
// is not worth reading on.
const MaxErrors = 50

// Reader collects the problems of one file.
type Reader struct {
	File string
	errs []error
}

// Errorf records a problem at n (nil: the file as a whole).
func (r *Reader) Errorf(n *yaml.Node, field, format string, args ...any) {
	if len(r.errs) >= MaxErrors {
		return
	}
	e := &Error{File: r.File, Field: field, Err: fmt.Errorf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	r.errs = append(r.errs, e)
}

// Err is every problem recorded, joined; nil when there was none.
func (r *Reader) Err() error { return errors.Join(r.errs...) }

// Failed reports whether a problem was recorded.
func (r *Reader) Failed() bool { return len(r.errs) > 0 }

// Join is the path of key under path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Fields reads the mapping n, refusing fields not in known (with the
// nearest known one, when it is a slip) and fields given twice.
func (r *Reader) Fields(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	n = spec.Resolve(n)
	if n.Kind != yaml.MappingNode {
		r.Errorf(n, path, "got %s; want a mapping with %s", spec.Describe(n), strings.Join(known, ", "))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], spec.Resolve(n.Content[i+1])
		field := Join(path, k.Value)
		switch {
		case out[k.Value] != nil:
			r.Errorf(k, field, "given twice")
		case !slices.Contains(known, k.Value):
			if s := spec.Suggest(k.Value, known); s != "" {
				r.Errorf(k, field, "unknown field; did you mean %s?", s)
			} else {
				r.Errorf(k, field, "unknown field; want one of %s", strings.Join(known, ", "))
			}
		default:
			out[k.Value] = v
		}
	}
	return out
}

// Require returns fs[key], recording its absence with what it should be.
func (r *Reader) Require(parent *yaml.Node, fs map[string]*yaml.Node, path, key, want string) (*yaml.Node, bool) {
	v, ok := fs[key]
	if !ok {
		r.Errorf(parent, Join(path, key), "missing; want %s", want)
	}
	return v, ok
}

// Text reads a scalar.
func (r *Reader) Text(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		r.Errorf(n, field, "got %s; want a text value", spec.Describe(n))
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

// Name reads a name fit for URLs, file names and labels.
func (r *Reader) Name(n *yaml.Node, field, what string) (string, bool) {
	s, ok := r.Text(n, field)
	if ok && !spec.ValidName(s) {
		r.Errorf(n, field, "%s is not a name; want %s: letters, digits, -, _ and . only", spec.Quote(s), what)
		return "", false
	}
	return s, ok
}

// Duration reads a duration in [lo, hi], written as Go and Prometheus
// write them (250ms, 1h30m, 7d).
func (r *Reader) Duration(n *yaml.Node, field string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := r.Text(n, field)
	if !ok {
		return 0, false
	}
	d, err := slo.ParseDuration(s)
	if err != nil || d < lo || d > hi {
		r.Errorf(n, field, "%s is not a duration from %s to %s; write one such as 250ms, 30s or 1h", spec.Quote(s), slo.FormatDuration(lo), slo.FormatDuration(hi))
		return 0, false
	}
	return d, true
}

// Percent reads a share written as a percentage with its sign (1%,
// 0.5 %) in (0, most], as a fraction. A bare number is refused: 0.01
// could mean 1 % or 0.01 %.
func (r *Reader) Percent(n *yaml.Node, field string, most float64) (float64, bool) {
	s, ok := r.Text(n, field)
	if !ok {
		return 0, false
	}
	text, pct := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	switch {
	case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
		r.Errorf(n, field, "%s is not a percentage; write one such as 1%%", spec.Quote(s))
	case !pct:
		r.Errorf(n, field, "%s has no %% sign; write %s%% or %g%%, whichever is meant", spec.Quote(s), s, v*100)
	case v <= 0 || v/100 > most:
		r.Errorf(n, field, "%s is out of range; want above 0 %% and at most %g %%", spec.Quote(s), most*100)
	default:
		return v / 100, true
	}
	return 0, false
}

// Float reads a number in (lo, hi).
func (r *Reader) Float(n *yaml.Node, field string, lo, hi float64, want string) (float64, bool) {
	s, ok := r.Text(n, field)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > lo && v < hi) {
		r.Errorf(n, field, "%s is out of range; want %s, above %g and below %g", spec.Quote(s), want, lo, hi)
		return 0, false
	}
	return v, true
}

// Int reads a whole number in [lo, hi].
func (r *Reader) Int(n *yaml.Node, field string, lo, hi int64, want string) (int64, bool) {
	s, ok := r.Text(n, field)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		r.Errorf(n, field, "%s is out of range; want %s, a whole number from %d to %d", spec.Quote(s), want, lo, hi)
		return 0, false
	}
	return v, true
}

// List reads a sequence, calling fn with each item and its path.
func (r *Reader) List(n *yaml.Node, field, want string, fn func(item *yaml.Node, path string)) {
	n = spec.Resolve(n)
	if n.Kind != yaml.SequenceNode {
		r.Errorf(n, field, "got %s; want a list of %s", spec.Describe(n), want)
		return
	}
	for i, it := range n.Content {
		fn(spec.Resolve(it), fmt.Sprintf("%s[%d]", field, i))
	}
}

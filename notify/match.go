package notify

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// MatchOp is how a Matcher compares a label value.
type MatchOp string

// The operators of Alertmanager matchers.
const (
	MatchEqual     MatchOp = "="
	MatchNotEqual  MatchOp = "!="
	MatchRegexp    MatchOp = "=~"
	MatchNotRegexp MatchOp = "!~"
)

// Matcher selects alerts by one label, as Alertmanager's matchers do. A
// label an alert lacks has the value "". Regular expressions are anchored
// at both ends.
type Matcher struct {
	Name  string  `json:"name"`
	Op    MatchOp `json:"op"`
	Value string  `json:"value"`
	re    *regexp.Regexp
}

// maxMatcherLen bounds one matcher's text, so a hostile API request or
// file cannot make nines compile a huge regular expression.
const maxMatcherLen = 4096

// ParseMatcher reads `name=value`, `name!=value`, `name=~regex` or
// `name!~regex`; the value may be double-quoted (Go string syntax), as
// Alertmanager writes it: severity="page".
func ParseMatcher(s string) (Matcher, error) {
	if len(s) > maxMatcherLen {
		return Matcher{}, fmt.Errorf("matcher of %d bytes: at most %d", len(s), maxMatcherLen)
	}
	i := strings.IndexAny(s, "=!")
	if i < 0 {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regex or name!~regex", s)
	}
	name := strings.TrimSpace(s[:i])
	rest := s[i:]
	var op MatchOp
	for _, o := range []MatchOp{MatchRegexp, MatchNotRegexp, MatchNotEqual, MatchEqual} {
		if strings.HasPrefix(rest, string(o)) {
			op = o
			break
		}
	}
	if op == "" {
		return Matcher{}, fmt.Errorf("matcher %q: want name=value, name!=value, name=~regex or name!~regex", s)
	}
	value := strings.TrimSpace(rest[len(op):])
	if strings.HasPrefix(value, `"`) {
		v, err := strconv.Unquote(value)
		if err != nil {
			return Matcher{}, fmt.Errorf("matcher %q: quoted value: %v", s, err)
		}
		value = v
	}
	return NewMatcher(name, op, value)
}

// NewMatcher checks the label name and compiles a regular expression.
func NewMatcher(name string, op MatchOp, value string) (Matcher, error) {
	if n := len(name) + len(op) + len(value); n > maxMatcherLen {
		return Matcher{}, fmt.Errorf("matcher of %d bytes: at most %d", n, maxMatcherLen)
	}
	m := Matcher{Name: name, Op: op, Value: value}
	if !validLabelName(name) {
		return m, fmt.Errorf("matcher label %q: want a label name ([a-zA-Z_][a-zA-Z0-9_]*)", name)
	}
	switch op {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		_, err := regexp.Compile(value)
		if err == nil {
			m.re, err = regexp.Compile("^(?:" + value + ")$")
		}
		if err != nil {
			var se *syntax.Error
			if errors.As(err, &se) {
				return m, fmt.Errorf("matcher %s%s%q: %s: %q", name, op, value, se.Code, se.Expr)
			}
			return m, fmt.Errorf("matcher %s%s%q: %v", name, op, value, err)
		}
	default:
		return m, fmt.Errorf("matcher %s: unknown operator %q", name, op)
	}
	return m, nil
}

// Matches reports whether the labels satisfy the matcher.
func (m Matcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Op {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp:
		return m.re != nil && m.re.MatchString(v)
	case MatchNotRegexp:
		return m.re != nil && !m.re.MatchString(v)
	}
	return false
}

func (m Matcher) String() string {
	return m.Name + string(m.Op) + strconv.Quote(m.Value)
}

// Matchers is a conjunction: every matcher must hold.
type Matchers []Matcher

// Matches reports whether every matcher holds for labels.
func (ms Matchers) Matches(labels map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

func validLabelName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// sanitizeLabelName turns an SLO label key into a label name Alertmanager
// accepts: every other character becomes '_'.
func sanitizeLabelName(s string) string {
	if validLabelName(s) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

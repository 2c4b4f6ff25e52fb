package metrics

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MatchType is the operator of a label matcher.
type MatchType uint8

// The four PromQL label matchers.
const (
	MatchEqual     MatchType = iota // =
	MatchNotEqual                   // !=
	MatchRegexp                     // =~
	MatchNotRegexp                  // !~
)

var matchOps = [...]string{"=", "!=", "=~", "!~"}

func (t MatchType) String() string {
	if int(t) < len(matchOps) {
		return matchOps[t]
	}
	return "MatchType(" + strconv.Itoa(int(t)) + ")"
}

// Matcher tests one label's value. As in PromQL, a missing label has the
// value "", and regular expressions (RE2 syntax) must match the whole
// value: "5.." is "^(?s:5..)$".
type Matcher struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp
}

// NewMatcher returns a matcher, compiling the regular expression of =~ and
// !~.
func NewMatcher(t MatchType, name, value string) (Matcher, error) {
	m := Matcher{Name: name, Type: t, Value: value}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := compileAnchored(value)
		if err != nil {
			return m, fmt.Errorf("label %q: regular expression %q: %w", name, value, err)
		}
		m.re = re
	default:
		return m, fmt.Errorf("label %q: unknown match type %d", name, t)
	}
	if name == "" {
		return m, errors.New("matcher with an empty label name")
	}
	return m, nil
}

func compileAnchored(re string) (*regexp.Regexp, error) {
	r, err := regexp.Compile("^(?s:" + re + ")$")
	if err != nil {
		// Report the user's expression, not the anchored one, and without
		// Go's "error parsing regexp: " prefix.
		var se *syntax.Error
		if errors.As(err, &se) {
			return nil, fmt.Errorf("%s: %q", se.Code, se.Expr)
		}
		return nil, err
	}
	return r, nil
}

// Matches reports whether v satisfies the matcher. A regular-expression
// Matcher built without NewMatcher compiles its expression on every call
// and never matches if it does not compile.
func (m *Matcher) Matches(v string) bool {
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	}
	re := m.re
	if re == nil {
		var err error
		if re, err = compileAnchored(m.Value); err != nil {
			return false
		}
	}
	if m.Type == MatchRegexp {
		return re.MatchString(v)
	}
	return !re.MatchString(v)
}

// String writes the matcher as PromQL does: code!~"5..".
func (m *Matcher) String() string {
	var b strings.Builder
	writeLabelName(&b, m.Name)
	b.WriteString(m.Type.String())
	b.WriteString(strconv.Quote(m.Value))
	return b.String()
}

// Selector picks series the way a PromQL instant-vector selector does: a
// metric name and label matchers that must all hold.
type Selector struct {
	// Name is the metric name; "" matches any name (then Matchers usually
	// test "__name__").
	Name     string
	Matchers []Matcher
}

// Matches reports whether a series with labels ls is selected.
func (s *Selector) Matches(ls Labels) bool {
	if s.Name != "" && ls.Name() != s.Name {
		return false
	}
	return s.MatchLabels(ls)
}

// MatchLabels applies the matchers alone, ignoring Name.
func (s *Selector) MatchLabels(ls Labels) bool {
	for i := range s.Matchers {
		m := &s.Matchers[i]
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// IsZero reports whether s selects by nothing at all.
func (s *Selector) IsZero() bool { return s.Name == "" && len(s.Matchers) == 0 }

// String writes s in the syntax ParseSelector reads. A name that is not a
// legacy Prometheus identifier (an OTLP name with dots, say) is written in
// the quoted form inside the braces, which PromQL 3 reads too.
func (s *Selector) String() string {
	var b strings.Builder
	bare := s.Name == "" || isMetricName(s.Name)
	if bare {
		b.WriteString(s.Name)
		if len(s.Matchers) == 0 && s.Name != "" {
			return b.String()
		}
	}
	b.WriteByte('{')
	n := 0
	if !bare {
		b.WriteString(strconv.Quote(s.Name))
		n++
	}
	for i := range s.Matchers {
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		b.WriteString(s.Matchers[i].String())
	}
	b.WriteByte('}')
	return b.String()
}

// ParseSelector reads a PromQL instant-vector selector without offset,
// range or @ modifiers:
//
//	http_request_duration_seconds{service="checkout", code!~"5.."}
//	{__name__="up", job="api"}
//	{"http.server.request.duration", "service.name"="checkout"}
//	{code=~"5.."}
//
// Strings are quoted with ", ' or ` and use Go escapes, as in PromQL.
// Names that are not Prometheus identifiers are written quoted (PromQL 3's
// UTF-8 syntax); as a convenience a bare metric name may also contain dots,
// as OTLP names do. An equality matcher on "__name__" becomes the Name. A
// selector may be empty of a name (error rules are matchers alone) but not
// empty altogether.
func ParseSelector(in string) (Selector, error) {
	p := selParser{in: in}
	s, err := p.parse()
	if err != nil {
		return Selector{}, fmt.Errorf("selector %q: %w", in, err)
	}
	return s, nil
}

// MustParseSelector is ParseSelector for selectors fixed in code and
// tests; it panics on a bad one.
func MustParseSelector(s string) Selector {
	sel, err := ParseSelector(s)
	if err != nil {
		panic(err)
	}
	return sel
}

type selParser struct {
	in  string
	pos int
}

func (p *selParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at offset %d: %s", p.pos, fmt.Sprintf(format, args...))
}

func (p *selParser) skipSpace() {
	for p.pos < len(p.in) {
		switch p.in[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *selParser) peek() byte {
	if p.pos < len(p.in) {
		return p.in[p.pos]
	}
	return 0
}

func (p *selParser) parse() (Selector, error) {
	var s Selector
	p.skipSpace()
	if p.pos == len(p.in) {
		return s, p.errorf("empty selector")
	}
	if c := p.peek(); c != '{' {
		name := p.ident(true)
		if name == "" {
			return s, p.errorf("want a metric name or '{', found %q", rest(p.in[p.pos:]))
		}
		s.Name = name
		p.skipSpace()
	}
	if p.peek() == '{' {
		p.pos++
		if err := p.matchers(&s); err != nil {
			return s, err
		}
	}
	p.skipSpace()
	if p.pos != len(p.in) {
		return s, p.errorf("unexpected %q after the selector", rest(p.in[p.pos:]))
	}
	if s.IsZero() {
		return s, p.errorf("selector matches everything: give a metric name or a matcher")
	}
	return s, nil
}

// matchers reads up to and including the closing brace.
func (p *selParser) matchers(s *Selector) error {
	for {
		p.skipSpace()
		if p.peek() == '}' {
			p.pos++
			return nil
		}
		start := p.pos
		var name string
		quoted := false
		switch c := p.peek(); {
		case c == '"' || c == '\'' || c == '`':
			v, err := p.str()
			if err != nil {
				return err
			}
			name, quoted = v, true
		default:
			name = p.ident(false)
			if name == "" {
				if p.pos == len(p.in) {
					return p.errorf("missing '}'")
				}
				return p.errorf("want a label name, found %q", rest(p.in[p.pos:]))
			}
		}
		p.skipSpace()
		var op MatchType
		switch {
		case strings.HasPrefix(p.in[p.pos:], "=~"):
			op, p.pos = MatchRegexp, p.pos+2
		case strings.HasPrefix(p.in[p.pos:], "!~"):
			op, p.pos = MatchNotRegexp, p.pos+2
		case strings.HasPrefix(p.in[p.pos:], "!="):
			op, p.pos = MatchNotEqual, p.pos+2
		case strings.HasPrefix(p.in[p.pos:], "=="):
			return p.errorf("'==' is not a label matcher: use '='")
		case strings.HasPrefix(p.in[p.pos:], "="):
			op, p.pos = MatchEqual, p.pos+1
		default:
			if !quoted {
				return p.errorf("want =, !=, =~ or !~ after label %q", name)
			}
			// A lone quoted string is the metric name (PromQL 3).
			if s.Name != "" {
				p.pos = start
				return p.errorf("metric name given twice (%q and %q)", s.Name, name)
			}
			if name == "" {
				p.pos = start
				return p.errorf("empty metric name")
			}
			s.Name = name
			if err := p.sep(); err != nil {
				return err
			}
			continue
		}
		p.skipSpace()
		if c := p.peek(); c != '"' && c != '\'' && c != '`' {
			return p.errorf("want a quoted value after %s%s", name, op)
		}
		value, err := p.str()
		if err != nil {
			return err
		}
		if name == MetricNameLabel && op == MatchEqual {
			if s.Name != "" && s.Name != value {
				return p.errorf("metric name given twice (%q and %q)", s.Name, value)
			}
			if value == "" {
				return p.errorf("empty metric name")
			}
			s.Name = value
		} else {
			m, err := NewMatcher(op, name, value)
			if err != nil {
				p.pos = start
				return p.errorf("%v", err)
			}
			s.Matchers = append(s.Matchers, m)
		}
		if err := p.sep(); err != nil {
			return err
		}
	}
}

// sep reads the ',' or '}' after a matcher, leaving a '}' unread.
func (p *selParser) sep() error {
	p.skipSpace()
	switch p.peek() {
	case ',':
		p.pos++
		return nil
	case '}':
		return nil
	case 0:
		return p.errorf("missing '}'")
	}
	return p.errorf("want ',' or '}', found %q", rest(p.in[p.pos:]))
}

// ident reads an identifier: [a-zA-Z_:][a-zA-Z0-9_:.]* for metric names
// (dots are the OTLP convenience), [a-zA-Z_][a-zA-Z0-9_]* for label names.
func (p *selParser) ident(metric bool) string {
	start := p.pos
	for p.pos < len(p.in) {
		c := p.in[p.pos]
		ok := c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			p.pos > start && c >= '0' && c <= '9' ||
			metric && (c == ':' || p.pos > start && c == '.')
		if !ok {
			break
		}
		p.pos++
	}
	return p.in[start:p.pos]
}

// str reads a quoted string with Go's escapes: "…" and '…' interpret
// them, `…` is raw, as in PromQL.
func (p *selParser) str() (string, error) {
	q := p.in[p.pos]
	start := p.pos
	i := p.pos + 1
	for ; i < len(p.in); i++ {
		c := p.in[i]
		if c == '\\' && q != '`' {
			i++
			continue
		}
		if c == q {
			break
		}
		if c == '\n' && q != '`' {
			return "", p.errorf("newline in string")
		}
	}
	if i >= len(p.in) {
		return "", p.errorf("unterminated string")
	}
	raw := p.in[start : i+1]
	p.pos = i + 1
	if q == '`' {
		v := raw[1 : len(raw)-1]
		if !utf8.ValidString(v) {
			return "", p.errorf("string is not valid UTF-8")
		}
		return v, nil
	}
	if q == '\'' {
		// strconv.Unquote reads '…' as one rune; PromQL reads it as a
		// string, so swap the quotes (escaping any bare " inside).
		body := raw[1 : len(raw)-1]
		var b strings.Builder
		b.WriteByte('"')
		for j := 0; j < len(body); j++ {
			switch c := body[j]; {
			case c == '\\' && j+1 < len(body):
				if body[j+1] == '\'' {
					b.WriteByte('\'')
				} else {
					b.WriteByte(c)
					b.WriteByte(body[j+1])
				}
				j++
			case c == '"':
				b.WriteString(`\"`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
		raw = b.String()
	}
	v, err := strconv.Unquote(raw)
	if err != nil {
		p.pos = start
		return "", p.errorf("bad string %s", raw)
	}
	if !utf8.ValidString(v) {
		p.pos = start
		return "", p.errorf("string is not valid UTF-8")
	}
	return v, nil
}

// rest quotes at most 20 bytes of s for an error message.
func rest(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

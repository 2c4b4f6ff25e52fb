package oncall

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/internal/yamlfield"
	"github.com/nines-sre/nines/slo"
)

// Error is one problem of a rotation, where it is: nines' positioned
// error of every file format.
type Error = yamlfield.Error

// maxErrors bounds the errors reported for one file.
const maxErrors = 50

// Bounds a rotation is checked against.
const (
	maxMembers   = 1000
	maxOverrides = 10_000
	maxName      = 200
)

// minDate and maxDate bound every date a rotation names, as nines' store
// bounds its times.
var (
	minDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

type parser struct {
	file string
	errs []error
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	if len(p.errs) >= maxErrors {
		return
	}
	e := &Error{File: p.file, Field: field, Err: fmt.Errorf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// ParseRotations reads the rotations of a catalog file: n is the value of
// its top-level rotations: key (a list; nil or null for none), or the
// file's whole document node, whose root mapping's rotations: key is then
// read. file names the file in errors. Every problem is reported, each as
// an *Error with file:line:column.
func ParseRotations(file string, n *yaml.Node) ([]Rotation, error) {
	if n == nil {
		return nil, nil
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 || n.Content[0].Kind != yaml.MappingNode {
			return nil, nil // not a catalog: the catalog's own parser says so
		}
		var list *yaml.Node
		root := n.Content[0]
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == "rotations" {
				list = root.Content[i+1]
			}
		}
		if list == nil {
			return nil, nil
		}
		n = list
	}
	p := &parser{file: file}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "rotations", "want a list of rotations, got %s", nodeKind(n))
		return nil, errors.Join(p.errs...)
	}
	var out []Rotation
	names := map[string]*yaml.Node{}
	for i, rn := range n.Content {
		path := fmt.Sprintf("rotations[%d]", i)
		r, nameNode := p.rotation(rn, path)
		if r == nil {
			continue
		}
		if first := names[r.Name]; first != nil {
			p.errorf(nameNode, path+".name", "rotation %q is defined twice (first at line %d); give each rotation its own name", r.Name, first.Line)
			continue
		}
		names[r.Name] = nameNode
		out = append(out, *r)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return out, nil
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

// fields walks a mapping, refusing keys given twice and keys it does not
// know; it returns the value node of each known key.
func (p *parser) fields(n *yaml.Node, path string, known ...string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping, got %s", nodeKind(n))
		return nil
	}
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := path + "." + k.Value
		switch {
		case out[k.Value] != nil:
			p.errorf(k, field, "given twice")
		case !contains(known, k.Value):
			p.errorf(k, field, "unknown field: want one of %s", strings.Join(known, ", "))
		default:
			out[k.Value] = v
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func (p *parser) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "want a text value, got %s", nodeKind(n))
		return "", false
	}
	return strings.TrimSpace(n.Value), true
}

func (p *parser) name(n *yaml.Node, field, what string) (string, bool) {
	s, ok := p.scalar(n, field)
	if !ok {
		return "", false
	}
	switch {
	case s == "":
		p.errorf(n, field, "empty: name the %s", what)
		return "", false
	case len(s) > maxName:
		p.errorf(n, field, "%d bytes long: a %s name has at most %d", len(s), what, maxName)
		return "", false
	}
	return s, true
}

func (p *parser) rotation(n *yaml.Node, path string) (*Rotation, *yaml.Node) {
	f := p.fields(n, path, "name", "members", "shift", "handoff", "start", "time_zone", "working_hours", "night",
		"sites", "min_people", "max_incidents_per_shift", "overrides")
	if f == nil {
		return nil, nil
	}
	before := len(p.errs)
	r := &Rotation{File: p.file, Line: n.Line, Column: n.Column, Working: DefaultWorkingHours()}
	nameNode := f["name"]
	if nameNode == nil {
		p.errorf(n, path+".name", "missing: name the rotation")
	} else if s, ok := p.name(nameNode, path+".name", "rotation"); ok {
		r.Name = s
		path = fmt.Sprintf("rotation %q", s)
	}
	for _, req := range []struct{ key, how string }{
		{"members", "list the people of the rotation, in the order they take shifts"},
		{"shift", "give the length of a shift, such as 12h or 1w"},
		{"handoff", "give the time of day shifts change hands, such as 09:00"},
		{"start", "give the date of the first shift, such as 2026-01-05"},
		{"time_zone", "give the IANA time zone the rotation keeps, such as Europe/Berlin"},
	} {
		if f[req.key] == nil {
			p.errorf(n, path+"."+req.key, "missing: %s", req.how)
		}
	}
	if v := f["time_zone"]; v != nil {
		if s, ok := p.scalar(v, path+".time_zone"); ok {
			loc, err := time.LoadLocation(s)
			if err != nil || s == "" || s == "Local" {
				p.errorf(v, path+".time_zone", "%q is not an IANA time zone: write one such as Europe/Berlin or UTC", s)
			} else {
				r.Zone = loc
			}
		}
	}
	if r.Zone == nil {
		r.Zone = time.UTC // for the checks below; the rotation is refused
	}
	if v := f["shift"]; v != nil {
		r.Shift = p.shift(v, path+".shift")
	}
	if v := f["handoff"]; v != nil {
		if s, ok := p.scalar(v, path+".handoff"); ok {
			c, err := parseClock(s, false)
			if err != nil {
				p.errorf(v, path+".handoff", "%v", err)
			}
			r.Handoff = c
		}
	}
	if v := f["start"]; v != nil {
		if s, ok := p.scalar(v, path+".start"); ok {
			d, err := time.Parse(time.DateOnly, s)
			switch {
			case err != nil:
				p.errorf(v, path+".start", "%q: want a date such as 2026-01-05", s)
			case d.Before(minDate) || !d.Before(maxDate):
				p.errorf(v, path+".start", "%s: want a date from 1970 to 2199", s)
			default:
				r.Start = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, r.Zone)
			}
		}
	}
	if v := f["sites"]; v != nil {
		r.Sites = p.sites(v, path+".sites")
	}
	if v := f["members"]; v != nil {
		r.Members = p.members(v, path+".members", r.Sites)
	}
	if v := f["working_hours"]; v != nil {
		r.Working = p.working(v, path+".working_hours")
	}
	if v := f["night"]; v != nil {
		if s, ok := p.scalar(v, path+".night"); ok {
			h, err := ParseHours(s, true)
			if err != nil {
				p.errorf(v, path+".night", "%v", err)
			} else {
				r.Night = &h
			}
		}
	}
	if v := f["min_people"]; v != nil {
		if s, ok := p.scalar(v, path+".min_people"); ok {
			k, err := strconv.Atoi(s)
			if err != nil || k < 1 || k > maxMembers {
				p.errorf(v, path+".min_people", "%q: want a whole number of people from 1 to %d", s, maxMembers)
			}
			r.MinPeople = k
		}
	}
	if v := f["max_incidents_per_shift"]; v != nil {
		if s, ok := p.scalar(v, path+".max_incidents_per_shift"); ok {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || !(x > 0 && x <= 1000) {
				p.errorf(v, path+".max_incidents_per_shift", "%q: want a number of incidents above 0, at most 1000", s)
			}
			r.MaxIncidents = x
		}
	}
	if v := f["overrides"]; v != nil && len(p.errs) == before {
		// Overrides are read in the rotation's zone, so only once it is known.
		r.Overrides = p.overrides(v, path+".overrides", r.Zone)
	}
	if len(p.errs) > before {
		return nil, nil
	}
	return r, nameNode
}

func (p *parser) shift(v *yaml.Node, field string) time.Duration {
	s, ok := p.scalar(v, field)
	if !ok {
		return 0
	}
	d, err := slo.ParseDuration(s)
	switch {
	case err != nil:
		p.errorf(v, field, "%v: want a shift length such as 12h, 1d or 1w", err)
	case d < MinShift || d > MaxShift:
		p.errorf(v, field, "%s: want a shift from 1h to 4w", s)
	case d%time.Minute != 0:
		p.errorf(v, field, "%s: want a whole number of minutes", s)
	default:
		return d
	}
	return 0
}

// parseClock reads HH:MM; end allows 24:00, the end of a day.
func parseClock(s string, end bool) (Clock, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && (mm != 0 || !end) {
		if end {
			return 0, fmt.Errorf("%q: want a time of day from 00:00 to 24:00, such as 17:30", s)
		}
		return 0, fmt.Errorf("%q: want a time of day from 00:00 to 23:59, such as 09:00", s)
	}
	return Clock(hh*60 + mm), nil
}

// ParseHours reads a span of the day, "22:00-07:00". wrap allows a span
// across midnight; a span from a time to itself is refused, as it could
// mean all day or none.
func ParseHours(s string, wrap bool) (Hours, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return Hours{}, fmt.Errorf("%q: want a span of the day such as 09:00-17:00", s)
	}
	from, err := parseClock(a, false)
	if err != nil {
		return Hours{}, err
	}
	to, err := parseClock(b, true)
	if err != nil {
		return Hours{}, err
	}
	switch {
	case from == to:
		return Hours{}, fmt.Errorf("%q starts where it ends: write 00:00-24:00 for a whole day", s)
	case to < from && !wrap:
		return Hours{}, fmt.Errorf("%q ends before it starts: working hours stay within a day", s)
	case to == 24*60 && wrap:
		to = 0
	}
	return Hours{From: from, To: to}, nil
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseDay(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, d := range dayNames {
		if s == d || s == strings.ToLower(time.Weekday(i).String()) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// parseDays reads "mon-fri", "mon,wed,fri" or "sat-sun" (a range may
// wrap past Sunday).
func parseDays(s string) ([7]bool, error) {
	var days [7]bool
	for part := range strings.SplitSeq(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok1 := parseDay(a)
		to, ok2 := from, true
		if isRange {
			to, ok2 = parseDay(b)
		}
		if !ok1 || !ok2 {
			return days, fmt.Errorf("%q: want days such as mon-fri or mon,wed,fri", s)
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return days, nil
}

func (p *parser) working(n *yaml.Node, path string) WorkingHours {
	w := DefaultWorkingHours()
	f := p.fields(n, path, "days", "hours")
	if v := f["days"]; v != nil {
		var s string
		if v.Kind == yaml.SequenceNode {
			var parts []string
			for _, d := range v.Content {
				if x, ok := p.scalar(d, path+".days"); ok {
					parts = append(parts, x)
				}
			}
			s = strings.Join(parts, ",")
		} else {
			s, _ = p.scalar(v, path+".days")
		}
		days, err := parseDays(s)
		if err != nil {
			p.errorf(v, path+".days", "%v", err)
		}
		w.Days = days
	}
	if v := f["hours"]; v != nil {
		if s, ok := p.scalar(v, path+".hours"); ok {
			h, err := ParseHours(s, false)
			if err != nil {
				p.errorf(v, path+".hours", "%v", err)
			}
			w.Hours = h
		}
	}
	return w
}

func (p *parser) sites(n *yaml.Node, path string) []string {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "want a list of site names, got %s", nodeKind(n))
		return nil
	}
	var out []string
	for _, v := range n.Content {
		s, ok := p.name(v, path, "site")
		if !ok {
			continue
		}
		if contains(out, s) {
			p.errorf(v, path, "site %q is listed twice", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// members reads the people in order: a name, or a mapping with name and
// site. With two sites or more every member names one of them.
func (p *parser) members(n *yaml.Node, path string, sites []string) []Member {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "want a list of people, got %s", nodeKind(n))
		return nil
	}
	if len(n.Content) == 0 {
		p.errorf(n, path, "a rotation with no members pages nobody: list at least one person")
		return nil
	}
	if len(n.Content) > maxMembers {
		p.errorf(n, path, "%d members: a rotation has at most %d", len(n.Content), maxMembers)
		return nil
	}
	var out []Member
	seen := map[string]int{}
	for i, v := range n.Content {
		field := fmt.Sprintf("%s[%d]", path, i)
		var m Member
		var siteNode *yaml.Node
		if v.Kind == yaml.MappingNode {
			f := p.fields(v, field, "name", "site")
			if f["name"] == nil {
				p.errorf(v, field+".name", "missing: name the person")
				continue
			}
			s, ok := p.name(f["name"], field+".name", "person")
			if !ok {
				continue
			}
			m.Name = s
			if siteNode = f["site"]; siteNode != nil {
				m.Site, _ = p.name(siteNode, field+".site", "site")
			}
		} else {
			s, ok := p.name(v, field, "person")
			if !ok {
				continue
			}
			m.Name = s
		}
		if j, dup := seen[m.Name]; dup {
			p.errorf(v, field, "%q is listed twice (also at %s[%d]): a person takes one place in the order", m.Name, path, j)
			continue
		}
		seen[m.Name] = i
		switch {
		case len(sites) > 1 && m.Site == "":
			p.errorf(v, field, "%q names no site: this rotation has sites %s, so say which one they are at", m.Name, strings.Join(sites, ", "))
		case m.Site != "" && len(sites) == 0:
			p.errorf(siteNode, field+".site", "site %q is not declared: list the rotation's sites under sites:", m.Site)
		case m.Site != "" && !contains(sites, m.Site):
			p.errorf(siteNode, field+".site", "site %q is not one of the rotation's sites (%s)", m.Site, strings.Join(sites, ", "))
		}
		out = append(out, m)
	}
	return out
}

// localTime reads a time as the rotation writes it: local wall-clock
// time in its zone ("2026-11-03 09:00", "2026-11-03T09:00", a date for
// its midnight) or RFC 3339 with an offset.
func localTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", time.DateOnly} {
		if c, err := time.Parse(layout, s); err == nil {
			return instant(c, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a local time such as 2026-11-03 09:00, or RFC 3339 with an offset", s)
}

func (p *parser) overrides(n *yaml.Node, path string, loc *time.Location) []Override {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "want a list of overrides, got %s", nodeKind(n))
		return nil
	}
	if len(n.Content) > maxOverrides {
		p.errorf(n, path, "%d overrides: a rotation has at most %d; drop the old ones", len(n.Content), maxOverrides)
		return nil
	}
	var out []Override
	for i, v := range n.Content {
		field := fmt.Sprintf("%s[%d]", path, i)
		f := p.fields(v, field, "member", "replaces", "from", "to")
		if f == nil {
			continue
		}
		var o Override
		ok := true
		for _, req := range []string{"member", "from", "to"} {
			if f[req] == nil {
				p.errorf(v, field+"."+req, "missing: an override says who takes the on-call (member), from when and until when")
				ok = false
			}
		}
		if !ok {
			continue
		}
		o.Member, ok = p.name(f["member"], field+".member", "person")
		if r := f["replaces"]; r != nil {
			var rok bool
			o.Replaces, rok = p.name(r, field+".replaces", "person")
			ok = ok && rok
		}
		for _, x := range []struct {
			key string
			t   *time.Time
		}{{"from", &o.From}, {"to", &o.To}} {
			s, sok := p.scalar(f[x.key], field+"."+x.key)
			if !sok {
				ok = false
				continue
			}
			t, err := localTime(s, loc)
			switch {
			case err != nil:
				p.errorf(f[x.key], field+"."+x.key, "%v", err)
				ok = false
			case t.Before(minDate) || !t.Before(maxDate):
				p.errorf(f[x.key], field+"."+x.key, "%s: want a time from 1970 to 2199", s)
				ok = false
			}
			*x.t = t
		}
		if ok && !o.From.Before(o.To) {
			p.errorf(f["to"], field+".to", "%s is not after from (%s): an override ends after it starts", f["to"].Value, f["from"].Value)
			ok = false
		}
		if ok {
			out = append(out, o)
		}
	}
	return out
}

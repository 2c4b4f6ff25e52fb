package ingest

import (
	"fmt"
	"math"
	"strings"

	"github.com/nines-sre/nines/slo"
)

// The parts of an event a JSON or LTSV field can give.
const (
	rTime = iota
	rStatus
	rLatency
	rOK
	rCount
	// rFallback is a second latency field, read when a line lacks the
	// first (LTSV's apptime when there is no reqtime).
	rFallback
	nRoles
)

var roleNames = [nRoles]string{"time", "status", "latency", "ok", "count", "fallback"}

// fieldRef names the field that gives one part of the event.
type fieldRef struct {
	path  []string // JSON: keys from the top object down; LTSV: one label
	text  string   // as the user wrote it, NAME[:UNIT]
	scale int      // value × 10^scale is seconds (latency) or Unix seconds (time)
	unit  bool     // a unit was given: scale holds
}

func (f *fieldRef) given() bool { return len(f.path) > 0 }

// schema maps event parts to the fields of a JSON or LTSV log.
type schema struct {
	refs [nRoles]fieldRef
	// Messages, built once: a line without a time or status, a latency
	// that is not a number.
	missing [nRoles]string
	msgs    [nRoles]string
}

// jsonlSchema reads nines' own JSON lines; it is never changed.
var jsonlSchema = mustSchema(jsonlFields)

func mustSchema(fields []string) *schema {
	s, err := newSchema(nil, fields)
	if err != nil {
		panic("ingest: a built-in schema does not compile: " + err.Error())
	}
	return s
}

// unitWords names a latency unit by its scale, for messages.
var unitWords = map[int]string{0: "seconds", -3: "milliseconds", -6: "microseconds", -9: "nanoseconds"}

// Units as --field writes them.
var (
	latencyUnits = map[string]int{"s": 0, "ms": -3, "us": -6, "ns": -9}
	timeUnits    = map[string]int{"unix_s": 0, "unix_ms": -3, "unix_us": -6, "unix_ns": -9}
)

// newSchema reads ROLE=NAME[:UNIT] fields over the defaults a preset
// gives (nil for none). A latency needs its unit: nines never guesses it.
func newSchema(defaults, fields []string) (*schema, error) {
	s := &schema{}
	for _, f := range defaults {
		role, ref, err := parseField(f)
		if err != nil {
			return nil, err
		}
		s.refs[role] = ref
	}
	given := map[int]bool{}
	for _, f := range fields {
		role, ref, err := parseField(f)
		if err != nil {
			return nil, err
		}
		if given[role] {
			return nil, fmt.Errorf("ingest: field %s: %s is given twice", f, roleNames[role])
		}
		given[role] = true
		if role == rLatency && !given[rFallback] {
			// The user's latency replaces the preset's, fallback and all.
			s.refs[rFallback] = fieldRef{}
		}
		s.refs[role] = ref
	}
	s.missing[rTime] = "no " + strQuote(s.refs[rTime].pathText()) + " field"
	switch st, ok := s.refs[rStatus], s.refs[rOK]; {
	case st.given() && ok.given():
		s.missing[rStatus] = "no " + strQuote(st.pathText()) + " or " + strQuote(ok.pathText()) + " field"
	case ok.given():
		s.missing[rStatus] = "no " + strQuote(ok.pathText()) + " field"
	default:
		s.missing[rStatus] = "no " + strQuote(st.pathText()) + " field"
	}
	for _, r := range []int{rLatency, rFallback} {
		if ref := s.refs[r]; ref.given() {
			s.msgs[r] = ref.path[len(ref.path)-1] + ": want a number of " + unitWords[ref.scale]
		}
	}
	return s, nil
}

func (f *fieldRef) pathText() string { return strings.Join(f.path, ".") }

// strQuote writes s in double quotes, as JSON keys are.
func strQuote(s string) string { return `"` + s + `"` }

// parseField reads one ROLE=NAME[:UNIT].
func parseField(f string) (int, fieldRef, error) {
	roleText, spec, ok := strings.Cut(f, "=")
	roleText = strings.ToLower(strings.TrimSpace(roleText))
	spec = strings.TrimSpace(spec)
	role := -1
	for r, n := range roleNames {
		if n == roleText {
			role = r
		}
	}
	switch {
	case !ok:
		return 0, fieldRef{}, fmt.Errorf("ingest: field %q: want ROLE=NAME[:UNIT] such as latency=duration:s", f)
	case role < 0:
		return 0, fieldRef{}, fmt.Errorf("ingest: field %q: %q is not a part of an event: want time, status, latency, ok, count or fallback (a latency read when a line has none)", f, roleText)
	case spec == "":
		return 0, fieldRef{}, fmt.Errorf("ingest: field %q: no field name after =", f)
	}
	ref := fieldRef{text: spec}
	name := spec
	if k := strings.LastIndexByte(spec, ':'); k >= 0 {
		name = spec[:k]
		u := strings.ToLower(spec[k+1:])
		var units map[string]int
		want := ""
		switch role {
		case rLatency, rFallback:
			units, want = latencyUnits, "s, ms, us or ns"
		case rTime:
			units, want = timeUnits, "unix_s, unix_ms, unix_us or unix_ns (RFC 3339 and [10/Oct/2000:13:55:36 -0700] strings need none)"
		default:
			return 0, fieldRef{}, fmt.Errorf("ingest: field %q: %s takes no unit", f, roleText)
		}
		scale, ok := units[u]
		if !ok {
			return 0, fieldRef{}, fmt.Errorf("ingest: field %q: unknown unit %q: want %s", f, u, want)
		}
		ref.scale, ref.unit = scale, true
	}
	if (role == rLatency || role == rFallback) && !ref.unit {
		return 0, fieldRef{}, fmt.Errorf("ingest: field %q: give the unit of %s: %s:s, %s:ms, %s:us or %s:ns; nines never guesses a unit",
			f, name, name, name, name, name)
	}
	if name == "" {
		return 0, fieldRef{}, fmt.Errorf("ingest: field %q: no field name", f)
	}
	ref.path = strings.Split(name, ".")
	if len(ref.path) > maxPathDepth {
		return 0, fieldRef{}, fmt.Errorf("ingest: field %q: a path of more than %d keys", f, maxPathDepth)
	}
	for _, p := range ref.path {
		if p == "" {
			return 0, fieldRef{}, fmt.Errorf("ingest: field %q: empty key in %q", f, name)
		}
	}
	return role, ref, nil
}

// check refuses a schema that cannot make events: one without a time, or
// without a status or ok flag.
func (s *schema) check(format string) error {
	var missing []string
	if !s.refs[rTime].given() {
		missing = append(missing, "time (--field time=NAME[:UNIT])")
	}
	if !s.refs[rStatus].given() && !s.refs[rOK].given() {
		missing = append(missing, "status (--field status=NAME, or ok=NAME for a true/false field)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("ingest: %s: no field for the %s", format, strings.Join(missing, " and no field for the "))
	}
	return nil
}

func (s *schema) hasLatency() bool { return s.refs[rLatency].given() || s.refs[rFallback].given() }

// setTimeText reads a time written as text: RFC 3339, nginx's and
// Apache's 10/Oct/2000:13:55:36 -0700 (brackets allowed), or, when the
// field has a unit, a number of Unix seconds, milliseconds, ...
func setTimeText(b []byte, ref *fieldRef, e *slo.Event) *problem {
	if len(b) >= 2 && b[0] == '[' && b[len(b)-1] == ']' {
		b = b[1 : len(b)-1]
	}
	switch {
	case len(b) == timeLocalLen && b[2] == '/':
		ns, msg := parseTimeLocal(b)
		if msg != "" {
			return &problem{"time: " + msg, "", b}
		}
		e.Time = ns
		return nil
	case len(b) >= 5 && isDigit(b[0]) && b[4] == '-':
		ns, msg := parseRFC3339(b)
		if msg != "" {
			return &problem{msg, "", b}
		}
		e.Time = ns
		return nil
	}
	var d decimal
	if n, ok := scanNumber(b, 0, &d); ok && n == len(b) {
		return setTimeNumber(&d, ref, e)
	}
	return &problem{"time: want RFC 3339 like 2026-11-24T10:20:31Z or 24/Nov/2026:10:20:31 +0000", "", b}
}

// setTimeNumber reads a Unix time in the field's unit.
func setTimeNumber(d *decimal, ref *fieldRef, e *slo.Event) *problem {
	if !ref.unit {
		return &problem{"time: a number with no unit: give it, as --field time=" + ref.text + ":unix_s (or unix_ms, unix_us, unix_ns)", "", d.text}
	}
	ns, ok := d.nanos(ref.scale)
	if !ok {
		if ref.scale == 0 {
			return &problem{"time: Unix seconds out of range (milliseconds?)", "", d.text}
		}
		return &problem{"time: Unix time out of range (wrong unit?)", "", d.text}
	}
	e.Time = ns
	return nil
}

// setStatusText reads a status written as text: an integer 0-999.
func setStatusText(b []byte, e *slo.Event) *problem {
	v, ok := parseUint(b, 999)
	if !ok || (len(b) > 1 && b[0] == '0') {
		return &problem{"status: want an integer 0-999", "", b}
	}
	e.Status = int(v)
	return nil
}

// setLatencyText reads a latency written as text: "-" or nothing
// (unmeasured), a number in the field's unit, a list of them as nginx's
// $upstream_response_time writes it (summed), or a duration with its own
// units such as "0.012s" or "1m2.5s", which need no unit from the field.
func setLatencyText(b []byte, ref *fieldRef, e *slo.Event) *problem {
	if len(b) == 0 || (len(b) == 1 && b[0] == '-') {
		return nil
	}
	if c := b[len(b)-1]; c == 's' || c == 'm' || c == 'h' {
		v, p := parseDuration(b)
		if p != nil {
			return p
		}
		e.Latency = v
		return nil
	}
	var d decimal
	n, ok := scanNumber(b, 0, &d)
	if ok && n == len(b) {
		v, p := latency(&d, ref.scale, "latency")
		if p != nil {
			return p
		}
		e.Latency = v
		return nil
	}
	if ref.scale == 0 {
		// "0.004, 0.002 : 0.001": seconds of each upstream tried.
		end, v, p := latencyList(b, 0, "latency: want a number, a list of them or -", "latency")
		if p == nil && end == len(b) {
			e.Latency = v
			return nil
		}
	}
	return &problem{"latency: want a number or -", "", b}
}

// durationUnits are the units of Go's time.Duration text (which Caddy
// writes) and of protobuf's Duration ("0.012s", Google Cloud), in
// nanoseconds.
var durationUnits = []struct {
	name string
	ns   int
}{{"ns", 0}, {"us", 3}, {"µs", 3}, {"ms", 6}, {"s", 9}, {"m", -60}, {"h", -3600}}

// parseDuration reads "0.012s", "1.5ms", "2m3.5s": numbers each followed
// by a unit, summed in whole nanoseconds.
func parseDuration(b []byte) (float64, *problem) {
	const bad = "latency: want a duration such as 0.012s or 1.5ms"
	var sum int64
	i := 0
	for i < len(b) {
		var d decimal
		end, ok := scanNumber(b, i, &d)
		if !ok || d.neg || end >= len(b) {
			return 0, &problem{bad, "", b}
		}
		j := end
		for j < len(b) && !isDigit(b[j]) && b[j] != '.' {
			j++
		}
		unit := string(b[end:j])
		found := false
		for _, u := range durationUnits {
			if u.name != unit {
				continue
			}
			var ns int64
			if u.ns >= 0 {
				ns, ok = d.nanos(u.ns - 9)
			} else {
				ns, ok = d.nanos(0)
				if ok && ns <= math.MaxInt64/int64(-u.ns) {
					ns *= int64(-u.ns)
				} else {
					ok = false
				}
			}
			if !ok || ns > maxLatency*1e9-sum {
				return 0, &problem{"latency: out of range (more than a year)", "", b}
			}
			sum += ns
			found = true
		}
		if !found {
			return 0, &problem{bad, "", b}
		}
		i = j
	}
	return float64(sum) / 1e9, nil
}

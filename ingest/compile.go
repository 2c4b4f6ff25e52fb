package ingest

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Format strings are compiled into a program: the literal text between
// fields, and for each field how to find its end and what it gives the
// event. A program reads a line left to right, comparing literals and
// reading fields by their shape (a status is digits, $time_local is 26
// bytes) or, for text such as a user agent, up to the literal that follows.
//
// The dialects are nginx's log_format (variables $name or ${name}) and
// Apache's LogFormat (directives %h, %>s, %{Referer}i, ...). Columns in
// messages count from 1 at the first byte of the format string.

// fieldKind is how a program reads one field.
type fieldKind uint8

const (
	fSkip        fieldKind = iota // any text up to the next literal
	fSkipList                     // nginx $upstream_* lists: "a, b : c"
	fTimeLocal                    // 10/Oct/2000:13:55:36 -0700
	fTimeISO                      // 2000-10-10T13:55:36-07:00
	fUnix                         // Unix time in units of 10^scale s
	fLayout                       // a part of a time in a strftime layout
	fFrac                         // digits of a fraction of a second
	fStatus                       // an HTTP status
	fLatency                      // a decimal in units of 10^scale s, or "-"
	fLatencyList                  // $upstream_response_time: a list, summed
)

// step reads one literal and the field after it.
type step struct {
	lit     string // literal before the field
	kind    fieldKind
	set     bool   // the field gives the event its time, status or latency
	clock   bool   // a time part collected into the line's clock
	next    string // literal after the field; for the last field, the tail
	last    bool   // the field is the last: next must end the line
	quoted  bool   // between quotes: a quote inside may be escaped
	escapes bool   // a backslash escapes the next byte
	scale   int    // fUnix, fLatency, fLatencyList: units of 10^scale s
	integer bool   // fLatency: a whole number, as Apache writes it
	digits  int    // fFrac: number of digits
	layout  *timeLayout
	// lit and next as little-endian words with masks, to compare up to
	// eight bytes at once (see word).
	litW, nextW litWord

	// Messages, built once so that a bad line allocates nothing: label
	// names the field ("nginx format: $request_time").
	label, litMsg, endMsg, fieldMsg string
}

// program is a compiled format string.
type program struct {
	dialect  string // "nginx" or "apache"
	text     string // the format string as given
	steps    []step
	tail     string // literal after the last field
	tailMsg  string
	useClock bool // the time is assembled from parts in a clock
	latency  bool
	// mid < len(steps)-1 when the last field is read from the end of the
	// line: steps[mid:len(steps)-1] are skipped fields (a referer, a user
	// agent) that are then not scanned one by one, only their first
	// literal checked. As nines' hand-written nginx parser does, this
	// reads the number at the end of the line even when a logger left an
	// unescaped quote in a user agent, and it is faster.
	mid  int
	zone *time.Location
}

// token is a literal or a field of a format string before compilation.
type token struct {
	lit    string // a literal, when name is ""
	cols   []int  // a literal's column of each byte
	name   string // the field as written: "$status", "%>s", "%{Referer}i"
	col    int    // 1-based column of the field's first byte
	kind   fieldKind
	role   role
	rank   int // among fields of one role, the highest rank is used
	scale  int
	digits int
	layout *timeLayout
	// integer: a latency written as a whole number (Apache's %D, %T)
	integer bool
}

// role is what a field can give the event.
type role uint8

const (
	roleNone role = iota
	roleTime
	roleStatus
	roleLatency
)

// compileFormat compiles "nginx:FORMAT" or "apache:FORMAT". zone reads
// times written without an offset; nil refuses a format that has them.
func compileFormat(text string, zone *time.Location) (*program, error) {
	dialect, format, ok := strings.Cut(text, ":")
	dialect = strings.ToLower(strings.TrimSpace(dialect))
	if !ok || (dialect != "nginx" && dialect != "apache") {
		return nil, fmt.Errorf("ingest: %q is not a format string: want nginx:'$remote_addr ...' or apache:'%%h %%l ...'", text)
	}
	var (
		toks    []token
		escapes = true
		err     error
	)
	if dialect == "nginx" {
		toks, escapes, err = lexNginx(format)
	} else {
		toks, err = lexApache(format)
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: %s format: %w", dialect, err)
	}
	p, err := assemble(dialect, format, toks, escapes, zone)
	if err != nil {
		return nil, fmt.Errorf("ingest: %s format: %w", dialect, err)
	}
	return p, nil
}

// nginxVars are the nginx variables a program reads by their shape or
// uses; any other is text up to the next literal.
var nginxVars = map[string]token{
	"time_local":             {kind: fTimeLocal, role: roleTime, rank: 1},
	"time_iso8601":           {kind: fTimeISO, role: roleTime, rank: 2},
	"msec":                   {kind: fUnix, role: roleTime, rank: 3},
	"status":                 {kind: fStatus, role: roleStatus, rank: 1},
	"request_time":           {kind: fLatency, role: roleLatency, rank: 2},
	"upstream_response_time": {kind: fLatencyList, role: roleLatency, rank: 1},
}

// lexNginx splits an nginx log_format into literals and variables. It
// takes the format as nginx.conf writes it too: an optional escape=
// parameter and one or more quoted pieces, which nginx joins.
func lexNginx(format string) ([]token, bool, error) {
	text, cols, escapes, err := unquoteNginx(format)
	if err != nil {
		return nil, false, err
	}
	var toks []token
	var lit literal
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c != '$' {
			lit.add(c, cols[i])
			continue
		}
		start := i
		var name string
		if i+1 < len(text) && text[i+1] == '{' {
			end := strings.IndexByte(text[i+2:], '}')
			if end < 0 {
				return nil, false, fmt.Errorf("column %d: ${ is never closed", cols[start])
			}
			name = text[i+2 : i+2+end]
			i += 2 + end
		} else {
			j := i + 1
			for j < len(text) && isNameByte(text[j]) {
				j++
			}
			name = text[i+1 : j]
			i = j - 1
		}
		if name == "" || !isName(name) {
			return nil, false, fmt.Errorf("column %d: $ must start a variable name such as $status", cols[start])
		}
		toks = lit.flush(toks)
		t := nginxVars[name]
		if t.role == roleNone && strings.HasPrefix(name, "upstream_") {
			// Lists like "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80".
			t.kind = fSkipList
		}
		t.name, t.col = "$"+name, cols[start]
		toks = append(toks, t)
	}
	return lit.flush(toks), escapes, nil
}

// literal collects the bytes of a literal with their columns.
type literal struct {
	b    []byte
	cols []int
}

func (l *literal) add(c byte, col int) {
	l.b = append(l.b, c)
	l.cols = append(l.cols, col)
}

// flush appends the literal, if any, to toks and starts a new one.
func (l *literal) flush(toks []token) []token {
	if len(l.b) == 0 {
		return toks
	}
	toks = append(toks, token{lit: string(l.b), cols: l.cols})
	*l = literal{}
	return toks
}

// unquoteNginx returns the format text and, for each of its bytes, its
// 1-based column in format. A format starting with escape= or a quote is
// read as nginx.conf writes it: escape=default|json|none, then quoted
// pieces joined, then an optional ';'.
func unquoteNginx(format string) (string, []int, bool, error) {
	f := strings.TrimSpace(format)
	lead := len(format) - len(strings.TrimLeft(format, " \t\r\n"))
	escapes := true
	if strings.HasPrefix(f, "escape=") {
		end := strings.IndexAny(f, " \t\r\n")
		if end < 0 {
			return "", nil, false, fmt.Errorf("column %d: escape= without a format after it", lead+1)
		}
		switch v := f[len("escape="):end]; v {
		case "default", "json":
		case "none":
			escapes = false
		default:
			return "", nil, false, fmt.Errorf("column %d: escape=%s: want default, json or none", lead+len("escape=")+1, v)
		}
		rest := strings.TrimLeft(f[end:], " \t\r\n")
		lead += len(f) - len(rest)
		f = rest
	}
	if f == "" || (f[0] != '\'' && f[0] != '"') {
		if lead > 0 || f != format {
			// Text after escape= that is not quoted: take it as is.
			cols := make([]int, len(f))
			for i := range cols {
				cols[i] = lead + i + 1
			}
			return f, cols, escapes, nil
		}
		cols := make([]int, len(format))
		for i := range cols {
			cols[i] = i + 1
		}
		return format, cols, escapes, nil
	}
	var text []byte
	var cols []int
	i := 0
	for i < len(f) {
		switch c := f[i]; {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == ';' && strings.TrimSpace(f[i+1:]) == "":
			i = len(f)
		case c == '\'' || c == '"':
			j := i + 1
			for ; j < len(f) && f[j] != c; j++ {
				if f[j] == '\\' && j+1 < len(f) {
					j++ // nginx.conf escapes the quote character with \
				}
				text = append(text, f[j])
				cols = append(cols, lead+j+1)
			}
			if j >= len(f) {
				return "", nil, false, fmt.Errorf("column %d: the %c that opens this piece of the format is never closed", lead+i+1, c)
			}
			i = j + 1
		default:
			return "", nil, false, fmt.Errorf("column %d: want a quoted piece of the format, got %q", lead+i+1, string(c))
		}
	}
	return string(text), cols, escapes, nil
}

func isNameByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || isDigit(c)
}

func isName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// apacheDirectives are the letters of mod_log_config's directives with
// what they hold; those not listed are refused as unknown.
const apacheDirectives = "aABbCDefhHiklLmnopPqrRsStTuUvVXIOM"

// lexApache splits an Apache LogFormat into literals and directives:
// %[<>][!][codes][{arg}]X, where codes are status codes that condition the
// field ("-" otherwise) and arg an argument such as a header's name.
func lexApache(format string) ([]token, error) {
	var toks []token
	var lit literal
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch c {
		case '%':
		case '\\':
			// LogFormat strings are C-like: \" and \\ and \t, \n.
			if i+1 < len(format) {
				i++
				switch format[i] {
				case 't':
					lit.add('\t', i)
				case 'n':
					lit.add('\n', i)
				default:
					lit.add(format[i], i)
				}
				continue
			}
			lit.add(c, i+1)
			continue
		default:
			lit.add(c, i+1)
			continue
		}
		start := i
		i++
		if i < len(format) && format[i] == '%' {
			lit.add('%', start+1)
			continue
		}
		final := false
		for i < len(format) && (format[i] == '<' || format[i] == '>' || format[i] == '!' || format[i] == ',' || isDigit(format[i])) {
			if format[i] == '>' {
				final = true
			}
			i++
		}
		var arg string
		hasArg := false
		if i < len(format) && format[i] == '{' {
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("column %d: %%{ is never closed", start+1)
			}
			arg, hasArg = format[i+1:i+end], true
			i += end + 1
		}
		if i >= len(format) {
			return nil, fmt.Errorf("column %d: %% at the end of the format with no directive", start+1)
		}
		d := format[i]
		name := format[start : i+1]
		if d == '^' {
			// %{VARNAME}^ti and ^to: trailers, two letters after ^.
			if i+2 >= len(format) || (format[i+1:i+3] != "ti" && format[i+1:i+3] != "to") {
				return nil, fmt.Errorf("column %d: unknown directive %s (want ^ti or ^to)", start+1, format[start:min(i+3, len(format))])
			}
			i += 2
			toks = lit.flush(toks)
			toks = append(toks, token{name: format[start : i+1], col: start + 1})
			continue
		}
		if strings.IndexByte(apacheDirectives, d) < 0 {
			return nil, fmt.Errorf("column %d: unknown directive %s", start+1, name)
		}
		t := token{name: name, col: start + 1}
		if d == 't' && !hasArg {
			// %t writes [10/Oct/2000:13:55:36 -0700], brackets included:
			// the brackets are literals around the time.
			toks = lit.flush(toks)
			toks = append(toks, token{lit: "[", cols: []int{start + 1}}, token{name: name, col: start + 1, kind: fTimeLocal, role: roleTime, rank: 1}, token{lit: "]", cols: []int{i + 1}})
			continue
		}
		switch d {
		case 's':
			t.kind, t.role, t.rank = fStatus, roleStatus, 1
			if final {
				t.rank = 2
			}
		case 't':
			if err := apacheTime(&t, arg, start+1); err != nil {
				return nil, err
			}
		case 'D':
			t.kind, t.role, t.rank, t.scale, t.integer = fLatency, roleLatency, 4, -6, true
		case 'T':
			t.kind, t.role, t.integer = fLatency, roleLatency, true
			switch arg {
			case "", "s":
				t.rank, t.scale = 1, 0
			case "ms":
				t.rank, t.scale = 2, -3
			case "us":
				t.rank, t.scale = 3, -6
			default:
				return nil, fmt.Errorf("column %d: %s: want %%T, %%{s}T, %%{ms}T or %%{us}T", start+1, name)
			}
		}
		toks = lit.flush(toks)
		toks = append(toks, t)
	}
	return lit.flush(toks), nil
}

// apacheTime reads %{format}t: a strftime layout, or sec, msec,
// usec (Unix time) and msec_frac, usec_frac (a fraction), each optionally
// after begin: or end:.
func apacheTime(t *token, arg string, col int) error {
	t.role, t.rank = roleTime, 1
	argCol := col + 2
	if a, ok := strings.CutPrefix(arg, "begin:"); ok {
		arg, argCol = a, argCol+len("begin:")
	} else if a, ok := strings.CutPrefix(arg, "end:"); ok {
		arg, argCol = a, argCol+len("end:")
	}
	switch arg {
	case "sec":
		t.kind, t.scale = fUnix, 0
	case "msec":
		t.kind, t.scale = fUnix, -3
	case "usec":
		t.kind, t.scale = fUnix, -6
	case "msec_frac":
		t.kind, t.digits = fFrac, 3
	case "usec_frac":
		t.kind, t.digits = fFrac, 6
	default:
		l, err := compileLayout(arg, argCol)
		if err != nil {
			return err
		}
		t.kind, t.layout = fLayout, l
	}
	return nil
}

// assemble turns tokens into a program: it picks the fields that give the
// time, the status and the latency, and checks that every field can be
// told from the next.
func assemble(dialect, text string, toks []token, escapes bool, zone *time.Location) (*program, error) {
	p := &program{dialect: dialect, text: text, zone: zone}
	if err := checkQuotes(toks); err != nil {
		return nil, err
	}
	// The best field of each role; Apache's time may come in parts.
	best := map[role]int{}
	timeParts := 0
	for k, t := range toks {
		if t.name == "" || t.role == roleNone {
			continue
		}
		if t.role == roleTime && dialect == "apache" {
			timeParts++
		}
		if b, ok := best[t.role]; !ok || t.rank > toks[b].rank {
			best[t.role] = k
		}
	}
	var missing []string
	if _, ok := best[roleTime]; !ok {
		missing = append(missing, map[string]string{"nginx": "time ($time_local, $time_iso8601 or $msec)", "apache": "time (%t or %{...}t)"}[dialect])
	}
	if _, ok := best[roleStatus]; !ok {
		missing = append(missing, map[string]string{"nginx": "status ($status)", "apache": "status (%>s or %s)"}[dialect])
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no %s field: nines needs both a time and a status in every line", strings.Join(missing, " and no "))
	}
	// Several parts make one time; a strftime layout alone is read the
	// same way, into a clock that may need the zone.
	p.useClock = timeParts > 1 || toks[best[roleTime]].kind == fLayout || toks[best[roleTime]].kind == fFrac
	if p.useClock {
		if err := checkClock(toks); err != nil {
			return nil, err
		}
	}
	_, p.latency = best[roleLatency]

	var lit strings.Builder
	for k, t := range toks {
		if t.name == "" {
			lit.WriteString(t.lit)
			continue
		}
		s := step{lit: lit.String(), kind: t.kind, scale: t.scale, integer: t.integer, digits: t.digits, layout: t.layout, escapes: escapes}
		lit.Reset()
		switch {
		case t.role == roleTime && p.useClock:
			s.clock = true
			if s.kind == fTimeLocal {
				// %t among other time parts: read it as the layout it is.
				l, _ := compileLayout("%d/%b/%Y:%H:%M:%S %z", t.col)
				s.kind, s.layout = fLayout, l
			}
		case t.role != roleNone:
			s.set = best[t.role] == k
		}
		if s.layout != nil && !s.layout.offset && !s.layout.unix && zone == nil && (s.set || s.clock) && !p.hasOffset(toks) {
			return nil, fmt.Errorf("column %d: %s writes no UTC offset (%%z): add %%z to it, or give the zone the server writes in (--log-timezone, sli.log.timezone)", t.col, t.name)
		}
		if k > 0 && toks[k-1].name != "" && !fixedWidth(toks[k-1]) {
			return nil, fmt.Errorf("column %d: %s follows %s with nothing between them: nines cannot tell where one ends; put a space or other text between them", t.col, t.name, toks[k-1].name)
		}
		s.label = dialect + " format: " + t.name
		s.litMsg = fmt.Sprintf("%s format: want %s before %s", dialect, quote([]byte(s.lit)), t.name)
		s.endMsg = fmt.Sprintf("%s format: line ends before %s", dialect, t.name)
		s.fieldMsg = fieldMessage(dialect, t.name, t.kind, t.integer)
		p.steps = append(p.steps, s)
	}
	p.tail = lit.String()
	p.tailMsg = fmt.Sprintf("%s format: want %s at the end of the line", dialect, quote([]byte(p.tail)))
	if p.tail == "" {
		p.tailMsg = dialect + " format: text after the last field"
	}
	// Each step's next literal, and whether the field sits in quotes.
	for k := range p.steps {
		s := &p.steps[k]
		if k+1 < len(p.steps) {
			s.next = p.steps[k+1].lit
		} else {
			s.next, s.last = p.tail, true
		}
		s.quoted = strings.HasSuffix(s.lit, `"`) && strings.HasPrefix(s.next, `"`)
		if s.kind == fSkip || s.kind == fSkipList {
			switch {
			case s.last && s.next == "":
			case s.last:
				s.fieldMsg = p.tailMsg
			default:
				s.fieldMsg = s.label + ": no " + quote([]byte(s.next)) + " after it"
			}
		}
	}
	for k := range p.steps {
		p.steps[k].litW, p.steps[k].nextW = wordOf(p.steps[k].lit), wordOf(p.steps[k].next)
	}
	p.mid = anchorFrom(p.steps)
	return p, nil
}

// anchorFrom returns where the skipped fields before a last field that
// can be read from the end of the line begin, or len(steps) when the last
// field cannot be. Such a last field is a number (a status or a latency)
// after a literal holding no byte a number may hold, so the last
// occurrence of that literal is where it starts; the fields before it
// must all be skipped ones.
func anchorFrom(steps []step) int {
	n := len(steps)
	if n < 3 {
		return n
	}
	last := &steps[n-1]
	if (last.kind != fLatency && last.kind != fStatus) || last.lit == "" || last.layout != nil ||
		strings.ContainsAny(last.lit+last.next, "0123456789.-+eE") {
		return n
	}
	mid := n - 1
	for mid > 1 && steps[mid-1].kind == fSkip && steps[mid-1].lit != "" {
		mid--
	}
	if mid == n-1 {
		return n
	}
	return mid
}

// hasOffset reports whether some time part of the format writes an offset
// or a Unix time, so that a layout without one is completed by it.
func (p *program) hasOffset(toks []token) bool {
	if !p.useClock {
		return false
	}
	for _, t := range toks {
		if t.role != roleTime {
			continue
		}
		switch {
		case t.kind == fTimeLocal, t.kind == fUnix:
			return true
		case t.layout != nil && (t.layout.offset || t.layout.unix):
			return true
		}
	}
	return false
}

// checkClock checks that the time parts of an Apache format make a time.
func checkClock(toks []token) error {
	var date, clk, unix, frac bool
	for _, t := range toks {
		if t.role != roleTime {
			continue
		}
		switch t.kind {
		case fTimeLocal:
			date, clk = true, true
		case fUnix:
			unix = true
		case fFrac:
			frac = true
		case fLayout:
			date = date || t.layout.date
			clk = clk || t.layout.clock
			unix = unix || t.layout.unix
		}
	}
	switch {
	case unix:
		return nil
	case !date && !clk && frac:
		return errors.New("the time parts give only a fraction of a second: add %t or a %{...}t with a date and a time")
	case !date:
		return errors.New("the time parts give no date: add %Y, %m and %d (or %F) to a %{...}t")
	case !clk:
		return errors.New("the time parts give no time of day: add %H:%M:%S (or %T) to a %{...}t")
	}
	return nil
}

// fixedWidth reports whether field t ends where its shape ends whatever
// follows, so that another field may follow it directly: a status or a
// number run on into the digits of the next field.
func fixedWidth(t token) bool {
	switch t.kind {
	case fTimeLocal, fFrac:
		return true
	case fLayout:
		for _, op := range t.layout.ops {
			if op.conv == 's' || op.conv == 'a' {
				return false
			}
		}
		return true
	}
	return false
}

// checkQuotes refuses a format whose literal quotes do not pair up: a
// field between a quote and the end of the line would swallow the rest.
func checkQuotes(toks []token) error {
	open, openCol := false, 0
	for _, t := range toks {
		for i := 0; i < len(t.lit); i++ {
			if t.lit[i] == '"' {
				open = !open
				openCol = t.cols[i]
			}
		}
	}
	if open {
		return fmt.Errorf("column %d: unbalanced quotes: this quote is never closed", openCol)
	}
	return nil
}

// fieldMessage is the problem of a field that does not have its shape.
func fieldMessage(dialect, name string, k fieldKind, integer bool) string {
	if integer {
		return dialect + " format: " + name + ": want a whole number or -"
	}
	want := map[fieldKind]string{
		fTimeLocal:   "want a time like 10/Oct/2000:13:55:36 -0700",
		fTimeISO:     "want a time like 2000-10-10T13:55:36-07:00",
		fUnix:        "want a Unix time",
		fLayout:      "want a time in the format's layout",
		fFrac:        "want the digits of a fraction of a second",
		fStatus:      "want an integer 0-999",
		fLatency:     "want a number or -",
		fLatencyList: "want numbers (or -) separated by \", \" or \" : \"",
		fSkip:        "no end found",
		fSkipList:    "no end found",
	}[k]
	return dialect + " format: " + name + ": " + want
}

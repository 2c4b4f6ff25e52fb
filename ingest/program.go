package ingest

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/bits"

	"github.com/nines-sre/nines/slo"
)

// progState is what running a program keeps from line to line: the last
// timestamps read, since most lines repeat their neighbour's second.
type progState struct {
	local timeLocalCache
	iso   textTimeCache
	zone  zoneCache
}

// run reads one line with program p into e.
func (p *program) run(line []byte, e *slo.Event, st *progState) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	for n := len(line); n > 0 && (line[n-1] == ' ' || line[n-1] == '\t'); n-- {
		line = line[:n-1]
	}
	var c clock
	i := 0
	steps := p.steps
	if p.mid < len(steps) {
		// Read the left part, then the last field from the end.
		steps = steps[:p.mid]
	}
	litDone := false // the step's literal was matched by the skip before it
	for k := range steps {
		s := &steps[k]
		if n := len(s.lit); n > 0 && !litDone {
			if !s.litW.match(line[i:], s.lit) {
				if i >= len(line) {
					return &problem{s.endMsg, "", nil}
				}
				return &problem{s.litMsg, "", line[i:]}
			}
			i += n
		}
		litDone = false
		switch {
		case s.kind == fSkip && !s.last:
			// Most fields are skipped: find the next literal here,
			// without a call per field when its first byte starts it,
			// and step over it: it is the next step's literal.
			if k := indexFirst(line[i:], s.next, s.quoted); k >= 0 && s.nextW.match(line[i+k:], s.next) &&
				!(s.quoted && s.escapes && escaped(line, i, i+k)) {
				i += k + len(s.next)
				litDone = true
				continue
			}
			end := s.skipEnd(line, i)
			if end < 0 {
				return &problem{s.fieldMsg, "", tail(line, i)}
			}
			i = end
			continue
		case s.kind == fStatus:
			// Inline: one status per line, three digits.
			j, v := i, 0
			for j < len(line) && j-i < 4 && isDigit(line[j]) {
				v = v*10 + int(line[j]-'0')
				j++
			}
			if j > i && j-i <= 3 && (j == len(line) || !isNameByte(line[j])) {
				if s.set {
					e.Status = v
				}
				i = j
				continue
			}
		case s.kind == fTimeLocal && s.set && len(line)-i >= timeLocalLen:
			ns, msg := st.local.parse(line[i : i+timeLocalLen])
			if msg == "" {
				e.Time = ns
				i += timeLocalLen
				continue
			}
		}
		end, pr := s.read(line, i, e, &c, st)
		if pr != nil {
			return pr
		}
		i = end
	}
	if litDone {
		// The last step of the left part was a skip that matched the
		// literal after it, which belongs to what follows.
		i -= len(steps[len(steps)-1].next)
	}
	if p.mid < len(p.steps) {
		var pr *problem
		if i, pr = p.runFromEnd(line, i, e, &c, st); pr != nil {
			return pr
		}
	}
	if len(line)-i != len(p.tail) || !hasLit(line[i:], p.tail) {
		return &problem{p.tailMsg, "", tail(line, i)}
	}
	if p.useClock {
		ns, msg := c.nanos(p.zone, &st.zone)
		if msg != "" {
			return &problem{p.dialect + " format: " + msg, "", nil}
		}
		e.Time = ns
	}
	if e.Status == 0 {
		noResponse(e)
	}
	return nil
}

// runFromEnd reads the last field from the end of the line and checks
// that the skipped fields between line[i:] and it start as they should.
// It returns where the last field ends.
func (p *program) runFromEnd(line []byte, i int, e *slo.Event, c *clock, st *progState) (int, *problem) {
	last, first := &p.steps[len(p.steps)-1], &p.steps[p.mid]
	end := len(line) - len(p.tail)
	if end < i || !hasLit(line[end:], p.tail) {
		return i, &problem{p.tailMsg, "", tail(line, i)}
	}
	j := lastIndexLit(line[i:end], last.lit)
	if j < 0 {
		return i, &problem{last.litMsg, "", tail(line, i)}
	}
	j += i
	// The skipped fields: their first literal, then anything up to the
	// last field's literal.
	if !hasLit(line[i:j], first.lit) {
		if i >= len(line) {
			return i, &problem{first.endMsg, "", nil}
		}
		return i, &problem{first.litMsg, "", line[i:]}
	}
	k, pr := last.read(line[:end], j+len(last.lit), e, c, st)
	if pr != nil {
		return i, pr
	}
	if k != end {
		return i, &problem{last.fieldMsg, "", line[j+len(last.lit):]}
	}
	return end, nil
}

// lastIndexLit is bytes.LastIndex for a short literal.
func lastIndexLit(b []byte, lit string) int {
	last := lit[len(lit)-1]
	for j := len(b); ; {
		k := bytes.LastIndexByte(b[:j], last)
		if k < 0 {
			return -1
		}
		if start := k + 1 - len(lit); start >= 0 && hasLit(b[start:], lit) {
			return start
		}
		j = k
	}
}

// noResponse marks an event whose status is 0: the server sent no
// response at all (the client went away, the stream was reset).
// Numerically 0 would pass a "<500" rule; it is a request the service did
// not answer, so it fails whatever the status rule says, unless the line
// says explicitly that it went well.
func noResponse(e *slo.Event) {
	if e.OK == slo.FlagUnset {
		e.OK = slo.FlagFalse
	}
}

// read reads the field of s at line[i:] and returns the index after it.
func (s *step) read(line []byte, i int, e *slo.Event, c *clock, st *progState) (int, *problem) {
	switch s.kind {
	case fSkip:
		end := s.skipEnd(line, i)
		if end < 0 {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		return end, nil
	case fSkipList:
		if s.quoted || s.last {
			end := s.skipEnd(line, i)
			if end < 0 {
				return i, &problem{s.fieldMsg, "", tail(line, i)}
			}
			return end, nil
		}
		return listEnd(line, i), nil
	case fTimeLocal:
		if len(line)-i < timeLocalLen {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		b := line[i : i+timeLocalLen]
		if s.set {
			ns, msg := st.local.parse(b)
			if msg != "" {
				return i, &problem{s.fieldMsg, "", b}
			}
			e.Time = ns
		}
		return i + timeLocalLen, nil
	case fTimeISO:
		j := i
		for j < len(line) && isISOByte(line[j]) {
			j++
		}
		if s.set {
			ns, ok := st.iso.get(line[i:j])
			if !ok {
				var msg string
				if ns, msg = parseRFC3339(line[i:j]); msg != "" {
					return i, &problem{s.fieldMsg, "", tail(line, i)}
				}
				st.iso.put(line[i:j], ns)
			}
			e.Time = ns
		}
		return j, nil
	case fUnix:
		var d decimal
		end, ok := scanNumber(line, i, &d)
		if !ok || d.neg {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		ns, ok := d.nanos(s.scale)
		if !ok {
			return i, &problem{s.fieldMsg, "", line[i:end]}
		}
		switch {
		case s.clock:
			c.unix, c.hasUnix = ns, true
		case s.set:
			e.Time = ns
		}
		return end, nil
	case fLayout:
		// Layouts are always read into the line's clock (see assemble).
		end, msg := s.layout.parse(line, i, c)
		if msg != "" {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		return end, nil
	case fFrac:
		if len(line)-i < s.digits {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		v, ok := parseUint(line[i:i+s.digits], math.MaxUint32)
		if !ok {
			return i, &problem{s.fieldMsg, "", line[i : i+s.digits]}
		}
		if s.clock {
			c.frac = int64(v) * int64(pow10i[9-s.digits])
		}
		return i + s.digits, nil
	case fStatus:
		j := i
		for j < len(line) && isDigit(line[j]) {
			j++
		}
		v, ok := parseUint(line[i:j], 999)
		if !ok || (j < len(line) && isNameByte(line[j])) {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		if s.set {
			e.Status = int(v)
		}
		return j, nil
	case fLatency:
		if i < len(line) && line[i] == '-' && (i+1 == len(line) || !isDigit(line[i+1])) {
			return i + 1, nil
		}
		num := line
		if s.integer {
			j := i
			for j < len(line) && isDigit(line[j]) {
				j++
			}
			num = line[:j]
		}
		var d decimal
		end, ok := scanNumber(num, i, &d)
		if !ok || (end < len(line) && (isNameByte(line[end]) || (s.integer && line[end] == '.'))) {
			return i, &problem{s.fieldMsg, "", tail(line, i)}
		}
		v, p := latency(&d, s.scale, s.label)
		if p != nil {
			return i, p
		}
		if s.set {
			e.Latency = v
		}
		return end, nil
	case fLatencyList:
		end, v, p := latencyList(line, i, s.fieldMsg, s.label)
		if p != nil {
			return i, p
		}
		if s.set {
			e.Latency = v
		}
		return end, nil
	}
	return i, &problem{"format: field of no known kind", "", nil}
}

// skipEnd returns where a field read as text ends: at the next literal
// (a quote inside a quoted field may be escaped with a backslash), or,
// for the last field, where the tail ends the line. -1: not found.
func (s *step) skipEnd(line []byte, i int) int {
	if s.last {
		end := len(line) - len(s.next)
		if end < i || string(line[end:]) != s.next {
			return -1
		}
		// An unquoted field ends at a space, at the end of the line as
		// everywhere else: otherwise a common log's %b would swallow the
		// referer, user agent and times of a longer format, and the line
		// would pass for a format it is not.
		if !s.quoted && bytes.IndexByte(line[i:end], ' ') >= 0 {
			return -1
		}
		return end
	}
	for j := i; ; {
		k := indexLit(line[j:], s.next)
		if k < 0 {
			return -1
		}
		k += j
		if !(s.quoted && s.escapes && escaped(line, i, k)) {
			return k
		}
		j = k + 1
	}
}

// indexLit is bytes.Index for the short literals of log formats, most of
// them starting with a byte (a quote, a bracket) that is rare in fields.
func indexLit(b []byte, lit string) int {
	first := lit[0]
	for j := 0; ; {
		k := bytes.IndexByte(b[j:], first)
		if k < 0 {
			return -1
		}
		k += j
		if hasLit(b[k:], lit) {
			return k
		}
		j = k + 1
	}
}

// hasLit reports whether b starts with lit. Literals are a few bytes: a
// loop beats a call to the runtime's memequal.
func hasLit(b []byte, lit string) bool {
	if len(b) < len(lit) {
		return false
	}
	for k := 0; k < len(lit); k++ {
		if b[k] != lit[k] {
			return false
		}
	}
	return true
}

// escaped reports whether line[k] is escaped by an odd run of backslashes
// that starts at or after from.
func escaped(line []byte, from, k int) bool {
	n := 0
	for j := k - 1; j >= from && line[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// listEnd returns the end of an unquoted nginx list such as
// "10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80": items end at a space, and
// ", " or " : " go on to the next.
func listEnd(line []byte, i int) int {
	for {
		for i < len(line) && line[i] != ' ' {
			i++
		}
		switch {
		case i < len(line) && i > 0 && line[i-1] == ',':
			i++
		case len(line)-i >= 3 && line[i+1] == ':' && line[i+2] == ' ':
			i += 3
		default:
			return i
		}
	}
}

// latencyList reads $upstream_response_time: seconds or "-" for each
// upstream tried, separated by ", " (the next server) or " : " (after an
// internal redirect). The latency is their sum, computed in whole
// nanoseconds so that one value is exactly what a single number would
// give; "-" adds nothing, and a list of only "-" is unmeasured.
func latencyList(line []byte, i int, msg, label string) (int, float64, *problem) {
	var sum int64
	measured := false
	for {
		if i < len(line) && line[i] == '-' && (i+1 == len(line) || !isDigit(line[i+1])) {
			i++
		} else {
			var d decimal
			end, ok := scanNumber(line, i, &d)
			if !ok || d.neg {
				return i, 0, &problem{msg, "", tail(line, i)}
			}
			ns, ok := d.nanos(0)
			if !ok || ns > maxLatency*1e9-sum {
				return i, 0, &problem{label + ": out of range (more than a year)", "", line[i:end]}
			}
			sum += ns
			measured = true
			i = end
		}
		switch {
		case len(line)-i >= 2 && line[i] == ',' && line[i+1] == ' ':
			i += 2
		case len(line)-i >= 3 && line[i] == ' ' && line[i+1] == ':' && line[i+2] == ' ':
			i += 3
		default:
			if !measured {
				return i, math.NaN(), nil
			}
			return i, float64(sum) / 1e9, nil
		}
	}
}

// isISOByte reports whether c may appear in an RFC 3339 time.
func isISOByte(c byte) bool {
	return isDigit(c) || c == '-' || c == ':' || c == 'T' || c == '+' || c == '.' || c == 'Z' || c == 'z'
}

// pow10i holds the powers of ten up to 10^18.
var pow10i = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// textTimeCache remembers the last timestamp text of up to 40 bytes read
// and its value.
type textTimeCache struct {
	key   [40]byte
	n     int
	ns    int64
	valid bool
}

func (c *textTimeCache) get(b []byte) (int64, bool) {
	if c.valid && len(b) == c.n && string(b) == string(c.key[:c.n]) {
		return c.ns, true
	}
	return 0, false
}

func (c *textTimeCache) put(b []byte, ns int64) {
	if len(b) > len(c.key) {
		return
	}
	c.n = copy(c.key[:], b)
	c.ns, c.valid = ns, true
}

// indexFirst returns where the first byte of lit is in b, -1 if it is not
// or lit is empty (two fields back to back, read by their shape).
func indexFirst(b []byte, lit string, long bool) int {
	if lit == "" {
		return -1
	}
	// Most unquoted skipped fields are short (an address, a user, "-"):
	// eight bytes at a time costs less than the call that scans long
	// ones (a request line, a user agent, which are quoted).
	c := lit[0]
	n := 0
	if !long {
		pat := lowBits * uint64(c)
		for ; n+8 <= len(b) && n < 32; n += 8 {
			x := binary.LittleEndian.Uint64(b[n:]) ^ pat
			if z := (x - lowBits) &^ x & highBits; z != 0 {
				return n + bits.TrailingZeros64(z)/8
			}
		}
	}
	if k := bytes.IndexByte(b[n:], c); k >= 0 {
		return n + k
	}
	return -1
}

// litWord is a literal of up to eight bytes as a little-endian word and
// the mask of its bytes; mask 0 for longer ones.
type litWord struct{ word, mask uint64 }

func wordOf(lit string) litWord {
	if len(lit) == 0 || len(lit) > 8 {
		return litWord{}
	}
	var w litWord
	for k := len(lit) - 1; k >= 0; k-- {
		w.word = w.word<<8 | uint64(lit[k])
		w.mask = w.mask<<8 | 0xff
	}
	return w
}

// match reports whether b starts with lit, whose word w is: one compare
// when b has eight bytes to read.
func (w *litWord) match(b []byte, lit string) bool {
	if w.mask != 0 && len(b) >= 8 {
		return binary.LittleEndian.Uint64(b)&w.mask == w.word
	}
	return hasLit(b, lit)
}

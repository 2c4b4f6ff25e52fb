package ingest

import (
	"bytes"
	"math"

	"github.com/nines-sre/nines/slo"
)

// JSON lines: one flat object per line,
//
//	{"time": "2026-11-24T10:20:31.5Z", "status": 503, "ok": false, "latency_ms": 3.2, "count": 1}
//
// time is an RFC 3339 string with any offset, or Unix seconds as a number
// (fraction allowed). At least one of status and ok is required; ok wins
// over status when both are present (see slo.SLI.Classify). latency_ms and
// count are optional; count defaults to 1 and "count": 0 reports a quantum
// measured with no traffic. A null value counts as absent.
//
// Envoy access logs written with a json_format use the names of Envoy's
// command operators, which are read too: start_time for time,
// response_code for status (0, no response, is a failure under any
// status rule that names it, as in Envoy's text logs) and duration, in
// milliseconds, for latency_ms. A line that gives both names of one field
// is refused: which one was meant cannot be told. Other fields,
// of any type and nesting, are skipped; keys are matched exactly, case
// included.
//
// The scanner below exists because encoding/json costs about a microsecond
// and several allocations per line, which would dominate reading a large
// file; this one allocates nothing. It validates the whole line, skipped
// values included, by JSON's grammar (FuzzJSONL checks it against
// json.Valid), with two leniencies: a raw tab inside a string, and a
// status written as a quoted number.

// maxNesting bounds the depth of skipped values; the stack is a bit mask.
const maxNesting = 64

// parseJSONL reads one line into e.
func parseJSONL(line []byte, e *slo.Event) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return &problem{"not a JSON object", "", line}
	}
	haveTime, haveStatus, haveOK := false, false, false
	// The name each field was given by, when it has two: a key repeated
	// under one name is last-wins, as in encoding/json; two names clash.
	var timeName, statusName, latencyName string
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		i++
	} else {
		for {
			if i >= len(line) || line[i] != '"' {
				return &problem{"want a quoted field name", "", tail(line, i)}
			}
			end, esc, p := scanString(line, i)
			if p != nil {
				return p
			}
			key := line[i+1 : end-1]
			var keyBuf [16]byte
			if esc {
				// A key too long for the buffer is none of ours: skip it.
				if k, ok := unescapeSmall(key, keyBuf[:0]); ok {
					key = k
				}
			}
			i = skipWS(line, end)
			if i >= len(line) || line[i] != ':' {
				return &problem{"want ':' after field name", "", tail(line, i)}
			}
			i = skipWS(line, i+1)
			if i >= len(line) {
				return &problem{"missing value for a field", " " + quote(key), nil}
			}
			var vp *problem
			switch string(key) {
			case "time":
				if vp = sameName(&timeName, "time", "start_time"); vp == nil {
					i, haveTime, vp = parseTimeValue(line, i, e)
				}
			case "start_time":
				if vp = sameName(&timeName, "start_time", "time"); vp == nil {
					i, haveTime, vp = parseTimeValue(line, i, e)
				}
			case "status":
				if vp = sameName(&statusName, "status", "response_code"); vp == nil {
					i, haveStatus, vp = parseStatusValue(line, i, e)
				}
			case "response_code":
				if vp = sameName(&statusName, "response_code", "status"); vp == nil {
					i, haveStatus, vp = parseStatusValue(line, i, e)
				}
			case "ok":
				i, haveOK, vp = parseOKValue(line, i, e)
			case "latency_ms":
				if vp = sameName(&latencyName, "latency_ms", "duration"); vp == nil {
					i, vp = parseLatencyValue(line, i, e)
				}
			case "duration":
				if vp = sameName(&latencyName, "duration", "latency_ms"); vp == nil {
					i, vp = parseLatencyValue(line, i, e)
				}
			case "count":
				i, vp = parseCountValue(line, i, e)
			default:
				i, vp = skipValue(line, i)
			}
			if vp != nil {
				return vp
			}
			i = skipWS(line, i)
			if i < len(line) && line[i] == ',' {
				i = skipWS(line, i+1)
				continue
			}
			if i < len(line) && line[i] == '}' {
				i++
				break
			}
			return &problem{"want ',' or '}' after a value", "", tail(line, i)}
		}
	}
	if i = skipWS(line, i); i != len(line) {
		return &problem{"text after the closing brace", "", line[i:]}
	}
	if !haveTime {
		return &problem{`no "time" field`, "", nil}
	}
	if !haveStatus && !haveOK {
		return &problem{`no "status" or "ok" field`, "", nil}
	}
	return nil
}

// sameName records the name a field is given by and refuses the other
// name for it. Names are constants, so nothing is allocated per line.
func sameName(seen *string, name, other string) *problem {
	if *seen == other {
		return &problem{"both \"" + other + "\" and \"" + name + "\": give one of them", "", nil}
	}
	*seen = name
	return nil
}

// tail returns line[i:], or a marker when the line ended early, so that
// messages never quote an empty string.
func tail(line []byte, i int) []byte {
	if i >= len(line) {
		return []byte("end of line")
	}
	return line[i:]
}

func isNull(b []byte, i int) bool {
	return len(b)-i >= 4 && string(b[i:i+4]) == "null"
}

func parseTimeValue(b []byte, i int, e *slo.Event) (int, bool, *problem) {
	switch {
	case b[i] == '"':
		end, esc, p := scanString(b, i)
		if p != nil {
			return end, false, p
		}
		s := b[i+1 : end-1]
		var buf [48]byte
		if esc {
			u, ok := unescapeSmall(s, buf[:0])
			if !ok {
				return end, false, &problem{"time: want RFC 3339 like 2026-11-24T10:20:31.5Z", "", b[i:end]}
			}
			s = u
		}
		ns, msg := parseRFC3339(s)
		if msg != "" {
			return end, false, &problem{msg, "", b[i:end]}
		}
		e.Time = ns
		return end, true, nil
	case isNull(b, i):
		return i + 4, false, nil
	}
	var d decimal
	end, ok := scanNumber(b, i, &d)
	if !ok {
		return end, false, &problem{"time: want an RFC 3339 string or Unix seconds", "", valueText(b, i)}
	}
	ns, ok := d.unixNanos()
	if !ok {
		return end, false, &problem{"time: Unix seconds out of range (milliseconds?)", "", b[i:end]}
	}
	e.Time = ns
	return end, true, nil
}

// parseStatusValue accepts a number or, as some loggers write it, a quoted
// number; both must be an integer 0-999.
func parseStatusValue(b []byte, i int, e *slo.Event) (int, bool, *problem) {
	const msg = "status: want an integer 0-999"
	var digits []byte
	end := i
	switch {
	case b[i] == '"':
		var p *problem
		end, _, p = scanString(b, i)
		if p != nil {
			return end, false, p
		}
		digits = b[i+1 : end-1]
	case isNull(b, i):
		return i + 4, false, nil
	default:
		for end < len(b) && isDigit(b[end]) {
			end++
		}
		if end < len(b) && !isDelim(b[end]) {
			return end, false, &problem{msg, "", valueText(b, i)}
		}
		digits = b[i:end]
	}
	v, ok := parseUint(digits, 999)
	if !ok || (len(digits) > 1 && digits[0] == '0') {
		return end, false, &problem{msg, "", valueText(b, i)}
	}
	e.Status = int(v)
	return end, true, nil
}

// isDelim reports whether c may follow a JSON value.
func isDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

func parseOKValue(b []byte, i int, e *slo.Event) (int, bool, *problem) {
	switch n := len(b) - i; {
	case n >= 4 && string(b[i:i+4]) == "true":
		e.OK = slo.FlagTrue
		return i + 4, true, nil
	case n >= 5 && string(b[i:i+5]) == "false":
		e.OK = slo.FlagFalse
		return i + 5, true, nil
	case n >= 4 && string(b[i:i+4]) == "null":
		return i + 4, false, nil
	}
	return i, false, &problem{"ok: want true or false", "", valueText(b, i)}
}

func parseLatencyValue(b []byte, i int, e *slo.Event) (int, *problem) {
	if isNull(b, i) {
		return i + 4, nil
	}
	var d decimal
	end, ok := scanNumber(b, i, &d)
	if !ok {
		return end, &problem{"latency_ms: want a number of milliseconds", "", valueText(b, i)}
	}
	v, p := latency(&d, -3, "latency_ms")
	if p != nil {
		p.at = b[i:end]
		return end, p
	}
	e.Latency = v
	return end, nil
}

// maxLatency is a year in seconds. No request takes longer; a larger value
// is a unit mistake or garbage, and would otherwise be counted as an event
// whose latency the histogram cannot hold.
const maxLatency = 365 * 24 * 3600

// latencyToken sets e.Latency from a whole log token in units of
// 10^scale seconds; "-" leaves the latency unmeasured.
func latencyToken(tok []byte, scale int, field, want string, e *slo.Event) *problem {
	if len(tok) == 1 && tok[0] == '-' {
		return nil
	}
	var d decimal
	if n, ok := scanNumber(tok, 0, &d); !ok || n != len(tok) {
		return &problem{field + ": " + want, "", tok}
	}
	v, p := latency(&d, scale, field)
	if p != nil {
		return p
	}
	e.Latency = v
	return nil
}

// latency converts a decimal in units of 10^-scale seconds to seconds and
// rejects what no request can take: a negative, infinite or years-long time.
func latency(d *decimal, scale int, field string) (float64, *problem) {
	if d.neg && !d.isZero() {
		return 0, &problem{field + ": negative latency", "", d.text}
	}
	v := d.float(scale)
	if math.IsInf(v, 0) || math.IsNaN(v) || v > maxLatency {
		return 0, &problem{field + ": out of range (more than a year)", "", d.text}
	}
	return v, nil
}

func parseCountValue(b []byte, i int, e *slo.Event) (int, *problem) {
	if isNull(b, i) {
		return i + 4, nil
	}
	end := i
	for end < len(b) && isDigit(b[end]) {
		end++
	}
	v, ok := parseUint(b[i:end], math.MaxUint64)
	if !ok || (end-i > 1 && b[i] == '0') || (end < len(b) && !isDelim(b[end])) {
		return end, &problem{"count: want a whole number 0 or more", "", valueText(b, i)}
	}
	e.Count = v
	return end, nil
}

// valueText returns the JSON value at b[i:] for quoting: up to its end when
// it can be found, the rest of the line otherwise.
func valueText(b []byte, i int) []byte {
	if end, p := skipValue(b, i); p == nil {
		return b[i:end]
	}
	return tail(b, i)
}

// skipWS skips JSON whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanString reads the JSON string whose opening quote is b[i] and returns
// the index just past its closing quote, and whether it holds escapes. The
// common case, no backslash, is two bytes.IndexByte calls.
func scanString(b []byte, i int) (end int, esc bool, p *problem) {
	start := i
	i++
	// Keys and most values are short: look at up to 32 bytes one by
	// one before paying for bytes.IndexByte's call.
	for k := i; k < len(b) && k < i+32; k++ {
		switch b[k] {
		case '"':
			return k + 1, false, nil
		case '\\':
			return scanEscaped(b, start)
		}
	}
	q := bytes.IndexByte(b[i:], '"')
	if q < 0 {
		return len(b), false, &problem{"unterminated string", "", b[start:]}
	}
	if bytes.IndexByte(b[i:i+q], '\\') < 0 {
		return i + q + 1, false, nil
	}
	return scanEscaped(b, start)
}

// scanEscaped is scanString for a string holding a backslash: byte by
// byte, validating every escape.
func scanEscaped(b []byte, start int) (end int, esc bool, p *problem) {
	i := start + 1
	for i < len(b) {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true, nil
		case c == '\\':
			if i+1 >= len(b) {
				return len(b), true, &problem{"unterminated string", "", b[start:]}
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return i, true, &problem{`invalid \u escape in string`, "", b[i:]}
				}
				i += 6
			default:
				return i, true, &problem{"invalid escape in string", "", b[i:]}
			}
		case c < 0x20:
			return i, true, &problem{"control character in string", "", b[start:]}
		default:
			i++
		}
	}
	return len(b), true, &problem{"unterminated string", "", b[start:]}
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if unhex(c) < 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// unescapeSmall decodes the escapes of a validated JSON string body into
// dst, for the rare key or time value written with escapes. It returns
// false when the text does not fit dst's capacity: a longer text is no
// field name or timestamp this parser knows.
func unescapeSmall(s, dst []byte) ([]byte, bool) {
	i := 0
	for i < len(s) && len(dst) < cap(dst) {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			i++
			continue
		}
		switch s[i+1] {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		case 'u':
			if i+6 > len(s) {
				return dst, false
			}
			r := rune(unhex(s[i+2])<<12 | unhex(s[i+3])<<8 | unhex(s[i+4])<<4 | unhex(s[i+5]))
			if r < 0x80 {
				dst = append(dst, byte(r))
			} else {
				// No known key or timestamp holds non-ASCII; a marker byte
				// keeps the text from matching one by accident.
				dst = append(dst, 0xFF)
			}
			i += 6
			continue
		default:
			c = s[i+1]
		}
		dst = append(dst, c)
		i += 2
	}
	return dst, i >= len(s)
}

// skipValue validates and skips the JSON value at b[i], of any type and
// nesting up to maxNesting, without recursion.
func skipValue(b []byte, i int) (int, *problem) {
	var stack uint64 // bit d set: level d is an object, clear: an array
	depth := 0
	for {
		// A value is expected at b[i].
		i = skipWS(b, i)
		if i >= len(b) {
			return i, &problem{"missing value", "", tail(b, i)}
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxNesting {
				return i, &problem{"value nested too deep", "", b[i:]}
			}
			if c == '{' {
				stack |= 1 << depth
			} else {
				stack &^= 1 << depth
			}
			depth++
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == c+2 { // '{'+2 == '}', '['+2 == ']'
				depth--
				i++
				break
			}
			if c == '{' {
				var p *problem
				if i, p = skipKey(b, i); p != nil {
					return i, p
				}
			}
			continue
		case '"':
			end, _, p := scanString(b, i)
			if p != nil {
				return end, p
			}
			i = end
		case 't':
			if len(b)-i < 4 || string(b[i:i+4]) != "true" {
				return i, &problem{"invalid value", "", b[i:]}
			}
			i += 4
		case 'f':
			if len(b)-i < 5 || string(b[i:i+5]) != "false" {
				return i, &problem{"invalid value", "", b[i:]}
			}
			i += 5
		case 'n':
			if !isNull(b, i) {
				return i, &problem{"invalid value", "", b[i:]}
			}
			i += 4
		default:
			var d decimal
			end, ok := scanNumber(b, i, &d)
			if !ok {
				return i, &problem{"invalid value", "", b[i:]}
			}
			i = end
		}
		// A value ended: close containers until a ',' asks for another.
		for {
			if depth == 0 {
				return i, nil
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, &problem{"unterminated object or array", "", tail(b, i)}
			}
			obj := stack&(1<<(depth-1)) != 0
			c := b[i]
			if c == ',' {
				i++
				if obj {
					var p *problem
					if i, p = skipKey(b, skipWS(b, i)); p != nil {
						return i, p
					}
				}
				break
			}
			if (obj && c == '}') || (!obj && c == ']') {
				depth--
				i++
				continue
			}
			return i, &problem{"want ',' or a closing bracket", "", b[i:]}
		}
	}
}

// skipKey skips `"key" :` inside a skipped object.
func skipKey(b []byte, i int) (int, *problem) {
	if i >= len(b) || b[i] != '"' {
		return i, &problem{"want a quoted field name", "", tail(b, i)}
	}
	end, _, p := scanString(b, i)
	if p != nil {
		return end, p
	}
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		return i, &problem{"want ':' after field name", "", tail(b, i)}
	}
	return i + 1, nil
}

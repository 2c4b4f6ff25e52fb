package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// indenter writes compact JSON, as encoding/json marshals it, indented
// as json.Encoder with SetIndent("", "  ") does, byte for byte, in a
// fraction of its time and a bounded buffer: a year of daily windows is
// 13 MB of JSON, and the encoder's indenting, a general scanner over one
// buffer of the whole document, took longer than reading the log and
// three times its memory. Its input comes in fragments cut between
// tokens, never inside a string.
type indenter struct {
	w     io.Writer
	dst   []byte
	depth int
	err   error
	// scratch holds a window's violations on their way in.
	scratch []byte
}

const indentFlushAt = 64 << 10

func newIndenter(w io.Writer) *indenter {
	return &indenter{w: w, dst: make([]byte, 0, indentFlushAt+256)}
}

// value writes v whole.
func (in *indenter) value(v any) {
	src, err := json.Marshal(v)
	if err != nil {
		in.err = cmpErr(in.err, err)
		return
	}
	in.write(src)
}

func cmpErr(have, err error) error {
	if have != nil {
		return have
	}
	return err
}

// write indents one fragment of compact JSON.
func (in *indenter) write(src []byte) {
	dst := in.dst
	newline := func() {
		dst = append(dst, '\n')
		for range in.depth {
			dst = append(dst, ' ', ' ')
		}
	}
	for i := 0; i < len(src); i++ {
		if len(dst) >= indentFlushAt {
			in.dst = dst
			in.flush()
			dst = in.dst
		}
		switch c := src[i]; c {
		case '"':
			// Copy the string whole: its end is the first quote not
			// escaped by a backslash.
			j := i + 1
			if k := bytes.IndexByte(src[j:], '"'); k >= 0 && bytes.IndexByte(src[j:j+k], '\\') < 0 {
				j += k // no escapes: the common case, found in one search
			}
			for j < len(src) && src[j] != '"' {
				if src[j] == '\\' {
					j++
				}
				j++
			}
			dst = append(dst, src[i:min(j+1, len(src))]...)
			i = j
		case '{', '[':
			dst = append(dst, c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				dst = append(dst, src[i+1]) // an empty one stays on its line
				i++
				continue
			}
			in.depth++
			newline()
		case '}', ']':
			in.depth--
			newline()
			dst = append(dst, c)
		case ',':
			dst = append(dst, c)
			newline()
		case ':':
			dst = append(dst, c, ' ')
		default:
			dst = append(dst, c)
		}
	}
	in.dst = dst
}

// flush writes out what is buffered.
func (in *indenter) flush() {
	if in.err == nil && len(in.dst) > 0 {
		_, in.err = in.w.Write(in.dst)
	}
	in.dst = in.dst[:0]
}

// spliced writes v, marshalled with its list field key left nil, with
// emit writing the list in its place, so that no buffer holds the whole
// list and encoding/json need not reflect over its elements. In compact
// JSON a string's quotes are escaped, so the text "key":null can only be
// that key and its value.
func (in *indenter) spliced(v any, key string, emit func()) {
	head, err := json.Marshal(v)
	if err != nil {
		in.err = cmpErr(in.err, err)
		return
	}
	field := `"` + key + `":`
	at := bytes.Index(head, []byte(field+"null"))
	if at < 0 {
		in.err = cmpErr(in.err, fmt.Errorf("report: %T without %s marshals no %s key", v, key, key))
		return
	}
	in.write(head[:at+len(field)])
	emit()
	in.write(head[at+len(field)+len("null"):])
}

// document writes d with its windows marshalled one at a time, so that
// no buffer holds a year of them.
func (in *indenter) document(d Document) {
	if len(d.Windows) == 0 && d.Stream == nil {
		in.value(d)
		return
	}
	windows := d.windows()
	d.Windows = nil
	in.spliced(d, "windows", func() {
		in.write([]byte{'['})
		i := 0
		for w := range windows {
			if i > 0 {
				in.write([]byte{','})
			}
			in.window(w)
			if in.err != nil {
				break
			}
			i++
		}
		in.write([]byte{']'})
	})
}

// window writes w with its violations written directly: a year of daily
// windows with unmeasured minutes lists over a hundred thousand.
func (in *indenter) window(w Window) {
	if len(w.Violations) == 0 {
		in.value(w)
		return
	}
	spans := w.Violations
	w.Violations = nil
	in.spliced(w, "violations", func() {
		// The list is written indented as write would indent it, into
		// scratch first, so that a time without a JSON form leaves none
		// of it behind.
		b, err := appendSpansIndented(in.scratch[:0], spans, in.depth)
		in.scratch = b
		if err != nil {
			in.err = cmpErr(in.err, err)
			return
		}
		in.raw(b)
	})
}

// raw appends text that is already indented.
func (in *indenter) raw(b []byte) {
	for len(b) > 0 {
		n := min(len(b), max(indentFlushAt-len(in.dst), 0))
		in.dst = append(in.dst, b[:n]...)
		b = b[n:]
		if len(in.dst) >= indentFlushAt {
			in.flush()
		}
	}
}

// appendSpansIndented appends spans, not empty, as a JSON list whose
// opening bracket sits at depth, indented two spaces a level.
func appendSpansIndented(b []byte, spans []Span, depth int) ([]byte, error) {
	newline := func(b []byte, depth int) []byte {
		b = append(b, '\n')
		for range depth {
			b = append(b, ' ', ' ')
		}
		return b
	}
	b = append(b, '[')
	var err error
	for i, s := range spans {
		if i > 0 {
			b = append(b, ',')
		}
		b = newline(b, depth+1)
		b = append(b, '{')
		b = newline(b, depth+2)
		b = append(b, `"start": `...)
		if b, err = appendTimeJSON(b, s.Start); err != nil {
			return b, err
		}
		b = append(b, ',')
		b = newline(b, depth+2)
		b = append(b, `"end": `...)
		if b, err = appendTimeJSON(b, s.End); err != nil {
			return b, err
		}
		b = newline(b, depth+1)
		b = append(b, '}')
	}
	b = newline(b, depth)
	return append(b, ']'), nil
}

// MarshalJSON writes a span as encoding/json writes its two fields, in
// one buffer and without reflection.
func (s Span) MarshalJSON() ([]byte, error) {
	return appendSpanJSON(make([]byte, 0, 96), s)
}

// appendSpanJSON appends s as encoding/json writes its fields.
func appendSpanJSON(b []byte, s Span) ([]byte, error) {
	b = append(b, `{"start":`...)
	b, err := appendTimeJSON(b, s.Start)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"end":`...)
	if b, err = appendTimeJSON(b, s.End); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendTimeJSON appends t as time.Time's MarshalJSON writes it, and
// refuses what it refuses: a year outside 0–9999.
func appendTimeJSON(b []byte, t time.Time) ([]byte, error) {
	if t.Location() == time.UTC && t.Nanosecond() == 0 {
		if b, ok := appendUTCSecond(b, t.Unix()); ok {
			return b, nil
		}
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("report: time %v: year outside [0,9999] has no RFC 3339 form", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendUTCSecond appends the instant sec seconds after the epoch as
// time.Time's MarshalJSON writes a whole second in UTC, quoted, without
// the general formatter: a year of daily reports writes a quarter of a
// million of them. It reports false, appending nothing, for years
// outside 1970–9999, which the general path handles.
func appendUTCSecond(b []byte, sec int64) ([]byte, bool) {
	const lastSecond = 253402300799 // 9999-12-31T23:59:59Z
	if sec < 0 || sec > lastSecond {
		return b, false
	}
	days, rem := sec/86400, sec%86400
	// Civil date from days since 1970-01-01 (Hinnant's days_from_civil
	// inverted), for the proleptic Gregorian calendar time uses.
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	y := yoe + era*400
	if m <= 2 {
		y++
	}
	two := func(b []byte, v int64) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = append(b, '"')
	b = two(b, y/100)
	b = two(b, y%100)
	b = append(b, '-')
	b = two(b, m)
	b = append(b, '-')
	b = two(b, d)
	b = append(b, 'T')
	b = two(b, rem/3600)
	b = append(b, ':')
	b = two(b, rem/60%60)
	b = append(b, ':')
	b = two(b, rem%60)
	return append(b, 'Z', '"'), true
}

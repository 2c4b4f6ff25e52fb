package ingest

import (
	"math"

	"github.com/nines-sre/nines/slo"
)

// JSON logs are read with a schema: which field, possibly nested
// (httpRequest.status), gives which part of the event, and in which unit.
// nines' own JSON lines and the JSON presets (Caddy, Traefik, Envoy's
// json_format, Google Cloud) are schemas; --field makes others.
//
// The scanner validates the whole line by JSON's grammar, skipped values
// included, and allocates nothing: objects on a field's path are entered,
// everything else is skipped by skipValue.

// maxPathDepth bounds a field's path, and so the scanner's recursion.
const maxPathDepth = 8

// jsonState is what one JSON line collects besides the event.
type jsonState struct {
	have     [nRoles]bool
	fallback float64 // the fallback latency, used when there is no other
}

// parseJSON reads one line, a JSON object, into e.
func (s *schema) parseJSON(line []byte, e *slo.Event) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	i := skipWS(line, 0)
	if i >= len(line) || line[i] != '{' {
		return &problem{"not a JSON object", "", line}
	}
	st := jsonState{fallback: math.NaN()}
	i, p := s.object(line, i, 0, s.mask(), &st, e)
	if p != nil {
		return p
	}
	if i = skipWS(line, i); i != len(line) {
		return &problem{"text after the closing brace", "", line[i:]}
	}
	return s.finish(&st, e)
}

// finish checks that a line gave what every event needs and applies the
// fallback latency and a status 0.
func (s *schema) finish(st *jsonState, e *slo.Event) *problem {
	if !st.have[rTime] {
		return &problem{s.missing[rTime], "", nil}
	}
	if !st.have[rStatus] && !st.have[rOK] {
		return &problem{s.missing[rStatus], "", nil}
	}
	if math.IsNaN(e.Latency) {
		e.Latency = st.fallback
	}
	if st.have[rStatus] && e.Status == 0 {
		noResponse(e)
	}
	return nil
}

// mask has a bit set for every role the schema reads.
func (s *schema) mask() uint8 {
	var m uint8
	for r := range s.refs {
		if s.refs[r].given() {
			m |= 1 << r
		}
	}
	return m
}

// object reads the object at line[i] (a '{'), whose fields are at the
// given depth of the paths of the roles in mask.
func (s *schema) object(line []byte, i, depth int, mask uint8, st *jsonState, e *slo.Event) (int, *problem) {
	i = skipWS(line, i+1)
	if i < len(line) && line[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(line) || line[i] != '"' {
			return i, &problem{"want a quoted field name", "", tail(line, i)}
		}
		end, esc, p := scanString(line, i)
		if p != nil {
			return end, p
		}
		key := line[i+1 : end-1]
		var keyBuf [32]byte
		if esc {
			// A key too long for the buffer is none of ours: skip it.
			if k, ok := unescapeSmall(key, keyBuf[:0]); ok {
				key = k
			}
		}
		i = skipWS(line, end)
		if i >= len(line) || line[i] != ':' {
			return i, &problem{"want ':' after field name", "", tail(line, i)}
		}
		i = skipWS(line, i+1)
		if i >= len(line) {
			return i, &problem{"missing value for a field", " " + quote(key), nil}
		}
		leaf, sub := -1, uint8(0)
		for r := range s.refs {
			if mask&(1<<r) == 0 {
				continue
			}
			path := s.refs[r].path
			if path[depth] != string(key) {
				continue
			}
			if len(path) == depth+1 {
				leaf = r
			} else {
				sub |= 1 << r
			}
		}
		switch {
		case leaf >= 0:
			i, p = s.value(line, i, leaf, st, e)
		case sub != 0 && line[i] == '{':
			i, p = s.object(line, i, depth+1, sub, st, e)
		default:
			i, p = skipValue(line, i)
		}
		if p != nil {
			return i, p
		}
		i = skipWS(line, i)
		if i < len(line) && line[i] == ',' {
			i = skipWS(line, i+1)
			continue
		}
		if i < len(line) && line[i] == '}' {
			return i + 1, nil
		}
		return i, &problem{"want ',' or '}' after a value", "", tail(line, i)}
	}
}

// value reads the value at line[i] for role r.
func (s *schema) value(line []byte, i, r int, st *jsonState, e *slo.Event) (int, *problem) {
	ref := &s.refs[r]
	var p *problem
	switch r {
	case rTime:
		i, st.have[rTime], p = parseTimeValue(line, i, ref, e)
	case rStatus:
		i, st.have[rStatus], p = parseStatusValue(line, i, e)
	case rOK:
		i, st.have[rOK], p = parseOKValue(line, i, e)
	case rCount:
		i, p = parseCountValue(line, i, e)
	case rLatency:
		i, p = parseLatencyValue(line, i, ref, s.msgs[rLatency], &e.Latency)
	case rFallback:
		i, p = parseLatencyValue(line, i, ref, s.msgs[rFallback], &st.fallback)
	}
	return i, p
}

// parseLatencyValue reads a latency: a number in the field's unit, a
// string holding one or a duration with its unit ("0.012s"), or null
// (unmeasured). want is the message for anything else.
func parseLatencyValue(b []byte, i int, ref *fieldRef, want string, dst *float64) (int, *problem) {
	switch {
	case isNull(b, i):
		return i + 4, nil
	case b[i] == '"':
		end, esc, p := scanString(b, i)
		if p != nil {
			return end, p
		}
		text := b[i+1 : end-1]
		if esc {
			return end, &problem{want, "", b[i:end]}
		}
		var ev slo.Event
		ev.Latency = math.NaN()
		if p := setLatencyText(text, ref, &ev); p != nil {
			return end, p
		}
		*dst = ev.Latency
		return end, nil
	}
	var d decimal
	end, ok := scanNumber(b, i, &d)
	if !ok {
		return end, &problem{want, "", valueText(b, i)}
	}
	v, p := latency(&d, ref.scale, ref.path[len(ref.path)-1])
	if p != nil {
		p.at = b[i:end]
		return end, p
	}
	*dst = v
	return end, nil
}

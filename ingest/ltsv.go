package ingest

import (
	"bytes"
	"math"

	"github.com/nines-sre/nines/slo"
)

// LTSV (Labeled Tab-separated Values) writes each field as label:value,
// fields separated by tabs:
//
//	time:[10/Oct/2000:13:55:36 -0700]	host:192.0.2.1	req:GET / HTTP/1.1	status:200	size:2326	reqtime:0.004
//
// The preset reads time, status and reqtime (seconds; nginx's
// $request_time), or apptime ($upstream_response_time, a list) when a line
// has no reqtime; --field renames them. A time may be bracketed as nginx
// and Apache write it, or RFC 3339; labels not named are skipped.

// parseLTSV reads one LTSV line into e.
func (s *schema) parseLTSV(line []byte, e *slo.Event) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	st := jsonState{fallback: math.NaN()}
	for len(line) > 0 {
		f := line
		if k := bytes.IndexByte(line, '\t'); k >= 0 {
			f, line = line[:k], line[k+1:]
		} else {
			line = nil
		}
		if len(f) == 0 {
			continue
		}
		colon := bytes.IndexByte(f, ':')
		if colon <= 0 {
			return &problem{"ltsv: want label:value between tabs", "", f}
		}
		label, val := f[:colon], f[colon+1:]
		for r := range s.refs {
			ref := &s.refs[r]
			if !ref.given() || ref.path[0] != string(label) {
				continue
			}
			if p := s.text(val, r, &st, e); p != nil {
				return p
			}
		}
	}
	return s.finish(&st, e)
}

// text reads a field's value written as text, for role r.
func (s *schema) text(val []byte, r int, st *jsonState, e *slo.Event) *problem {
	ref := &s.refs[r]
	switch r {
	case rTime:
		if p := setTimeText(val, ref, e); p != nil {
			return p
		}
	case rStatus:
		if p := setStatusText(val, e); p != nil {
			return p
		}
	case rOK:
		switch string(val) {
		case "true":
			e.OK = slo.FlagTrue
		case "false":
			e.OK = slo.FlagFalse
		default:
			return &problem{"ok: want true or false", "", val}
		}
	case rCount:
		v, ok := parseUint(val, math.MaxUint64)
		if !ok {
			return &problem{"count: want a whole number 0 or more", "", val}
		}
		e.Count = v
	case rLatency:
		return setLatencyText(val, ref, e)
	case rFallback:
		var fb slo.Event
		fb.Latency = math.NaN()
		if p := setLatencyText(val, ref, &fb); p != nil {
			return p
		}
		st.fallback = fb.Latency
	}
	st.have[r] = true
	return nil
}

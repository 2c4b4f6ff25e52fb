package ingest

import (
	"bytes"
	"math"

	"github.com/nines-sre/nines/slo"
)

// Envoy's default access log format (unchanged in output since v1.0;
// current versions spell REQ as REQUEST_HEADER and RESP as
// RESPONSE_HEADER):
//
//	[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%"
//	%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
//	%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
//	"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"
//
//	[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"
//
// Istio's default proxy format, the most common Envoy log in practice,
// inserts %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
// "%UPSTREAM_TRANSPORT_FAILURE_REASON%" after the flags and appends more
// fields; it is accepted too. The two are told apart by the token after
// the flags: BYTES_RECEIVED is always a number, the details never are.
//
// START_TIME is RFC 3339 with milliseconds in UTC; DURATION is whole
// milliseconds from the request's start to its last byte out. Fields after
// DURATION are not read.

// parseEnvoy reads one line into e.
func parseEnvoy(line []byte, e *slo.Event) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	if len(line) < 2 || line[0] != '[' {
		return &problem{"envoy: want [START_TIME] first", "", line}
	}
	rb := bytes.IndexByte(line, ']')
	if rb < 0 {
		return &problem{"envoy: START_TIME: no closing ]", "", line}
	}
	ns, msg := parseRFC3339(line[1:rb])
	if msg != "" {
		return &problem{"envoy: START_TIME: " + msg, "", line[:rb+1]}
	}
	e.Time = ns
	i := rb + 1

	// "METHOD PATH PROTOCOL": Envoy does not escape quotes, but a raw '"'
	// is not valid in a method, path or protocol, so the next one closes.
	if len(line)-i < 2 || line[i] != ' ' || line[i+1] != '"' {
		return &problem{`envoy: want "METHOD PATH PROTOCOL" after START_TIME`, "", tail(line, i)}
	}
	q := bytes.IndexByte(line[i+2:], '"')
	if q < 0 {
		return &problem{"envoy: request: no closing quote", "", line[i+1:]}
	}
	i += 2 + q + 1

	var tok []byte
	tok, i = field(line, i)
	code, ok := parseUint(tok, 999)
	if !ok {
		return &problem{"envoy: RESPONSE_CODE: want an integer 0-999", "", tok}
	}
	e.Status = int(code)
	if code == 0 {
		// 0 means Envoy sent no response at all (the downstream went away
		// or the stream was reset first). Numerically it would pass a
		// "<500" rule; explicitly it is a request the service did not
		// answer, so it counts as failed whatever the status rule says.
		e.OK = slo.FlagFalse
	}

	if tok, i = field(line, i); tok == nil { // RESPONSE_FLAGS
		return &problem{"envoy: line ends after RESPONSE_CODE", "", line[rb+1:]}
	}
	if i+1 < len(line) && !isDigit(line[i+1]) {
		// Istio: RESPONSE_CODE_DETAILS CONNECTION_TERMINATION_DETAILS
		// "UPSTREAM_TRANSPORT_FAILURE_REASON".
		_, i = field(line, i)
		_, i = field(line, i)
		if len(line)-i < 2 || line[i] != ' ' || line[i+1] != '"' {
			return &problem{"envoy: want BYTES_RECEIVED after RESPONSE_FLAGS", "", tail(line, i)}
		}
		q := bytes.IndexByte(line[i+2:], '"')
		if q < 0 {
			return &problem{"envoy: UPSTREAM_TRANSPORT_FAILURE_REASON: no closing quote", "", line[i+1:]}
		}
		i += 2 + q + 1
	}
	for _, name := range [...]string{"BYTES_RECEIVED", "BYTES_SENT"} {
		if tok, i = field(line, i); tok == nil {
			return &problem{"envoy: line ends before " + name, "", line[rb+1:]}
		}
	}
	tok, i = field(line, i)
	if tok == nil || i >= len(line) {
		// DURATION is never last; a line ending here was cut off, and
		// its last number may be too.
		return &problem{"envoy: line ends at DURATION (truncated?)", "", line[rb+1:]}
	}
	return latencyToken(tok, -3, "envoy: DURATION", "want whole milliseconds", e)
}

// field returns the space-delimited token after the space at line[i] and
// the index just past it, or nil when line[i] is not a space followed by a
// token.
func field(line []byte, i int) ([]byte, int) {
	if i >= len(line) || line[i] != ' ' {
		return nil, i
	}
	i++
	// Tokens here are a few bytes long: a loop beats bytes.IndexByte's
	// call and setup.
	j := i
	for j < len(line) && line[j] != ' ' {
		j++
	}
	if j == i {
		return nil, i
	}
	return line[i:j], j
}

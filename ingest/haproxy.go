package ingest

import (
	"bytes"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// HAProxy's HTTP log format (option httplog), after whatever syslog
// header the line came with:
//
//	haproxy[14389]: 10.0.1.2:33317 [06/Feb/2009:12:14:14.655] http-in static/srv1 10/0/30/69/109 200 2750 - - ---- 1/1/1/1/0 0/0 {1wt.eu} {} "GET /index.html HTTP/1.1"
//
// accept_date is local time with milliseconds and no UTC offset, so the
// zone must be given. The five timers are TR/Tw/Tc/Tr/Ta in milliseconds
// (Tq/Tw/Tc/Tr/Tt before HAProxy 1.8, the same places); the latency is
// the last, the total active time. A status of -1 means HAProxy sent no
// response, which fails like a status 0.

// acceptDateLen is the length of "06/Feb/2009:12:14:14.655".
const acceptDateLen = 24

// parseHAProxy reads one line into e; zone reads accept_date.
func parseHAProxy(line []byte, e *slo.Event, zone *time.Location, cache *zoneCache) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	open := -1
	for j := 0; ; {
		k := bytes.IndexByte(line[j:], '[')
		if k < 0 {
			break
		}
		k += j
		if len(line)-k > acceptDateLen+1 && line[k+3] == '/' && line[k+7] == '/' && line[k+12] == ':' && line[k+acceptDateLen+1] == ']' {
			open = k
			break
		}
		j = k + 1
	}
	if open < 0 {
		return &problem{"haproxy: no [accept_date] like [06/Feb/2009:12:14:14.655]", "", line}
	}
	b := line[open+1 : open+1+acceptDateLen]
	c := clock{d: digits2(b), mo: monthIndex(b[3:6]), y: digits4(b[7:]), h: digits2(b[12:]), mi: digits2(b[15:]), s: digits2(b[18:])}
	ms, okMs := parseUint(b[21:24], 999)
	if c.d < 0 || c.mo == 0 || c.y < 0 || c.h < 0 || c.mi < 0 || c.s < 0 || b[11] != ':' || b[14] != ':' || b[17] != ':' || b[20] != '.' || !okMs {
		return &problem{"haproxy: accept_date: want 06/Feb/2009:12:14:14.655", "", b}
	}
	c.frac = int64(ms) * 1e6
	ns, msg := c.nanos(zone, cache)
	if msg != "" {
		return &problem{"haproxy: accept_date: " + msg, "", b}
	}
	e.Time = ns
	i := open + acceptDateLen + 2

	var tok []byte
	for _, name := range [...]string{"frontend_name", "backend_name/server_name"} {
		if tok, i = field(line, i); tok == nil {
			return &problem{"haproxy: line ends before " + name, "", line[open:]}
		}
	}
	timers, i := field(line, i)
	if bytes.Count(timers, []byte{'/'}) != 4 {
		return &problem{"haproxy: want the five timers TR/Tw/Tc/Tr/Ta of option httplog", "", tail(timers, 0)}
	}
	ta := timers[bytes.LastIndexByte(timers, '/')+1:]
	if len(ta) > 0 && ta[0] == '+' {
		ta = ta[1:] // option logasap: the time until the log was sent
	}
	if !(len(ta) == 2 && ta[0] == '-' && ta[1] == '1') {
		if p := latencyToken(ta, -3, "haproxy: Ta", "want milliseconds", e); p != nil {
			return p
		}
	}
	tok, i = field(line, i)
	switch {
	case len(tok) == 2 && tok[0] == '-' && tok[1] == '1':
		e.Status = 0
	default:
		v, ok := parseUint(tok, 999)
		if !ok {
			return &problem{"haproxy: status_code: want an integer 0-999 or -1", "", tail(tok, 0)}
		}
		e.Status = int(v)
	}
	if i >= len(line) {
		// bytes_read and the rest always follow; a line ending here was
		// cut off, and its status may be too.
		return &problem{"haproxy: line ends at status_code (truncated?)", "", line[open:]}
	}
	if e.Status == 0 {
		noResponse(e)
	}
	return nil
}

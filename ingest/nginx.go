package ingest

import (
	"bytes"
	"math"

	"github.com/nines-sre/nines/slo"
)

// nginx "combined" with $request_time appended:
//
//	log_format slo '$remote_addr - $remote_user [$time_local] "$request" '
//	               '$status $body_bytes_sent "$http_referer" '
//	               '"$http_user_agent" $request_time';
//
//	203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl/8.5" 0.004
//
// Fields are read from the left up to $body_bytes_sent and $request_time is
// taken from the right end, so a referer or user agent holding odd text
// (nginx escapes '"' as \x22, but not every logger does) cannot shift the
// numbers that matter. $request_time is seconds with millisecond
// resolution; "-" means nginx measured none. $time_local has one-second
// resolution, which is all nginx records.

// nginxParser keeps the $time_local cache; one per worker.
type nginxParser struct {
	time timeLocalCache
}

// parse reads one line into e.
func (p *nginxParser) parse(line []byte, e *slo.Event) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}

	// $remote_addr - $remote_user [$time_local]
	open := bytes.IndexByte(line, '[')
	if open < 1 || line[open-1] != ' ' {
		return &problem{"nginx: no [time_local] after the client address", "", line}
	}
	i := open + 1
	if len(line)-i < timeLocalLen+1 || line[i+timeLocalLen] != ']' {
		return &problem{"nginx: time_local: want [24/Nov/2026:10:20:31 +0000]", "", line[open:]}
	}
	ns, msg := p.time.parse(line[i : i+timeLocalLen])
	if msg != "" {
		return &problem{"nginx: " + msg, "", line[open : i+timeLocalLen+1]}
	}
	e.Time = ns
	i += timeLocalLen + 1

	// "$request": nginx escapes '"' inside it, so the first unescaped
	// quote closes it; a backslash escapes the next byte for loggers that
	// write \" instead.
	if len(line)-i < 2 || line[i] != ' ' || line[i+1] != '"' {
		return &problem{`nginx: want "request" after time_local`, "", tail(line, i)}
	}
	i += 2
	for {
		q := bytes.IndexByte(line[i:], '"')
		if q < 0 {
			return &problem{"nginx: request: no closing quote", "", line[open+timeLocalLen+3:]}
		}
		j := i + q
		// Count the backslashes before the quote: an odd number escapes it.
		k := j
		for k > i && line[k-1] == '\\' {
			k--
		}
		i = j + 1
		if (j-k)%2 == 0 {
			break
		}
	}

	// $status
	if i >= len(line) || line[i] != ' ' {
		return &problem{"nginx: want status after the request", "", tail(line, i)}
	}
	i++
	s := i
	for i < len(line) && line[i] != ' ' {
		i++
	}
	status, ok := parseUint(line[s:i], 999)
	if !ok {
		return &problem{"nginx: status: want an integer 0-999", "", line[s:i]}
	}
	e.Status = int(status)

	// $body_bytes_sent is not needed; the rest must look like
	// ` "$http_referer" "$http_user_agent" $request_time`.
	if i >= len(line) {
		return &problem{"nginx: line ends after the status", "", line[s:]}
	}
	i++
	for i < len(line) && line[i] != ' ' {
		i++
	}
	end := len(line)
	for end > i && (line[end-1] == ' ' || line[end-1] == '\t') {
		end--
	}
	sp := bytes.LastIndexByte(line[:end], ' ')
	if sp <= i {
		return &problem{"nginx: want referer, user agent and request_time after the status", "", line[s:]}
	}
	rt := line[sp+1 : end]
	if line[sp-1] != '"' || rt[0] == '"' {
		// Either no $request_time at all (plain "combined") or something
		// else after it.
		return &problem{"nginx: want $request_time after the user agent (log_format must end with $request_time)", "", rt}
	}
	return latencyToken(rt, 0, "nginx: request_time", "want seconds like 0.004 or -", e)
}

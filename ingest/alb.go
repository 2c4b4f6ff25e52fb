package ingest

import (
	"math"

	"github.com/nines-sre/nines/slo"
)

// AWS Application Load Balancer access logs, space-separated with quoted
// text fields:
//
//	http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" ...
//
// type, time (when the balancer answered), elb, client:port,
// target:port, then request_processing_time, target_processing_time and
// response_processing_time in seconds (-1 when the balancer could not send
// the request on, or got no answer), then elb_status_code, the status the
// client saw. The latency is the sum of the three times, computed in
// whole nanoseconds; with a -1 among them it is unmeasured.

// parseALB reads one line into e.
func parseALB(line []byte, e *slo.Event) *problem {
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	sp := 0
	for sp < len(line) && line[sp] != ' ' {
		sp++
	}
	switch string(line[:sp]) {
	case "http", "https", "h2", "grpcs", "ws", "wss":
	default:
		return &problem{"aws-alb: want the request type (http, https, h2, grpcs, ws or wss) first", "", line}
	}
	tok, i := field(line, sp)
	ns, msg := parseRFC3339(tok)
	if msg != "" {
		return &problem{"aws-alb: " + msg, "", tail(tok, 0)}
	}
	e.Time = ns
	for _, name := range [...]string{"elb", "client:port", "target:port"} {
		if tok, i = field(line, i); tok == nil {
			return &problem{"aws-alb: line ends before " + name, "", line}
		}
	}
	var sum int64
	measured := true
	for _, name := range [...]string{"aws-alb: request_processing_time", "aws-alb: target_processing_time", "aws-alb: response_processing_time"} {
		tok, i = field(line, i)
		if len(tok) == 2 && tok[0] == '-' && tok[1] == '1' {
			measured = false
			continue
		}
		var d decimal
		n, ok := scanNumber(tok, 0, &d)
		if !ok || n != len(tok) || d.neg {
			return &problem{name + ": want seconds or -1", "", tail(tok, 0)}
		}
		v, ok := d.nanos(0)
		if !ok || v > maxLatency*1e9-sum {
			return &problem{name + ": out of range (more than a year)", "", tok}
		}
		sum += v
	}
	if measured {
		e.Latency = float64(sum) / 1e9
	}
	tok, i = field(line, i)
	v, ok := parseUint(tok, 999)
	if !ok {
		return &problem{"aws-alb: elb_status_code: want an integer 0-999", "", tail(tok, 0)}
	}
	e.Status = int(v)
	if i >= len(line) {
		return &problem{"aws-alb: line ends at elb_status_code (truncated?)", "", line}
	}
	if e.Status == 0 {
		noResponse(e)
	}
	return nil
}

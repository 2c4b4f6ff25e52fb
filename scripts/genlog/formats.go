package main

import (
	"math"
	"slices"
	"strconv"
)

// writers append one line of each format for the current request.
var writers = map[string]func(g *gen, dst []byte) []byte{
	"nginx":      (*gen).nginx,
	"jsonl":      (*gen).jsonl,
	"envoy":      (*gen).envoy,
	"combined":   func(g *gen, dst []byte) []byte { return append(g.combined(dst), '\n') },
	"common":     func(g *gen, dst []byte) []byte { return append(g.common(dst), '\n') },
	"nginx-main": func(g *gen, dst []byte) []byte { return append(g.nginxMain(dst), '\n') },
	"nginx-main-rt": func(g *gen, dst []byte) []byte {
		return append(appendMillis(append(g.nginxMain(dst), ' '), g.latency), '\n')
	},
	"apache-combined-d": func(g *gen, dst []byte) []byte { return append(g.micros(append(g.combined(dst), ' ')), '\n') },
	"apache-common-d":   func(g *gen, dst []byte) []byte { return append(g.micros(append(g.common(dst), ' ')), '\n') },
	"haproxy":           (*gen).haproxy,
	"aws-alb":           (*gen).alb,
	"envoy-json":        (*gen).envoyJSON,
	"caddy":             (*gen).caddy,
	"traefik":           (*gen).traefik,
	"gcp-lb":            (*gen).gcp,
	"ltsv":              (*gen).ltsv,
}

func formatNames() []string {
	names := make([]string, 0, len(writers))
	for n := range writers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// timeLocal appends the time as nginx's $time_local and Apache's %t
// write it, without brackets.
func (g *gen) timeLocal(dst []byte) []byte {
	if sec := g.t.Unix(); sec != g.lastSec || g.lastText == nil {
		g.lastSec = sec
		g.lastText = g.t.UTC().AppendFormat(g.lastText[:0], "02/Jan/2006:15:04:05 -0700")
	}
	return append(dst, g.lastText...)
}

// common appends the Common Log Format's fields, without a line end, as
// Apache writes them (%b: "-" for no bytes).
func (g *gen) common(dst []byte) []byte { return g.clf(dst, true) }

// combined appends the combined format, as Apache writes it.
func (g *gen) combined(dst []byte) []byte { return g.withAgent(g.clf(dst, true)) }

// nginxCombined appends the combined format as nginx writes it
// ($body_bytes_sent: "0" for no bytes).
func (g *gen) nginxCombined(dst []byte) []byte { return g.withAgent(g.clf(dst, false)) }

// clf appends the fields of the Common Log Format; dash writes no bytes
// as "-".
func (g *gen) clf(dst []byte, dash bool) []byte {
	dst = appendIP(dst, g.ip)
	dst = append(dst, " - - ["...)
	dst = g.timeLocal(dst)
	dst = append(dst, "] \""...)
	dst = append(dst, g.method...)
	dst = append(dst, ' ')
	dst = append(dst, g.path...)
	dst = append(dst, " HTTP/1.1\" "...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, ' ')
	if g.bytes == 0 && dash {
		return append(dst, '-')
	}
	return strconv.AppendInt(dst, int64(g.bytes), 10)
}

// withAgent appends what combined adds to common: referer and user agent.
func (g *gen) withAgent(dst []byte) []byte {
	dst = append(dst, " \"-\" \""...)
	dst = append(dst, g.ua...)
	return append(dst, '"')
}

// nginxMain appends nginx.conf's "main": combined and X-Forwarded-For.
func (g *gen) nginxMain(dst []byte) []byte {
	return append(g.nginxCombined(dst), " \"-\""...)
}

// micros appends the latency in whole microseconds, as Apache's %D.
func (g *gen) micros(dst []byte) []byte {
	return strconv.AppendInt(dst, int64(math.Round(g.latency*1000)), 10)
}

// rfc3339ms appends the time in UTC with milliseconds.
func (g *gen) rfc3339ms(dst []byte) []byte {
	return g.t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
}

// haproxy appends an HAProxy HTTP log line as syslog receives it; the
// timers' last, %Ta, is the latency in milliseconds.
func (g *gen) haproxy(dst []byte) []byte {
	dst = g.t.UTC().AppendFormat(dst, "Jan _2 15:04:05")
	dst = append(dst, " lb1 haproxy[2104]: "...)
	dst = appendIP(dst, g.ip)
	dst = append(dst, ":4"...)
	dst = strconv.AppendInt(dst, int64(1000+g.bytes%9000), 10)
	dst = append(dst, " ["...)
	dst = g.t.UTC().AppendFormat(dst, "02/Jan/2006:15:04:05.000")
	dst = append(dst, "] http-in app/srv1 0/0/1/"...)
	ms := int64(math.Round(g.latency))
	dst = strconv.AppendInt(dst, max(0, ms-1), 10)
	dst = append(dst, '/')
	dst = strconv.AppendInt(dst, ms, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	dst = append(dst, " - - ---- 1/1/0/0/0 0/0 \""...)
	dst = append(dst, g.method...)
	dst = append(dst, ' ')
	dst = append(dst, g.path...)
	return append(dst, " HTTP/1.1\"\n"...)
}

// alb appends an AWS ALB access log entry; the target processing time
// holds the latency, the other two are zero.
func (g *gen) alb(dst []byte) []byte {
	dst = append(dst, "https "...)
	dst = g.t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
	dst = append(dst, " app/shop/50dc6c495c0c9188 "...)
	dst = appendIP(dst, g.ip)
	dst = append(dst, ":2817 10.0.0.1:80 0.000 "...)
	dst = appendMillis(dst, g.latency)
	dst = append(dst, " 0.000 "...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, " 34 "...)
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	dst = append(dst, " \""...)
	dst = append(dst, g.method...)
	dst = append(dst, " https://shop.example.com:443"...)
	dst = append(dst, g.path...)
	dst = append(dst, " HTTP/1.1\" \""...)
	dst = append(dst, g.ua...)
	dst = append(dst, "\" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/shop/73e2d6bc24d8a067 \"Root=1-58337262-36d228ad5d99923122bbe354\" \"shop.example.com\" \"-\" 0 "...)
	dst = g.t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
	return append(dst, " \"forward\" \"-\" \"-\" \"10.0.0.1:80\" \"200\" \"-\" \"-\"\n"...)
}

// envoyJSON appends Envoy's json_format with its operators' names.
func (g *gen) envoyJSON(dst []byte) []byte {
	dst = append(dst, `{"start_time":"`...)
	dst = g.rfc3339ms(dst)
	dst = append(dst, `","method":"`...)
	dst = append(dst, g.method...)
	dst = append(dst, `","path":"`...)
	dst = append(dst, g.path...)
	dst = append(dst, `","response_code":`...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, `,"duration":`...)
	dst = strconv.AppendInt(dst, int64(math.Round(g.latency)), 10)
	dst = append(dst, `,"user_agent":"`...)
	dst = append(dst, g.ua...)
	return append(dst, "\"}\n"...)
}

// caddy appends Caddy's JSON access log: ts in Unix seconds, duration in
// seconds.
func (g *gen) caddy(dst []byte) []byte {
	dst = append(dst, `{"level":"info","ts":`...)
	ms := g.t.UnixMilli()
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	dst = append(dst, byte('0'+ms%1000/100), byte('0'+ms%100/10), byte('0'+ms%10))
	dst = append(dst, `,"logger":"http.log.access","msg":"handled request","request":{"method":"`...)
	dst = append(dst, g.method...)
	dst = append(dst, `","host":"shop.example.com","uri":"`...)
	dst = append(dst, g.path...)
	dst = append(dst, `","headers":{"User-Agent":["`...)
	dst = append(dst, g.ua...)
	dst = append(dst, `"]}},"duration":`...)
	dst = appendMillis(dst, g.latency)
	dst = append(dst, `,"size":`...)
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	return append(dst, "}\n"...)
}

// traefik appends Traefik's JSON access log: Duration in nanoseconds.
func (g *gen) traefik(dst []byte) []byte {
	dst = append(dst, `{"ClientHost":"`...)
	dst = appendIP(dst, g.ip)
	dst = append(dst, `","DownstreamContentSize":`...)
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	dst = append(dst, `,"DownstreamStatus":`...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, `,"Duration":`...)
	dst = strconv.AppendInt(dst, int64(math.Round(g.latency*1e6)), 10)
	dst = append(dst, `,"RequestMethod":"`...)
	dst = append(dst, g.method...)
	dst = append(dst, `","RequestPath":"`...)
	dst = append(dst, g.path...)
	dst = append(dst, `","StartUTC":"`...)
	dst = g.rfc3339ms(dst)
	return append(dst, `","level":"info","msg":""}`+"\n"...)
}

// gcp appends a Google Cloud load balancer log entry: httpRequest.latency
// is a protobuf Duration in JSON ("0.004s").
func (g *gen) gcp(dst []byte) []byte {
	dst = append(dst, `{"httpRequest":{"requestMethod":"`...)
	dst = append(dst, g.method...)
	dst = append(dst, `","requestUrl":"https://shop.example.com`...)
	dst = append(dst, g.path...)
	dst = append(dst, `","status":`...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, `,"userAgent":"`...)
	dst = append(dst, g.ua...)
	dst = append(dst, `","latency":"`...)
	dst = appendMillis(dst, g.latency)
	dst = append(dst, `s"},"resource":{"type":"http_load_balancer"},"timestamp":"`...)
	dst = g.t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z")
	return append(dst, `","severity":"INFO"}`+"\n"...)
}

// ltsv appends Labeled Tab-separated Values with reqtime in seconds.
func (g *gen) ltsv(dst []byte) []byte {
	dst = append(dst, "host:"...)
	dst = appendIP(dst, g.ip)
	dst = append(dst, "\ttime:["...)
	dst = g.timeLocal(dst)
	dst = append(dst, "]\tmethod:"...)
	dst = append(dst, g.method...)
	dst = append(dst, "\turi:"...)
	dst = append(dst, g.path...)
	dst = append(dst, "\tstatus:"...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, "\tsize:"...)
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	dst = append(dst, "\tua:"...)
	dst = append(dst, g.ua...)
	dst = append(dst, "\treqtime:"...)
	dst = appendMillis(dst, g.latency)
	return append(dst, '\n')
}

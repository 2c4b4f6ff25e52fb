// Command genlog writes realistic, deterministic access logs for tests and
// benchmarks of nines' ingestion, in every format nines reads by name:
// nginx "combined" with $request_time appended (the default), JSON lines
// as nines reads them, Envoy's default format, and the other presets of
// docs/formats.md (combined, common, nginx-main, nginx-main-rt,
// apache-combined-d, apache-common-d, haproxy, aws-alb, envoy-json,
// caddy, traefik, gcp-lb, ltsv).
//
//	go run ./scripts/genlog -format nginx -lines 5000000 -rate 500 > access.log
//	go run ./scripts/genlog -lines 1440000 -span 365d > year.log
//
// The same flags and seed draw the same requests in every format, so that
// one log written in two formats holds the same events; -whole-ms rounds
// latencies to whole milliseconds, which every format with a latency can
// write exactly, so that nines reads the same latencies from each.
//
// The same flags and seed always give the same bytes. Latencies are
// lognormal around a few milliseconds (median 3 ms), written with the
// resolution each source really has: milliseconds for nginx's
// $request_time ("0.004") and Envoy's %DURATION%, tenths of a millisecond
// for JSON lines. A share -error-rate of the requests fail with a 5xx;
// 504s take seconds, like the timeouts they are.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "genlog:", err)
		os.Exit(2)
	}
}

type config struct {
	format    string
	lines     int64
	start     time.Time
	rate      float64
	errorRate float64
	seed      uint64
	// median is the median latency in milliseconds.
	median float64
	// wholeMS rounds every latency to whole milliseconds.
	wholeMS bool
	// incidents are spans in which every request fails with a 503, so a
	// sample log can show violation minutes.
	incidents []span
}

type span struct{ from, to time.Time }

// incidentFlag reads repeated -incident START/DURATION values.
type incidentFlag struct{ spans *[]span }

func (f incidentFlag) String() string { return "" }

func (f incidentFlag) Set(v string) error {
	from, dur, ok := strings.Cut(v, "/")
	if !ok {
		return fmt.Errorf("%q: want START/DURATION, e.g. 2026-11-24T10:20:00Z/2m", v)
	}
	t, err := time.Parse(time.RFC3339, from)
	if err != nil {
		return err
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return err
	}
	*f.spans = append(*f.spans, span{t, t.Add(d)})
	return nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("genlog", flag.ContinueOnError)
	var c config
	var start, spanText string
	fs.StringVar(&c.format, "format", "nginx", "log `format`: "+strings.Join(formatNames(), ", "))
	fs.BoolVar(&c.wholeMS, "whole-ms", false, "round latencies to whole milliseconds, which every format writes exactly")
	fs.Int64Var(&c.lines, "lines", 100000, "number of lines to write")
	fs.StringVar(&start, "start", "2026-11-24T00:00:00Z", "time of the first line, RFC 3339")
	fs.Float64Var(&c.rate, "rate", 100, "lines per second of log time")
	fs.StringVar(&spanText, "span", "", "spread the lines evenly over this `duration` of log time (365d, 30d, 24h), instead of -rate")
	fs.Float64Var(&c.errorRate, "error-rate", 0.001, "share of requests that fail with a 5xx")
	fs.Uint64Var(&c.seed, "seed", 1, "random seed")
	fs.Float64Var(&c.median, "latency-median", 3, "median latency in `ms` (log-normal)")
	fs.Var(incidentFlag{&c.incidents}, "incident", "`START/DURATION` in which every request fails with a 503 (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, start)
	if err != nil {
		return fmt.Errorf("-start: %w", err)
	}
	c.start = t
	if spanText != "" {
		if c.rate, err = rateOver(c.lines, spanText); err != nil {
			return err
		}
	}
	switch {
	case c.lines < 0:
		return errors.New("-lines must not be negative")
	case !(c.rate > 0):
		return errors.New("-rate must be positive")
	case !(c.errorRate >= 0 && c.errorRate <= 1):
		return errors.New("-error-rate must be between 0 and 1")
	case !(c.median > 0):
		return errors.New("-latency-median must be positive")
	}
	line, ok := writers[c.format]
	if !ok {
		return fmt.Errorf("-format %q: want one of %s", c.format, strings.Join(formatNames(), ", "))
	}
	w := bufio.NewWriterSize(stdout, 1<<20)
	g := &gen{c: c, rng: rand.New(rand.NewPCG(c.seed, c.seed^0x9e3779b97f4a7c15)), ids: rand.New(rand.NewPCG(c.seed, c.seed^0x6a09e667f3bcc909))}
	buf := make([]byte, 0, 512)
	for i := range c.lines {
		g.next(i)
		buf = line(g, buf[:0])
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return w.Flush()
}

// rateOver is the -rate that spreads lines evenly over span, a Go
// duration or a number of days such as 365d: the first line at -start,
// the last one interval before the span ends.
func rateOver(lines int64, span string) (float64, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(span, "d"); ok {
		n, err := strconv.ParseFloat(days, 64)
		if err != nil || !(n > 0) || n > 100*365 {
			return 0, fmt.Errorf("-span %q: want a positive number of days up to 36500, such as 365d", span)
		}
		d = time.Duration(n * float64(24*time.Hour))
	} else {
		var err error
		if d, err = time.ParseDuration(span); err != nil || d <= 0 {
			return 0, fmt.Errorf("-span %q: want a positive duration such as 24h or 30d", span)
		}
	}
	if lines <= 0 {
		return 0, fmt.Errorf("-span %s needs -lines above 0", span)
	}
	return float64(lines) / d.Seconds(), nil
}

// gen draws one request at a time.
type gen struct {
	c   config
	rng *rand.Rand
	// ids draws request ids from a stream of their own, so that a format
	// that writes them draws the same requests as one that does not.
	ids *rand.Rand

	// the current request
	t       time.Time
	status  int
	latency float64 // milliseconds
	method  string
	path    string
	ua      string
	ip      [4]byte
	bytes   int

	// last formatted second for nginx's $time_local
	lastSec  int64
	lastText []byte
}

var (
	paths = []string{
		"/", "/pay", "/api/v1/orders", "/api/v1/orders/8812", "/api/v1/cart",
		"/api/v1/users/me", "/login", "/static/app.js", "/static/app.css",
		"/healthz", "/search?q=shoes", "/api/v1/locations",
	}
	agents = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"curl/8.5.0",
		"Go-http-client/2.0",
		"kube-probe/1.31",
	}
	okStatuses  = []int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201, 204, 301, 304, 304, 404}
	errStatuses = []int{500, 502, 503, 503, 504}
)

func (g *gen) next(i int64) {
	r := g.rng
	g.t = g.c.start.Add(time.Duration(float64(i) * 1e9 / g.c.rate))
	if r.Float64() < g.c.errorRate {
		g.status = errStatuses[r.IntN(len(errStatuses))]
	} else {
		g.status = okStatuses[r.IntN(len(okStatuses))]
	}
	for _, in := range g.c.incidents {
		if !g.t.Before(in.from) && g.t.Before(in.to) {
			g.status = 503
		}
	}
	// Log-normal: at the default median of 3 ms, about 1 in 10 over 7 ms.
	g.latency = math.Exp(math.Log(g.c.median) + 0.65*r.NormFloat64())
	if g.status == 504 {
		g.latency = 1000 + 29000*r.Float64()
	}
	if g.c.wholeMS {
		g.latency = max(1, math.Round(g.latency))
	}
	g.method = "GET"
	if r.IntN(5) == 0 {
		g.method = "POST"
	}
	g.path = paths[r.IntN(len(paths))]
	g.ua = agents[r.IntN(len(agents))]
	g.ip = [4]byte{203, 0, 113, byte(r.IntN(254) + 1)}
	if r.IntN(2) == 0 {
		g.ip = [4]byte{198, 51, 100, byte(r.IntN(254) + 1)}
	}
	g.bytes = 100 + r.IntN(20000)
	if g.status == 204 || g.status == 304 {
		g.bytes = 0
	}
}

func appendIP(dst []byte, ip [4]byte) []byte {
	for k, b := range ip {
		if k > 0 {
			dst = append(dst, '.')
		}
		dst = strconv.AppendInt(dst, int64(b), 10)
	}
	return dst
}

// appendMillis writes ms milliseconds as seconds with three decimals, the
// way nginx writes $request_time: 3.6 ms → "0.004".
func appendMillis(dst []byte, ms float64) []byte {
	n := int64(math.Round(ms))
	dst = strconv.AppendInt(dst, n/1000, 10)
	dst = append(dst, '.')
	f := n % 1000
	dst = append(dst, byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10))
	return dst
}

func (g *gen) nginx(dst []byte) []byte {
	dst = append(g.nginxCombined(dst), ' ')
	dst = appendMillis(dst, g.latency)
	return append(dst, '\n')
}

func (g *gen) jsonl(dst []byte) []byte {
	dst = append(dst, `{"time":"`...)
	dst = g.t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, `","method":"`...)
	dst = append(dst, g.method...)
	dst = append(dst, `","path":"`...)
	dst = append(dst, g.path...)
	dst = append(dst, `","status":`...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	dst = append(dst, `,"latency_ms":`...)
	dst = strconv.AppendFloat(dst, math.Round(g.latency*10)/10, 'f', -1, 64)
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	return append(dst, "}\n"...)
}

func (g *gen) envoy(dst []byte) []byte {
	dst = append(dst, '[')
	dst = g.t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
	dst = append(dst, "] \""...)
	dst = append(dst, g.method...)
	dst = append(dst, ' ')
	dst = append(dst, g.path...)
	dst = append(dst, " HTTP/1.1\" "...)
	dst = strconv.AppendInt(dst, int64(g.status), 10)
	flags := "-"
	switch g.status {
	case 503:
		flags = "UF"
	case 504:
		flags = "UT"
	}
	dst = append(dst, ' ')
	dst = append(dst, flags...)
	rcvd := 0
	if g.method == "POST" {
		rcvd = 50 + g.bytes%900
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(rcvd), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(g.bytes), 10)
	ms := int64(math.Round(g.latency))
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, ms, 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, max(0, ms-1), 10) // upstream service time
	dst = append(dst, " \""...)
	dst = appendIP(dst, g.ip)
	dst = append(dst, "\" \""...)
	dst = append(dst, g.ua...)
	dst = append(dst, "\" \""...)
	dst = g.appendUUID(dst)
	dst = append(dst, "\" \"shop.example.com\" \"10.0.2.1:8080\"\n"...)
	return dst
}

func (g *gen) appendUUID(dst []byte) []byte {
	const hex = "0123456789abcdef"
	a, b := g.ids.Uint64(), g.ids.Uint64()
	for k := range 32 {
		if k == 8 || k == 12 || k == 16 || k == 20 {
			dst = append(dst, '-')
		}
		v := a
		if k >= 16 {
			v = b
		}
		dst = append(dst, hex[(v>>(4*(k%16)))&15])
	}
	return dst
}

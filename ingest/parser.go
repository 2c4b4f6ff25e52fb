package ingest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Config names a log format the way users write it, on a command line
// (--format, --log-format, --field, --log-timezone) or in a spec's
// sli.log.
type Config struct {
	// Format is a preset name such as "nginx-combined" or "caddy" (see
	// Presets), or a format string from the server's configuration:
	// "nginx:$remote_addr - ..." or "apache:%h %l %u %t ...". Empty or
	// "auto" asks Detect to pick a preset from the first lines.
	Format string
	// Fields map the parts of an event to the fields of a JSON or LTSV
	// log, each as ROLE=NAME[:UNIT]: "time=ts:unix_s", "status=status",
	// "latency=duration:s", "ok=success", "count=n". A NAME may be a
	// dotted path into nested JSON objects (httpRequest.status). They
	// override a preset's own names; other formats refuse them.
	Fields []string
	// Timezone reads times written without a UTC offset (HAProxy's
	// accept_date, an Apache %{...}t without %z). Nil refuses such
	// times: a guessed zone would shift every quantum.
	Timezone *time.Location
}

// ParseError is why one line was not read. Reason is short and the same
// for every line with the same fault, so that counts can be kept per
// reason; the message adds where and a quote of the offending text.
type ParseError struct {
	Reason string
	Msg    string
}

func (e *ParseError) Error() string { return e.Msg }

// ErrEmpty is what Parse returns for a line holding nothing but spaces
// and tabs: not an event, and not malformed either.
var ErrEmpty = errors.New("ingest: empty line")

// kind is the family of parser a Parser runs.
type kind uint8

const (
	kindJSONL kind = iota + 1
	kindNginx
	kindEnvoy
)

// Parser reads log lines of one format into events. It is built once,
// from a preset, a format string or JSON/LTSV field names, and then costs
// no allocation per good line. A Parser keeps a cache of the last
// timestamp it read, so it is not safe for concurrent use: Clone gives
// each goroutine its own.
type Parser struct {
	name    string
	kind    kind
	latency bool // lines of this format carry a latency

	nginx nginxParser // kindNginx's time cache
}

// NewParser builds the parser c names. c.Format must name a format:
// detecting one needs lines, which Detect takes.
func NewParser(c Config) (*Parser, error) {
	f := strings.TrimSpace(c.Format)
	if f == "" || strings.EqualFold(f, "auto") {
		return nil, errors.New("ingest: no format given; Detect picks one from the first lines")
	}
	if len(c.Fields) > 0 {
		return nil, fmt.Errorf("ingest: format %s: --field applies to JSON and LTSV logs only", f)
	}
	switch strings.ToLower(f) {
	case "jsonl":
		return &Parser{name: "jsonl", kind: kindJSONL, latency: true}, nil
	case "nginx":
		return &Parser{name: "nginx", kind: kindNginx, latency: true}, nil
	case "envoy":
		return &Parser{name: "envoy", kind: kindEnvoy, latency: true}, nil
	}
	return nil, fmt.Errorf("ingest: unknown format %q (want auto, jsonl, nginx or envoy)", c.Format)
}

// Name returns the format's name as a report shows it: the preset's name,
// or "nginx:" or "apache:" and the format string.
func (p *Parser) Name() string { return p.name }

// HasLatency reports whether lines of this format carry a latency. A line
// may still leave it unmeasured ("-" in nginx's $request_time).
func (p *Parser) HasLatency() bool { return p.latency }

// Check refuses an SLI this format cannot judge: a latency rule needs a
// log that says how long requests took.
func (p *Parser) Check(sli *slo.SLI) error {
	if sli.Latency != nil && !p.latency {
		return fmt.Errorf("ingest: the SLI has a latency rule (%s) but %s logs carry no latency: "+
			"log one (nginx $request_time, Apache %%D) and name it in the format, or drop the latency rule",
			sli.Latency, p.name)
	}
	return nil
}

// Clone returns a parser of the same format with caches of its own, for
// another goroutine.
func (p *Parser) Clone() *Parser {
	c := *p
	c.nginx = nginxParser{}
	return &c
}

// Parse reads one line, without its line end, into an event. A line that
// cannot be read gives a *ParseError; a blank line gives ErrEmpty.
func (p *Parser) Parse(line []byte) (slo.Event, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if isBlank(line) {
		return slo.Event{}, ErrEmpty
	}
	var e slo.Event
	pr := checkText(line)
	if pr == nil {
		pr = p.parse(line, &e)
	}
	if pr != nil {
		return slo.Event{}, &ParseError{Reason: pr.what, Msg: pr.message()}
	}
	return e, nil
}

// parse dispatches one line to the parser of its family.
func (p *Parser) parse(line []byte, e *slo.Event) *problem {
	switch p.kind {
	case kindJSONL:
		return parseJSONL(line, e)
	case kindNginx:
		return p.nginx.parse(line, e)
	case kindEnvoy:
		return parseEnvoy(line, e)
	}
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	return &problem{what: "parser of no known format (a zero Parser?)"}
}

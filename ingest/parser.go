package ingest

import (
	"errors"
	"fmt"
	"math"
	"slices"
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
	kindNginx   kind = iota + 1 // nginx combined + $request_time, by hand
	kindEnvoy                   // Envoy's default format, by hand
	kindProgram                 // a compiled format string
	kindJSON                    // JSON with a schema
	kindLTSV                    // LTSV with a schema
	kindHAProxy                 // HAProxy's HTTP log
	kindALB                     // AWS ALB access logs
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
	prog    *program
	schema  *schema
	zone    *time.Location

	// Caches of the last timestamps read, per parser.
	nginx nginxParser
	st    progState
}

// NewParser builds the parser c names. c.Format must name a format:
// detecting one needs lines, which Detect takes.
func NewParser(c Config) (*Parser, error) {
	f := strings.TrimSpace(c.Format)
	if f == "" || strings.EqualFold(f, "auto") {
		return nil, errors.New("ingest: no format given; Detect picks one from the first lines")
	}
	if dialect, _, ok := strings.Cut(f, ":"); ok && (strings.EqualFold(dialect, "nginx") || strings.EqualFold(dialect, "apache")) {
		if len(c.Fields) > 0 {
			return nil, fmt.Errorf("ingest: fields (--field, sli.log.fields) name the fields of JSON and LTSV logs; a format string names its own")
		}
		prog, err := compileFormat(f, c.Timezone)
		if err != nil {
			return nil, err
		}
		return &Parser{name: f, kind: kindProgram, latency: prog.latency, prog: prog, zone: c.Timezone}, nil
	}
	p, ok := lookupPreset(f)
	if !ok {
		return nil, fmt.Errorf("ingest: unknown format %q: want auto, a preset (%s), or a format string nginx:'...' or apache:'...'", c.Format, presetNames())
	}
	return newPreset(p, c)
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
	c.nginx, c.st = nginxParser{}, progState{}
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
	case kindNginx:
		return p.nginx.parse(line, e)
	case kindProgram:
		return p.prog.run(line, e, &p.st)
	case kindJSON:
		return p.schema.parseJSON(line, e)
	case kindLTSV:
		return p.schema.parseLTSV(line, e)
	case kindEnvoy:
		return parseEnvoy(line, e)
	case kindHAProxy:
		return parseHAProxy(line, e, p.zone, &p.st.zone)
	case kindALB:
		return parseALB(line, e)
	}
	*e = slo.Event{Status: slo.NoStatus, Latency: math.NaN(), Count: 1}
	return &problem{what: "parser of no known format (a zero Parser?)"}
}

// ConfigOf reads a spec's sli.log into a Config. A nil src gives the zero
// Config, which detects the format.
func ConfigOf(src *slo.LogSource) (Config, error) {
	var c Config
	if src == nil {
		return c, nil
	}
	c.Format = src.Format
	for _, role := range roleNames {
		if v, ok := src.Fields[role]; ok {
			c.Fields = append(c.Fields, role+"="+v)
		}
	}
	for role := range src.Fields {
		if !slices.Contains(roleNames[:], role) {
			return c, fmt.Errorf("ingest: field role %q: want time, status, latency, ok, count or fallback", role)
		}
	}
	if src.Timezone != "" {
		loc, err := time.LoadLocation(src.Timezone)
		if err != nil {
			return c, fmt.Errorf("ingest: time zone %q: want an IANA name such as UTC or Europe/Berlin", src.Timezone)
		}
		c.Timezone = loc
	}
	return c, nil
}

// Check builds the parser c names, if it names one, and checks it against
// sli: what a spec loader and a command line run before reading a line.
func (c Config) Check(sli *slo.SLI) error {
	if f := strings.TrimSpace(c.Format); f == "" || strings.EqualFold(f, "auto") {
		if len(c.Fields) > 0 {
			_, err := newSchema(nil, c.Fields)
			return err
		}
		return nil
	}
	p, err := NewParser(c)
	if err != nil {
		return err
	}
	return p.Check(sli)
}

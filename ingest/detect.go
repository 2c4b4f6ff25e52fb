package ingest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// detectLines is how many non-empty lines detection looks at: enough to
// step over a header or a stray first line, few enough that a file in an
// unknown format fails at once.
const detectLines = 5

// Detect picks the format of a log from its first lines, read with c's
// Fields and Timezone (c.Format is ignored). It returns nil and no error
// when sample holds no non-empty line. When two formats read the lines
// differently (a trailing whole number is Apache's %D in microseconds or
// a $request_time in seconds), it refuses, naming both and how to choose.
func Detect(sample []byte, c Config) (*Parser, error) { return detect(sample, 1, c) }

// sampleLine is a non-empty line of the sample and its number.
type sampleLine struct {
	no   int64
	text []byte
}

// detect picks the format from the first non-empty lines of data, whose
// first line is line number firstLine. It returns nil and no error when
// data holds no non-empty line, so the caller can look at the next block.
func detect(data []byte, firstLine int64, c Config) (*Parser, error) {
	var lines []sampleLine
	for lineNo := firstLine; len(data) > 0 && len(lines) < detectLines; lineNo++ {
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimLeft(bytes.TrimRight(line, "\r"), " \t")
		if len(line) > 0 {
			lines = append(lines, sampleLine{lineNo, line})
		}
	}
	if len(lines) == 0 {
		return nil, nil
	}
	var jsonL, ltsvL []sampleLine
	for _, l := range lines {
		switch {
		case l.text[0] == '{':
			jsonL = append(jsonL, l)
		case isLTSV(l.text):
			ltsvL = append(ltsvL, l)
		}
	}
	// A JSON log may start with a stray line of text: most lines decide.
	switch {
	case 2*len(jsonL) >= len(lines):
		return detectJSON(jsonL[0], c)
	case 2*len(ltsvL) >= len(lines):
		c.Format = "ltsv"
		return NewParser(c)
	case len(c.Fields) > 0:
		return nil, fmt.Errorf("ingest: fields (--field, sli.log.fields) name the fields of JSON and LTSV logs, and line %d is neither: it starts with %s",
			lines[0].no, quote(lines[0].text))
	}
	return detectText(lines, c)
}

// isLTSV reports whether line looks like label:value fields between tabs.
func isLTSV(line []byte) bool {
	tab := bytes.IndexByte(line, '\t')
	if tab < 0 {
		return false
	}
	colon := bytes.IndexByte(line[:tab], ':')
	if colon <= 0 {
		return false
	}
	for _, c := range line[:colon] {
		if !isNameByte(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// jsonPreset names a JSON preset and the keys that identify it.
type jsonPreset struct {
	name string
	keys []string // all must be present; a.b is key b inside object a
}

// jsonPresets are tried in order; nines' own names come last because
// "time" and "status" are the most common names of all.
var jsonPresets = []jsonPreset{
	{"traefik", []string{"StartUTC", "DownstreamStatus"}},
	{"gcp-lb", []string{"timestamp", "httpRequest.status"}},
	{"envoy-json", []string{"start_time", "response_code"}},
	{"caddy", []string{"ts", "status", "duration", "request"}},
	{"jsonl", []string{"time", "latency_ms"}},
}

// latencyNames are keys that hold a latency in some unit a line does not
// state: nines asks for it rather than guess.
var latencyNames = []string{"duration", "latency", "elapsed", "took", "request_time", "response_time", "upstream_response_time",
	"duration_ms", "latency_s", "elapsed_ms", "time_taken", "rt"}

// detectJSON picks a JSON preset from the keys of a line.
func detectJSON(l sampleLine, c Config) (*Parser, error) {
	keys := jsonKeys(l.text)
	has := func(k string) bool { return slices.Contains(keys, k) }
	for _, p := range jsonPresets {
		all := true
		for _, k := range p.keys {
			all = all && has(k)
		}
		if all {
			c.Format = p.name
			return NewParser(c)
		}
	}
	if len(c.Fields) > 0 {
		c.Format = "json"
		return NewParser(c)
	}
	if has("time") && (has("status") || has("ok")) {
		for _, k := range latencyNames {
			if has(k) {
				return nil, fmt.Errorf("ingest: line %d: a JSON log with a %q field, whose unit nines cannot tell: "+
					"give it, as --field latency=%s:s (or :ms, :us, :ns), or read the log with --format jsonl, which leaves %q unread", l.no, k, k, k)
			}
		}
		c.Format = "jsonl"
		return NewParser(c)
	}
	shown := keys
	if len(shown) > 12 {
		shown = append(shown[:12:12], "...")
	}
	return nil, fmt.Errorf("ingest: line %d is JSON with the fields %s, none of them the names of a format nines knows "+
		"(jsonl: time, status; caddy: ts, status, duration; traefik: StartUTC, DownstreamStatus; envoy-json: start_time, response_code; gcp-lb: timestamp, httpRequest): "+
		"name its fields, as --field time=NAME[:UNIT] --field status=NAME --field latency=NAME:UNIT",
		l.no, strings.Join(shown, ", "))
}

// jsonKeys lists the keys of the object line, and those of the objects
// inside it as a.b; nil when the line is not a JSON object.
func jsonKeys(line []byte) []string {
	var keys []string
	var walk func(i int, prefix string, depth int) (int, bool)
	walk = func(i int, prefix string, depth int) (int, bool) {
		i = skipWS(line, i+1)
		if i < len(line) && line[i] == '}' {
			return i + 1, true
		}
		for {
			if i >= len(line) || line[i] != '"' {
				return i, false
			}
			end, _, p := scanString(line, i)
			if p != nil {
				return i, false
			}
			key := prefix + string(line[i+1:end-1])
			keys = append(keys, key)
			i = skipWS(line, end)
			if i >= len(line) || line[i] != ':' {
				return i, false
			}
			i = skipWS(line, i+1)
			var ok bool
			if i < len(line) && line[i] == '{' && depth < 1 {
				i, ok = walk(i, key+".", depth+1)
			} else {
				var p *problem
				i, p = skipValue(line, i)
				ok = p == nil
			}
			if !ok {
				return i, false
			}
			i = skipWS(line, i)
			if i < len(line) && line[i] == ',' {
				i = skipWS(line, i+1)
				continue
			}
			return i + 1, i < len(line) && line[i] == '}'
		}
	}
	walk(skipWS(line, 0), "", 0)
	return keys
}

// textCandidate is a text preset tried on the sample.
type textCandidate struct {
	preset *Preset
	parser *Parser
	events []slo.Event // per sample line; Time -1 when the line failed
	good   int
	first  *problem // the first line's problem, if any
}

// detectText tries every text preset on the sample and keeps those that
// read the most lines; if they read them alike, the first (the most
// specific) wins, else detection refuses, naming two.
func detectText(lines []sampleLine, c Config) (*Parser, error) {
	var cands []*textCandidate
	for k := range presets {
		p := &presets[k]
		if p.kind == kindJSON || p.kind == kindLTSV {
			continue
		}
		cc := c
		if p.zone && cc.Timezone == nil {
			// Only to try it: choosing it asks for the zone.
			cc.Timezone = time.UTC
		}
		ps, err := newPreset(p, cc)
		if err != nil {
			return nil, err
		}
		tc := &textCandidate{preset: p, parser: ps}
		for _, l := range lines {
			var e slo.Event
			pr := checkText(l.text)
			if pr == nil {
				pr = ps.parse(l.text, &e)
			}
			if pr != nil {
				if tc.first == nil {
					tc.first = pr
				}
				e = slo.Event{Time: -1}
			} else {
				tc.good++
			}
			tc.events = append(tc.events, e)
		}
		cands = append(cands, tc)
	}
	best := 0
	for _, tc := range cands {
		best = max(best, tc.good)
	}
	// A format that reads fewer than half the sample's lines is not the
	// log's: naming it would report most of the log as malformed.
	if 2*best < len(lines) {
		var why string
		for _, tc := range cands {
			if tc.preset.Name == "combined" {
				why = tc.first.message()
			}
		}
		return nil, fmt.Errorf("ingest: cannot tell the format from line %d: it is not JSON, LTSV or a text format nines knows "+
			"(as combined: %s); the line starts with %s; name it with --format (%s), or give the server's format string: --log-format nginx:'...' or apache:'...'",
			lines[0].no, why, quote(lines[0].text), presetNames())
	}
	// The readings, each the first candidate of a group that reads every
	// line alike.
	var readings []*textCandidate
	for _, tc := range cands {
		if tc.good != best {
			continue
		}
		same := false
		for _, r := range readings {
			if alike(r.events, tc.events) {
				same = true
				break
			}
		}
		if !same {
			readings = append(readings, tc)
		}
	}
	if len(readings) > 1 {
		a, b := readings[0], readings[1]
		return nil, fmt.Errorf("ingest: the log reads two ways, which differ%s: as %s, %s; or as %s, %s. Say which with --format %s or --format %s",
			difference(lines, a.events, b.events), a.preset.Name, a.preset.About, b.preset.Name, b.preset.About, a.preset.Name, b.preset.Name)
	}
	chosen := readings[0]
	if chosen.preset.zone && c.Timezone == nil {
		return nil, fmt.Errorf("ingest: line %d looks like %s (%s), whose times carry no UTC offset: give the zone the server writes them in with --log-timezone (sli.log.timezone in a spec), such as --log-timezone UTC",
			lines[0].no, chosen.preset.Name, chosen.preset.About)
	}
	return chosen.parser, nil
}

// alike reports whether two readings of the sample agree on every line:
// the same lines read, the same times and statuses, and the same
// latencies where both measured one (a format without a latency field
// reads less of the line, not something else).
func alike(a, b []slo.Event) bool {
	for k := range a {
		x, y := a[k], b[k]
		if x.Time != y.Time || x.Status != y.Status || x.OK != y.OK || x.Count != y.Count {
			return false
		}
		if !math.IsNaN(x.Latency) && !math.IsNaN(y.Latency) && x.Latency != y.Latency {
			return false
		}
	}
	return true
}

// difference says where two readings first differ.
func difference(lines []sampleLine, a, b []slo.Event) string {
	for k := range a {
		x, y := a[k], b[k]
		at := " on line " + strconv.FormatInt(lines[k].no, 10)
		switch {
		case x.Time != y.Time:
			return at + " (a time of " + stamp(x.Time) + " or " + stamp(y.Time) + ")"
		case x.Status != y.Status:
			return at + " (a status of " + strconv.Itoa(x.Status) + " or " + strconv.Itoa(y.Status) + ")"
		case x.Latency != y.Latency && !math.IsNaN(x.Latency) && !math.IsNaN(y.Latency):
			return at + " (a latency of " + slo.FormatSeconds(x.Latency) + " or " + slo.FormatSeconds(y.Latency) + ")"
		}
	}
	return ""
}

func stamp(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339Nano) }

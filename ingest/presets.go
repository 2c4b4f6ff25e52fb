package ingest

import (
	"fmt"
	"sort"
	"strings"
)

// Preset is a log format nines knows by name.
type Preset struct {
	Name string
	// About says in a line what writes it and what nines reads from it.
	About string
	// Aliases are other names it answers to.
	Aliases []string

	kind   kind
	format string   // kindProgram: the format string it compiles
	fields []string // kindJSON, kindLTSV: the schema's defaults
	// zone: the format's times have no UTC offset, so a time zone must
	// be given.
	zone bool
}

// The format strings of the servers' own default formats.
const (
	nginxCombined  = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`
	nginxMain      = nginxCombined + ` "$http_x_forwarded_for"`
	apacheCommon   = `%h %l %u %t "%r" %>s %b`
	apacheCombined = apacheCommon + ` "%{Referer}i" "%{User-agent}i"`
)

// presets are in the order detection prefers them when several read a
// log the same way: the more specific first.
var presets = []Preset{
	{Name: "nginx", Aliases: []string{"nginx-combined-rt"}, kind: kindNginx,
		About: `nginx "combined" with $request_time appended (latency in seconds)`},
	{Name: "nginx-main-rt", kind: kindProgram, format: "nginx:" + nginxMain + ` $request_time`,
		About: `nginx "main" (combined and "$http_x_forwarded_for") with $request_time appended`},
	{Name: "nginx-main", kind: kindProgram, format: "nginx:" + nginxMain,
		About: `nginx "main", the default nginx.conf's format: no latency`},
	{Name: "apache-combined-d", kind: kindProgram, format: "apache:" + apacheCombined + ` %D`,
		About: `Apache "combined" with %D appended (latency in microseconds)`},
	{Name: "combined", Aliases: []string{"nginx-combined", "apache-combined"}, kind: kindProgram, format: "apache:" + apacheCombined,
		About: `the NCSA combined format, nginx's and Apache's "combined": no latency`},
	{Name: "apache-common-d", kind: kindProgram, format: "apache:" + apacheCommon + ` %D`,
		About: `Apache "common" with %D appended (latency in microseconds)`},
	{Name: "common", Aliases: []string{"apache-common", "clf"}, kind: kindProgram, format: "apache:" + apacheCommon,
		About: `the Common Log Format, Apache's "common": no latency`},
	{Name: "envoy", kind: kindEnvoy,
		About: `Envoy's default access log format, and Istio's (%DURATION% in milliseconds)`},
	{Name: "haproxy", kind: kindHAProxy, zone: true,
		About: `HAProxy's HTTP log format (option httplog): status, and %Ta in milliseconds`},
	{Name: "aws-alb", Aliases: []string{"alb"}, kind: kindALB,
		About: `AWS Application Load Balancer access logs: elb_status_code, and the sum of the three processing times`},
	{Name: "jsonl", kind: kindJSON, fields: jsonlFields,
		About: `nines' JSON lines: time, status or ok, latency_ms, count`},
	{Name: "envoy-json", kind: kindJSON, fields: []string{"time=start_time", "status=response_code", "latency=duration:ms"},
		About: `Envoy's json_format with its operators' names: start_time, response_code, duration (milliseconds)`},
	{Name: "caddy", kind: kindJSON, fields: []string{"time=ts:unix_s", "status=status", "latency=duration:s"},
		About: `Caddy's JSON access log: ts (Unix seconds), status, duration (seconds)`},
	{Name: "traefik", kind: kindJSON, fields: []string{"time=StartUTC", "status=DownstreamStatus", "latency=Duration:ns"},
		About: `Traefik's JSON access log: StartUTC, DownstreamStatus, Duration (nanoseconds)`},
	{Name: "gcp-lb", Aliases: []string{"gcp"}, kind: kindJSON, fields: []string{"time=timestamp", "status=httpRequest.status", "latency=httpRequest.latency:s"},
		About: `Google Cloud load balancer log entries: timestamp, httpRequest.status, httpRequest.latency`},
	{Name: "ltsv", kind: kindLTSV, fields: []string{"time=time", "status=status", "latency=reqtime:s", "fallback=apptime:s"},
		About: `Labeled Tab-separated Values: time, status, reqtime (seconds; apptime when there is none); --field renames them`},
	{Name: "json", kind: kindJSON,
		About: `any JSON lines, with every field named by --field`},
}

// Presets lists the formats nines knows by name, in the order detection
// prefers them.
func Presets() []Preset {
	out := make([]Preset, len(presets))
	copy(out, presets)
	return out
}

// lookupPreset finds a preset by name or alias, in any case.
func lookupPreset(name string) (*Preset, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for k := range presets {
		p := &presets[k]
		if p.Name == n {
			return p, true
		}
		for _, a := range p.Aliases {
			if a == n {
				return p, true
			}
		}
	}
	return nil, false
}

// presetNames lists every preset's name, sorted, for messages.
func presetNames() string {
	names := make([]string, 0, len(presets))
	for _, p := range presets {
		names = append(names, p.Name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// newPreset builds the parser of preset p with c's fields and zone.
func newPreset(p *Preset, c Config) (*Parser, error) {
	ps := &Parser{name: p.Name, kind: p.kind, zone: c.Timezone}
	if len(c.Fields) > 0 && p.kind != kindJSON && p.kind != kindLTSV {
		return nil, fmt.Errorf("ingest: format %s: fields (--field, sli.log.fields) name the fields of JSON and LTSV logs; %s lines have fixed places (a format string names them: --log-format nginx:'...' or apache:'...')", p.Name, p.Name)
	}
	if p.zone && c.Timezone == nil {
		return nil, fmt.Errorf("ingest: format %s: its times carry no UTC offset: give the zone the server writes them in with --log-timezone (sli.log.timezone in a spec), such as --log-timezone UTC", p.Name)
	}
	switch p.kind {
	case kindNginx, kindEnvoy, kindHAProxy, kindALB:
		ps.latency = true
	case kindProgram:
		prog, err := compileFormat(p.format, c.Timezone)
		if err != nil {
			return nil, fmt.Errorf("ingest: preset %s: %w", p.Name, err)
		}
		ps.prog, ps.latency = prog, prog.latency
	case kindJSON, kindLTSV:
		s, err := newSchema(p.fields, c.Fields)
		if err != nil {
			return nil, err
		}
		if err := s.check(p.Name); err != nil {
			if p.Name == "json" && len(c.Fields) == 0 {
				return nil, fmt.Errorf("ingest: format json: name the log's fields: --field time=NAME[:UNIT] --field status=NAME, and --field latency=NAME:UNIT for a latency rule (in a spec: sli.log.fields)")
			}
			return nil, err
		}
		ps.schema, ps.latency = s, s.hasLatency()
	}
	return ps, nil
}

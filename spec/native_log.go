package spec

import (
	"strings"

	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

var (
	logFields      = []string{"format", "fields", "timezone"}
	logFieldRoles  = []string{"time", "status", "latency", "ok", "count", "fallback"}
	logElsewhere   = map[string]string{"time": "sli.log.fields", "status": "sli.log.fields", "latency": "sli.log.fields"}
	wantLog        = "a mapping with format: a preset (such as combined or caddy) or a format string (nginx:'...' or apache:'...'), and optionally fields and timezone"
	wantLogFormat  = "a preset name such as combined, or a format string such as nginx:'$remote_addr ...'"
	wantLogFields  = "a mapping of roles (time, status, latency, ok, count, fallback) to NAME[:UNIT] such as latency: duration:s"
	wantLogField   = "a field name with an optional unit such as duration:s"
	wantLogTZoneOf = "an IANA time zone name such as UTC or Europe/Berlin"
)

// logSource reads sli.log (or the log of an OpenSLO source of type
// nines): how the access log that feeds sli is read. The parser it names
// is built here, so that a bad format string, a missing unit or a latency
// rule on a log without latency is reported with its line when the spec
// loads, not when the first log line is read. Nil when it has errors.
func logSource(r *report, f field, sli *slo.SLI) *slo.LogSource {
	fs := r.fields(f.val, f.path, logFields, logElsewhere)
	errsBefore := len(r.errs)
	var src slo.LogSource
	if ff, ok := fs["format"]; ok {
		if v, ok := r.scalar(ff, wantLogFormat); ok {
			src.Format = v
		}
	}
	if ff, ok := fs["fields"]; ok && r.mapping(ff, wantLogFields) {
		for name, rf := range r.fields(ff.val, ff.path, logFieldRoles, nil) {
			v, ok := r.scalar(rf, wantLogField)
			if !ok {
				continue
			}
			if src.Fields == nil {
				src.Fields = map[string]string{}
			}
			src.Fields[name] = v
		}
	}
	if tf, ok := fs["timezone"]; ok {
		if v, ok := r.scalar(tf, wantLogTZoneOf); ok {
			if r.zone(v) == nil {
				r.errorf(tf.val, tf.path, "%q is not a time zone; want %s", v, wantLogTZoneOf)
			} else {
				src.Timezone = v
			}
		}
	}
	if len(r.errs) > errsBefore {
		return nil
	}
	c, err := ingest.ConfigOf(&src)
	if err == nil {
		err = c.Check(sli)
	}
	if err != nil {
		// The format is what a problem is most often about (a format
		// string's column, a preset with no latency); else the fields.
		msg := strings.TrimPrefix(err.Error(), "ingest: ")
		at := f
		if ff, ok := fs["fields"]; ok && strings.HasPrefix(msg, "field ") {
			at = ff
		} else if ff, ok := fs["format"]; ok {
			at = ff
		}
		r.errorf(at.val, at.path, "%s", msg)
		return nil
	}
	return &src
}

// logNode writes a LogSource as a spec writes it, fields in role order.
func logNode(src *slo.LogSource) *yaml.Node {
	m := mapping()
	if src.Format != "" {
		put(m, "format", src.Format)
	}
	if len(src.Fields) > 0 {
		fm := mapping()
		for _, role := range logFieldRoles {
			if v, ok := src.Fields[role]; ok {
				put(fm, role, v)
			}
		}
		put(m, "fields", fm)
	}
	if src.Timezone != "" {
		put(m, "timezone", src.Timezone)
	}
	return m
}

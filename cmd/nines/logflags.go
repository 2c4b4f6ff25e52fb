package main

import (
	"flag"
	"strings"
	"time"

	"github.com/nines-sre/nines/ingest"
)

// logFlags name how an access log is read: the flags nines eval, nines
// replay and nines ship share, so that the three read a log alike.
type logFlags struct {
	format, logFormat, timezone string
	fields                      fieldList
}

// register adds the flags to fs; withPreset adds --format, which takes
// "auto" and detects the format. nines ship has no --format: it never
// detects, so its one --log-format takes a preset or a format string.
func (f *logFlags) register(fs *flag.FlagSet, withPreset bool) {
	if withPreset {
		fs.StringVar(&f.format, "format", "auto", "input `format`: auto, or a preset (docs/formats.md): combined, common, nginx, caddy, ...")
		fs.StringVar(&f.logFormat, "log-format", "", "the server's log `format` string, as nginx:'$remote_addr ...' or apache:'%h %l ...'")
	} else {
		fs.StringVar(&f.logFormat, "log-format", "", "the log's `format`: a preset (combined, nginx, caddy, jsonl, ...; docs/formats.md) or the server's format string, as nginx:'$remote_addr ...'")
	}
	fs.Var(&f.fields, "field", "JSON or LTSV field of an event part, as `ROLE=NAME[:UNIT]` (time=ts:unix_s, status=status, latency=duration:s); repeatable")
	fs.StringVar(&f.timezone, "log-timezone", "", "time `zone` of log times written without a UTC offset (HAProxy, some Apache formats)")
}

// fieldList collects repeated --field flags.
type fieldList []string

func (l *fieldList) String() string { return strings.Join(*l, " ") }

func (l *fieldList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// logConfig is the log format the flags name, checked so that a typo is a
// usage error before any file is opened; nil Timezone and empty Format
// leave them to the spec's sli.log or to detection.
func (f *logFlags) logConfig(cmd string) (ingest.Config, error) {
	var c ingest.Config
	switch {
	case f.logFormat != "" && f.format != "auto" && f.format != "":
		return c, usageError("%s: give --format or --log-format, not both", cmd)
	case f.logFormat != "":
		c.Format = f.logFormat
	case f.format != "auto":
		c.Format = f.format
	}
	c.Fields = f.fields
	if f.timezone != "" {
		loc, err := time.LoadLocation(f.timezone)
		if err != nil {
			return c, usageError("%s: --log-timezone %q: want an IANA time zone name such as UTC or Europe/Berlin", cmd, f.timezone)
		}
		c.Timezone = loc
	}
	if c.Format != "" {
		if _, err := ingest.NewParser(c); err != nil {
			return c, usageError("%s: %v", cmd, err)
		}
	}
	return c, nil
}

// fieldsGiven reports whether the command line names the log's format or
// fields, in which case it wins over a spec's sli.log.
func (f *logFlags) fieldsGiven() bool {
	return f.logFormat != "" || (f.format != "" && f.format != "auto") || len(f.fields) > 0
}

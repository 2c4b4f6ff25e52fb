package ingest

import (
	"strings"
	"testing"

	"github.com/nines-sre/nines/slo"
)

// A spec's sli.log becomes the Config a command line would give, and
// Check refuses before any line what the log cannot serve.
func TestConfigOfAndCheck(t *testing.T) {
	latency := &slo.LatencyRule{Threshold: 0.3, Inclusive: true}
	cases := []struct {
		name    string
		src     *slo.LogSource
		latency bool   // the SLI has a latency rule
		want    string // the error's text, or "" for none
	}{
		{"no sli.log detects the format", nil, true, ""},
		{"a preset with a latency serves a latency rule", &slo.LogSource{Format: "nginx"}, true, ""},
		{"a preset without latency serves an availability-only SLI", &slo.LogSource{Format: "combined"}, false, ""},
		{"a preset without latency refuses a latency rule", &slo.LogSource{Format: "combined"}, true, "combined logs carry no latency"},
		{"a format string without latency refuses a latency rule", &slo.LogSource{Format: "apache:%h %l %u %t \"%r\" %>s %b"}, true, "carry no latency"},
		{"a format string with %D serves a latency rule", &slo.LogSource{Format: "apache:%h %l %u %t \"%r\" %>s %b %D"}, true, ""},
		{"JSON fields with units serve a latency rule", &slo.LogSource{Format: "json", Fields: map[string]string{"time": "ts:unix_s", "status": "status", "latency": "duration:s"}}, true, ""},
		{"a latency field without its unit is refused", &slo.LogSource{Format: "json", Fields: map[string]string{"time": "ts:unix_s", "status": "status", "latency": "duration"}}, false, "give the unit of duration"},
		{"fields without a format are checked too", &slo.LogSource{Fields: map[string]string{"latency": "duration"}}, false, "give the unit of duration"},
		{"an unknown role is refused", &slo.LogSource{Format: "caddy", Fields: map[string]string{"path": "uri"}}, false, `field role "path"`},
		{"an unknown time zone is refused", &slo.LogSource{Format: "haproxy", Timezone: "Mars/Olympus"}, false, `time zone "Mars/Olympus"`},
		{"HAProxy needs its zone", &slo.LogSource{Format: "haproxy"}, false, "carry no UTC offset"},
		{"HAProxy with its zone", &slo.LogSource{Format: "haproxy", Timezone: "Europe/Berlin"}, true, ""},
		{"a bad format string names its column", &slo.LogSource{Format: "nginx:$status \"$request"}, false, "column 9: unbalanced quotes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sli := &slo.SLI{}
			if c.latency {
				sli.Latency = latency
			}
			cfg, err := ConfigOf(c.src)
			if err == nil {
				err = cfg.Check(sli)
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %v; want an error with %q", err, c.want)
			}
		})
	}
}

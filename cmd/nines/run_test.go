package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// exitOf maps Run's error to the process exit code, as main does.
func exitOf(err error) int {
	var ee *exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 2
}

// TestGolden runs whole command lines in-process and compares stdout,
// stderr and the exit code with testdata/NAME.golden; go test -update
// rewrites them. Paths in arguments are relative to the repository root.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		args string
		code int
	}{
		{"eval-example-text", "eval --spec examples/checkout.yaml --events examples/access.log", 0},
		{"durability-replicas", "durability --replicas 3 --afr 3% --mttr 24h", 0},
		{"durability-ec-json", "durability --ec 6+3 --afr 2% --mttr 48h --groups 100000 --json", 0},
		{"durability-afr-without-sign", "durability --replicas 3 --afr 3 --mttr 24h", 2},
		{"eval-example-json", "eval --spec examples/checkout.yaml --events examples/access.log --json", 0},
		{"eval-example-jsonl-violated", "eval --spec examples/checkout.yaml --events examples/events.jsonl", 1},
		{"eval-jsonl-rolling", "eval --spec cmd/nines/testdata/rolling.yaml --events cmd/nines/testdata/events.jsonl", 0},
		{"eval-jsonl-rolling-json", "eval --spec cmd/nines/testdata/rolling.yaml --events cmd/nines/testdata/events.jsonl --json", 0},
		{"eval-bad-lines", "eval --spec cmd/nines/testdata/rolling.yaml --events cmd/nines/testdata/bad-lines.jsonl", 0},
		{"eval-bad-lines-strict", "eval --spec cmd/nines/testdata/rolling.yaml --events cmd/nines/testdata/bad-lines.jsonl --strict", 2},
		{"eval-at-outside-data", "eval --spec cmd/nines/testdata/rolling.yaml --events cmd/nines/testdata/events.jsonl --at 2025-01-01T00:00:00Z", 2},
		{"eval-missing-file", "eval --spec examples/checkout.yaml --events cmd/nines/testdata/no-such-file.log", 2},
		{"eval-bad-spec", "eval --spec cmd/nines/testdata/bad-method.yaml --events examples/access.log", 2},
		{"eval-no-flags", "eval", 2},
		{"eval-bad-format", "eval --spec examples/checkout.yaml --events examples/access.log --format csv", 2},
		{"eval-bad-lines-json", "eval --spec cmd/nines/testdata/rolling.yaml --events cmd/nines/testdata/bad-lines.jsonl --json", 0},
		{"eval-every-line-fails", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/caddy.log --format jsonl", 2},
		{"eval-every-line-fails-strict", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/caddy.log --format jsonl --strict", 2},
		{"eval-combined-availability-only", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/combined.log", 0},
		{"eval-latency-rule-on-combined", "eval --spec examples/checkout.yaml --events ingest/testdata/formats/presets/combined.log --format combined", 2},
		{"eval-latency-rule-on-detected-combined", "eval --spec examples/checkout.yaml --events ingest/testdata/formats/presets/combined.log", 2},
		{"eval-auto-unsure", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/apache-combined-d.log", 2},
		{"eval-caddy-spec-fields", "eval --spec cmd/nines/testdata/caddy-fields.yaml --events ingest/testdata/formats/presets/caddy.log", 0},
		{"eval-flag-format-wins-over-spec-log", "eval --spec cmd/nines/testdata/caddy-fields.yaml --events ingest/testdata/formats/presets/caddy.log --format caddy", 0},
		{"eval-caddy-flag-fields-json", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/caddy.log --format json --field time=ts:unix_s --field status=status --json", 0},
		{"eval-json-latency-unit-missing", "eval --spec examples/checkout.yaml --events ingest/testdata/formats/presets/caddy.log --format json --field time=ts:unix_s --field status=status --field latency=duration", 2},
		{"eval-json-latency-unit-unknown", "eval --spec examples/checkout.yaml --events cmd/nines/testdata/duration.jsonl", 2},
		{"eval-spec-bad-log-format", "eval --spec cmd/nines/testdata/bad-log-format.yaml --events ingest/testdata/formats/presets/combined.log", 2},
		{"eval-unknown-directive", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/combined.log --log-format apache:%h_%Q", 2},
		{"eval-unbalanced-quotes", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/combined.log --log-format nginx:\"$status", 2},
		{"eval-haproxy-no-zone", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/haproxy.log", 2},
		{"eval-haproxy-zone", "eval --spec cmd/nines/testdata/availability.yaml --events ingest/testdata/formats/presets/haproxy.log --log-timezone UTC", 0},
		{"eval-bad-at", "eval --spec examples/checkout.yaml --events examples/access.log --at yesterday", 2},
		{"eval-envoy-dst-two-slos", "eval --spec cmd/nines/testdata/berlin.yaml --events cmd/nines/testdata/envoy-dst.log", 1},
		{"eval-envoy-dst-one-slo-json", "eval --spec cmd/nines/testdata/berlin.yaml --events cmd/nines/testdata/envoy-dst.log --slo api-downtime --json", 1},
		{"eval-unknown-slo", "eval --spec cmd/nines/testdata/berlin.yaml --events cmd/nines/testdata/envoy-dst.log --slo nope", 2},
		{"eval-at-mid-window", "eval --spec examples/checkout.yaml --events examples/access.log --at 2026-11-24T12:00:00Z", 0},
		{"eval-help", "eval --help", 0},
		{"replay-example", "replay --slos examples/checkout.yaml --events examples/events.jsonl", 0},
		{"replay-example-json", "replay --slos examples/checkout.yaml --events examples/access.log --json", 0},
		{"replay-range", "replay --slos examples/checkout.yaml --events examples/events.jsonl --from 2026-11-24T10:00:00Z --to 2026-11-24T11:00:00Z", 0},
		{"replay-no-data-in-range", "replay --slos examples/checkout.yaml --events examples/events.jsonl --to 2026-11-01T00:00:00Z", 2},
		{"replay-both-sources", "replay --slos examples/checkout.yaml --events examples/events.jsonl --data /nonexistent", 2},
		{"replay-spec-log-format", "replay --slos examples/caddy.yaml --events examples/caddy.log", 0},
		{"replay-latency-rule-without-latency", "replay --slos examples/checkout.yaml --events ingest/testdata/formats/presets/combined.log", 2},
		{"replay-bad-from", "replay --slos examples/checkout.yaml --events examples/events.jsonl --from yesterday", 2},
		{"lint-valid-set", "lint examples/checkout.yaml spec/testdata/openslo/valid/cross-file", 0},
		{"lint-invalid", "lint cmd/nines/testdata/bad-method.yaml", 1},
		{"lint-nothing", "lint", 2},
		{"lint-catalog", "lint --services examples/services.yaml examples/shop-slos.yaml", 0},
		{"lint-catalog-backstage", "lint --services examples/catalog-info.yaml", 0},
		{"lint-catalog-invalid", "lint --services cmd/nines/testdata/deps/bad.yaml", 1},
		{"deps-example", "deps check --services examples/services.yaml --slos examples/shop-slos.yaml", 0},
		{"deps-example-json", "deps check --services examples/services.yaml --slos examples/shop-slos.yaml --json", 0},
		{"deps-findings", "deps check --services cmd/nines/testdata/deps/services.yaml --slos cmd/nines/testdata/deps/slos.yaml --observed cmd/nines/testdata/deps/observed.json", 1},
		{"deps-findings-json", "deps check --services cmd/nines/testdata/deps/services.yaml --slos cmd/nines/testdata/deps/slos.yaml --observed cmd/nines/testdata/deps/observed.json --json", 1},
		{"deps-bad-catalog", "deps check --services cmd/nines/testdata/deps/bad.yaml", 2},
		{"deps-no-services", "deps check", 2},
		{"convert-to-openslo", "convert --to openslo examples/checkout.yaml", 0},
		{"convert-back", "convert --to native spec/testdata/openslo/valid/cross-file", 0},
		{"convert-bad-format", "convert --to yaml examples/checkout.yaml", 2},
		{"generate-rules", "generate prometheus-rules --slos rules/testdata/slos.yaml", 0},
		{"generate-rules-event-slo", "generate prometheus-rules --slos examples/checkout.yaml", 2},
		{"generate-unknown", "generate grafana-dashboards", 2},
		{"help", "help", 0},
		{"unknown-command", "frobnicate", 2},
	}
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir("cmd/nines") })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := Run(context.Background(), strings.Fields(c.args), strings.NewReader(""), &stdout, &stderr)
			code := exitOf(err)
			var ee *exitError
			if err != nil && !(errors.As(err, &ee) && ee.silent) {
				fmt.Fprintln(&stderr, "nines:", err)
			}
			got := fmt.Sprintf("$ nines %s\n%s--- stderr\n%s--- exit %d\n", c.args, stdout.String(), stderr.String(), code)
			golden := filepath.Join("cmd/nines/testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/nines -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s (go test ./cmd/nines -update rewrites it):\n--- got\n%s--- want\n%s", golden, got, want)
			}
			if code != c.code {
				t.Errorf("exit code %d, want %d", code, c.code)
			}
		})
	}
}

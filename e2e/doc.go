// Package e2e holds end-to-end tests of nines serve with real clients: a
// real Prometheus scraping a target and remote-writing to nines, the
// OpenTelemetry Go SDK exporting over OTLP/HTTP, and kill -9 in the middle
// of a stream of acknowledged writes. BenchmarkRemoteWrite compares
// remote write ingestion with Prometheus' own receiver.
//
// The tests build the nines binary once (go build into a temporary
// directory) and run it as a child process on a loopback port; children
// are killed when their test ends and their output is shown when it
// fails. The Prometheus test and the benchmark need /usr/bin/prometheus
// (Debian package prometheus, which .ci/run installs; E2E_PROMETHEUS names
// another binary): without it they are skipped, except when CI=true,
// where they fail so that CI cannot skip them silently.
//
// The package has no code of its own outside tests.
package e2e

// Command ingestbench reads one log file through ingest.Read and prints the
// share of good requests the way this awk one-liner does, so the two can
// be timed against each other on the same file (docs/performance.md):
//
//	mawk '{ if ($9 < 500 && $NF <= 0.005) g++ } END { print g/NR }' access.log
//	go build -o /tmp/ingestbench ./scripts/ingestbench && /tmp/ingestbench access.log
//
// It is a measuring tool, not a product: nines eval is the real command.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingestbench:", err)
		os.Exit(1)
	}
}

func run() error {
	status := flag.String("status", "<500", "status rule")
	latency := flag.String("latency", "<=5ms", "latency rule")
	workers := flag.Int("workers", 0, "parsing goroutines (0: GOMAXPROCS)")
	format := flag.String("format", "auto", "input format")
	flag.Parse()
	if flag.NArg() != 1 {
		return fmt.Errorf("usage: ingestbench [flags] FILE")
	}
	st, err := slo.ParseStatusRule(*status)
	if err != nil {
		return err
	}
	lat, err := slo.ParseLatencyRule(*latency)
	if err != nil {
		return err
	}
	f, err := ingest.ParseFormat(*format)
	if err != nil {
		return err
	}
	file, err := os.Open(flag.Arg(0))
	if err != nil {
		return err
	}
	defer file.Close()
	start := time.Now()
	s, rep, err := ingest.Read(context.Background(), file, ingest.Options{
		Format: f, SLI: &slo.SLI{Status: st, Latency: &lat}, Quantum: time.Minute, Workers: *workers,
	})
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	var good, attempted uint64
	for _, r := range s.Rollups {
		good += r.Good
		attempted += r.Attempted
	}
	// awk prints numbers with OFMT, "%.6g".
	fmt.Printf("%.6g\n", float64(good)/float64(attempted))
	fmt.Fprintf(os.Stderr, "%s: %d lines, %d events, %d malformed, %d quanta in %v (%.0f ns/line)\n",
		rep.Format, rep.Lines, rep.Events, rep.Malformed, len(s.Rollups), elapsed.Round(time.Millisecond),
		float64(elapsed.Nanoseconds())/float64(max(rep.Lines, 1)))
	return nil
}

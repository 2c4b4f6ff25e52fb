package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
)

// eventSink stores the event lines of several SLOs in one transaction,
// read as the events API reads them, for what nines serve measures in
// process: its own probes, the verifiers' reads.
type eventSink struct {
	eng    *engine.Engine
	source string
}

// Commit stores lines (SLO name → JSON lines), under the idempotency key
// when one is given: a batch whose key was committed before fails with
// an error engine.DuplicateOf recognises. A line that is not an event is
// a bug of the caller, not bad input: it fails the batch.
func (s eventSink) Commit(ctx context.Context, lines map[string][]byte, key string) (map[string]engine.AppendResult, error) {
	batch := &engine.Batch{Source: s.source, Series: make(map[string]*slo.Series, len(lines))}
	if key != "" {
		batch.Idempotency = &engine.Idempotency{Key: key}
	}
	for _, name := range slices.Sorted(maps.Keys(lines)) {
		o, err := s.eng.SLO(name)
		if err != nil {
			return nil, err
		}
		series, rep, err := ingest.ReadEvents(ctx, bytes.NewReader(lines[name]), o)
		if err != nil {
			return nil, fmt.Errorf("%s events of SLO %s: %w", s.source, name, err)
		}
		if rep.Malformed > 0 {
			return nil, fmt.Errorf("%s events of SLO %s: %d malformed lines, first: %v", s.source, name, rep.Malformed, rep.Errors[0])
		}
		batch.Series[name] = series
	}
	return s.eng.Commit(ctx, batch)
}

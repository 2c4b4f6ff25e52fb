package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/verify"
)

// verifiersFile is the name the verifiers' SLO specs are loaded under,
// beside the SLOs' own files.
const verifiersFile = "verifiers/verifiers.yaml"

// loadVerifiers reads nines serve --verifiers; nil without it.
func loadVerifiers(path string) ([]*verify.Definition, error) {
	if path == "" {
		return nil, nil
	}
	defs, err := verify.Load(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: --verifiers: %w", err)}
	}
	return defs, nil
}

// withVerifiers adds the SLOs of the verifiers (NAME.durability and
// NAME.heartbeat, verify.SLOSpecs) to the spec files.
func withVerifiers(files map[string][]byte, defs []*verify.Definition) (map[string][]byte, error) {
	if len(defs) == 0 {
		return files, nil
	}
	if _, ok := files[verifiersFile]; ok {
		return nil, fmt.Errorf("spec file %s clashes with the verifiers' SLOs; rename it", verifiersFile)
	}
	out := maps.Clone(files)
	out[verifiersFile] = verify.SLOSpecs(defs)
	return out, nil
}

// newVerifiers makes the verifiers of defs over the store's state, each
// read recorded through the engine.
func newVerifiers(defs []*verify.Definition, eng *engine.Engine, state store.State, logger *slog.Logger) (*verify.Set, error) {
	if len(defs) == 0 {
		return nil, nil
	}
	sink := verifierSink{events: eventSink{eng: eng, source: "verifier"}}
	var vs []*verify.Verifier
	for _, d := range defs {
		tgt, err := verify.NewTarget(d.Target, os.Getenv, nil, d.MaxObjectSize)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: --verifiers: verifier %s: %w", d.Name, err)}
		}
		v, err := verify.New(d, verify.Options{Target: tgt, State: state, Sink: sink, Clock: eng.Now,
			Logger: logger.With("component", "verifier")})
		if err != nil {
			return nil, fmt.Errorf("serve: verifier %s: %w", d.Name, err)
		}
		vs = append(vs, v)
	}
	return verify.NewSet(vs...)
}

// verifierSink records a verifier's events, each in a transaction of its
// own under the event's ID: a step sent again after a failure holds a
// different mix of events, and each must count once.
type verifierSink struct{ events eventSink }

func (s verifierSink) Record(ctx context.Context, evs []verify.Event) error {
	for _, ev := range evs {
		_, err := s.events.Commit(ctx, map[string][]byte{ev.SLO: ev.AppendLine(nil)}, ev.ID)
		if dup, derr := engine.DuplicateOf(err); dup == nil && derr != nil {
			return derr
		} // a duplicate counted when it was first sent
	}
	return nil
}

// whileLeading runs fn with a context that ends when this replica stops
// leading, and again each time it leads anew, until ctx ends: work only
// the leader may do (the verifiers' reads and writes) starts on the new
// leader from the store and stops on the old one.
func whileLeading(ctx context.Context, leading func() bool, fn func(ctx context.Context)) {
	for ctx.Err() == nil {
		if !leading() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); fn(lctx) }()
		for leading() && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		cancel()
		<-done
	}
}

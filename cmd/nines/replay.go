package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store/sqlite"
)

const replayAbout = `Replay SLO alerts over history: run the evaluator of nines serve, a quantum
at a time, over events read from a file or over the store of a nines serve
(--data), and print every alert that would have fired or resolved, with the
burn rates that decided it. Tune an SLO's alerting: section, then replay last
month to see what it would have paged.

The replay starts at the SLO's life (its first data, or the spec's since:)
unless --from says otherwise, and ends at the end of the data (--events) or
now (--data) unless --to says otherwise.

Exit code 0 when the replay ran, 2 on usage or input errors (no data in the
range among them).

Examples:
  nines replay --slos ./slos/ --events access.log
  nines replay --slos checkout.yaml --data ./nines-data --from 2026-11-01T00:00:00Z --json`

type replayFlags struct {
	logFlags
	slos, events, data, from, to, only string
	json                               bool
}

func runReplay(ctx context.Context, e *env, args []string) error {
	var f replayFlags
	fs := newFlagSet(e, "replay", "--slos PATH (--events FILE | --data DIR) [flags]", replayAbout)
	fs.StringVar(&f.slos, "slos", "", "SLO spec `file or directory`; with --data, default: the SLOs stored there")
	fs.StringVar(&f.events, "events", "", "events `file` or access log, as nines eval reads it")
	fs.StringVar(&f.data, "data", "", "`directory` of a nines serve store to replay")
	f.logFlags.register(fs, true)
	fs.StringVar(&f.from, "from", "", "first evaluation `time` (RFC 3339); default: the start of each SLO's life")
	fs.StringVar(&f.to, "to", "", "last evaluation `time` (RFC 3339); default: the end of the data, or now with --data")
	fs.StringVar(&f.only, "slo", "", "replay only the SLO with this `name`")
	fs.BoolVar(&f.json, "json", false, "print one JSON document instead of text")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if (f.events == "") == (f.data == "") {
		return usageError("replay: give --events FILE or --data DIR, one of them (see nines replay --help)")
	}
	if f.slos == "" && f.data == "" {
		return usageError("replay: --slos is required with --events")
	}
	var from, to time.Time
	for _, t := range []struct {
		name, v string
		dst     *time.Time
	}{{"--from", f.from, &from}, {"--to", f.to, &to}} {
		if t.v == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, t.v)
		if err != nil {
			return usageError("replay: %s %q: want an RFC 3339 time such as 2026-11-25T00:00:00Z", t.name, t.v)
		}
		*t.dst = v
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return usageError("replay: --from %s is not before --to %s", f.from, f.to)
	}
	var db *sqlite.DB
	if f.data != "" {
		st, err := os.Stat(f.data)
		if err != nil || !st.IsDir() {
			return usageError("replay: --data %s: not a nines store directory", f.data)
		}
		if db, err = sqlite.Open(ctx, f.data, sqlite.Options{}); err != nil {
			return usageError("replay: --data: %v", err)
		}
		defer db.Close()
	}
	slos, err := replaySLOs(ctx, e, f.slos, db, f.only)
	if err != nil {
		return err
	}
	out := []report.Replay{}
	for _, s := range slos {
		r, err := replayOne(ctx, e, &f, db, s, from, to)
		if err != nil {
			return err
		}
		out = append(out, r)
	}
	if f.json {
		return printJSON(e.stdout, map[string]any{"slos": out})
	}
	return report.WriteReplayText(e.stdout, out)
}

// replaySLOs reads the SLOs to replay: the specs given, or those stored
// in the store.
func replaySLOs(ctx context.Context, e *env, path string, db *sqlite.DB, only string) ([]*slo.SLO, error) {
	files := map[string][]byte{}
	if path != "" {
		var err error
		if files, err = specFiles(path, false); err != nil {
			return nil, usageError("replay: %v", err)
		}
	} else {
		defs, err := db.ListSLOs(ctx)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		for _, d := range defs {
			files["stored/"+d.Name+".yaml"] = d.Def
		}
	}
	if len(files) == 0 {
		return nil, usageError("replay: no SLO specs found")
	}
	b, err := spec.LoadAllData(files)
	if b != nil {
		for _, w := range b.Warnings {
			fmt.Fprintf(e.stderr, "nines: warning: %s\n", w)
		}
	}
	if err != nil {
		return nil, usageError("replay: %v", err)
	}
	slos := b.SLOs
	if only != "" {
		i := slices.IndexFunc(slos, func(s *slo.SLO) bool { return s.Name == only })
		if i < 0 {
			return nil, usageError("replay: no SLO named %q", only)
		}
		slos = slos[i : i+1]
	}
	slices.SortFunc(slos, func(a, b *slo.SLO) int { return strings.Compare(a.Name, b.Name) })
	return slos, nil
}

func replayOne(ctx context.Context, e *env, f *replayFlags, db *sqlite.DB, s *slo.SLO, from, to time.Time) (report.Replay, error) {
	var src engine.RollupSource
	var since int64
	key := s.Name
	if db != nil {
		src = db
		var err error
		floor, err := engine.StoredFloor(ctx, db, key)
		if err != nil {
			return report.Replay{}, fmt.Errorf("replay: SLO %s: %w", s.Name, err)
		}
		if since, err = engine.StoredLifeStart(ctx, db, key, s, floor); err != nil {
			return report.Replay{}, fmt.Errorf("replay: SLO %s: %w", s.Name, err)
		}
		if to.IsZero() {
			to = time.Now()
		}
	} else {
		format, err := f.logConfig("replay")
		if err != nil {
			return report.Replay{}, err
		}
		if format, err = logFor(format, f.fieldsGiven(), s); err != nil {
			return report.Replay{}, err
		}
		series, _, err := readEvents(ctx, e, &evalFlags{events: f.events}, format, s, nil)
		if err != nil {
			return report.Replay{}, err
		}
		since = slo.LifeStart(s, series)
		if _, last, ok := series.Span(); ok && to.IsZero() {
			to = time.Unix(0, last).UTC()
		}
		src = engine.SeriesSource(series)
	}
	if since == slo.NotStarted {
		return report.Replay{}, usageError("replay: SLO %s: no data to replay in %s", s.Name, strings.TrimSpace(f.events+" "+f.data))
	}
	if to.IsZero() || !time.Unix(0, since).Before(to) {
		return report.Replay{}, usageError("replay: --to: SLO %s: the range ends at %s, before its life starts at %s: no data in the range",
			s.Name, to.UTC().Format(time.RFC3339), time.Unix(0, since).UTC().Format(time.RFC3339))
	}
	if !from.IsZero() && from.Before(time.Unix(0, since)) {
		from = time.Time{} // the life starts later: replay it all
	}
	r := report.Replay{SLO: s.Name, Service: s.Service, Since: time.Unix(0, since).UTC(), Transitions: []report.Transition{}, Firing: []string{}}
	trs, st, err := engine.Replay(ctx, s, src, engine.ReplayOptions{Key: key, Since: since, From: from, To: to,
		Step: func(at time.Time, _ *slo.Tracker, _ alert.State, _ []alert.Transition) {
			if r.Quanta == 0 {
				r.From = at.Add(-s.Quantum)
			}
			r.Quanta++
			r.To = at
		}})
	if err != nil {
		if errors.Is(err, engine.ErrInvalid) {
			return report.Replay{}, usageError("replay: %v", err)
		}
		return report.Replay{}, fmt.Errorf("replay: %w", err)
	}
	for _, tr := range trs {
		r.Transitions = append(r.Transitions, report.TransitionOf(tr))
	}
	for _, a := range st.Alerts {
		r.Firing = append(r.Firing, a.Name)
	}
	return r, nil
}

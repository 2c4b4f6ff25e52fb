package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/scorecard"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

const scorecardAbout = `Show each service's weekly availability scorecard (docs/scorecards.md): the
success rate of its calls as its clients saw them over a week (from the SLOs
it is judged by), against its goal, with the 21 days before, green / yellow /
red, and whether it is worth sending. The default week is the last complete
one. Reads the store of nines serve, as nines replay does.

nines scorecard push sends the cards worth sending to their owners through
the receivers of notify.yaml (routes match service, owner and
kind=scorecard), at most once per owner and week; --dry-run shows what would
go to whom and sends nothing.

Examples:
  nines scorecard --services services.yaml --data ./nines-data
  nines scorecard --services services.yaml --data ./nines-data --week 2026-W48 --json
  nines scorecard push --services services.yaml --data ./nines-data --notify notify.yaml --dry-run`

// scorecardFlags are what nines scorecard, its push and nines readiness
// share: where the catalog, the store and the SLOs are, and the week.
type scorecardFlags struct {
	services, data, store, slos string
	week, zone, weekStart       string
	service                     string
	json                        bool
}

func (f *scorecardFlags) register(fs *flag.FlagSet, weeks bool) {
	fs.StringVar(&f.services, "services", "", "service catalog `file` (services.yaml)")
	fs.StringVar(&f.data, "data", "./nines-data", "`directory` of the embedded store")
	fs.StringVar(&f.store, "store", "", storeFlagHelp)
	fs.StringVar(&f.slos, "slos", "", "SLO spec `file or directory`; default: the SLOs stored")
	fs.StringVar(&f.service, "service", "", "only the service with this `name`")
	fs.BoolVar(&f.json, "json", false, "print JSON, as the API answers")
	if weeks {
		fs.StringVar(&f.week, "week", "", "ISO `week` such as 2026-W48; default: the last complete week")
		fs.StringVar(&f.zone, "zone", "UTC", "time `zone` whose midnights start and end the weeks (IANA name)")
		fs.StringVar(&f.weekStart, "week-start", "monday", "`day` weeks start on")
	}
}

func (f *scorecardFlags) calendar() (scorecard.Calendar, error) {
	loc, err := time.LoadLocation(f.zone)
	if err != nil {
		return scorecard.Calendar{}, usageError("--zone %q: %v", f.zone, err)
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(d.String(), f.weekStart) {
			return scorecard.Calendar{Location: loc, Start: d}, nil
		}
	}
	return scorecard.Calendar{}, usageError("--week-start %q: want a day such as monday", f.weekStart)
}

// scorecardInputs are what the scorecard and readiness commands read:
// the catalog's services, the SLOs, the store.
type scorecardInputs struct {
	db       servingStore
	slos     sloNames
	services []scorecard.Service
}

func (f *scorecardFlags) open(ctx context.Context, e *env, cmd string) (*scorecardInputs, error) {
	if f.services == "" {
		return nil, usageError("%s: --services is required (see nines %s --help)", cmd, cmd)
	}
	db, _, err := openStore(ctx, f.store, f.data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	in := &scorecardInputs{db: db}
	if in.slos, err = loadSLOs(ctx, e, f.slos, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	var list []*slo.SLO
	for _, name := range slices.Sorted(maps.Keys(in.slos)) {
		list = append(list, in.slos[name])
	}
	svcs, err := readCatalog(f.services, list)
	if err != nil {
		db.Close()
		return nil, err
	}
	// A service that cannot be scored is said, and the others are.
	in.services, err = svcs.scorecardServices(list, cmd != "readiness")
	if err != nil {
		fmt.Fprintf(e.stderr, "nines: warning: %v\n", err)
	}
	return in, nil
}

// sloNames finds SLOs by name, for the quantum of their rollups.
type sloNames map[string]*slo.SLO

func (m sloNames) SLO(name string) (*slo.SLO, error) {
	if s, ok := m[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("no SLO is named %q", name)
}

// loadSLOs reads the SLO specs given, or those the store holds.
func loadSLOs(ctx context.Context, e *env, path string, db servingStore) (sloNames, error) {
	files := map[string][]byte{}
	if path != "" {
		var err error
		if files, err = specFiles(path, false); err != nil {
			return nil, err
		}
	} else {
		defs, err := db.ListSLOs(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			files["stored/"+d.Name+".yaml"] = d.Def
		}
	}
	out := sloNames{}
	if len(files) == 0 {
		return out, nil
	}
	b, err := spec.LoadAllData(files)
	if b != nil {
		for _, w := range b.Warnings {
			fmt.Fprintf(e.stderr, "nines: warning: %s\n", w)
		}
	}
	if err != nil {
		return nil, err
	}
	for _, s := range b.SLOs {
		out[s.Name] = s
	}
	return out, nil
}

func runScorecard(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "push" {
		return runScorecardPush(ctx, e, args[1:])
	}
	var f scorecardFlags
	fs := newFlagSet(e, "scorecard", "[push] --services FILE [--week 2026-W48] [--json]", scorecardAbout)
	f.register(fs, true)
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	in, w, cards, err := f.cards(ctx, e, "scorecard")
	if err != nil {
		return err
	}
	defer in.db.Close()
	if f.json {
		return printJSON(e.stdout, map[string]any{"week": w.Label, "start": w.Start, "end": w.End, "scorecards": cards})
	}
	return writeScorecards(e.stdout, w, cards)
}

// cards opens the inputs and computes the week's cards; the caller
// closes in.db.
func (f *scorecardFlags) cards(ctx context.Context, e *env, cmd string) (*scorecardInputs, scorecard.Week, []scorecard.Card, error) {
	cal, err := f.calendar()
	if err != nil {
		return nil, scorecard.Week{}, nil, err
	}
	in, err := f.open(ctx, e, cmd)
	if err != nil {
		return nil, scorecard.Week{}, nil, err
	}
	b := &scorecard.Board{Scorer: scorecard.Scorer{Calendar: cal, SLOs: &scorecard.FromRollups{Rollups: in.db, SLOs: in.slos}},
		Services: func() []scorecard.Service { return in.services }, Now: time.Now}
	w, cards, err := b.Cards(ctx, f.week, f.service)
	if err != nil {
		in.db.Close()
		return nil, w, nil, scorecardError(cmd, err)
	}
	return in, w, cards, nil
}

func scorecardError(cmd string, err error) error {
	if errors.Is(err, scorecard.ErrInput) || errors.Is(err, scorecard.ErrUnknown) {
		return usageError("%s: %v", cmd, err)
	}
	return fmt.Errorf("%s: %w", cmd, err)
}

// writeScorecards writes one line per service, then the reasons to send.
func writeScorecards(w io.Writer, wk scorecard.Week, cards []scorecard.Card) error {
	fmt.Fprintf(w, "week %s: %s – %s\n\n", wk.Label, wk.Start.Format("Mon 2 Jan 15:04"), wk.End.Format("Mon 2 Jan 15:04 MST"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tCOLOUR\tRATE\tGOAL\t21 DAYS BEFORE\tCALLS\tSEND")
	for _, c := range cards {
		send := "no"
		if c.Send {
			send = strings.Join(c.Reasons, "; ")
		}
		if c.Note != "" {
			send = c.Note
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.Service, c.Colour, ratePct(c.Rate), ratePct(&c.Goal), ratePct(c.Before21), c.Calls, send)
	}
	return tw.Flush()
}

func ratePct(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.3f%%", *r*100)
}

func runScorecardPush(ctx context.Context, e *env, args []string) error {
	var f scorecardFlags
	var notifyFile string
	var dryRun bool
	fs := newFlagSet(e, "scorecard push", "--services FILE --notify FILE [--dry-run] [--week 2026-W48]", scorecardAbout)
	f.register(fs, true)
	fs.StringVar(&notifyFile, "notify", "", "alert routing and notifiers `file` (notify.yaml); without it the cards go to the log")
	fs.BoolVar(&dryRun, "dry-run", false, "show what would be sent to whom, and send nothing")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	cfg := notify.DefaultConfig()
	if notifyFile != "" {
		var err error
		if cfg, err = notify.LoadConfig(notifyFile); err != nil {
			return usageError("scorecard push: %v", err)
		}
	}
	in, w, cards, err := f.cards(ctx, e, "scorecard push")
	if err != nil {
		return err
	}
	defer in.db.Close()
	plan, err := scorecard.Plan(ctx, cards, w, cfg, in.db)
	if err != nil {
		return fmt.Errorf("scorecard push: %w", err)
	}
	var pushErr error
	if !dryRun {
		d := notify.New(cfg, notify.Options{Logger: slog.New(slog.NewTextHandler(e.stderr, nil))})
		pushErr = scorecard.Push(ctx, plan, d, in.db)
	}
	if f.json {
		if err := printJSON(e.stdout, map[string]any{"week": w.Label, "dry_run": dryRun, "deliveries": plan}); err != nil {
			return err
		}
	} else if err := writePlan(e.stdout, w, plan, dryRun); err != nil {
		return err
	}
	if pushErr != nil {
		return fmt.Errorf("scorecard push: %w", pushErr)
	}
	return nil
}

func writePlan(w io.Writer, wk scorecard.Week, plan []scorecard.Delivery, dryRun bool) error {
	verb := "sent"
	if dryRun {
		verb = "would send"
	}
	fmt.Fprintf(w, "week %s\n", wk.Label)
	for _, p := range plan {
		switch {
		case p.Skip != "":
			fmt.Fprintf(w, "  %s%s: not sent: %s\n", p.Service, ownerSuffix(p.Owner), p.Skip)
		case p.Error != "":
			fmt.Fprintf(w, "  %s → %s via %s: FAILED: %s\n", p.Service, p.Owner, strings.Join(p.Receivers, ", "), p.Error)
		default:
			fmt.Fprintf(w, "  %s → %s via %s: %s %s (%s)\n", p.Service, p.Owner, strings.Join(p.Receivers, ", "), verb, p.Colour, strings.Join(p.Reasons, "; "))
		}
	}
	return nil
}

func ownerSuffix(owner string) string {
	if owner == "" {
		return ""
	}
	return " → " + owner
}

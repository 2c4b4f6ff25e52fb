package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/forecast"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/ui"
)

const forecastAbout = `Forecast from the store of nines serve (docs/forecasts.md): for every SLO,
when its error budget runs out at the rate it burns (the window's roll-off
and the weekly pattern of traffic included), with an interval and the
forecast's own error on the past week, and the stretches of the last day
whose error ratio left its seasonal band; for every service, its peak
request rate over the next 7 and 90 days (Holt-Winters or seasonal-naive,
whichever forecast the held-out weeks better, both errors shown) against
the tested capacity of its bottleneck (--services: capacity.testedRPS of
the service and its dependencies).

--annotate marks each anomaly as an annotation of kind "anomaly" on its
SLO's charts, once (never a page).

Examples:
  nines forecast --data ./nines-data
  nines forecast --store postgres://nines@db/nines --services services.yaml --json
  nines forecast --data ./nines-data --slo checkout-availability --at 2026-12-07T12:00:00Z`

type forecastFlags struct {
	data, store, slos, services, slo, at string
	json, annotate                       bool
}

func (f *forecastFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./nines-data", "`directory` of the embedded store")
	fs.StringVar(&f.store, "store", "", storeFlagHelp)
	fs.StringVar(&f.slos, "slos", "", "SLO spec `file or directory`; default: the SLOs stored")
	fs.StringVar(&f.services, "services", "", "service catalog `file` (services.yaml) with tested capacities and dependencies")
	fs.StringVar(&f.slo, "slo", "", "only the SLO with this `name` (no capacity forecast)")
	fs.StringVar(&f.at, "at", "", "forecast `time` (RFC 3339); default: now")
	fs.BoolVar(&f.json, "json", false, "print JSON, as the API answers")
	fs.BoolVar(&f.annotate, "annotate", false, "store each anomaly as an annotation on its SLO (once)")
}

func runForecast(ctx context.Context, e *env, args []string) error {
	var f forecastFlags
	fs := newFlagSet(e, "forecast", "[--store PATH|URL] [--slos DIR] [--services FILE] [--slo NAME] [--at TIME] [--json] [--annotate]", forecastAbout)
	f.register(fs)
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	at := time.Now().UTC()
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return usageError("forecast: --at %q: want an RFC 3339 time such as 2026-12-07T12:00:00Z", f.at)
		}
		at = t.UTC()
	}
	if err := store.CheckTime("--at", at); err != nil {
		return usageError("forecast: %v", err)
	}
	db, _, err := openStore(ctx, f.store, f.data)
	if err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	defer db.Close()
	slos, err := loadSLOs(ctx, e, f.slos, db)
	if err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	list := slices.SortedFunc(maps.Values(slos), func(a, b *slo.SLO) int { return strings.Compare(a.Name, b.Name) })
	svcs, err := readCatalog(f.services, list)
	if err != nil {
		return err
	}
	fc := &forecaster{store: db, slos: func() []*slo.SLO { return list }}
	if svcs != nil {
		fc.catalog = func() *catalog.Catalog { return svcs.Catalog }
	}
	var rep *forecast.Report
	if f.slo != "" {
		one, err := fc.SLOForecast(ctx, f.slo, at)
		if errors.Is(err, engine.ErrUnknownSLO) || errors.Is(err, forecast.ErrInvalid) {
			return usageError("forecast: %v", err)
		}
		if err != nil {
			return fmt.Errorf("forecast: %w", err)
		}
		rep = &forecast.Report{At: at, SLOs: []forecast.SLOForecast{*one}, Capacity: []forecast.Capacity{}, Problems: []string{}}
	} else if rep, err = fc.Forecasts(ctx, at); err != nil {
		return fmt.Errorf("forecast: %w", err)
	}
	if f.annotate {
		for _, s := range rep.SLOs {
			n, err := forecast.Annotate(ctx, db, s.Service, s.Anomalies)
			if err != nil {
				return fmt.Errorf("forecast: %w", err)
			}
			if n > 0 {
				fmt.Fprintf(e.stderr, "nines: SLO %s: %d anomaly annotation(s) added\n", s.SLO, n)
			}
		}
	}
	if f.json {
		return printJSON(e.stdout, rep)
	}
	return writeForecasts(e.stdout, rep)
}

// forecastStore is what forecasts read: the rollups and the state that
// holds each SLO's restart floor.
type forecastStore interface {
	engine.RollupSource
	store.State
}

// forecaster makes the forecasts of docs/forecasts.md from a store: what
// nines forecast prints and nines serve answers at /api/v1/forecasts
// (server.Forecaster) and shows at /forecasts (ui.Forecaster).
type forecaster struct {
	store forecastStore
	// slos lists the SLOs to forecast.
	slos func() []*slo.SLO
	// catalog, when set, gives the services' tested capacities and
	// dependencies; nil forecasts each SLO's service without them.
	catalog func() *catalog.Catalog
	// every, when set, keeps a report for the span of that length it was
	// made in: a forecast reads weeks of rollups of every SLO and changes
	// slowly, so nines serve does not read them again for every page.
	every time.Duration

	mu     sync.Mutex
	cached *forecast.Report
	bucket time.Time
}

// nines serve hands the same forecaster to the API and to the UI.
var (
	_ server.Forecaster = (*forecaster)(nil)
	_ ui.Forecaster     = (*forecaster)(nil)
)

// SLOForecast forecasts the SLO called name at the quantum boundary at
// or before at.
func (f *forecaster) SLOForecast(ctx context.Context, name string, at time.Time) (*forecast.SLOForecast, error) {
	for _, s := range f.slos() {
		if s.Name == name {
			one, _, err := f.forecastSLO(ctx, s, at)
			return one, err
		}
	}
	return nil, fmt.Errorf("%w: %q", engine.ErrUnknownSLO, name)
}

// forecastSLO forecasts s and returns its history too, whose traffic the
// capacity forecast of its service reads.
func (f *forecaster) forecastSLO(ctx context.Context, s *slo.SLO, at time.Time) (*forecast.SLOForecast, *forecast.History, error) {
	at = time.Unix(0, slo.QuantumStart(at.UnixNano(), s.Quantum)).UTC()
	h, err := f.history(ctx, s, at)
	if err != nil {
		return nil, nil, err
	}
	one, err := forecast.ForecastSLO(s, h, at)
	return one, h, err
}

// history reads what a forecast of s at at needs, counts only: the
// histograms stay in the store.
func (f *forecaster) history(ctx context.Context, s *slo.SLO, at time.Time) (*forecast.History, error) {
	floor, err := engine.StoredFloor(ctx, f.store, s.Name)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", s.Name, err)
	}
	since, err := engine.StoredLifeStart(ctx, f.store, s.Name, s, floor)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", s.Name, err)
	}
	if since == slo.NotStarted || since >= at.UnixNano() {
		return nil, fmt.Errorf("%w: SLO %s has no data before %s yet: nothing to forecast from", forecast.ErrInvalid, s.Name, at.Format(time.RFC3339))
	}
	from := forecast.HistoryStart(s, at)
	series := &slo.Series{Quantum: s.Quantum, Since: since}
	it := f.store.Rollups(ctx, s.Name, s.Quantum, from.UnixNano(), at.UnixNano())
	for it.Next() {
		r := it.At()
		series.Rollups = append(series.Rollups, slo.Rollup{Start: r.Start, Attempted: r.Attempted, Good: r.Good,
			Errors: r.Errors, Slow: r.Slow, OverThreshold: r.OverThreshold, Measured: r.Measured})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return nil, fmt.Errorf("SLO %s: reading rollups: %w", s.Name, err)
	}
	return forecast.FromSeries(s, series, from, at)
}

// Forecasts forecasts every SLO, and every service that has SLOs: its
// traffic is that of its busiest SLO (the one that counted the most
// events), since a service's SLOs mostly judge the same requests.
func (f *forecaster) Forecasts(ctx context.Context, at time.Time) (*forecast.Report, error) {
	if f.every <= 0 {
		return f.forecasts(ctx, at)
	}
	// One report at a time: concurrent pages wait for it rather than
	// each reading the store.
	f.mu.Lock()
	defer f.mu.Unlock()
	if b := at.Truncate(f.every); f.cached == nil || !b.Equal(f.bucket) {
		rep, err := f.forecasts(ctx, at)
		if err != nil {
			return nil, err
		}
		f.cached, f.bucket = rep, b
	}
	return f.cached, nil
}

func (f *forecaster) forecasts(ctx context.Context, at time.Time) (*forecast.Report, error) {
	rep := &forecast.Report{At: at.UTC(), SLOs: []forecast.SLOForecast{}, Capacity: []forecast.Capacity{}, Problems: []string{}}
	type traffic struct {
		tr    forecast.Traffic
		total float64
	}
	busiest := map[string]traffic{}
	var cat *catalog.Catalog
	if f.catalog != nil {
		cat = f.catalog()
	}
	// An SLO belongs to the service its spec names, or else to the
	// catalog's service that lists it.
	listedBy := map[string]string{}
	if cat != nil {
		for _, svc := range cat.Services {
			for _, name := range svc.SLOs {
				listedBy[name] = svc.Name
			}
		}
	}
	slos := slices.SortedFunc(slices.Values(f.slos()), func(a, b *slo.SLO) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range slos {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		one, h, err := f.forecastSLO(ctx, s, at)
		if errors.Is(err, forecast.ErrInvalid) {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		if err != nil {
			return nil, err
		}
		rep.SLOs = append(rep.SLOs, *one)
		service := cmp.Or(s.Service, listedBy[s.Name])
		if service == "" {
			continue
		}
		tr, total := trafficOf(h)
		if total > busiest[service].total {
			busiest[service] = traffic{tr, total}
		}
	}
	tested, deps := capacities(cat)
	for _, name := range slices.Sorted(maps.Keys(busiest)) {
		c, err := forecast.ForecastCapacity(forecast.CapacityInput{Service: name, Traffic: busiest[name].tr, Tested: tested, Dependencies: deps[name]})
		if err != nil {
			rep.Problems = append(rep.Problems, err.Error())
			continue
		}
		rep.Capacity = append(rep.Capacity, *c)
	}
	return rep, nil
}

// capacities maps the catalog's services to their tested capacity and
// their dependencies.
func capacities(c *catalog.Catalog) (tested map[string]float64, deps map[string][]string) {
	tested, deps = map[string]float64{}, map[string][]string{}
	if c == nil {
		return tested, deps
	}
	for _, s := range c.Services {
		if s.Capacity != nil {
			tested[s.Name] = s.Capacity.TestedRPS
		}
		for _, d := range s.Dependencies {
			deps[s.Name] = append(deps[s.Name], d.Service)
		}
	}
	return tested, deps
}

// trafficOf is the attempted events of h from its first whole hour, NaN
// where nothing was measured, and their total.
func trafficOf(h *forecast.History) (forecast.Traffic, float64) {
	start := h.Start.Truncate(time.Hour)
	if start.Before(h.Start) {
		start = start.Add(time.Hour)
	}
	skip := int(start.Sub(h.Start) / h.Quantum)
	tr := forecast.Traffic{Start: start, Step: h.Quantum}
	var total float64
	for _, q := range h.Quanta[min(skip, len(h.Quanta)):] {
		v := math.NaN()
		if q.Measured {
			v = q.Attempted
			total += v
		}
		tr.Counts = append(tr.Counts, v)
	}
	return tr, total
}

// writeForecasts prints a report as text.
func writeForecasts(w io.Writer, rep *forecast.Report) error {
	fmt.Fprintf(w, "Forecasts at %s\n", rep.At.Format(time.RFC3339))
	for _, s := range rep.SLOs {
		fmt.Fprintf(w, "\nSLO %s", s.SLO)
		if s.Service != "" {
			fmt.Fprintf(w, " (service %s)", s.Service)
		}
		fmt.Fprintf(w, ", %s\n", s.Window)
		share := 0.0
		if s.Total > 0 {
			share = s.Remaining / s.Total
		}
		fmt.Fprintf(w, "  budget      %s of %s %s left (%.1f %%)\n", figure(s.Remaining), figure(s.Total), s.Unit, 100*share)
		var spans []string
		for _, b := range s.Spans {
			spans = append(spans, fmt.Sprintf("%s %.2f", slo.FormatDuration(time.Duration(b.Seconds)*time.Second), b.Burn))
		}
		if len(spans) == 0 {
			spans = []string{"nothing counted in the last 3 days"}
		}
		fmt.Fprintf(w, "  burn rate   %s\n", strings.Join(spans, " · "))
		fmt.Fprintf(w, "  runs out    at the 6h burn: %s; at the fastest and slowest burns: %s … %s\n",
			s.Point.Text(), s.Earliest.Text(), s.Latest.Text())
		if s.Backtest.Origins > 0 {
			fmt.Fprintf(w, "  backtest    a day ahead, off by %.1f %% of the budget on average over the last %d days\n", 100*s.Backtest.MAE, s.Backtest.Origins)
		} else {
			fmt.Fprintf(w, "  backtest    too little history to check the forecast on past days\n")
		}
		fmt.Fprintf(w, "  traffic     %s\n", s.Traffic)
		if len(s.Anomalies) == 0 {
			fmt.Fprintf(w, "  anomalies   none in the last day\n")
		}
		for _, a := range s.Anomalies {
			fmt.Fprintf(w, "  anomaly     %s to %s: error ratio %.3g %% %s its band (usually %.3g %%)\n",
				a.Start.Format("2006-01-02 15:04"), a.End.Format("15:04 MST"), 100*a.Observed, a.Side(), 100*a.Expected)
		}
	}
	for _, c := range rep.Capacity {
		fmt.Fprintf(w, "\nService %s\n", c.Service)
		fmt.Fprintf(w, "  model       %s: %.1f %% error on %s; %s: %.1f %%\n", c.Model, 100*c.MAPE, c.HeldOut, c.Baseline, 100*c.BaselineMAPE)
		fmt.Fprintf(w, "  peak        %s rps in 7 days (%s), %s rps in 90 days (%s); busiest minute %.2f× the busiest hour\n",
			figure(c.Peak7d.RPS), c.Peak7d.At.Format("2006-01-02 15:04"), figure(c.Peak90d.RPS), c.Peak90d.At.Format("2006-01-02 15:04"), c.PeakFactor)
		if b := c.Bottleneck; b != nil {
			when := "not within 90 days"
			if c.Reached != nil {
				when = "reached " + c.Reached.Format("2006-01-02 15:04 MST")
			}
			head := ""
			if b.Headroom != nil {
				head = fmt.Sprintf(", headroom %.0f %%", 100**b.Headroom)
			}
			fmt.Fprintf(w, "  bottleneck  %s, tested to %s rps%s: %s\n", b.Service, figure(b.TestedRPS), head, when)
		}
		for _, n := range c.Notes {
			fmt.Fprintf(w, "  note        %s\n", n)
		}
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(w, "\nNot forecast\n")
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	return nil
}

// figure writes a figure with at most one decimal.
func figure(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// anomalyEvery is how often nines serve marks new anomalies on the SLOs'
// charts: an anomaly is read over 10-minute buckets against past weeks,
// and a forecast of every SLO reads weeks of rollups, so once an hour.
const anomalyEvery = time.Hour

// annotateAnomalies marks each anomaly the forecasts find as an
// annotation on its SLO's charts, on the leader, once an hour; never a
// page (docs/forecasts.md).
func annotateAnomalies(ctx context.Context, fc *forecaster, a forecast.Annotator, leading func() bool, logger *slog.Logger) {
	logger = logger.With("component", "forecasts")
	every(ctx, anomalyEvery, func(now time.Time) {
		if !leading() {
			return
		}
		rep, err := fc.Forecasts(ctx, now)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("forecasts not made; anomalies are looked for again in an hour", "err", err)
			}
			return
		}
		for _, s := range rep.SLOs {
			n, err := forecast.Annotate(ctx, a, s.Service, s.Anomalies)
			switch {
			case err != nil && ctx.Err() == nil:
				logger.Warn("anomalies not marked", "slo", s.SLO, "err", err)
			case n > 0:
				logger.Info("anomalies marked on the SLO's charts", "slo", s.SLO, "added", n)
			}
		}
	})
}

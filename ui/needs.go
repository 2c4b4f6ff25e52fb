package ui

import (
	"context"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// What the UI takes: the part of each component its pages call, so an
// engine, a store or the incident service can be swapped (or faked in a
// test) by providing just that. nines serve (cmd/nines/serve.go) wires
// them: *engine.Engine is the SLOReader, the store the RollupReader,
// *incident.Service the IncidentReader.

// SLOReader answers what the SLO pages and the overview show: the SLOs
// loaded, their status, burn rates, alerts, annotations and latency.
type SLOReader interface {
	// Now is the clock the pages are drawn at.
	Now() time.Time
	SLOs() []*slo.SLO
	SLO(name string) (*slo.SLO, error)
	Since(name string) (time.Time, bool, error)
	Marks(ctx context.Context, name string) ([]engine.Mark, error)
	EvalTime(s *slo.SLO, now time.Time) time.Time
	Summary(name string) (*slo.Result, error)
	BurnRates(name string, spans []time.Duration) ([]float64, error)
	Alerts(name string) (alert.State, []alert.Transition, error)
	Annotations(ctx context.Context, name string, from, to time.Time) ([]store.Annotation, error)
	Latency(ctx context.Context, name string, from, to time.Time) (*hist.Histogram, error)
	// PastDayWrites counts the writes to days already past: the cache of
	// daily counts (counts.go) reads a day again only after one.
	PastDayWrites() int64
}

// RollupReader reads stored rollups: the daily counts of the charts come
// straight from the store (counts.go).
type RollupReader interface {
	Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator
}

// IncidentReader is what the incident and review pages read. The UI
// changes no incident: that is the API's business.
type IncidentReader interface {
	Config() *incident.Config
	KnownServices() []string
	List(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
	Get(ctx context.Context, id int64) (*incident.Incident, error)
	Postmortem(ctx context.Context, id int64) (text string, stored bool, err error)
	Metrics(ctx context.Context, q incident.MetricsQuery) (*incident.Report, error)
	Debt(ctx context.Context, q incident.DebtQuery) (*incident.DebtReport, error)
}

// SourceNoter gives one line on an SLO's source, and whether the source
// is failing; "" when the SLO has no source to speak of.
type SourceNoter interface {
	SourceNote(slo string) (note string, failing bool)
}

// Every part nines serve gives the UI satisfies what the UI asks of it: a
// change of signature fails here, not in cmd/nines.
var (
	_ SLOReader      = (*engine.Engine)(nil)
	_ RollupReader   = (store.Querier)(nil)
	_ IncidentReader = (*incident.Service)(nil)
)

package server

import (
	"context"
	"io"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// What the server takes: each interface is the part of a component that a
// group of endpoints calls, so a backend or an engine can be swapped (or
// faked in a test) by providing just that. nines serve (cmd/nines/serve.go)
// wires them: *engine.Engine is the SLOReader, the Writer and the
// IncidentSource, the store the AnnotationStore and the Sizer,
// *notify.Dispatcher the Notifier.

// SLOReader answers every read about SLOs: the catalogue, status, quanta,
// histograms, budget, alerts, the gate, annotations of an SLO, and the
// SLO figures of /metrics.
type SLOReader interface {
	// Now is the clock every answer is computed at.
	Now() time.Time
	// LastTick is when the SLO windows last advanced (evaluation lag).
	LastTick() time.Time
	SLOs() []*slo.SLO
	SLO(name string) (*slo.SLO, error)
	Definition(name string) ([]byte, error)
	Marks(ctx context.Context, name string) ([]engine.Mark, error)
	Since(name string) (time.Time, bool, error)
	EvalTime(s *slo.SLO, now time.Time) time.Time
	Settled(s *slo.SLO, now time.Time) (judged, final time.Time, settle, maxLag time.Duration)
	QuantumState(s *slo.SLO, start, now time.Time) string
	Summary(name string) (*slo.Result, error)
	Status(ctx context.Context, name string) (*slo.Result, error)
	Evaluate(ctx context.Context, name string, w slo.Window, at time.Time) (*slo.Result, error)
	BurnRates(name string, spans []time.Duration) ([]float64, error)
	Series(ctx context.Context, name string, from, to time.Time) (*slo.SLO, *slo.Series, error)
	Latency(ctx context.Context, name string, from, to time.Time) (*hist.Histogram, error)
	Annotations(ctx context.Context, name string, from, to time.Time) ([]store.Annotation, error)
	Alerts(name string) (alert.State, []alert.Transition, error)
	Gate(name string) (engine.GateDecision, error)
	// StaleSince says since when the store has failed: answers come
	// from memory meanwhile.
	StaleSince() (time.Time, bool)
}

// Writer takes what clients send: events and rollups (Commit), remote
// write and OTLP (IngestMetrics), annotations (checked against the SLOs
// loaded), and counts what it refused.
type Writer interface {
	Commit(ctx context.Context, b *engine.Batch) (map[string]engine.AppendResult, error)
	IngestMetrics(ctx context.Context, proto string, series []metrics.Series) (*engine.MetricsResult, error)
	AddAnnotation(ctx context.Context, a store.Annotation) (int64, error)
	// Counters are the ingestion counters, shown on /metrics.
	Counters() *engine.Counters
}

// AnnotationStore lists annotations across SLOs and services and deletes
// them: the store's own, with no SLO to check against.
type AnnotationStore interface {
	Annotations(ctx context.Context, q store.AnnotationQuery) ([]store.Annotation, error)
	DeleteAnnotation(ctx context.Context, id int64) error
}

// Sizer reports the bytes the store occupies, for /metrics.
type Sizer interface {
	Size(ctx context.Context) (int64, error)
}

// Notifier is the alert dispatcher the server shows and controls:
// silences, the outbox and its metrics.
type Notifier interface {
	Silences() []notify.SilenceView
	AddSilence(ctx context.Context, s notify.Silence) (notify.SilenceView, error)
	ExpireSilence(ctx context.Context, id string) (notify.SilenceView, error)
	Outbox() notify.OutboxView
	WriteMetrics(w io.Writer) error
}

// IncidentSource is what the incident service asks of the engine
// (IncidentOptions): its clock, the SLOs loaded (and so the services),
// the budget they burned.
type IncidentSource interface {
	Now() time.Time
	SLOs() []*slo.SLO
	BudgetBurned(ctx context.Context, name string, from, to time.Time) (engine.BudgetBurn, error)
}

// SourceReporter says how an SLO's source is read: whether it is
// failing, which query and why.
type SourceReporter interface {
	SourceStatus(slo string) (any, bool)
}

// Every part nines serve gives the server satisfies what the server asks
// of it: a change of signature fails here, not in cmd/nines.
var (
	_ SLOReader       = (*engine.Engine)(nil)
	_ Writer          = (*engine.Engine)(nil)
	_ AnnotationStore = (store.Annotations)(nil)
	_ Sizer           = (store.Store)(nil)
	_ Notifier        = (*notify.Dispatcher)(nil)
	_ IncidentSource  = (*engine.Engine)(nil)
)

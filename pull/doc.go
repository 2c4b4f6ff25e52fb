// Package pull reads SLIs from a Prometheus-compatible query API
// (Prometheus, Thanos, Mimir, VictoriaMetrics) for the SLOs whose spec
// says sli.source.prometheus, and feeds their rollups to nines serve's
// engine by the path remote write takes.
//
// A Runner groups the SLOs of one API (URL, headers, credentials) and
// quantum into readers. Each step a reader asks for raw samples, a range
// selector evaluated at one instant (selector[range] over
// /api/v1/query), one query per metric name for all its SLOs (the
// matchers they share in the query, the rest applied by the Collector),
// and folds them into one metrics.Collector: the counter-reset and
// histogram rules of remote write, the same code. The quanta that end
// before the step's horizon are handed out and stored with each SLO's
// cursor (state key pull/<slo>) in one transaction; a failed transaction
// rolls the Collector's change back, so the next step counts the same
// samples once.
//
// An SLO first read this way is backfilled from the start of its window
// (or from the end of the rollups it already has), in ranges of Chunk,
// the next fetched while one is stored; then it is read each Interval,
// Delay behind now. A query that fails is tried Attempts times; after
// that the step stores nothing for the reader, its quanta stay
// unmeasured until a later step reads them, and SourceStatus says which
// query failed and why. docs/sources.md is the user's account.
package pull

// Package incident records incidents and computes the figures that make
// them comparable across teams (docs/reference.md §4): time to detect, engage and
// fix (TTD, TTE, TTF, TTM = TTD + TTE + TTF) against per-service goals,
// the autodetect rate, on-call hops and responders per incident, repair
// debt (open repair items over time) and virtual repair debt (incidents
// that missed a goal without a repair item for that phase).
//
// The model, validation, metrics, debt and the postmortem template are
// pure: every function that needs the time takes it. Service ties them to
// a Store (every store backend implements it; incident/incidenttest is
// the contract) and is what the HTTP API, the CLI and the web UI call:
//
//	svc, _ := incident.New(incident.Options{Store: db, Config: cfg})
//	inc, _ := svc.Open(ctx, incident.OpenInput{Services: []string{"checkout"}, Severity: 2, ...})
//	inc, _ = svc.Update(ctx, inc.ID, incident.Patch{Version: inc.Version, Mitigated: &t})
//	rep, _ := svc.Metrics(ctx, incident.MetricsQuery{By: incident.Month})
//
// Concurrency: every incident carries a version that each change bumps;
// a change that names the version it was based on fails with a
// *ConflictError when another change came first, so no update is lost.
// The Store applies each change in one transaction.
package incident

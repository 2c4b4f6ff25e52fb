// Package slo is the model and the evaluator of nines: SLIs, objectives,
// per-quantum rollups, assurance windows, the four evaluation methods,
// error budgets, burn rates and headroom.
//
// Everything here is pure: no I/O and no clock. Callers pass the evaluation
// time in, so every number can be reproduced exactly in a test.
//
// The one idea the package follows is the rollup per quantum: ingestion
// turns each event into a Rollup of the quantum (one minute by default) that
// contains it, and evaluation only ever reads rollups. Raw events are not
// kept. Rollups merge exactly, including their latency histograms, so any
// window or group of quanta combines without error growth.
package slo

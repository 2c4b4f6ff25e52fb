// Package spec reads SLO spec files into slo.SLO values.
//
// Reading goes decode → map → validate, with one loader per format: the
// YAML is decoded into nodes (never into Go structs, so every message can
// name the line and column it is about), a loader maps the nodes of its
// format onto the model, and slo.SLO.Validate has the last word. Every
// problem of a file is reported at once, each as an *Error that prints as
//
//	FILE:LINE:COL: FIELD: message
//
// Odd but usable input comes back as Warnings, apart from errors. A file
// stops being read after 50 errors.
//
// # The native format
//
// One SLO per YAML document; a file may hold several documents separated by
// "---". A document has no apiVersion (documents with apiVersion openslo/v1
// are OpenSLO, which is not supported yet):
//
//	name: checkout-availability   # required; letters, digits, '-', '_', '.'
//	service: checkout             # required
//	description: ...              # optional
//	owner: team-payments          # optional
//	labels: {tier: "1"}           # optional; label names as Prometheus has them
//	sli:
//	  good:
//	    status: "<500"            # HTTP status rule (slo.ParseStatusRule)
//	    latency: "<=5ms"          # optional: slower counts as failed
//	objective: 99.9               # percent over the window, 0 < x < 100
//	quantumObjective: 99.9        # percent of attempts per quantum
//	method: quanta                # quanta (default), time-quanta, transactions, downtime-minutes
//	quantum: 1m                   # default 1m
//	window:
//	  calendar: day               # day, week, month, quarter or year; or rolling: 30d
//	  timezone: UTC               # IANA name, default UTC; cuts calendar windows
//	noData: bad                   # bad (default), good or skip
//
// Instead of status, an SLI may say "ok: true": events are judged by their
// own ok flag. The SLI's status rule is then left unset, which accepts every
// status, so an event fails only when it says ok: false (or is too slow).
// An event's ok flag always wins over its status, so "ok: true" next to a
// status rule changes nothing and draws a warning. One of status or ok must
// be given, so that a latency-only SLI says outright that errors count as
// good.
//
// Percentages are read from the text as written, so 99.9 is exactly
// 999/1000 and never the float64 nearest to it.
//
// Quanta start at whole multiples of the quantum since the Unix epoch and a
// calendar window at local midnight, so a time zone whose offset is not a
// whole number of quanta (Asia/Kathmandu, UTC+05:45, with 30m quanta) is
// refused. Names must be unique across every file loaded together.
//
// description, owner and labels are checked but have no place in slo.SLO
// yet, so they are not returned.
package spec

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
// are OpenSLO, below):
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
// An SLI fed by an access log may say how to read it, so that nines eval
// and nines ship need no format flags:
//
//	sli:
//	  good: {status: "<500", latency: "<=300ms"}
//	  log:
//	    format: json              # a preset (combined, caddy, ...) or 'nginx:$remote_addr ...' / 'apache:%h ...'
//	    fields:                   # JSON and LTSV: time, status, latency, ok, count, fallback as NAME[:UNIT]
//	      time: ts:unix_s
//	      status: status
//	      latency: duration:s
//	    timezone: Europe/Berlin   # for log times written without a UTC offset
//
// The parser it names is built when the spec loads (package ingest), so a
// format string that does not compile, a latency without its unit or a
// latency rule on a log that carries no latency is an error at its line.
// docs/formats.md lists the presets. In OpenSLO the same mapping is the
// log field of a good metric source of type nines.
//
// An SLI that nines serve reads from metric series names them in
// sli.source (counters good or bad with total, or a histogram); under
// sli.source.prometheus, with the url of a Prometheus-compatible query
// API, headers and bearerTokenFile or basicAuth, nines serve reads them
// from that API itself (package pull, docs/sources.md). In OpenSLO the
// API is the connectionDetails of a DataSource of type Prometheus that
// the metric sources name by metricSourceRef.
//
// Percentages are read from the text as written, so 99.9 is exactly
// 999/1000 and never the float64 nearest to it. A value of 1 or less is
// refused unless it carries its % sign ("0.5%"): 0.999 is how OpenSLO
// and dashboards write 99.9 %, and read as a percentage it would make an
// SLO that is always met. (OpenSLO documents keep their ratios: target:
// 0.999 is 99.9 % there.)
//
// A status rule that counts only server errors as good ("5xx") draws a
// warning: the rule says which requests succeeded, not which ones to
// count.
//
// Quanta start at whole multiples of the quantum since the Unix epoch and a
// calendar window at local midnight, so a time zone whose offset is not a
// whole number of quanta (Asia/Kathmandu, UTC+05:45, with 30m quanta) is
// refused. Names must be unique across every file loaded together.
//
// description, owner and labels become the SLO's Description, Owner and
// Labels.
//
// Two optional sections change how the SLO alerts and when it freezes
// releases; without them the defaults of package alert and
// slo.DefaultBudgetPolicy apply:
//
//	alerting:
//	  minEvents: 50               # low-traffic guard of page tiers (default 10; off)
//	  resolveAfter: 15m           # hold before an alert resolves (default 5m)
//	  noData: {after: 30m, severity: page}   # or off; default 10m, ticket
//	  tiers:                      # change default tiers by name, or add new ones
//	    - name: ticket-slow
//	      disabled: true
//	    - name: page-fast
//	      factor: 20              # a burn rate as written, or budgetShare: 2%
//	    - name: ticket-week       # a new tier names everything
//	      severity: ticket
//	      budgetShare: 25%
//	      long: 7d
//	      short: 12h
//	budgetPolicy:
//	  freeze:                     # releases wait while any rule holds
//	    - remainingBelow: 0%      # the budget is spent
//	    - remainingBelow: 10%     # little is left and it still burns
//	      burnRateAbove: 1
//	      over: 1h
//
// "freeze: []" never freezes. Tier problems (a short window not shorter
// than the long one, a new tier without a severity) are reported at the
// alerting section.
//
// # OpenSLO
//
// Documents with apiVersion: openslo/v1 are OpenSLO v1, as the README of
// github.com/OpenSLO/OpenSLO specifies it, of the kinds SLO, SLI, Service,
// DataSource, AlertPolicy, AlertCondition and AlertNotificationTarget.
// They may share a file with native documents. The OpenSLO documents of
// every file of one Load, LoadFiles or LoadDir call are read together, so
// a reference (indicatorRef, alertPolicyRef, conditionRef, targetRef,
// metricSourceRef) may name an object of another file; a reference to
// nothing is an error at the line that makes it. Names are unique within
// a kind (an SLI and its SLO may share one), and SLO names, native or
// OpenSLO, across everything loaded. LoadAll, LoadAllFiles and LoadAllDir
// return the alert policies too.
//
// The rule of the mapping: what nines cannot carry over is an error when
// it would change what the SLO means, and a warning when it only loses
// information (a displayName next to a description, the description of
// an SLI or a Service, a label name that is no Prometheus label name, the
// connectionDetails of a DataSource of another type than Prometheus). Nothing is dropped silently, except
// annotations of other prefixes than nines.dev/, which belong to other
// implementations.
//
// An SLO maps onto slo.SLO field by field:
//
//	metadata.name                 Name, by the native rule
//	metadata.displayName          Description, unless there is spec.description
//	metadata.labels               Labels; a list of values is joined with commas
//	spec.description              Description
//	spec.service                  Service (a warning if Services are loaded and none is named so)
//	spec.indicator, indicatorRef  SLI, one of the two (below)
//	spec.timeWindow[0]            Window: exactly one
//	  duration, isRolling: true   Rolling: m, h, d or w (1Y is 365d); 1M and 1Q
//	                              have no fixed length and are refused
//	  duration, calendar          Calendar: 1d day, 1w week, 1M month, 1Q quarter,
//	                              1Y year, and no other duration; timeZone is the
//	                              Location (default UTC); a startTime must be the
//	                              start of a unit, local midnight of a Monday for
//	                              1w, of the 1st for 1M, as nines cuts windows there
//	spec.budgetingMethod          Method: Occurrences transactions, Timeslices
//	                              quanta (timeSliceTarget 1: time-quanta),
//	                              RatioTimeslices downtime-minutes (the mean of
//	                              the slices' ratios, which downtime-minutes is)
//	objectives[].target           Objective, a ratio read from its text:
//	                              0.999 is 999/1000; 0 and 1 are refused
//	objectives[].targetPercent    Objective, a percentage
//	objectives[].timeSliceTarget  QuantumObjective (with Occurrences it marks the
//	                              quanta in violation)
//	objectives[].timeSliceWindow  Quantum; a number is minutes, 0.5 is 30s
//	objectives[].op, value        SLI.Latency of a thresholdMetric
//	spec.alertPolicies            AlertPolicy.SLOs of the policies named
//
// An SLO of several objectives becomes one SLO per objective, named
// NAME-DISPLAYNAME (the objective's displayName in lower case, dashes for
// spaces) or NAME-INDEX, with a warning.
//
// An SLI maps onto slo.SLI as follows. A query must be a plain series
// selector: nines takes the increase of every series it selects and sums
// them itself, so a query that applies rate(), sum() or any other
// function is refused, naming the selector inside it to write instead.
//
//	ratioMetric, type Prometheus  Source.Good (or Bad) and Source.Total from
//	                              spec.query; counter must be true; raw and
//	                              rawType are refused
//	thresholdMetric, Prometheus   Source.Histogram: spec.query selects the
//	                              _bucket series of a histogram (a native or
//	                              OTLP one of the base name is read too);
//	                              op lte or lt and value of the objective are
//	                              SLI.Latency; gt and gte are refused
//	ratioMetric, type nines       events, as nines eval reads them: good's spec
//	                              holds status, ok and latency as a native
//	                              sli.good does; total's spec says events: all
//	metricSourceRef               the type of the DataSource it names, and
//	                              SLI.Source.Prometheus from the connectionDetails
//	                              (url, headers, bearerTokenFile, basicAuth)
//	                              of a DataSource of type Prometheus
//
// The value of a thresholdMetric objective is in the unit of the
// histogram's values: the nines.dev/latency-unit annotation when given,
// else the unit the metric name ends in (_seconds, _milliseconds,
// _microseconds, _nanoseconds); a name that says none is an error asking
// for the annotation. So value: 0.25 on http_request_duration_seconds_bucket
// is <=250ms with op lte.
//
// What OpenSLO has no field for is said by annotations under nines.dev/,
// on the SLO or, where marked, on its SLI:
//
//	nines.dev/owner         Owner
//	nines.dev/no-data       NoData: bad (default), good or skip; OpenSLO does not
//	                        say how a time slice without data counts
//	nines.dev/latency-unit  (SLI too) s, ms, us or ns: Source.Unit and the unit
//	                        of a threshold's value
//	nines.dev/status        (SLI too) SLI.Status of a Prometheus SLI
//	nines.dev/status-label  (SLI too) Source.StatusLabel of a histogram
//	nines.dev/errors        (SLI too) Source.Errors of a histogram
//	nines.dev/alerting      the native alerting section as inline YAML
//	nines.dev/budget-policy the native budgetPolicy section as inline YAML
//
// An AlertPolicy (alertWhen*, one condition, notification targets, each
// by reference or inline) maps onto AlertPolicy, an AlertCondition of
// kind burnrate onto AlertCondition (op, threshold, lookbackWindow and
// alertAfter, which have fixed lengths), an AlertNotificationTarget onto
// AlertTarget. The conditions of the policies an SLO names also become
// its alert tiers, in place of the default ones: op gt or gte with
// threshold T over lookbackWindow L fires when the burn rate is above T
// over L and over a short window of L/12 (whole quanta); severity page
// or ticket as written, critical, high, sev0-2 and p0-2 page, anything
// else opens a ticket. alertAfter (nines does not wait; the short window
// confirms the burn), op lt or lte and alertWhenResolved: false do not
// map and draw a warning each; no policy with alertWhenNoData turns the
// no-data alert off. A DataSource gives its type to the metric sources that
// name it. A Service is checked, and has no other use.
//
// Convert writes SLOs in either format, and what it writes loads back to
// the same SLOs (Convert says which two fields may come back in another
// form of the same meaning).
package spec

package spec_test

import (
	"fmt"

	"github.com/nines-sre/nines/spec"
)

func ExampleLoad() {
	data := []byte(`
name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
    latency: "<=5ms"
objective: 99.9
window:
  calendar: month
  timezone: Europe/Berlin
`)
	slos, warnings, err := spec.Load("checkout.yaml", data)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range warnings {
		fmt.Println("warning:", w)
	}
	for _, s := range slos {
		fmt.Printf("%s: %d/%d good %s by %s over a %s window\n",
			s.Name, s.Objective.Num, s.Objective.Den, s.Method.BudgetUnit(), s.SLI.Latency, s.Window)
	}
	// Output:
	// checkout-availability: 999/1000 good quanta by <=5ms over a calendar month Europe/Berlin window
}

// Every problem of a file comes back at once, each naming file, line,
// column and field.
func ExampleLoad_errors() {
	data := []byte(`
name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
objective: 99.99.9
quantumobjective: 99
window:
  rolling: 30d
  calendar: month
`)
	_, _, err := spec.Load("checkout.yaml", data)
	fmt.Println(err)
	// Output:
	// checkout.yaml:7:12: objective: "99.99.9" is not a percentage; want a number between 0 and 100 such as 99.9
	// checkout.yaml:8:1: quantumobjective: unknown field; did you mean quantumObjective? (allowed here: name, service, description, owner, labels, sli, objective, quantumObjective, method, quantum, window, noData, since, alerting, budgetPolicy)
	// checkout.yaml:11:3: window: has both rolling and calendar; a window is one or the other
}

// OpenSLO documents load into the same model, and LoadAll returns their
// alert policies too.
func ExampleLoadAll() {
	data := []byte(`
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-latency
spec:
  service: checkout
  indicator:
    metadata:
      name: checkout-latency
    spec:
      thresholdMetric:
        metricSource:
          type: Prometheus
          spec:
            query: http_request_duration_seconds_bucket{service="checkout"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - op: lte
      value: 0.25
      target: 0.999
  alertPolicies:
    - kind: AlertPolicy
      metadata:
        name: fast-burn
      spec:
        alertWhenBreaching: true
        conditions:
          - kind: AlertCondition
            metadata:
              name: fast-burn
            spec:
              severity: page
              condition: {kind: burnrate, op: gte, threshold: 14.4, lookbackWindow: 1h, alertAfter: 2m}
        notificationTargets:
          - kind: AlertNotificationTarget
            metadata:
              name: pager
            spec:
              target: pagerduty
`)
	b, err := spec.LoadAll("checkout.yaml", data)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range b.SLOs {
		fmt.Printf("%s: %d/%d of requests %s over a %s window, from %s\n",
			s.Name, s.Objective.Num, s.Objective.Den, s.SLI.Latency, s.Window, s.SLI.Source.Histogram)
	}
	for _, p := range b.AlertPolicies {
		c := p.Conditions[0]
		fmt.Printf("%s for %v: %s when the burn rate over %s is %s %g for %s, to %s\n",
			p.Name, p.SLOs, c.Severity, c.LookbackWindow, c.Op, c.Threshold, c.AlertAfter, p.Targets[0].Target)
	}
	// Output:
	// checkout-latency: 999/1000 of requests <=250ms over a rolling 28d window, from http_request_duration_seconds{service="checkout"}
	// fast-burn for [checkout-latency]: page when the burn rate over 1h0m0s is gte 14.4 for 2m0s, to pagerduty
}

func ExampleConvert() {
	slos, _, err := spec.Load("checkout.yaml", []byte(`
name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
objective: 99.9
method: transactions
window:
  calendar: month
  timezone: Europe/Berlin
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := spec.Convert(spec.OpenSLO, slos...)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// apiVersion: openslo/v1
	// kind: SLI
	// metadata:
	//   name: checkout-availability
	// spec:
	//   ratioMetric:
	//     counter: true
	//     good:
	//       metricSource:
	//         type: nines
	//         spec:
	//           status: <500
	//     total:
	//       metricSource:
	//         type: nines
	//         spec:
	//           events: all
	// ---
	// apiVersion: openslo/v1
	// kind: SLO
	// metadata:
	//   name: checkout-availability
	// spec:
	//   service: checkout
	//   indicatorRef: checkout-availability
	//   timeWindow:
	//     - duration: 1M
	//       isRolling: false
	//       calendar:
	//         startTime: "2024-01-01 00:00:00"
	//         timeZone: Europe/Berlin
	//   budgetingMethod: Occurrences
	//   objectives:
	//     - target: 0.999
}

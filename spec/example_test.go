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
	// checkout.yaml:8:1: quantumobjective: unknown field; did you mean quantumObjective? (allowed here: name, service, description, owner, labels, sli, objective, quantumObjective, method, quantum, window, noData)
	// checkout.yaml:11:3: window: has both rolling and calendar; a window is one or the other
}

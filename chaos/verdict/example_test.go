package verdict_test

import (
	"fmt"

	"github.com/nines-sre/nines/chaos/verdict"
)

func Example() {
	plan := verdict.Plan{MinEffect: 0.01, Alpha: 0.05, Power: 0.8}
	// Before the run: 200 requests/s, 1 % of them in each cohort, 1 %
	// bad today.
	planned, _ := plan.Plan(0.01, 200, 0.01)
	fmt.Printf("decides within %d requests per cohort, about %s\n", planned.Requests, planned.Duration.Round(60e9))

	run, _ := verdict.New(plan)
	// Looks as the run goes: the experiment cohort fails 4 % of the time.
	v, _ := run.Look(verdict.Counts{Requests: 500, Bad: 5}, verdict.Counts{Requests: 500, Bad: 20}, false)
	fmt.Println(v.Outcome)
	v, _ = run.Look(verdict.Counts{Requests: 1000, Bad: 10}, verdict.Counts{Requests: 1000, Bad: 40}, false)
	fmt.Println(v.Outcome, v.Fixed.Name)
	// Output:
	// decides within 4488 requests per cohort, about 37m0s
	// running
	// disproved two-proportion-z
}

package promtext_test

import (
	"math"
	"testing"

	"github.com/nines-sre/nines/server/promtext"
)

func TestExpositionGroupsSamplesUnderTheirFamily(t *testing.T) {
	var x promtext.Exposition
	x.Family("a_total", "counter", "As.")
	x.Family("b", "gauge", "Bs.")
	x.Sample("b", []string{"slo", `say "hi"\` + "\n", "span", "5m"}, 0.25)
	x.Sample("a_total", nil, 3)
	x.Sample("b", nil, math.Inf(1))
	x.Sample("b", nil, math.NaN())
	want := `# HELP a_total As.
# TYPE a_total counter
a_total 3
# HELP b Bs.
# TYPE b gauge
b{slo="say \"hi\"\\\n",span="5m"} 0.25
b +Inf
b NaN
`
	if got := x.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestHistogramSamplesGoUnderTheirFamily(t *testing.T) {
	var x promtext.Exposition
	x.Family("d_seconds", "histogram", "Ds.")
	x.Family("e_total", "counter", "Es.")
	x.Sample("e_total", nil, 1)
	x.Sample("d_seconds_bucket", []string{"le", "0.1"}, 2)
	x.Sample("d_seconds_bucket", []string{"le", "+Inf"}, 3)
	x.Sample("d_seconds_sum", nil, 0.5)
	x.Sample("d_seconds_count", nil, 3)
	want := `# HELP d_seconds Ds.
# TYPE d_seconds histogram
d_seconds_bucket{le="0.1"} 2
d_seconds_bucket{le="+Inf"} 3
d_seconds_sum 0.5
d_seconds_count 3
# HELP e_total Es.
# TYPE e_total counter
e_total 1
`
	if got := x.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

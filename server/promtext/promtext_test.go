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

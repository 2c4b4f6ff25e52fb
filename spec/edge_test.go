package spec

import (
	"strings"
	"testing"
)

const edgeSpec = `name: checkout-payments
service: checkout
sli:
  good:
    ok: true
    latency: "<=250ms"
  source:
    edge: {from: checkout, to: payments}
objective: 99.9
window:
  rolling: 28d
`

// TestEdgeSourceRoundTrips reads an SLI on a call-graph edge, writes it
// back as a native spec that reads the same, and refuses to write it as
// OpenSLO, which has no such source.
func TestEdgeSourceRoundTrips(t *testing.T) {
	slos, _, err := Load("edge.yaml", []byte(edgeSpec))
	if err != nil {
		t.Fatal(err)
	}
	e := slos[0].SLI.Edge
	if e == nil || e.From != "checkout" || e.To != "payments" || slos[0].SLI.Source != nil {
		t.Fatalf("SLI %+v: want the edge checkout → payments and no metric source", slos[0].SLI)
	}
	out, err := Convert(Native, slos...)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := Load("again.yaml", out)
	if err != nil {
		t.Fatalf("%v in\n%s", err, out)
	}
	if got := again[0].SLI.Edge; got == nil || *got != *e {
		t.Errorf("written back as\n%s\nread as %+v", out, got)
	}
	if _, err := Convert(OpenSLO, slos...); err == nil || !strings.Contains(err.Error(), "no OpenSLO form") {
		t.Errorf("OpenSLO: %v, want a refusal that says there is no OpenSLO form", err)
	}
}

package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/thirdparty"
)

// badSLOs answers every SLO's latest quantum as good but the ones named.
type badSLOs map[string]bool

func (b badSLOs) Latest(_ context.Context, name string, at time.Time) (thirdparty.Quantum, error) {
	return thirdparty.Quantum{Start: at.Add(-time.Minute), Measured: true, Good: !b[name], Attempted: 1}, nil
}

// monthCount counts 9989 good of 10000 in any span: 99.89 %.
type monthCount struct{}

func (monthCount) Count(context.Context, string, time.Time, time.Time) (uint64, uint64, error) {
	return 9989, 10000, nil
}

func TestThirdPartyPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.get("/thirdparties", 404)
	cfg, err := thirdparty.Parse("tp.yaml", []byte(`thirdParties:
  - vendor: edgecdn
    regions: [eu, us]
    dataPlane:
      regions: {eu: [fetch-eu], us: [fetch-us]}
    telemetry: [logs]
    sla:
      objective: 99.9
      slo: fetch-eu
      credits: [{below: 99.9, credit: 10%}]
  - vendor: paygate
    dataPlane: [charge]
`))
	if err != nil {
		t.Fatal(err)
	}
	board, err := thirdparty.NewBoard(cfg, badSLOs{"fetch-eu": true, "logs": true}, monthCount{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := board.Tick(context.Background(), f.eng.Now()); err != nil {
		t.Fatal(err)
	}
	f.ui.cfg.ThirdParties = board
	page := f.get("/thirdparties", 200)
	for _, want := range []string{`href="/thirdparties/edgecdn"`, "down in eu", "eu: down, us: limited-visibility", "99.9 % of fetch-eu", "missed, credit 10 %", ">paygate<", "operational", `aria-current="page">Third parties`} {
		if !strings.Contains(page, want) {
			t.Errorf("/thirdparties lacks %q", want)
		}
	}
	page = f.get("/thirdparties/edgecdn", 200)
	for _, want := range []string{"<h1>edgecdn</h1>", "data plane: SLO fetch-eu failed its quantum", "down, limited-visibility", "SLA: 99.9 % a month of fetch-eu (UTC)", "below 99.9 %, 10 %", "<td>now</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("/thirdparties/edgecdn lacks %q", want)
		}
	}
	if page := f.get("/thirdparties/nobody", 404); !strings.Contains(page, "no vendor called") {
		t.Errorf("unknown vendor page: %.300s", page)
	}
}

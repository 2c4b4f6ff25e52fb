package verify

import (
	"testing"
	"time"

	"github.com/nines-sre/nines/spec"
)

func TestGeneratedSLOSpecsLoadAsNativeSpecs(t *testing.T) {
	defs := []*Definition{
		{Name: "backups", Objective: 0.9999, Heartbeat: time.Minute},
		{Name: "uploads", Objective: 0.999, Heartbeat: 5 * time.Minute},
	}
	slos, warns, err := spec.Load("verifiers.yaml", SLOSpecs(defs))
	if err != nil {
		t.Fatalf("%v\n%s", err, SLOSpecs(defs))
	}
	if len(warns) > 0 {
		t.Errorf("warnings: %v", warns)
	}
	want := map[string]float64{"backups.durability": 0.9999, "backups.heartbeat": 0.99, "uploads.durability": 0.999, "uploads.heartbeat": 0.99}
	if len(slos) != len(want) {
		t.Fatalf("got %d SLOs, want %d", len(slos), len(want))
	}
	for _, s := range slos {
		obj, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected SLO %s", s.Name)
			continue
		}
		if d := s.Objective.Float() - obj; d > 1e-12 || d < -1e-12 {
			t.Errorf("%s: objective %s, want %g", s.Name, s.Objective, obj)
		}
		if s.Method.String() != "transactions" || s.NoData.String() != "skip" {
			t.Errorf("%s: method %s, noData %s; want transactions and skip", s.Name, s.Method, s.NoData)
		}
		a := s.Alerting
		switch {
		case a == nil:
			t.Errorf("%s: no alerting overrides", s.Name)
		case s.Name == "backups.heartbeat" && (a.NoDataAfter != 5*time.Minute || a.NoDataSeverity != "page"):
			t.Errorf("%s: no-data alert after %s as %s; want a page after 5m, three heartbeats with a floor of 5m", s.Name, a.NoDataAfter, a.NoDataSeverity)
		case s.Name == "uploads.heartbeat" && a.NoDataAfter != 15*time.Minute:
			t.Errorf("%s: no-data alert after %s; want 15m, three heartbeats", s.Name, a.NoDataAfter)
		case s.Name == "backups.durability" && a.NoDataAfter >= 0:
			t.Errorf("%s: no-data alert after %s; want it off", s.Name, a.NoDataAfter)
		}
	}
}

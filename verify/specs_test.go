package verify

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest"
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

func TestEventsBecomeLinesOfTheEventsAPIThatTheirSLOsJudge(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 5e8, time.UTC)
	evs := []Event{
		{SLO: "b.durability", Time: at, Good: true},
		{SLO: "b.durability", Time: at, Reason: OutcomeMissing},
		{SLO: "b.durability", Time: at, Reason: OutcomeCorrupt},
		{SLO: "b.heartbeat", Time: at, Reason: ReasonUnreachable},
		{SLO: "b.heartbeat", Time: at, Reason: ReasonCanaryMissed},
		{SLO: "b.heartbeat", Time: at, Reason: ReasonCanaryUndetected},
	}
	var body []byte
	for _, e := range evs {
		body = e.AppendLine(body)
	}
	want := `{"time":"2026-12-07T10:00:00.5Z","ok":true,"status":200}
{"time":"2026-12-07T10:00:00.5Z","ok":false,"status":404}
{"time":"2026-12-07T10:00:00.5Z","ok":false,"status":422}
{"time":"2026-12-07T10:00:00.5Z","ok":false,"status":503}
{"time":"2026-12-07T10:00:00.5Z","ok":false,"status":504}
{"time":"2026-12-07T10:00:00.5Z","ok":false,"status":500}
`
	if string(body) != want {
		t.Errorf("got\n%s\nwant\n%s", body, want)
	}
	slos, _, err := spec.Load("v.yaml", SLOSpecs([]*Definition{{Name: "b", Heartbeat: time.Minute}}))
	if err != nil {
		t.Fatal(err)
	}
	series, rep, err := ingest.Read(context.Background(), bytes.NewReader(body), ingest.Options{Format: ingest.JSONL, SLI: &slos[0].SLI, Quantum: slos[0].Quantum})
	if err != nil || rep.Malformed != 0 || len(series.Rollups) != 1 {
		t.Fatalf("%v, %+v", err, rep)
	}
	if r := series.Rollups[0]; r.Attempted != 6 || r.Good != 1 {
		t.Errorf("attempted %d, good %d; want 6 and 1", r.Attempted, r.Good)
	}
}

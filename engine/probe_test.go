package engine

import (
	"context"
	"testing"
	"time"

	"github.com/nines-sre/nines/store/sqlite"
)

// TestProbeSLOsAreJudgedOnceFinal holds an SLI fed by a probe's consensus
// back by the lateness limit: its quanta are written once every
// location's results are final, so they are pending until then and final
// as soon as they are judged, never shown unmeasured in between.
func TestProbeSLOsAreJudgedOnceFinal(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e, err := New(ctx, Config{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"api.yaml":  []byte(apiSpec),
		"home.yaml": []byte("name: home\nservice: web\nsli:\n  probes: web-home\nobjective: 99\nwindow: {rolling: 1h}\n"),
	}
	if _, err := e.Load(ctx, files); err != nil {
		t.Fatal(err)
	}
	home, _ := e.SLO("home")
	api, _ := e.SLO("api")
	judged, final, settle, _ := e.Settled(home, now)
	if want := time.Date(2026, 11, 25, 9, 54, 0, 0, time.UTC); !judged.Equal(want) || !final.Equal(want) || settle != 6*time.Minute {
		t.Errorf("probe SLO: judged %v, final %v, settle %v; want both at %v, 6m after the quantum ends", judged, final, settle, want)
	}
	if judged, final, _, _ := e.Settled(api, now); !judged.Equal(time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)) || !final.Equal(time.Date(2026, 11, 25, 9, 55, 0, 0, time.UTC)) {
		t.Errorf("events SLO: judged %v, final %v; want 9:59 and 9:55 as before", judged, final)
	}
	for start, want := range map[time.Time]string{
		time.Date(2026, 11, 25, 9, 53, 0, 0, time.UTC): QuantumFinal,
		time.Date(2026, 11, 25, 9, 54, 0, 0, time.UTC): QuantumPending,
		time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC): QuantumPending,
	} {
		if got := e.QuantumState(home, start, now); got != want {
			t.Errorf("quantum %v of the probe SLO: %s, want %s", start, got, want)
		}
	}
}

package engine_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// benchNow is where the timing tests stand: the end of their history.
var benchNow = time.Date(2026, 11, 25, 0, 0, 30, 0, time.UTC)

// demoHistory is an engine on a fresh store holding the given days of
// the demo's checkout traffic (with per-status counts) before benchNow.
func demoHistory(b *testing.B, days int, specText string) (*engine.Engine, *sqlite.DB, *slo.SLO) {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	now := benchNow
	e, err := engine.New(ctx, engine.Config{Store: db, Now: func() time.Time { return now }, ReplayQuiet: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"demo.yaml": []byte(specText)}); err != nil {
		b.Fatal(err)
	}
	s := e.SLOs()[0]
	end := benchNow.Truncate(time.Minute)
	for day := end.Add(-time.Duration(days) * 24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
		series := &slo.Series{Quantum: time.Minute}
		for t := day; t.Before(day.Add(24 * time.Hour)); t = t.Add(time.Minute) {
			r, ok := demo.Rollup(s, t, 1)
			if !ok {
				b.Fatal("not a demo SLO")
			}
			series.Rollups = append(series.Rollups, r)
		}
		if _, err := e.Backfill(ctx, s.Name, series, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	return e, db, s
}

// checkoutDemo is the demo's checkout SLO alone.
func checkoutDemo() string { return strings.SplitN(demo.Specs, "---", 2)[0] }

// BenchmarkReplay30DaysOneSLO is nines replay --data of one 30-day SLO
// over 30 days of 1-minute quanta (43,200 steps, each a tracker step and
// an alert evaluation), store reads included.
func BenchmarkReplay30DaysOneSLO(b *testing.B) {
	_, db, s := demoHistory(b, 30, checkoutDemo())
	ctx := context.Background()
	since, err := engine.StoredLifeStart(ctx, db, s.Name, s, math.MinInt64)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := engine.Replay(ctx, s, db, engine.ReplayOptions{Key: s.Name, Since: since, To: benchNow}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/43200, "ns/quantum")
}

// BenchmarkLiveStep is what nines serve spends on one SLO when a quantum
// settles: the tracker's step and the alerts' evaluation, on a 30-day
// window full of history. A replay does the same per quantum, so the
// ratio of the two is what reading history costs on top.
func BenchmarkLiveStep(b *testing.B) {
	e, _, s := demoHistory(b, 30, checkoutDemo())
	step, done := engine.StepOne(e, s.Name, benchNow.Add(2*time.Hour))
	defer done()
	b.ReportAllocs()
	for b.Loop() {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRejudge35Days is a reload that changes the latency threshold
// of one SLO with 35 days of per-minute history (50,400 quanta with their
// per-status counts): read, re-judge, write back, rebuild the tracker.
func BenchmarkRejudge35Days(b *testing.B) {
	e, _, _ := demoHistory(b, 35, checkoutDemo())
	ctx := context.Background()
	specs := []string{strings.Replace(checkoutDemo(), `"<=250ms"`, `"<=300ms"`, 1), checkoutDemo()}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ws, err := e.Load(ctx, map[string][]byte{"demo.yaml": []byte(specs[i%2])})
		if err != nil || !strings.Contains(fmt.Sprint(ws), "re-judged 50400 stored quanta") {
			b.Fatalf("%v %v", ws, err)
		}
		i++
	}
}

// BenchmarkReload1000SLOs is a reload of 1,000 SLOs whose SLIs did not
// change, in two forms: the same specs again, and every objective
// changed, which rebuilds every tracker from the store but re-judges
// nothing.
func BenchmarkReload1000SLOs(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e, err := engine.New(ctx, engine.Config{Store: db, Now: func() time.Time { return benchNow }})
	if err != nil {
		b.Fatal(err)
	}
	files := func(objective string) map[string][]byte {
		out := map[string][]byte{}
		for i := range 1000 {
			out[fmt.Sprintf("slo-%04d.yaml", i)] = []byte(fmt.Sprintf("name: slo-%04d\nservice: svc-%d\nsli:\n  good:\n    status: \"<500\"\n    latency: \"<=250ms\"\nobjective: %s\nwindow:\n  rolling: 30d\n", i, i%50, objective))
		}
		return out
	}
	if _, err := e.Load(ctx, files("99.9")); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, a, b string }{{"same specs", "99.9", "99.9"}, {"objectives changed", "99.5", "99.9"}} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				obj := c.a
				if i%2 == 1 {
					obj = c.b
				}
				ws, err := e.Load(ctx, files(obj))
				if err != nil {
					b.Fatal(err)
				}
				for _, w := range ws {
					if strings.Contains(w.Message, "re-judged") {
						b.Fatalf("re-judged on a reload that changes no SLI: %s", w)
					}
				}
				i++
			}
		})
	}
}

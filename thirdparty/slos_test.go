package thirdparty

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// memSLOs is an SLOSource over series held in memory, evaluated by the
// slo package as the engine evaluates them.
type memSLOs struct {
	slos   map[string]*slo.SLO
	series map[string][]slo.Rollup
}

func (m *memSLOs) SLO(name string) (*slo.SLO, error) {
	if s := m.slos[name]; s != nil {
		return s, nil
	}
	return nil, errors.New("unknown SLO " + name)
}

func (m *memSLOs) Series(_ context.Context, name string, from, to time.Time) (*slo.SLO, *slo.Series, error) {
	s, err := m.SLO(name)
	if err != nil {
		return nil, nil, err
	}
	all := &slo.Series{Quantum: s.Quantum, Rollups: m.series[name]}
	return s, &slo.Series{Quantum: s.Quantum, Rollups: all.Range(from.UnixNano(), to.UnixNano())}, nil
}

func (m *memSLOs) Evaluate(ctx context.Context, name string, w slo.Window, at time.Time) (*slo.Result, error) {
	s, series, err := m.Series(ctx, name, w.Start, w.End)
	if err != nil {
		return nil, err
	}
	return slo.Evaluate(s, series, w, at)
}

func loadSLOs(t *testing.T) *memSLOs {
	t.Helper()
	m := &memSLOs{slos: map[string]*slo.SLO{}, series: map[string][]slo.Rollup{}}
	for _, method := range []string{"quanta", "time-quanta", "transactions", "downtime-minutes"} {
		doc := fmt.Sprintf("name: %s\nservice: edge\nsli:\n  good:\n    ok: true\nobjective: 99.9\nmethod: %s\nquantum: 1m\nwindow:\n  rolling: 30d\nnoData: skip\n", method, method)
		ss, _, err := spec.Load(method+".yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		m.slos[method] = ss[0]
	}
	return m
}

func TestFromSLOsLatest(t *testing.T) {
	m := loadSLOs(t)
	q := func(i int) int64 { return t0.Add(time.Duration(i) * time.Minute).UnixNano() }
	m.series["quanta"] = []slo.Rollup{
		{Start: q(0), Attempted: 10, Good: 10, Measured: true},
		{Start: q(1), Attempted: 10, Good: 5, Measured: true},
		{Start: q(2), Measured: false},
		{Start: q(3), Attempted: 10, Good: 10, Measured: true}, // in progress at t0+3m30s
	}
	f := FromSLOs{Src: m}
	got, err := f.Latest(context.Background(), "quanta", t0.Add(3*time.Minute+30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := Quantum{Start: time.Unix(0, q(1)).UTC(), Measured: true, Good: false, Attempted: 10, Failed: 5}
	if got != want {
		t.Errorf("Latest = %+v; want %+v (the last quantum over, skipping the unmeasured one)", got, want)
	}
	if got, _ := f.Latest(context.Background(), "quanta", t0.Add(4*time.Minute)); !got.Good || got.Start != time.Unix(0, q(3)).UTC() {
		t.Errorf("Latest once the quantum ended = %+v", got)
	}
	if got, _ := f.Latest(context.Background(), "quanta", t0.Add(3*time.Hour)); got.Measured {
		t.Errorf("Latest beyond the lookback = %+v; want nothing measured", got)
	}
	if _, err := f.Latest(context.Background(), "nope", t0); err == nil {
		t.Error("an unknown SLO read")
	}
}

func TestFromSLOsCount(t *testing.T) {
	m := loadSLOs(t)
	var rs []slo.Rollup
	for i := range 100 {
		r := slo.Rollup{Start: t0.Add(time.Duration(i) * time.Minute).UnixNano(), Attempted: 10, Good: 10, Measured: true}
		if i < 3 {
			r.Good = 5 // three bad quanta, 15 failed events, 1.5 minutes down
		}
		rs = append(rs, r)
	}
	cases := []struct {
		method      string
		good, total uint64
	}{
		{"quanta", 97, 100},
		{"time-quanta", 97, 100},
		{"transactions", 985, 1000},
		{"downtime-minutes", uint64(100*time.Minute - 90*time.Second), uint64(100 * time.Minute)},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			m.series[c.method] = rs
			good, total, err := FromSLOs{Src: m}.Count(context.Background(), c.method, t0, t0.Add(100*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if good != c.good || total != c.total {
				t.Errorf("Count = %d of %d; want %d of %d", good, total, c.good, c.total)
			}
		})
	}
}

package store

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

func TestCutoffs(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 34, 56, 0, time.UTC)
	hour := func(s string) int64 {
		t.Helper()
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixNano()
	}
	f := func(p Retention, full, counts, hourly int64) {
		t.Helper()
		gf, gc, gh, err := p.Cutoffs(now)
		if err != nil {
			t.Fatalf("Cutoffs(%+v): %v", p, err)
		}
		if gf != full || gc != counts || gh != hourly {
			t.Errorf("Cutoffs(%+v) = %v, %v, %v; want %v, %v, %v", p,
				time.Unix(0, gf).UTC(), time.Unix(0, gc).UTC(), time.Unix(0, gh).UTC(),
				time.Unix(0, full).UTC(), time.Unix(0, counts).UTC(), time.Unix(0, hourly).UTC())
		}
	}
	// Defaults: 35 days of full rollups (cut on the hour), 400 days of
	// counts (cut to the nanosecond), hourly histograms as long as counts
	// (cut on the hour).
	f(Retention{}, hour("2026-02-03T12:00:00Z"), now.Add(-400*24*time.Hour).UnixNano(), hour("2025-02-03T12:00:00Z"))
	f(Retention{Full: time.Hour, Counts: 2 * time.Hour, HourlyHistograms: 90 * time.Minute},
		hour("2026-03-10T11:00:00Z"), hour("2026-03-10T10:34:56Z"), hour("2026-03-10T11:00:00Z"))
	far := now.UnixNano() - math.MaxInt64
	f(Retention{Full: math.MaxInt64, Counts: math.MaxInt64}, HourOf(far), far, HourOf(far))
	// Before 1970 the same retention reaches below the int64 range: the
	// cuts stop at its start instead of wrapping around.
	old := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC)
	gf, gc, gh, err := Retention{Full: math.MaxInt64, Counts: math.MaxInt64}.Cutoffs(old)
	if err != nil || gf != math.MinInt64 || gc != math.MinInt64 || gh != math.MinInt64 {
		t.Errorf("Cutoffs in 1950 of the longest retention = %d, %d, %d, %v; want math.MinInt64 thrice", gf, gc, gh, err)
	}

	for _, p := range []Retention{{Full: 2 * time.Hour, Counts: time.Hour}, {Counts: -1}, {HourlyHistograms: -1}} {
		if _, _, _, err := p.Cutoffs(now); !errors.Is(err, ErrInvalid) {
			t.Errorf("Cutoffs(%+v): %v, want ErrInvalid", p, err)
		}
	}
}

func TestHourOf(t *testing.T) {
	f := func(in, want int64) {
		t.Helper()
		if got := HourOf(in); got != want {
			t.Errorf("HourOf(%d) = %d, want %d", in, got, want)
		}
	}
	h := int64(time.Hour)
	f(0, 0)
	f(h-1, 0)
	f(h, h)
	f(-1, -h)
	f(-h, -h)
	f(math.MaxInt64, slo.QuantumStart(math.MaxInt64, time.Hour))
	f(math.MinInt64, math.MinInt64)
	f(math.MinInt64+h-1, math.MinInt64)
}

func TestCheckRollup(t *testing.T) {
	ok := &slo.Rollup{Start: 3 * int64(time.Minute)}
	if err := CheckRollup("a", time.Minute, ok); err != nil {
		t.Errorf("aligned rollup: %v", err)
	}
	for _, c := range []struct {
		sli string
		q   time.Duration
		r   *slo.Rollup
	}{
		{"", time.Minute, ok},
		{"a", 0, ok},
		{"a", 2 * time.Minute, &slo.Rollup{Start: 3 * int64(time.Minute)}},
		{"a", time.Minute, nil},
	} {
		if err := CheckRollup(c.sli, c.q, c.r); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckRollup(%q, %v, %v): %v, want ErrInvalid", c.sli, c.q, c.r, err)
		}
	}
}

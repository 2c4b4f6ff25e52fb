package report

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

func TestNumberEncodesNonFiniteAsNull(t *testing.T) {
	f := func(in float64, want string) {
		t.Helper()
		b, err := json.Marshal(Number(in))
		if err != nil || string(b) != want {
			t.Fatalf("Number(%v) = %s, %v; want %s", in, b, err, want)
		}
	}
	f(99.9, "99.9")
	f(1.44, "1.44")
	f(-0.56, "-0.56")
	f(1e21, "1000000000000000000000")
	f(math.NaN(), "null")
	f(math.Inf(1), "null")
	f(math.Inf(-1), "null")
}

func TestPercentagesAreCutNotRounded(t *testing.T) {
	f := func(in float64, want string) {
		t.Helper()
		if got := pct(in); got != want {
			t.Fatalf("pct(%v) = %s, want %s", in, got, want)
		}
	}
	f(1439.0/1440*100, "99.930") // docs/reference.md §1 writes 99.930, not 99.931
	f(1438.0/1440*100, "99.861")
	f(99.8996, "99.899") // never rounds up into compliance
	f(0.999*100, "99.900")
	f(100, "100.000")
	f(math.NaN(), "n/a")
}

func TestCountSeparatesThousands(t *testing.T) {
	f := func(in uint64, want string) {
		t.Helper()
		if got := count(in); got != want {
			t.Fatalf("count(%d) = %s, want %s", in, got, want)
		}
	}
	f(0, "0")
	f(999, "999")
	f(1000, "1,000")
	f(100000000, "100,000,000")
	if got := count64(-1234); got != "-1,234" {
		t.Fatalf("count64(-1234) = %s", got)
	}
}

func TestSecondsToMilliseconds(t *testing.T) {
	f := func(in, want float64) {
		t.Helper()
		if got := secondsToMS(in); got != want {
			t.Fatalf("secondsToMS(%v) = %v, want exactly %v", in, got, want)
		}
	}
	f(0.005, 5)
	f(0.00337, 3.37)
	f(0.0011, 1.1)
	f(2.5, 2500)
}

// TestTimesAreInTheCalendarZone: a document of a Berlin calendar SLO
// writes every time with Berlin's offset, one of a rolling SLO in UTC, and
// the Input a caller shares between documents is left as it was.
func TestTimesAreInTheCalendarZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, berlin)
	first := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	in := &Input{First: &first, Last: &first}
	res := &slo.Result{Window: slo.Window{Start: start, End: start.AddDate(0, 1, 0)},
		Violations: []slo.Window{{Start: first, End: first.Add(time.Minute)}}}
	for _, c := range []struct {
		name    string
		window  slo.WindowSpec
		zone    *time.Location
		written string
	}{
		{"A Berlin month is written with Berlin's offset.", slo.WindowSpec{Calendar: slo.Month, Location: berlin}, berlin, `"start":"2026-12-01T00:00:00+01:00"`},
		{"A UTC month is written in UTC.", slo.WindowSpec{Calendar: slo.Month, Location: time.UTC}, time.UTC, `"start":"2026-11-30T23:00:00Z"`},
		{"A rolling window is written in UTC.", slo.WindowSpec{Rolling: 30 * 24 * time.Hour}, time.UTC, `"start":"2026-11-30T23:00:00Z"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &slo.SLO{Name: "x", Window: c.window, Quantum: time.Minute}
			if got := Zone(s); got != c.zone {
				t.Fatalf("Zone = %v, want %v", got, c.zone)
			}
			d := Build(s, first, []*slo.Result{res}, nil, in)
			b, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.written) {
				t.Errorf("%s lacks %s", b, c.written)
			}
			for _, tm := range []time.Time{d.EvaluatedAt, *d.Input.First, d.Windows[0].Start, d.Windows[0].Violations[0].End} {
				if tm.Location() != c.zone {
					t.Errorf("%v is in %v, want %v", tm, tm.Location(), c.zone)
				}
			}
			if in.First.Location() != time.UTC {
				t.Error("Build changed the caller's Input")
			}
		})
	}
}

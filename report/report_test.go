package report

import (
	"encoding/json"
	"math"
	"testing"
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
	f(1439.0/1440*100, "99.930") // FACTS §1 writes 99.930, not 99.931
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

package spec

import (
	"testing"

	"github.com/nines-sre/nines/slo"
)

func TestSuggestFindsTyposButNotStrangers(t *testing.T) {
	f := func(s, want string) {
		t.Helper()
		if got := suggest(s, nativeFields); got != want {
			t.Errorf("suggest(%q) = %q; want %q", s, got, want)
		}
	}
	f("quantumobjective", "quantumObjective")
	f("QUANTUM", "quantum")
	f("objectve", "objective")
	f("nodata", "noData")
	f("servce", "service")
	f("windw", "window")
	f("lables", "labels")
	f("team", "")
	f("x", "")
	f("", "")
}

func TestQuoteCutsLongTextAtARuneBoundary(t *testing.T) {
	f := func(s, want string) {
		t.Helper()
		if got := quote(s); got != want {
			t.Errorf("quote(%q) = %s; want %s", s, got, want)
		}
	}
	f("99.9", `"99.9"`)
	long := ""
	for range 63 {
		long += "a"
	}
	f(long+"€€", `"`+long+`"...`)
}

func TestEnumNamesAsksTheModel(t *testing.T) {
	// The model's String and Parse functions are the source of truth; this
	// pins what messages list so that a change there is seen here.
	f := func(got []string, want string) {
		t.Helper()
		if orList(got) != want {
			t.Errorf("names = %s; want %s", orList(got), want)
		}
	}
	f(enumNames(slo.ParseMethod), "quanta, time-quanta, transactions or downtime-minutes")
	f(enumNames(slo.ParseNoData), "bad, good or skip")
	f(enumNames(slo.ParseCalendarUnit), "day, week, month, quarter or year")
}

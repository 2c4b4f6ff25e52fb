package slo

import (
	"math"
	"strconv"
	"testing"
	"time"
)

func TestParsePercent(t *testing.T) {
	f := func(in string, num, den uint64, wantErr bool) {
		t.Helper()
		r, err := ParsePercent(in)
		if (err != nil) != wantErr {
			t.Fatalf("ParsePercent(%q) error = %v, want error %v", in, err, wantErr)
		}
		if err == nil && (r.Num != num || r.Den != den) {
			t.Fatalf("ParsePercent(%q) = %d/%d, want %d/%d", in, r.Num, r.Den, num, den)
		}
	}
	f("99.9", 999, 1000, false)
	f("99.90", 999, 1000, false)
	f("99.95", 9995, 10000, false)
	f("99", 99, 100, false)
	f(" 99.999 %", 99999, 100000, false)
	f("0.5", 5, 1000, false)
	f("100", 0, 0, true)
	f("100.0", 0, 0, true)
	f("0", 0, 0, true)
	f("-1", 0, 0, true)
	f("99.9.9", 0, 0, true)
	f("9e1", 0, 0, true)
	f(".9", 0, 0, true)
	f("99.", 0, 0, true)
	f("", 0, 0, true)
	f("99.99999999", 0, 0, true)
	f("1000", 0, 0, true)
}

func TestRatioMeetsIsExact(t *testing.T) {
	r, _ := ParsePercent("99.9")
	f := func(good, total uint64, want bool) {
		t.Helper()
		if got := r.Meets(good, total); got != want {
			t.Fatalf("99.9%%.Meets(%d, %d) = %v, want %v", good, total, got, want)
		}
	}
	f(999, 1000, true) // exactly the objective
	f(998, 1000, false)
	f(69375, 69444, true) // 69 failures in 69,444: allowed
	f(69374, 69444, false)
	f(0, 0, true)
	f(math.MaxUint64-1, math.MaxUint64, true) // no overflow in 128 bits
	if !r.WithinBudget(1, 1000) || r.WithinBudget(2, 1000) || r.WithinBudget(5, 3) {
		t.Fatal("WithinBudget disagrees with Meets")
	}
}

func TestStatusRule(t *testing.T) {
	cases := []struct {
		rule       string
		good, bad  []int
		wantErrMsg bool
	}{
		{rule: "<500", good: []int{0, 200, 404, 499}, bad: []int{500, 503, 999, -1, 1000}},
		{rule: "2xx,3xx", good: []int{200, 204, 399}, bad: []int{199, 400, 500}},
		{rule: "200-399, 404", good: []int{200, 399, 404}, bad: []int{400, 405, 503}},
		{rule: ">=200,<=299", good: []int{200, 0, 999}, bad: nil},
		{rule: ">499", good: []int{500}, bad: []int{499}},
		{rule: "503", good: []int{503}, bad: []int{500}},
		{rule: "", wantErrMsg: true},
		{rule: "<0", wantErrMsg: true},
		{rule: "6xxx", wantErrMsg: true},
		{rule: "300-200", wantErrMsg: true},
		{rule: "<5000", wantErrMsg: true},
		{rule: "ok", wantErrMsg: true},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) {
			r, err := ParseStatusRule(c.rule)
			if c.wantErrMsg {
				if err == nil {
					t.Fatalf("ParseStatusRule(%q) accepted an invalid rule", c.rule)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.good {
				if !r.Good(s) {
					t.Errorf("status %d should be good under %q", s, c.rule)
				}
			}
			for _, s := range c.bad {
				if r.Good(s) {
					t.Errorf("status %d should be bad under %q", s, c.rule)
				}
			}
		})
	}
	var zero StatusRule
	if !zero.Good(503) || !zero.IsZero() {
		t.Fatal("the zero rule must accept every status")
	}
}

func TestLatencyThresholdIsExactDecimal(t *testing.T) {
	f := func(in string, want string, inclusive bool) {
		t.Helper()
		r, err := ParseLatencyRule(in)
		if err != nil {
			t.Fatalf("ParseLatencyRule(%q): %v", in, err)
		}
		w, _ := strconv.ParseFloat(want, 64)
		if math.Float64bits(r.Threshold) != math.Float64bits(w) || r.Inclusive != inclusive {
			t.Fatalf("ParseLatencyRule(%q) = %v inclusive %v, want exactly %s inclusive %v", in, r.Threshold, r.Inclusive, want, inclusive)
		}
		if back, _ := ParseLatencyRule(r.String()); back != r {
			t.Fatalf("%q does not round-trip through %q", in, r.String())
		}
	}
	f("<=5ms", "0.005", true)
	f("<250ms", "0.25", false)
	f("<= 1.1ms", "0.0011", true)
	f("<=0.3s", "0.3", true)
	f("<100us", "0.0001", false)
	f("<=7ns", "7e-9", true)
	for _, bad := range []string{"5ms", "<=5", "<=-5ms", "<=0ms", "<=5 parsecs", "<=1e3ms", "<=NaNms", ">5ms"} {
		if _, err := ParseLatencyRule(bad); err == nil {
			t.Errorf("ParseLatencyRule(%q) accepted it", bad)
		}
	}
	l := LatencyRule{Threshold: 0.005, Inclusive: true}
	if l.Slow(0.005) || !l.Slow(math.Nextafter(0.005, 1)) || l.Slow(math.NaN()) {
		t.Fatal("an inclusive threshold must accept exactly the threshold and treat NaN as unmeasured")
	}
	l.Inclusive = false
	if !l.Slow(0.005) || l.Slow(math.Nextafter(0.005, 0)) {
		t.Fatal("an exclusive threshold must reject exactly the threshold")
	}
}

func TestClassify(t *testing.T) {
	status, _ := ParseStatusRule("<500")
	lat := LatencyRule{Threshold: 0.005, Inclusive: true}
	sli := SLI{Status: status, Latency: &lat}
	f := func(e Event, want Outcome) {
		t.Helper()
		if got := sli.Classify(&e); got != want {
			t.Fatalf("Classify(%+v) = %d, want %d", e, got, want)
		}
	}
	f(Event{Status: 200, Latency: 0.005}, Good)
	f(Event{Status: 200, Latency: 0.0051}, FailedSlow)
	f(Event{Status: 503, Latency: 0.0051}, FailedError) // an error wins over slowness
	f(Event{Status: 200, Latency: math.NaN()}, Good)
	f(Event{Status: 503, OK: FlagTrue, Latency: 0.001}, Good) // the explicit flag wins
	f(Event{Status: 200, OK: FlagFalse, Latency: 0.001}, FailedError)
	f(Event{Status: NoStatus, Latency: 0.001}, FailedError)
}

func TestParseDuration(t *testing.T) {
	f := func(in string, want time.Duration) {
		t.Helper()
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Fatalf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, err := ParseDuration(FormatDuration(got)); err != nil || back != got {
			t.Fatalf("FormatDuration(%v) = %q does not read back", got, FormatDuration(got))
		}
	}
	f("30d", 30*24*time.Hour)
	f("1h30m", 90*time.Minute)
	f("5m", 5*time.Minute)
	f("10s", 10*time.Second)
	f("1w", 7*24*time.Hour)
	f("1y", 365*24*time.Hour)
	f("1d12h", 36*time.Hour)
	f("500ms", 500*time.Millisecond)
	for _, bad := range []string{"", "30", "d", "-5m", "5 minutes", "1.5d", "99999999999999y"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted it", bad)
		}
	}
	if got := FormatDuration(720 * time.Hour); got != "30d" {
		t.Fatalf("FormatDuration(720h) = %q, want 30d", got)
	}
}

func TestQuantumStartIsEpochAligned(t *testing.T) {
	f := func(t0 int64, q time.Duration, want int64) {
		t.Helper()
		if got := QuantumStart(t0, q); got != want {
			t.Fatalf("QuantumStart(%d, %v) = %d, want %d", t0, q, got, want)
		}
	}
	f(0, time.Minute, 0)
	f(59_999_999_999, time.Minute, 0)
	f(60_000_000_000, time.Minute, 60_000_000_000)
	f(-1, time.Minute, -60_000_000_000)
	f(-60_000_000_000, time.Minute, -60_000_000_000)
}

func TestValidate(t *testing.T) {
	ok := SLO{Name: "x", Objective: Ratio{999, 1000}, Quantum: time.Minute, Window: WindowSpec{Rolling: 30 * 24 * time.Hour}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []SLO{
		{},
		{Name: "x", Objective: Ratio{999, 1000}, Quantum: 7 * time.Minute, Window: WindowSpec{Rolling: time.Hour}},
		{Name: "x", Objective: Ratio{999, 1000}, Quantum: time.Minute, Window: WindowSpec{Rolling: 90 * time.Second}},
		{Name: "x", Objective: Ratio{999, 1000}, Quantum: time.Minute, Window: WindowSpec{Rolling: time.Hour, Calendar: Day}},
	}
	for i, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted %+v", i, s)
		}
	}
}

func TestEvaluateRejectsMisalignedWindow(t *testing.T) {
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s := &SLO{Name: "x", Objective: Ratio{999, 1000}, Quantum: time.Hour, Window: WindowSpec{Calendar: Day, Location: kolkata}}
	series := &Series{Quantum: time.Hour}
	w := s.Window.Containing(time.Date(2026, 11, 25, 12, 0, 0, 0, kolkata))
	if _, err := Evaluate(s, series, w, w.End); err == nil {
		t.Fatal("a day starting at 18:30 UTC cannot be cut into epoch-aligned 1h quanta")
	}
	s.Quantum, series.Quantum = 30*time.Minute, 30*time.Minute
	if _, err := Evaluate(s, series, w, w.End); err != nil {
		t.Fatalf("30-minute quanta fit the Kolkata day: %v", err)
	}
}

package slo

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The evaluation scripts in testdata/*.test reproduce the worked numbers of
// published SRE practice through Evaluate and BurnRate. A script is a list
// of commands, one per line, '#' starts a comment:
//
//	slo KEY=VALUE…            the SLO under test (method, objective,
//	                          quantumObjective, quantum, rolling, calendar,
//	                          tz, nodata, latency)
//	load START N KEY=VALUE…   N consecutive quanta from START with the same
//	                          rollup (attempted, good, errors, slow, measured)
//	eval START END at=T       evaluate the window [START, END) at T (at
//	                          defaults to END)
//	eval at=T                 evaluate the SLO's window containing T
//	expect KEY=VALUE…         check the last evaluation
//
// Numbers in expect are compared to the precision they are written with,
// as the sources print them, rounded or cut: "99.930" passes for anything
// within 0.001 of it; a whole number such as "1439" must be within 0.5,
// so counts are exact. That keeps the scripts in the words of the sources.
func TestScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/*.test")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".test"), func(t *testing.T) { runScript(t, f) })
	}
}

type script struct {
	t       *testing.T
	name    string
	line    int
	slo     *SLO
	agg     map[int64]Rollup
	series  *Series
	result  *Result
	evalAt  time.Time
	checked int
}

func runScript(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &script{t: t, name: filepath.Base(path), agg: map[int64]Rollup{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s.line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "slo":
			s.defineSLO(fields[1:])
		case "load":
			s.load(fields[1:])
		case "eval":
			s.eval(fields[1:])
		case "expect":
			s.expect(fields[1:])
		default:
			s.fatalf("unknown command %q", fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if s.checked == 0 {
		t.Fatalf("%s checks nothing", s.name)
	}
}

func (s *script) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s:%d: %s", s.name, s.line, fmt.Sprintf(format, args...))
}

func (s *script) errorf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("%s:%d: %s", s.name, s.line, fmt.Sprintf(format, args...))
}

func keyValues(s *script, fields []string) map[string]string {
	kv := map[string]string{}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			s.fatalf("want KEY=VALUE, got %q", f)
		}
		kv[k] = v
	}
	return kv
}

func (s *script) defineSLO(fields []string) {
	kv := keyValues(s, fields)
	o := &SLO{Name: s.name, Quantum: time.Minute, Window: WindowSpec{Location: time.UTC}}
	var err error
	for k, v := range kv {
		switch k {
		case "method":
			o.Method, err = ParseMethod(v)
		case "objective":
			o.Objective, err = ParsePercent(v)
		case "quantumObjective":
			o.QuantumObjective, err = ParsePercent(v)
		case "quantum":
			o.Quantum, err = ParseDuration(v)
		case "rolling":
			o.Window.Rolling, err = ParseDuration(v)
		case "calendar":
			o.Window.Calendar, err = ParseCalendarUnit(v)
		case "tz":
			o.Window.Location, err = time.LoadLocation(v)
		case "nodata":
			o.NoData, err = ParseNoData(v)
		case "latency":
			var r LatencyRule
			r, err = ParseLatencyRule(v)
			o.SLI.Latency = &r
		default:
			s.fatalf("unknown slo key %q", k)
		}
		if err != nil {
			s.fatalf("slo %s: %v", k, err)
		}
	}
	if err := o.Validate(); err != nil {
		s.fatalf("slo: %v", err)
	}
	if s.slo != nil && s.slo.Quantum != o.Quantum {
		// Rollups of another quantum do not describe this SLO's quanta.
		clear(s.agg)
	}
	s.slo, s.series = o, nil
}

func parseScriptTime(s *script, v string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t
		}
	}
	s.fatalf("bad time %q", v)
	return time.Time{}
}

func parseUint(s *script, v string) uint64 {
	n, err := strconv.ParseUint(strings.ReplaceAll(v, "_", ""), 10, 64)
	if err != nil {
		s.fatalf("bad count %q", v)
	}
	return n
}

func (s *script) load(fields []string) {
	if s.slo == nil || len(fields) < 2 {
		s.fatalf("load START N KEY=VALUE… after slo")
	}
	start := parseScriptTime(s, fields[0])
	n := parseUint(s, fields[1])
	r := Rollup{Measured: true}
	for k, v := range keyValues(s, fields[2:]) {
		switch k {
		case "attempted":
			r.Attempted = parseUint(s, v)
		case "good":
			r.Good = parseUint(s, v)
		case "errors":
			r.Errors = parseUint(s, v)
		case "slow":
			r.Slow = parseUint(s, v)
		case "measured":
			r.Measured = v == "true"
		default:
			s.fatalf("unknown load key %q", k)
		}
	}
	if r.Good > r.Attempted {
		s.fatalf("good %d exceeds attempted %d", r.Good, r.Attempted)
	}
	q := int64(s.slo.Quantum)
	for i := range int64(n) {
		r.Start = start.UnixNano() + i*q
		s.agg[r.Start] = r
	}
	s.series = nil
}

func (s *script) seriesNow() *Series {
	if s.series == nil {
		a := NewAggregator(&s.slo.SLI, s.slo.Quantum)
		for _, r := range s.agg {
			a.AddRollup(&r)
		}
		s.series = a.Series()
	}
	return s.series
}

func (s *script) eval(fields []string) {
	var w Window
	var at time.Time
	var rest []string
	for _, f := range fields {
		if v, ok := strings.CutPrefix(f, "at="); ok {
			at = parseScriptTime(s, v)
		} else {
			rest = append(rest, f)
		}
	}
	switch len(rest) {
	case 0:
		if at.IsZero() {
			s.fatalf("eval needs at=T or START END")
		}
		w = s.slo.Window.Containing(at)
	case 2:
		w = Window{Start: parseScriptTime(s, rest[0]), End: parseScriptTime(s, rest[1])}
		if at.IsZero() {
			at = w.End
		}
	default:
		s.fatalf("eval START END [at=T] | eval at=T")
	}
	res, err := Evaluate(s.slo, s.seriesNow(), w, at)
	if err != nil {
		s.fatalf("eval: %v", err)
	}
	s.result, s.evalAt = res, at
}

func (s *script) expect(fields []string) {
	if s.result == nil {
		s.fatalf("expect before eval")
	}
	r := s.result
	for _, f := range fields {
		k, want, ok := strings.Cut(f, "=")
		if !ok {
			s.fatalf("want KEY=VALUE, got %q", f)
		}
		s.checked++
		var got any
		switch k {
		case "window":
			got = r.Window.String()
		case "met":
			got = strconv.FormatBool(r.Met)
		case "complete":
			got = strconv.FormatBool(r.Complete)
		case "availability":
			got = r.Availability * 100
		case "quanta.total":
			got = float64(r.Quanta.Total)
		case "quanta.elapsed":
			got = float64(r.Quanta.Elapsed)
		case "quanta.good":
			got = float64(r.Quanta.Good)
		case "quanta.bad":
			got = float64(r.Quanta.Bad)
		case "quanta.unmeasured":
			got = float64(r.Quanta.Unmeasured)
		case "quanta.skipped":
			got = float64(r.Quanta.Skipped)
		case "events.total":
			got = float64(r.Events.Total)
		case "events.good":
			got = float64(r.Events.Good)
		case "events.failed":
			got = float64(r.Events.Failed)
		case "budget.unit":
			got = r.Budget.Unit
		case "budget.total":
			got = r.Budget.Total
		case "budget.spent":
			got = r.Budget.Spent
		case "budget.remaining":
			got = r.Budget.Remaining
		case "downtime.minutes":
			got = r.Downtime.Minutes()
		case "downtime.seconds":
			got = r.Downtime.Seconds()
		case "uptime.minutes":
			got = float64(r.Quanta.Counted())*s.slo.Quantum.Minutes() - r.Downtime.Minutes()
		case "violations":
			var parts []string
			for _, v := range r.Violations {
				parts = append(parts, v.Start.Format("15:04")+"-"+v.End.Format("15:04"))
			}
			got = strings.Join(parts, ",")
			if got == "" {
				got = "none"
			}
		default:
			span, ok := strings.CutPrefix(k, "burn:")
			if !ok {
				s.fatalf("unknown expect key %q", k)
			}
			d, err := ParseDuration(span)
			if err != nil {
				s.fatalf("burn span: %v", err)
			}
			b, err := BurnRate(s.slo, s.seriesNow(), s.evalAt.Add(-d), s.evalAt)
			if err != nil {
				s.fatalf("burn: %v", err)
			}
			got = b
		}
		switch g := got.(type) {
		case string:
			if g != want {
				s.errorf("%s = %s, want %s", k, g, want)
			}
		case float64:
			w, err := strconv.ParseFloat(strings.ReplaceAll(want, "_", ""), 64)
			if err != nil {
				s.fatalf("%s: bad number %q", k, want)
			}
			if tol := writtenPrecision(want); math.Abs(g-w) > tol || math.IsNaN(g) != math.IsNaN(w) {
				s.errorf("%s = %.10g, want %s (±%g)", k, g, want, tol)
			}
		}
	}
}

// writtenPrecision is one unit of the last decimal written ("99.930" →
// 0.001), or 0.5 for a whole number.
func writtenPrecision(v string) float64 {
	_, frac, ok := strings.Cut(v, ".")
	if !ok {
		return 0.5
	}
	return math.Pow(10, -float64(len(frac)))
}

package alert

import (
	"bufio"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// The replay scripts in testdata/*.replay are the proof of the package:
// each builds a rollup history as slo.Series, evaluates it with a fake
// clock every 30 seconds (or minute) through History (the source nines
// serve's tracker gives) and Evaluate, and
// states the exact alert timeline that must come out. A script is a list
// of commands, one per line, '#' starts a comment:
//
//	slo KEY=VALUE…            a new SLO (objective, method, rolling,
//	                          calendar, tz, nodata, quantum,
//	                          quantumObjective); clears traffic and policy
//	policy KEY=VALUE…         minEvents=N|off resolveAfter=D|off
//	                          noDataAfter=D|off disable=TIER[,TIER]
//	day DATE                  the date HH:MM times refer to
//	traffic FROM TO KEY=VALUE… every quantum of [FROM, TO) gets this rollup
//	                          (attempted, good; every=D keeps one quantum
//	                          in each D), replacing what it had
//	gap FROM TO               no rollups in [FROM, TO): nothing measured
//	replay FROM TO every=D    evaluate at FROM, FROM+D, … before TO
//	want LINE                 the next line of the timeline, exactly
//	reason TIME KIND ALERT …  the Reason of that transition, exactly
//	numbers TIME KIND ALERT KEY=VALUE… its figures (burnLong, burnShort,
//	                          factor, attempted, budget, tte)
//
// Times are RFC 3339 or HH:MM[:SS] on the day. The timeline has one line
// per transition ("10:01:00 fire page-fast page") and one each time a
// tier's check enters or leaves StatusSuppressed ("03:01:00 suppressed
// page-fast"); times in it are HH:MM:SS on the replay's first day, with
// "+1d " in front on the next. After a replay, the want lines must match
// the whole timeline, in order, no more and no less.
func TestReplays(t *testing.T) {
	files, err := filepath.Glob("testdata/*.replay")
	if err != nil || len(files) == 0 {
		t.Fatalf("no replay scripts in testdata: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".replay"), func(t *testing.T) { runReplay(t, f) })
	}
}

type replayScript struct {
	t       *testing.T
	name    string
	line    int
	slo     *slo.SLO
	policy  Policy
	day     time.Time
	rollups map[int64]slo.Rollup
	series  *slo.Series

	// The last replay: its timeline, how far want has matched it, its
	// transitions by "TIME KIND ALERT", and its first day.
	timeline    []string
	matched     int
	transitions map[string]Transition
	origin      time.Time
	replays     int
}

func runReplay(t *testing.T, path string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := &replayScript{t: t, name: filepath.Base(path), rollups: map[int64]slo.Rollup{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		s.line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		args := fields[1:]
		switch fields[0] {
		case "slo":
			s.endReplay()
			s.defineSLO(args)
		case "policy":
			s.definePolicy(args)
		case "day":
			s.day = s.time(strings.Join(args, " ") + "T00:00Z")
		case "traffic":
			s.traffic(args)
		case "gap":
			s.gap(args)
		case "replay":
			s.endReplay()
			s.replay(args)
		case "want":
			s.want(strings.Join(args, " "))
		case "reason":
			s.reason(args)
		case "numbers":
			s.numbers(args)
		default:
			s.fatalf("unknown command %q", fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	s.endReplay()
	if s.replays == 0 {
		t.Fatalf("%s replays nothing", s.name)
	}
}

func (s *replayScript) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s:%d: %s", s.name, s.line, fmt.Sprintf(format, args...))
}

func (s *replayScript) errorf(format string, args ...any) {
	s.t.Helper()
	s.t.Errorf("%s:%d: %s", s.name, s.line, fmt.Sprintf(format, args...))
}

func (s *replayScript) keyValues(fields []string) map[string]string {
	s.t.Helper()
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

// time reads RFC 3339 (minutes may omit seconds) or HH:MM[:SS] on the day.
func (s *replayScript) time(v string) time.Time {
	s.t.Helper()
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	if s.day.IsZero() {
		s.fatalf("time %q needs a day command first", v)
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, v); err == nil {
			return s.day.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
		}
	}
	s.fatalf("bad time %q", v)
	return time.Time{}
}

func (s *replayScript) duration(v string) time.Duration {
	s.t.Helper()
	d, err := slo.ParseDuration(v)
	if err != nil {
		s.fatalf("%v", err)
	}
	return d
}

func (s *replayScript) defineSLO(fields []string) {
	o := &slo.SLO{Name: s.name, Quantum: time.Minute, Window: slo.WindowSpec{Location: time.UTC}}
	var err error
	for k, v := range s.keyValues(fields) {
		switch k {
		case "objective":
			o.Objective, err = slo.ParsePercent(v)
		case "quantumObjective":
			o.QuantumObjective, err = slo.ParsePercent(v)
		case "method":
			o.Method, err = slo.ParseMethod(v)
		case "rolling":
			o.Window.Rolling, err = slo.ParseDuration(v)
		case "calendar":
			o.Window.Calendar, err = slo.ParseCalendarUnit(v)
		case "tz":
			o.Window.Location, err = time.LoadLocation(v)
		case "nodata":
			o.NoData, err = slo.ParseNoData(v)
		case "quantum":
			o.Quantum, err = slo.ParseDuration(v)
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
		clear(s.rollups)
	}
	s.slo, s.series, s.policy = o, nil, PolicyFor(o)
}

func (s *replayScript) definePolicy(fields []string) {
	if s.slo == nil {
		s.fatalf("policy before slo")
	}
	for k, v := range s.keyValues(fields) {
		switch k {
		case "minEvents":
			if v == "off" {
				s.policy.MinEvents = -1
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				s.fatalf("minEvents: %v", err)
			}
			s.policy.MinEvents = n
		case "resolveAfter":
			s.policy.ResolveAfter = -1
			if v != "off" {
				s.policy.ResolveAfter = s.duration(v)
			}
		case "noDataAfter":
			s.policy.NoData.After = -1
			if v != "off" {
				s.policy.NoData.After = s.duration(v)
			}
		case "disable":
			for name := range strings.SplitSeq(v, ",") {
				s.policy.Tiers = append(s.policy.Tiers, Tier{Name: name, Disabled: true})
			}
		default:
			s.fatalf("unknown policy key %q", k)
		}
	}
	if err := s.policy.Validate(); err != nil {
		s.fatalf("%v", err)
	}
}

func (s *replayScript) span(fields []string) (from, to time.Time, rest []string) {
	s.t.Helper()
	if s.slo == nil || len(fields) < 2 {
		s.fatalf("want FROM TO after slo")
	}
	from, to = s.time(fields[0]), s.time(fields[1])
	if !from.Before(to) {
		s.fatalf("span %s–%s is empty", fields[0], fields[1])
	}
	return from, to, fields[2:]
}

func (s *replayScript) traffic(fields []string) {
	from, to, rest := s.span(fields)
	r := slo.Rollup{Measured: true}
	step := s.slo.Quantum
	for k, v := range s.keyValues(rest) {
		var err error
		switch k {
		case "attempted":
			r.Attempted, err = strconv.ParseUint(v, 10, 64)
		case "good":
			r.Good, err = strconv.ParseUint(v, 10, 64)
		case "every":
			step = s.duration(v)
		default:
			s.fatalf("unknown traffic key %q", k)
		}
		if err != nil {
			s.fatalf("%s: %v", k, err)
		}
	}
	if r.Good > r.Attempted {
		s.fatalf("good %d exceeds attempted %d", r.Good, r.Attempted)
	}
	r.Errors = r.Attempted - r.Good
	for t := from; t.Before(to); t = t.Add(step) {
		r.Start = t.UnixNano()
		s.rollups[r.Start] = r
	}
	s.series = nil
}

func (s *replayScript) gap(fields []string) {
	from, to, rest := s.span(fields)
	if len(rest) > 0 {
		s.fatalf("gap FROM TO")
	}
	for t := from; t.Before(to); t = t.Add(s.slo.Quantum) {
		delete(s.rollups, t.UnixNano())
	}
	s.series = nil
}

func (s *replayScript) seriesNow() *slo.Series {
	if s.series == nil {
		s.series = &slo.Series{Quantum: s.slo.Quantum}
		for _, start := range slices.Sorted(maps.Keys(s.rollups)) {
			s.series.Rollups = append(s.series.Rollups, s.rollups[start])
		}
	}
	return s.series
}

// clock writes t as the timeline does: HH:MM:SS, "+Nd " on later days.
func (s *replayScript) clock(t time.Time) string {
	d := int(t.Sub(s.origin) / (24 * time.Hour))
	if d == 0 {
		return t.Format("15:04:05")
	}
	return fmt.Sprintf("+%dd %s", d, t.Format("15:04:05"))
}

func (s *replayScript) replay(fields []string) {
	from, to, rest := s.span(fields)
	every := 30 * time.Second
	for k, v := range s.keyValues(rest) {
		if k != "every" {
			s.fatalf("unknown replay key %q", k)
		}
		every = s.duration(v)
	}
	s.replays++
	s.origin = from.Truncate(24 * time.Hour)
	s.timeline, s.matched, s.transitions = nil, 0, map[string]Transition{}
	series := s.seriesNow()
	h, err := NewHistory(s.slo, series, from)
	if err != nil {
		s.fatalf("%v", err)
	}
	var state State
	suppressed := map[string]bool{}
	for now := from; now.Before(to); now = now.Add(every) {
		src, err := h.At(now)
		if err != nil {
			s.fatalf("%v", err)
		}
		next, trs, err := Evaluate(s.policy, src, state, now)
		if err != nil {
			s.fatalf("evaluate at %s: %v", now.Format(time.RFC3339), err)
		}
		for _, tr := range trs {
			key := fmt.Sprintf("%s %s %s", s.clock(now), tr.Kind, tr.Alert)
			s.timeline = append(s.timeline, key+" "+string(tr.Severity))
			s.transitions[key] = tr
		}
		for _, c := range next.Checks {
			if on := c.Status == StatusSuppressed; on != suppressed[c.Alert] {
				suppressed[c.Alert] = on
				word := "suppressed"
				if !on {
					word = "unsuppressed"
				}
				s.timeline = append(s.timeline, fmt.Sprintf("%s %s %s", s.clock(now), word, c.Alert))
			}
		}
		state = next
	}
}

func (s *replayScript) want(line string) {
	if s.timeline == nil && s.replays == 0 {
		s.fatalf("want before replay")
	}
	if s.matched >= len(s.timeline) {
		s.errorf("want %q: the timeline has only %d lines:\n%s", line, len(s.timeline), strings.Join(s.timeline, "\n"))
		s.matched++
		return
	}
	if got := s.timeline[s.matched]; got != line {
		s.errorf("timeline line %d is %q, want %q; whole timeline:\n%s", s.matched+1, got, line, strings.Join(s.timeline, "\n"))
	}
	s.matched++
}

// endReplay checks that the want lines covered the whole timeline.
func (s *replayScript) endReplay() {
	if s.replays > 0 && s.matched < len(s.timeline) {
		s.t.Errorf("%s: replay %d: timeline lines %d on are not wanted:\n%s", s.name, s.replays, s.matched+1, strings.Join(s.timeline[s.matched:], "\n"))
	}
	s.timeline, s.matched = nil, 0
}

// transition finds "TIME KIND ALERT" in the last replay; TIME may take two
// fields ("+1d 08:44:00"). It returns the fields after the key.
func (s *replayScript) transition(fields []string) (Transition, []string) {
	s.t.Helper()
	n := 3
	if len(fields) > 0 && strings.HasPrefix(fields[0], "+") {
		n = 4
	}
	if len(fields) < n {
		s.fatalf("want TIME KIND ALERT …")
	}
	key := strings.Join(fields[:n], " ")
	tr, ok := s.transitions[key]
	if !ok {
		s.fatalf("no transition %q in the last replay", key)
	}
	return tr, fields[n:]
}

func (s *replayScript) reason(fields []string) {
	tr, rest := s.transition(fields)
	if want := strings.Join(rest, " "); tr.Reason != want {
		s.errorf("reason:\n got %s\nwant %s", tr.Reason, want)
	}
}

// numbers compares figures to the precision they are written with:
// "16.667" passes within 0.001, "5000" within 0.5, a duration "42h12m"
// within a minute.
func (s *replayScript) numbers(fields []string) {
	tr, rest := s.transition(fields)
	for k, want := range s.keyValues(rest) {
		var got float64
		switch k {
		case "burnLong":
			got = tr.BurnLong
		case "burnShort":
			got = tr.BurnShort
		case "factor":
			got = tr.Factor
		case "attempted":
			got = float64(tr.Attempted)
		case "budget":
			got = tr.BudgetRemaining
		case "tte":
			w := s.duration(want)
			unit := time.Second
			for _, u := range []struct {
				suffix string
				d      time.Duration
			}{{"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}} {
				if strings.HasSuffix(want, u.suffix) {
					unit = u.d
				}
			}
			if tr.TimeToExhaustion.Truncate(unit) != w {
				s.errorf("tte = %s, want %s", tr.TimeToExhaustion, want)
			}
			continue
		default:
			s.fatalf("unknown numbers key %q", k)
		}
		w, err := strconv.ParseFloat(want, 64)
		if err != nil {
			s.fatalf("%s: bad number %q", k, want)
		}
		tol := 0.5
		if _, frac, ok := strings.Cut(want, "."); ok {
			tol = math.Pow(10, -float64(len(frac)))
		}
		if math.Abs(got-w) > tol || math.IsNaN(got) != math.IsNaN(w) {
			s.errorf("%s = %.10g, want %s (±%g)", k, got, want, tol)
		}
	}
}

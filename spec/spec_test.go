package spec_test

import (
	"encoding/json"
	"errors"
	"flag"
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
	"github.com/nines-sre/nines/spec"
)

var update = flag.Bool("update", false, "rewrite testdata/valid/*.golden and testdata/invalid/*.err from the current output")

// Every file in testdata/valid loads without error, and maps to what its
// .golden file says.
func TestValidSpecsMapAsTheirGoldenFilesSay(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/valid/*.yaml: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			slos, warns, err := spec.Load(name, readFile(t, file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			golden(t, strings.TrimSuffix(file, ".yaml")+".golden", dump(slos)+dumpWarnings(warns))
		})
	}
}

// Every file in testdata/invalid is refused with exactly the text of its
// .err file, and no SLO comes back.
func TestInvalidSpecsFailWithTheMessagesOfTheirErrFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/invalid/*.yaml: %v", err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			slos, _, err := spec.Load(name, readFile(t, file))
			if err == nil {
				t.Fatalf("Load succeeded; want an error")
			}
			if slos != nil {
				t.Errorf("Load returned %d SLOs with an error; want none", len(slos))
			}
			checkErrors(t, name, err)
			golden(t, strings.TrimSuffix(file, ".yaml")+".err", err.Error()+"\n")
		})
	}
}

// checkErrors checks that err joins *Errors that all name file.
func checkErrors(t testing.TB, file string, err error) {
	t.Helper()
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		var se *spec.Error
		if !errors.As(e, &se) {
			t.Errorf("%v: a %T, not a *spec.Error", e, e)
			continue
		}
		if se.File != file || se.Line < 0 || se.Column < 0 || se.Err == nil {
			t.Errorf("%v: malformed %#v", e, se)
		}
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./spec -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./spec -update rewrites it)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// dump writes SLOs as text for golden files: every field of the model,
// numbers exactly, and how the SLI judges a few probe events, so that a
// golden file shows what a spec means and not only what it says.
func dump(slos []*slo.SLO) string {
	var b strings.Builder
	for _, s := range slos {
		fmt.Fprintf(&b, "slo %s\n", s.Name)
		fmt.Fprintf(&b, "  service: %s\n", s.Service)
		if s.Description != "" || s.Owner != "" || len(s.Labels) > 0 {
			keys := slices.Sorted(maps.Keys(s.Labels))
			labels := make([]string, 0, len(keys))
			for _, k := range keys {
				labels = append(labels, k+"="+s.Labels[k])
			}
			fmt.Fprintf(&b, "  description: %q owner: %q labels: {%s}\n", s.Description, s.Owner, strings.Join(labels, ", "))
		}
		if s.SLI.Status.IsZero() {
			b.WriteString("  sli.status: none (every status is good unless the event says ok: false)\n")
		} else {
			fmt.Fprintf(&b, "  sli.status: %q\n", s.SLI.Status.String())
		}
		if l := s.SLI.Latency; l != nil {
			fmt.Fprintf(&b, "  sli.latency: %s (threshold %ss, inclusive %t)\n", l, strconv.FormatFloat(l.Threshold, 'g', -1, 64), l.Inclusive)
		} else {
			b.WriteString("  sli.latency: none\n")
		}
		fmt.Fprintf(&b, "  sli judges: %s\n", probe(&s.SLI))
		if src := s.SLI.Source; src != nil {
			c := *src
			c.Prometheus = nil
			fmt.Fprintf(&b, "  sli.source: %+v\n", c)
			if api := src.Prometheus; api != nil {
				fmt.Fprintf(&b, "  sli.source.prometheus: %+v\n", *api)
			}
		}
		if l := s.SLI.Log; l != nil {
			fmt.Fprintf(&b, "  sli.log: format %q, timezone %q\n", l.Format, l.Timezone)
			for _, role := range slices.Sorted(maps.Keys(l.Fields)) {
				fmt.Fprintf(&b, "    field %s: %s\n", role, l.Fields[role])
			}
		}
		fmt.Fprintf(&b, "  objective: %d/%d\n", s.Objective.Num, s.Objective.Den)
		if s.QuantumObjective.IsZero() {
			b.WriteString("  quantumObjective: unset (the objective)\n")
		} else {
			fmt.Fprintf(&b, "  quantumObjective: %d/%d\n", s.QuantumObjective.Num, s.QuantumObjective.Den)
		}
		fmt.Fprintf(&b, "  method: %s\n", s.Method)
		fmt.Fprintf(&b, "  quantum: %s\n", s.Quantum)
		if w := s.Window; w.Calendar == slo.NotCalendar {
			fmt.Fprintf(&b, "  window: rolling %s\n", w.Rolling)
		} else {
			fmt.Fprintf(&b, "  window: calendar %s, location %v\n", w.Calendar, w.Location)
		}
		fmt.Fprintf(&b, "  noData: %s\n", s.NoData)
		if !s.Since.IsZero() {
			fmt.Fprintf(&b, "  since: %s\n", s.Since.UTC().Format(time.RFC3339))
		}
		if a := s.Alerting; a != nil {
			fmt.Fprintf(&b, "  alerting: minEvents %d, resolveAfter %s, noData after %s severity %q\n", a.MinEvents, a.ResolveAfter, a.NoDataAfter, a.NoDataSeverity)
			for _, t := range a.Tiers {
				fmt.Fprintf(&b, "    tier %+v\n", t)
			}
		}
		if s.BudgetPolicy != nil {
			fmt.Fprintf(&b, "  budgetPolicy: %+v\n", s.BudgetPolicy)
		}
	}
	return b.String()
}

func dumpWarnings(ws []spec.Warning) string {
	var b strings.Builder
	for _, w := range ws {
		b.WriteString("warning: " + w.String() + "\n")
	}
	return b.String()
}

// probe classifies a fixed set of events with sli.
func probe(sli *slo.SLI) string {
	type ev struct {
		name string
		e    slo.Event
	}
	evs := []ev{
		{"200", slo.Event{Status: 200}},
		{"404", slo.Event{Status: 404}},
		{"500", slo.Event{Status: 500}},
		{"no status", slo.Event{Status: slo.NoStatus}},
		{"500 ok:true", slo.Event{Status: 500, OK: slo.FlagTrue}},
		{"200 ok:false", slo.Event{Status: 200, OK: slo.FlagFalse}},
	}
	if l := sli.Latency; l != nil {
		evs = append(evs,
			ev{"200 at threshold", slo.Event{Status: 200, Latency: l.Threshold}},
			ev{"200 at 2×threshold", slo.Event{Status: 200, Latency: 2 * l.Threshold}})
	}
	var parts []string
	for _, x := range evs {
		if x.e.Latency == 0 {
			x.e.Latency = math.NaN()
		}
		out := "good"
		switch sli.Classify(&x.e) {
		case slo.FailedError:
			out = "error"
		case slo.FailedSlow:
			out = "slow"
		}
		parts = append(parts, x.name+"="+out)
	}
	return strings.Join(parts, ", ")
}

// encode writes s back as a native spec, as JSON (which is YAML), for round
// trips. Numbers are written exactly: the objective as the decimal it is,
// the latency threshold in the shortest form that reads back to the same
// float64.
func encode(s *slo.SLO) []byte {
	good := map[string]any{}
	if s.SLI.Status.IsZero() {
		good["ok"] = true
	} else {
		good["status"] = s.SLI.Status.String()
	}
	if l := s.SLI.Latency; l != nil {
		op := "<"
		if l.Inclusive {
			op = "<="
		}
		good["latency"] = op + strconv.FormatFloat(l.Threshold, 'f', -1, 64) + "s"
	}
	sli := map[string]any{"good": good}
	if src := s.SLI.Source; src != nil {
		m := map[string]any{}
		for k, v := range map[string]string{"good": src.Good, "bad": src.Bad, "total": src.Total, "histogram": src.Histogram,
			"errors": src.Errors, "statusLabel": src.StatusLabel, "unit": src.Unit} {
			if v != "" {
				m[k] = v
			}
		}
		if api := src.Prometheus; api != nil {
			m["url"] = api.URL
			if len(api.Headers) > 0 {
				m["headers"] = api.Headers
			}
			if api.BearerTokenFile != "" {
				m["bearerTokenFile"] = api.BearerTokenFile
			}
			if api.BasicAuthUser != "" {
				m["basicAuth"] = map[string]string{"username": api.BasicAuthUser, "passwordFile": api.BasicAuthPasswordFile}
			}
			m = map[string]any{"prometheus": m}
		}
		sli["source"] = m
	}
	if l := s.SLI.Log; l != nil {
		lm := map[string]any{"format": l.Format}
		if len(l.Fields) > 0 {
			lm["fields"] = l.Fields
		}
		if l.Timezone != "" {
			lm["timezone"] = l.Timezone
		}
		sli["log"] = lm
	}
	m := map[string]any{
		"name":      s.Name,
		"service":   s.Service,
		"sli":       sli,
		"objective": json.RawMessage(percent(s.Objective)),
		"method":    s.Method.String(),
		"quantum":   s.Quantum.String(),
		"noData":    s.NoData.String(),
	}
	if s.Description != "" {
		m["description"] = s.Description
	}
	if !s.Since.IsZero() {
		m["since"] = s.Since.Format(time.RFC3339)
	}
	if s.Owner != "" {
		m["owner"] = s.Owner
	}
	if len(s.Labels) > 0 {
		m["labels"] = s.Labels
	}
	if !s.QuantumObjective.IsZero() {
		m["quantumObjective"] = json.RawMessage(percent(s.QuantumObjective))
	}
	if w := s.Window; w.Calendar == slo.NotCalendar {
		m["window"] = map[string]any{"rolling": w.Rolling.String()}
	} else {
		m["window"] = map[string]any{"calendar": w.Calendar.String(), "timezone": w.Location.String()}
	}
	if a := s.Alerting; a != nil {
		am := map[string]any{}
		offOr := func(d time.Duration) any {
			if d < 0 {
				return "off"
			}
			return d.String()
		}
		if a.MinEvents < 0 {
			am["minEvents"] = "off"
		} else if a.MinEvents > 0 {
			am["minEvents"] = a.MinEvents
		}
		if a.ResolveAfter != 0 {
			am["resolveAfter"] = offOr(a.ResolveAfter)
		}
		if a.NoDataAfter < 0 {
			am["noData"] = "off"
		} else if a.NoDataAfter > 0 || a.NoDataSeverity != "" {
			nd := map[string]any{}
			if a.NoDataAfter > 0 {
				nd["after"] = a.NoDataAfter.String()
			}
			if a.NoDataSeverity != "" {
				nd["severity"] = a.NoDataSeverity
			}
			am["noData"] = nd
		}
		var tiers []map[string]any
		for _, t := range a.Tiers {
			tm := map[string]any{"name": t.Name}
			if t.Severity != "" {
				tm["severity"] = t.Severity
			}
			if t.BudgetShare != 0 {
				tm["budgetShare"] = strconv.FormatFloat(100*t.BudgetShare, 'g', -1, 64) + "%"
			}
			if t.Factor != 0 {
				tm["factor"] = t.Factor
			}
			if t.Long != 0 {
				tm["long"] = t.Long.String()
			}
			if t.Short != 0 {
				tm["short"] = t.Short.String()
			}
			if t.Disabled {
				tm["disabled"] = true
			}
			tiers = append(tiers, tm)
		}
		if tiers != nil {
			am["tiers"] = tiers
		}
		m["alerting"] = am
	}
	if s.BudgetPolicy != nil {
		rules := []map[string]any{}
		for _, r := range s.BudgetPolicy {
			rm := map[string]any{"remainingBelow": strconv.FormatFloat(100*r.RemainingBelow, 'g', -1, 64) + "%"}
			if r.BurnAbove != 0 {
				rm["burnRateAbove"], rm["over"] = r.BurnAbove, r.Over.String()
			}
			rules = append(rules, rm)
		}
		m["budgetPolicy"] = map[string]any{"freeze": rules}
	}
	data, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return data
}

// percent writes a Ratio as the exact decimal percentage it was read from:
// Den is 100 times a power of ten.
// percent writes an objective as a JSON value a spec accepts: a
// number, or a string with its % sign at 1 % and under, where a bare
// number reads as a ratio and is refused.
func percent(r slo.Ratio) string {
	if r.Num*100 <= r.Den {
		return `"` + percentDigits(r) + `%"`
	}
	return percentDigits(r)
}

func percentDigits(r slo.Ratio) string {
	digits := len(strconv.FormatUint(r.Den, 10)) - 3
	s := strconv.FormatUint(r.Num, 10)
	if digits <= 0 {
		return s
	}
	if len(s) <= digits {
		s = strings.Repeat("0", digits-len(s)+1) + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}

package spec

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// Format is a spec format that Convert writes.
type Format uint8

// The formats.
const (
	// Native is the nines format: one document per SLO.
	Native Format = iota + 1
	// OpenSLO is OpenSLO v1: an SLI and an SLO document per SLO.
	OpenSLO
)

func (f Format) String() string {
	switch f {
	case Native:
		return "native"
	case OpenSLO:
		return "openslo"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat reads "native" or "openslo".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "native", "nines":
		return Native, nil
	case "openslo":
		return OpenSLO, nil
	}
	return 0, fmt.Errorf("format %q: want native or openslo", s)
}

// Convert writes SLOs as the YAML documents of a spec file in format to,
// separated by "---". Loading what it writes gives the same SLOs, field
// for field, with two exceptions that mean the same: in OpenSLO, the
// timeSliceTarget of the quanta method is always written, so an unset
// QuantumObjective comes back as the objective; and a QuantumObjective
// of the time-quanta method, which has no effect, is not written.
//
// An SLO that OpenSLO cannot express is an error naming it: a rolling
// window or quantum that is not a whole number of minutes (or, for the
// quantum, a fraction of one with a finite decimal), a histogram without
// a latency threshold, and a histogram whose unit is left to the series
// (MetricSource.Unit empty) but whose name does not say seconds, since
// the objective's value must be written in a unit. Alert policies are
// not written: the native format has none, and Convert writes SLOs.
func Convert(to Format, slos ...*slo.SLO) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	var errs []error
	for _, s := range slos {
		if s == nil {
			errs = append(errs, errors.New("nil SLO"))
			continue
		}
		if err := s.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", s.Name, err))
			continue
		}
		var docs []*yaml.Node
		var err error
		switch to {
		case Native:
			docs = []*yaml.Node{nativeDoc(s)}
		case OpenSLO:
			docs, err = openSLODocs(s)
		default:
			return nil, fmt.Errorf("convert: unknown format %s", to)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", s.Name, err))
			continue
		}
		for _, d := range docs {
			if err := enc.Encode(d); err != nil {
				return nil, err
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Nodes of the documents Convert writes.

// mapping makes a mapping of keys and values, each value a string or a
// node.
func mapping(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		put(m, kv[i].(string), kv[i+1])
	}
	return m
}

// put adds k: v to mapping m; v is a string or a node.
func put(m *yaml.Node, k string, v any) {
	m.Content = append(m.Content, str(k), valueNode(v))
}

func valueNode(v any) *yaml.Node {
	if n, ok := v.(*yaml.Node); ok {
		return n
	}
	return str(v.(string))
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// number is a number written as its exact decimal text.
func number(s string) *yaml.Node {
	tag := "!!int"
	if strings.Contains(s, ".") {
		tag = "!!float"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: s}
}

// percentNode writes a native objective: a number, or with its % sign
// at 1 % and under, where a bare number would be refused as a ratio.
func percentNode(r slo.Ratio) *yaml.Node {
	if r.Num*100 <= r.Den {
		return str(percentText(r) + "%")
	}
	return number(percentText(r))
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func sequence(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func labelsNode(labels map[string]string) *yaml.Node {
	m := mapping()
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		put(m, k, labels[k])
	}
	return m
}

// nativeDoc writes s in the native format, leaving out fields at their
// defaults.
func nativeDoc(s *slo.SLO) *yaml.Node {
	m := mapping("name", s.Name, "service", s.Service)
	if s.Description != "" {
		put(m, "description", s.Description)
	}
	if s.Owner != "" {
		put(m, "owner", s.Owner)
	}
	if len(s.Labels) > 0 {
		put(m, "labels", labelsNode(s.Labels))
	}
	good := mapping()
	if s.SLI.Status.IsZero() {
		put(good, "ok", boolean(true))
	} else {
		put(good, "status", s.SLI.Status.String())
	}
	if l := s.SLI.Latency; l != nil {
		put(good, "latency", l.String())
	}
	sli := mapping("good", good)
	if p := s.SLI.Probe; p != nil {
		sli = mapping("probes", p.Name) // the probe judges each run
	}
	if s.SLI.Log != nil {
		put(sli, "log", logNode(s.SLI.Log))
	}
	if src := s.SLI.Source; src != nil {
		sm := mapping()
		for _, kv := range [][2]string{{"good", src.Good}, {"bad", src.Bad}, {"total", src.Total}, {"histogram", src.Histogram},
			{"errors", src.Errors}, {"statusLabel", src.StatusLabel}, {"unit", src.Unit}} {
			if kv[1] != "" {
				put(sm, kv[0], kv[1])
			}
		}
		if api := src.Prometheus; api != nil {
			sm = mapping("prometheus", promNode(api, sm))
		}
		put(sli, "source", sm)
	}
	if e := s.SLI.Edge; e != nil {
		put(sli, "source", mapping("edge", mapping("from", e.From, "to", e.To)))
	}
	put(m, "sli", sli)
	put(m, "objective", percentNode(s.Objective))
	if !s.QuantumObjective.IsZero() {
		put(m, "quantumObjective", percentNode(s.QuantumObjective))
	}
	if s.Method != slo.Quanta {
		put(m, "method", s.Method.String())
	}
	if s.Quantum != slo.DefaultQuantum {
		put(m, "quantum", slo.FormatDuration(s.Quantum))
	}
	if w := s.Window; w.Calendar == slo.NotCalendar {
		put(m, "window", mapping("rolling", slo.FormatDuration(w.Rolling)))
	} else {
		put(m, "window", mapping("calendar", w.Calendar.String(), "timezone", windowLocation(w).String()))
	}
	if s.NoData != slo.NoDataBad {
		put(m, "noData", s.NoData.String())
	}
	if !s.Since.IsZero() {
		put(m, "since", s.Since.UTC().Format(time.RFC3339))
	}
	if s.Alerting != nil {
		put(m, "alerting", alertingNode(s.Alerting))
	}
	if s.BudgetPolicy != nil {
		put(m, "budgetPolicy", budgetPolicyNode(s.BudgetPolicy))
	}
	return m
}

func windowLocation(w slo.WindowSpec) *time.Location {
	if w.Location == nil {
		return time.UTC
	}
	return w.Location
}

// openSLODocs writes s as an OpenSLO SLI and the SLO that refers to it,
// both named as s is (names are unique within an OpenSLO kind).
func openSLODocs(s *slo.SLO) ([]*yaml.Node, error) {
	sliMeta := mapping("name", s.Name)
	sliAnn := mapping()
	sliSpec := mapping()
	objective := mapping()
	src := s.SLI.Source
	if s.SLI.Edge != nil {
		return nil, errors.New("an SLI fed by traced calls along an edge (sli.source.edge) has no OpenSLO form: OpenSLO names metrics, not call-graph edges")
	}
	if s.SLI.Probe != nil {
		return nil, errors.New("an SLI fed by a probe's consensus (sli.probes) has no OpenSLO form: OpenSLO names metrics, not synthetic probes")
	}
	// A source read from a query API names a DataSource that holds the
	// API in its connectionDetails, named as the SLO is.
	var docs []*yaml.Node
	promMetric := func(spec *yaml.Node) *yaml.Node { return metricNode(typePrometheus, spec) }
	if src != nil && src.Prometheus != nil {
		docs = append(docs, mapping("apiVersion", openSLOVersion, "kind", kindDataSource, "metadata", mapping("name", s.Name),
			"spec", mapping("type", typePrometheus, "connectionDetails", promNode(src.Prometheus, mapping()))))
		promMetric = func(spec *yaml.Node) *yaml.Node {
			return mapping("metricSource", mapping("metricSourceRef", s.Name, "type", typePrometheus, "spec", spec))
		}
	}
	switch {
	case src == nil:
		// Events: good ones over all of them, judged by nines.
		good := mapping()
		if s.SLI.Status.IsZero() {
			put(good, "ok", boolean(true))
		} else {
			put(good, "status", s.SLI.Status.String())
		}
		if l := s.SLI.Latency; l != nil {
			put(good, "latency", l.String())
		}
		if s.SLI.Log != nil {
			put(good, "log", logNode(s.SLI.Log))
		}
		put(sliSpec, "ratioMetric", mapping(
			"counter", boolean(true),
			"good", metricNode(typeNines, good),
			"total", metricNode(typeNines, mapping("events", "all"))))
	case src.Histogram != "":
		l := s.SLI.Latency
		if l == nil {
			return nil, errors.New("a histogram source without a latency threshold has no OpenSLO form: a thresholdMetric takes its threshold from the objective")
		}
		sel, err := metrics.ParseSelector(src.Histogram)
		if err != nil {
			return nil, err
		}
		unit := src.Unit
		if unit == "" {
			if u := impliedUnit(sel.Name); u != "s" {
				return nil, fmt.Errorf("histogram %s leaves its unit to the series (no unit) and its name does not say seconds, but OpenSLO writes the threshold in the histogram's unit; set the source's unit", sel.Name)
			}
		} else {
			put(sliAnn, annotationSpace+"latency-unit", unit)
		}
		value, err := inUnit(l.Threshold, cmpOr(unit, "s"))
		if err != nil {
			return nil, err
		}
		put(sliSpec, "thresholdMetric", promMetric(mapping("query", renameSelector(strings.TrimSpace(src.Histogram), sel, sel.Name+"_bucket"))))
		op := "lt"
		if l.Inclusive {
			op = "lte"
		}
		put(objective, "op", op)
		put(objective, "value", number(value))
	default:
		if src.Total == "" || (src.Good == "") == (src.Bad == "") {
			return nil, errors.New("a metric source needs a histogram, or total with one of good and bad")
		}
		if s.SLI.Latency != nil {
			return nil, errors.New("counters with a latency threshold have no OpenSLO form (nor a native one)")
		}
		rm := mapping("counter", boolean(true))
		if src.Good != "" {
			put(rm, "good", promMetric(mapping("query", src.Good)))
		} else {
			put(rm, "bad", promMetric(mapping("query", src.Bad)))
		}
		put(rm, "total", promMetric(mapping("query", src.Total)))
		put(sliSpec, "ratioMetric", rm)
	}
	if src != nil && !s.SLI.Status.IsZero() {
		put(sliAnn, annotationSpace+"status", s.SLI.Status.String())
	}
	if src != nil && src.StatusLabel != "" {
		put(sliAnn, annotationSpace+"status-label", src.StatusLabel)
	}
	if src != nil && src.Errors != "" {
		put(sliAnn, annotationSpace+"errors", src.Errors)
	}
	if len(sliAnn.Content) > 0 {
		put(sliMeta, "annotations", sliAnn)
	}
	sliDoc := mapping("apiVersion", openSLOVersion, "kind", kindSLI, "metadata", sliMeta, "spec", sliSpec)

	meta := mapping("name", s.Name)
	if len(s.Labels) > 0 {
		put(meta, "labels", labelsNode(s.Labels))
	}
	ann := mapping()
	if s.Owner != "" {
		put(ann, annotationSpace+"owner", s.Owner)
	}
	if s.NoData != slo.NoDataBad {
		put(ann, annotationSpace+"no-data", s.NoData.String())
	}
	if !s.Since.IsZero() {
		put(ann, annotationSpace+"since", s.Since.UTC().Format(time.RFC3339))
	}
	if s.Alerting != nil {
		put(ann, annotationSpace+"alerting", flowText(alertingNode(s.Alerting)))
	}
	if s.BudgetPolicy != nil {
		put(ann, annotationSpace+"budget-policy", flowText(budgetPolicyNode(s.BudgetPolicy)))
	}
	if len(ann.Content) > 0 {
		put(meta, "annotations", ann)
	}
	spec := mapping()
	if s.Description != "" {
		put(spec, "description", s.Description)
	}
	put(spec, "service", s.Service)
	put(spec, "indicatorRef", s.Name)
	window, err := timeWindowNode(s.Window)
	if err != nil {
		return nil, err
	}
	put(spec, "timeWindow", sequence(window))

	var method string
	slice, target := false, slo.Ratio{}
	switch s.Method {
	case slo.Transactions:
		method = "Occurrences"
		slice, target = s.Quantum != slo.DefaultQuantum, s.QuantumObjective
	case slo.Quanta:
		method, slice, target = "Timeslices", true, s.QuantumObjective
		if target.IsZero() {
			target = s.Objective
		}
	case slo.TimeQuanta:
		method, slice = "Timeslices", true
	case slo.DowntimeMinutes:
		method, slice, target = "RatioTimeslices", true, s.QuantumObjective
	}
	put(spec, "budgetingMethod", method)
	// target goes first, then what the SLI's kind adds (op and value).
	obj := mapping("target", number(ratioText(s.Objective)))
	obj.Content = append(obj.Content, objective.Content...)
	switch {
	case s.Method == slo.TimeQuanta:
		put(obj, "timeSliceTarget", number("1"))
	case !target.IsZero():
		put(obj, "timeSliceTarget", number(ratioText(target)))
	}
	if slice || !target.IsZero() {
		w, err := sliceWindowText(s.Quantum)
		if err != nil {
			return nil, err
		}
		put(obj, "timeSliceWindow", valueNode(w))
	}
	put(spec, "objectives", sequence(obj))
	sloDoc := mapping("apiVersion", openSLOVersion, "kind", kindSLO, "metadata", meta, "spec", spec)
	return append(docs, sliDoc, sloDoc), nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func metricNode(typ string, spec *yaml.Node) *yaml.Node {
	return mapping("metricSource", mapping("type", typ, "spec", spec))
}

// ratioText writes a ratio as the decimal it is: 999/1000 is "0.999".
func ratioText(r slo.Ratio) string {
	digits := len(strconv.FormatUint(r.Den, 10)) - 1
	s := strconv.FormatUint(r.Num, 10)
	s = strings.Repeat("0", max(0, digits-len(s))) + s
	return strings.TrimRight("0."+s, "0")
}

// inUnit writes seconds in unit (s, ms, us, ns) as the exact decimal that
// reads back to the same float64.
func inUnit(seconds float64, unit string) (string, error) {
	exp := map[string]int{"s": 0, "ms": 3, "us": 6, "ns": 9}[unit]
	text := strconv.FormatFloat(slo.ShiftDecimal(seconds, exp), 'f', -1, 64)
	if back, err := slo.ParseSeconds(text + unit); err != nil || back != seconds {
		return "", fmt.Errorf("latency threshold %s has no exact form in %s", slo.FormatSeconds(seconds), unit)
	}
	return text, nil
}

// timeWindowNode writes a window as OpenSLO's one item of timeWindow.
// Calendar windows name a start that is a start of every unit, midnight
// of Monday 1 January 2024, for readers that want one.
func timeWindowNode(w slo.WindowSpec) (*yaml.Node, error) {
	if w.Calendar == slo.NotCalendar {
		d, err := shorthandText(w.Rolling, "rolling window")
		if err != nil {
			return nil, err
		}
		return mapping("duration", d, "isRolling", boolean(true)), nil
	}
	unit := map[slo.CalendarUnit]string{slo.Day: "1d", slo.Week: "1w", slo.Month: "1M", slo.Quarter: "1Q", slo.Year: "1Y"}[w.Calendar]
	return mapping("duration", unit, "isRolling", boolean(false),
		"calendar", mapping("startTime", "2024-01-01 00:00:00", "timeZone", windowLocation(w).String())), nil
}

// shorthandText writes a duration of whole minutes in the largest of d, h
// and m that divides it.
func shorthandText(d time.Duration, what string) (string, error) {
	const day = 24 * time.Hour
	switch {
	case d <= 0 || d%time.Minute != 0:
		return "", fmt.Errorf("%s %s is not a whole number of minutes, which OpenSLO durations are", what, slo.FormatDuration(d))
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d", nil
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h", nil
	}
	return strconv.FormatInt(int64(d/time.Minute), 10) + "m", nil
}

// sliceWindowText writes a quantum as a timeSliceWindow: a shorthand, or
// for less than whole minutes a number of minutes such as 0.5.
func sliceWindowText(q time.Duration) (any, error) {
	if q%time.Minute == 0 {
		return shorthandText(q, "quantum")
	}
	text := strconv.FormatFloat(q.Minutes(), 'f', -1, 64)
	if back, ok := minutes(text); !ok || back != q {
		return nil, fmt.Errorf("quantum %s is not a number of minutes with a finite decimal, which an OpenSLO timeSliceWindow must be", slo.FormatDuration(q))
	}
	return number(text), nil
}

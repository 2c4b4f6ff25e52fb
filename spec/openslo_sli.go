package spec

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

var (
	osloSLIFields      = []string{"description", "thresholdMetric", "ratioMetric"}
	ratioMetricFields  = []string{"counter", "good", "bad", "total", "rawType", "raw"}
	metricSourceFields = []string{"metricSourceRef", "type", "spec"}
)

const (
	typePrometheus = "Prometheus"
	// typeNines is the metric source of SLIs that nines reads from events
	// rather than series: good events over all events, judged by the
	// status, ok and latency rules of the good source's spec.
	typeNines = "nines"

	wantRatioMetric  = "a mapping with counter: true, good (or bad) and total"
	wantMetric       = "a mapping with metricSource: {type: Prometheus, spec: {query: SELECTOR}}"
	wantMetricSource = "a mapping with type: Prometheus and spec: {query: SELECTOR}"
	wantQuery        = `a plain Prometheus series selector such as http_requests_total{service="checkout"}`
	wantEvents       = "events: all"
)

// sliDef is an SLI as read. It is not yet a slo.SLI: the latency
// threshold of a thresholdMetric is in the SLO's objective.
type sliDef struct {
	threshold        *metricDef // thresholdMetric
	good, bad, total *metricDef // ratioMetric
	events           bool       // the ratioMetric counts nines events
}

// metricDef is one metricSource.
type metricDef struct {
	typ   string // typePrometheus or typeNines
	query field
	// text is the selector as written; for a histogram, with its base
	// name, which is how slo.MetricSource names a histogram.
	text string
	name string
	// api is the DataSource's API that nines queries, or nil when the
	// series are received.
	api *slo.PromAPI
	// Of a good source of type nines.
	status  slo.StatusRule
	latency *slo.LatencyRule
	log     *slo.LogSource
}

// sli reads an SLI object, a document or an SLO's inline indicator.
func (l *openSLOLoader) sli(obj *object) {
	r := obj.r
	start := r.n
	dropped(obj, "displayName", "labels", "description")
	if obj.spec == nil {
		obj.failed = true
		return
	}
	spec := *obj.spec
	fs := r.fields(spec.val, spec.path, osloSLIFields, nil)
	if f, ok := fs["description"]; ok {
		r.scalar(f, wantText)
	}
	def := &sliDef{}
	tm, hasT := fs["thresholdMetric"]
	rm, hasR := fs["ratioMetric"]
	broken := false
	switch {
	case hasT && hasR:
		later := rm
		if before(rm, tm) {
			later = tm
		}
		r.errorf(later.key, spec.path, "has both ratioMetric and thresholdMetric; an SLI is one or the other")
	case !hasT && !hasR:
		r.errorf(spec.val, spec.path, "missing ratioMetric or thresholdMetric; want ratioMetric: {counter: true, good: ..., total: ...} or thresholdMetric: {metricSource: ...}")
	case hasR:
		if r.mapping(rm, wantRatioMetric) {
			broken = l.ratioMetric(r, def, rm)
		}
	case hasT:
		var ok bool
		if def.threshold, ok = l.metric(r, tm, "thresholdMetric"); ok && def.threshold != nil {
			histogram(r, def.threshold)
		}
		broken = !ok
	}
	if broken || r.n > start {
		obj.failed = true
		return
	}
	obj.sli = def
}

// before reports whether a's key comes before b's.
func before(a, b field) bool {
	return a.key.Line < b.key.Line || (a.key.Line == b.key.Line && a.key.Column < b.key.Column)
}

// ratioMetric reads good (or bad) and total. It reports whether it
// depends on an object with errors reported elsewhere.
func (l *openSLOLoader) ratioMetric(r *report, def *sliDef, f field) (broken bool) {
	fs := r.fields(f.val, f.path, ratioMetricFields, nil)
	raw := false
	for _, name := range []string{"raw", "rawType"} {
		if rf, ok := fs[name]; ok && !raw {
			r.errorf(rf.key, rf.path, "precomputed ratios (raw and rawType) cannot be mapped: nines computes the ratio itself from good (or bad) and total counters")
			raw = true
		}
	}
	cf, hasCounter := fs["counter"]
	if hasCounter {
		if v, ok := r.boolean(cf); ok && !v {
			r.errorf(cf.val, cf.path, "false (a gauge that can go down) cannot be mapped: nines reads good, bad and total as counters and sums their increases; want counter: true")
		}
	}
	var defs []*metricDef
	var fields []field
	complete := true // every source given read without errors
	for _, name := range []string{"good", "bad", "total"} {
		mf, ok := fs[name]
		if !ok {
			continue
		}
		m, ok := l.metric(r, mf, name)
		broken = broken || !ok
		switch name {
		case "good":
			def.good = m
		case "bad":
			def.bad = m
		case "total":
			def.total = m
		}
		if m != nil {
			defs, fields = append(defs, m), append(fields, mf)
		} else {
			complete = false
		}
	}
	if raw {
		return broken
	}

	g, hasG := fs["good"]
	b, hasB := fs["bad"]
	_, hasT := fs["total"]
	exactlyOne(r, f, g, b, hasG, hasB, "has both good and bad; want one of them with total", "missing good or bad; want good (or bad) with total")
	if !hasT {
		r.errorf(f.val, join(f.path, "total"), "missing; want total, the query of every request, with good (or bad)")
	}
	if !complete {
		// A source with errors says what is wrong with it already.
		return broken
	}
	for i := 1; i < len(defs); i++ {
		if defs[i].typ != defs[0].typ {
			r.errorf(fields[i].val, fields[i].path, "is of type %s but %s is of type %s; the counts of one SLI come from one source", defs[i].typ, top(strings.TrimPrefix(fields[0].path, f.path+".")), defs[0].typ)
			return broken
		}
		if !reflect.DeepEqual(defs[i].api, defs[0].api) {
			r.errorf(fields[i].val, fields[i].path, "is read from another API than %s (their DataSources' connectionDetails differ); the counts of one SLI come from one source", top(strings.TrimPrefix(fields[0].path, f.path+".")))
			return broken
		}
	}
	if len(defs) > 0 && defs[0].typ == typeNines {
		def.events = true
		if hasB {
			r.errorf(b.key, b.path, "type nines counts the events the SLI judges good; want good and total")
		}
		return broken
	}
	if !hasCounter && len(defs) > 0 {
		r.warnf(f.val, join(f.path, "counter"), "missing; nines reads good, bad and total as counters (counter: true)")
	}
	return broken
}

// metric reads a metricSource. ok is false when it names a DataSource
// whose errors are reported at the DataSource.
func (l *openSLOLoader) metric(r *report, f field, role string) (m *metricDef, ok bool) {
	if !r.mapping(f, wantMetric) {
		return nil, true
	}
	fs := r.fields(f.val, f.path, []string{"metricSource"}, nil)
	ms, found := r.require(f.val, fs, f.path, "metricSource", wantMetricSource)
	if !found || !r.mapping(ms, wantMetricSource) {
		return nil, true
	}
	mfs := r.fields(ms.val, ms.path, metricSourceFields, nil)
	typ, typeF := "", field{}
	var api *slo.PromAPI
	if ref, has := mfs["metricSourceRef"]; has {
		ds := l.ref(r, ref, kindDataSource)
		if ds == nil {
			return nil, true
		}
		if ds.failed {
			return nil, false
		}
		typ, typeF, api = ds.dsType, ref, ds.dsAPI
	}
	if tf, has := mfs["type"]; has {
		v, ok := r.scalar(tf, "a metric source type such as Prometheus")
		if !ok {
			return nil, true
		}
		if typ != "" && !strings.EqualFold(v, typ) {
			r.errorf(tf.val, tf.path, "%s differs from the type %s of the DataSource that metricSourceRef names", quote(v), quote(typ))
			return nil, true
		}
		typ, typeF = v, tf
	}
	if typeF.val == nil {
		r.errorf(ms.val, join(ms.path, "type"), "missing; want type: Prometheus (or metricSourceRef, the name of a DataSource)")
		return nil, true
	}
	sf, found := r.require(ms.val, mfs, ms.path, "spec", "a mapping with query: SELECTOR")
	if !found || !r.mapping(sf, "a mapping with query: SELECTOR") {
		return nil, true
	}
	m = &metricDef{}
	switch {
	case strings.EqualFold(typ, typePrometheus):
		m.typ = typePrometheus
		for i := 0; i+1 < len(sf.val.Content); i += 2 {
			k := resolve(sf.val.Content[i])
			if k.Kind == yaml.ScalarNode && k.Value != "query" {
				r.warnf(k, join(sf.path, k.Value), "is not read: nines reads only query, a series selector")
			}
		}
		qf, found := fieldOf(sf.val, sf.path, "query")
		if !found {
			r.errorf(sf.val, join(sf.path, "query"), "missing; want %s", wantQuery)
			return nil, true
		}
		sel, ok := query(r, qf)
		if !ok {
			return nil, true
		}
		m.query, m.text, m.name, m.api = qf, strings.TrimSpace(qf.val.Value), sel.Name, api
	case strings.EqualFold(typ, typeNines):
		m.typ = typeNines
		switch role {
		case "good":
			eventsGood(r, m, sf)
		case "total":
			fs := r.fields(sf.val, sf.path, []string{"events"}, nil)
			if ef, ok := r.require(sf.val, fs, sf.path, "events", wantEvents); ok {
				if v, ok := r.scalar(ef, wantEvents); ok && v != "all" {
					r.errorf(ef.val, ef.path, "%s is not what a total counts; want all", quote(v))
				}
			}
		default:
			r.errorf(typeF.val, typeF.path, "type nines is for the good and total of a ratioMetric: nines counts the events its good rules accept out of all events; for a latency threshold give good latency: \"<=250ms\"")
			return nil, true
		}
	default:
		r.errorf(typeF.val, typeF.path, "%s is a metric source nines cannot read; nines reads Prometheus series selectors (type: Prometheus) and its own events (type: nines)", quote(typ))
		return nil, true
	}
	return m, true
}

// eventsGood reads the spec of a good source of type nines: the rules of
// a native sli.good.
func eventsGood(r *report, m *metricDef, f field) {
	gs := r.fields(f.val, f.path, eventsGoodFields, nil)
	m.status, m.latency = goodRules(r, f, gs)
	if lf, ok := gs["log"]; ok && r.mapping(lf, wantLog) {
		m.log = logSource(r, lf, &slo.SLI{Status: m.status, Latency: m.latency})
	}
}

// eventsGoodFields are a native sli.good's, and the log its events are
// read from (a native spec's sli.log).
var eventsGoodFields = append(append([]string(nil), goodFields...), "log")

// leadingCall matches a PromQL function or aggregation at the start of a
// query, such as "sum(", "rate(" or "sum by (code) (".
var leadingCall = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:(?:by|without)\s*\([^()]*\)\s*)?\(`)

// query reads a Prometheus query, which must be a plain series selector:
// nines does what rate() and sum() would, per series and exactly, so a
// query that applies them cannot be handed over.
func query(r *report, f field) (metrics.Selector, bool) {
	v, ok := r.scalar(f, wantQuery)
	if !ok {
		return metrics.Selector{}, false
	}
	sel, err := metrics.ParseSelector(v)
	if err != nil {
		var msg string
		if m := leadingCall.FindStringSubmatch(v); m != nil {
			msg = quote(v) + " applies " + m[1] + "(), which nines cannot map"
		} else if strings.ContainsAny(v, "[") {
			msg = quote(v) + " selects a range, which nines cannot map"
		} else {
			msg = quote(v) + " is not a plain series selector (" + strings.TrimPrefix(err.Error(), "selector "+strconv.Quote(v)+": ") + ")"
		}
		msg += ": nines needs a plain series selector, and takes the increase of every series it selects and sums them itself"
		if inner := innerSelector(v); inner != "" && len(inner) <= 200 {
			msg += "; write " + strconv.Quote(inner)
		} else {
			msg += "; want " + wantQuery
		}
		r.errorf(f.val, f.path, "%s", msg)
		return metrics.Selector{}, false
	}
	if sel.Name == "" {
		r.errorf(f.val, f.path, "%s names no metric; want %s", quote(v), wantQuery)
		return metrics.Selector{}, false
	}
	return sel, true
}

// innerSelector digs the series selector out of a query such as
// sum(rate(x{a="b"}[5m])), or returns "".
func innerSelector(q string) string {
	s := strings.TrimSpace(q)
	for range 8 {
		m := leadingCall.FindStringIndex(s)
		if m == nil || !strings.HasSuffix(s, ")") {
			break
		}
		s = strings.TrimSpace(s[m[1] : len(s)-1])
		if i := strings.LastIndexByte(s, '['); i > 0 && strings.HasSuffix(s, "]") {
			s = strings.TrimSpace(s[:i])
		}
	}
	if sel, err := metrics.ParseSelector(s); err == nil && sel.Name != "" && s != strings.TrimSpace(q) {
		return s
	}
	return ""
}

// histogram checks that a thresholdMetric selects the buckets of a
// latency histogram, and rewrites its selector to the histogram's base
// name: nines reads the _bucket series of a classic histogram, and a
// native or OTLP histogram, by that name.
func histogram(r *report, m *metricDef) {
	if m.typ != typePrometheus {
		return
	}
	base, ok := strings.CutSuffix(m.name, "_bucket")
	if !ok || base == "" {
		r.errorf(m.query.val, m.query.path, "%s does not select histogram buckets; nines reads a latency SLI from a histogram, so select its bucket series such as http_request_duration_seconds_bucket{service=\"checkout\"} (nines then also reads a native or OTLP histogram of that base name)", quote(m.text))
		return
	}
	sel, _ := metrics.ParseSelector(m.text)
	for _, mt := range sel.Matchers {
		if mt.Name == "le" {
			r.errorf(m.query.val, m.query.path, "%s selects buckets by le; nines reads every bucket and takes the threshold from the objective's value, so leave le out", quote(m.text))
			return
		}
	}
	m.text, m.name = renameSelector(m.text, sel, base), base
}

// renameSelector writes selector text with its metric name replaced,
// keeping the text as written where the name comes first.
func renameSelector(text string, sel metrics.Selector, name string) string {
	if rest, ok := strings.CutPrefix(text, sel.Name); ok && (rest == "" || strings.ContainsRune("{ \t", rune(rest[0]))) {
		return name + rest
	}
	sel.Name = name
	return sel.String()
}

// impliedUnit is the unit a metric name says it counts in, by the
// Prometheus naming convention, or "".
func impliedUnit(name string) string {
	for _, u := range []struct{ suffix, unit string }{
		{"_seconds", "s"}, {"_milliseconds", "ms"}, {"_microseconds", "us"}, {"_nanoseconds", "ns"},
	} {
		if strings.HasSuffix(name, u.suffix) {
			return u.unit
		}
	}
	return ""
}

// exactlyOne reports two alternative fields of f given together (at the
// later of them) or neither.
func exactlyOne(r *report, f, x, y field, hasX, hasY bool, both, neither string) {
	switch {
	case hasX && hasY:
		later := y
		if before(y, x) {
			later = x
		}
		r.errorf(later.key, f.path, "%s", both)
	case !hasX && !hasY:
		r.errorf(f.val, f.path, "%s", neither)
	}
}

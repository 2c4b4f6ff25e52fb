package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// openSLOLoader reads OpenSLO v1 documents (github.com/OpenSLO/OpenSLO,
// README of the v1 specification). It is handed every OpenSLO document of
// every file before it maps any, because an SLO may name an SLI, an
// AlertPolicy or a DataSource defined in another document or file.
//
// The package doc has the mapping; the rule throughout is that what would
// change the meaning of an SLO is an error, what only loses information
// is a warning, and nothing is dropped without one of the two.
// Annotations under other prefixes than nines.dev/ belong to other
// implementations and are not read.
type openSLOLoader struct {
	objs  []*object                     // every document, in load order
	named map[string]map[string]*object // kind → name → object
}

const openSLOVersion = "openslo/v1"

// The kinds of OpenSLO v1 objects.
const (
	kindSLO         = "SLO"
	kindSLI         = "SLI"
	kindService     = "Service"
	kindDataSource  = "DataSource"
	kindPolicy      = "AlertPolicy"
	kindCondition   = "AlertCondition"
	kindTarget      = "AlertNotificationTarget"
	annotationSpace = "nines.dev/"
)

var (
	openSLOKinds = []string{kindSLO, kindSLI, kindService, kindDataSource, kindPolicy, kindCondition, kindTarget}

	osloRootFields     = []string{"apiVersion", "kind", "metadata", "spec"}
	osloMetaFields     = []string{"name", "displayName", "labels", "annotations"}
	osloInlineFields   = []string{"kind", "metadata", "spec"}
	osloIndicatorField = []string{"metadata", "spec"}
	sloSpecFields      = []string{"description", "service", "indicator", "indicatorRef", "timeWindow", "budgetingMethod", "objectives", "alertPolicies"}
	timeWindowFields   = []string{"duration", "isRolling", "calendar"}
	calendarFields     = []string{"startTime", "timeZone"}
	objectiveFields    = []string{"displayName", "op", "value", "target", "targetPercent", "timeSliceTarget", "timeSliceWindow", "indicator", "indicatorRef", "compositeWeight"}
	serviceFields      = []string{"description"}
	dataSourceFields   = []string{"description", "type", "connectionDetails"}
	budgetingMethods   = []string{"Occurrences", "Timeslices", "RatioTimeslices"}
	operators          = []string{"lte", "lt", "gte", "gt"}

	// Fields people write one level off in an OpenSLO SLO.
	sloSpecElsewhere = map[string]string{
		"duration": "spec.timeWindow[0]", "isRolling": "spec.timeWindow[0]", "calendar": "spec.timeWindow[0]",
		"target": "spec.objectives[0]", "targetPercent": "spec.objectives[0]",
		"timeSliceTarget": "spec.objectives[0]", "timeSliceWindow": "spec.objectives[0]",
		"ratioMetric": "spec.indicator.spec", "thresholdMetric": "spec.indicator.spec",
	}
	osloRootElsewhere = map[string]string{
		"name": "metadata", "displayName": "metadata", "labels": "metadata", "annotations": "metadata",
		"service": "spec", "description": "spec",
	}
)

const (
	wantKind          = "one of SLO, SLI, Service, DataSource, AlertPolicy, AlertCondition or AlertNotificationTarget"
	wantMetadata      = "a mapping with name: NAME"
	wantAnnotations   = "a mapping of annotation names to strings such as nines.dev/owner: team-payments"
	wantOSLOLabels    = "a mapping of label names to strings or lists of strings such as team: payments"
	wantOSLOLabel     = "a string or a list of strings"
	wantTarget        = "a ratio between 0 and 1 such as 0.999"
	wantTimeSlice     = "a ratio above 0 and at most 1 such as 0.95"
	wantSliceWindow   = "a duration shorthand such as 1m or 5m, or a number of minutes"
	wantTimeWindow    = "a list of one time window such as - {duration: 28d, isRolling: true}"
	wantWindowItem    = "a mapping with duration and isRolling: true, or duration and calendar: {startTime, timeZone}"
	wantWindowLength  = "a duration shorthand such as 28d, 4w, 1M, 1Q or 1Y"
	wantCalendar      = "a mapping with startTime: 2024-01-01 00:00:00 and timeZone: UTC"
	wantStartTime     = "a date and time such as 2024-01-01 00:00:00"
	wantBool          = "true or false"
	wantObjectives    = "a list of objectives such as - {target: 0.999}"
	wantObjective     = "a mapping with target: 0.999 (or targetPercent: 99.9)"
	wantMethod        = "Occurrences, Timeslices or RatioTimeslices"
	wantOp            = "lte, lt, gte or gt"
	wantThresholdVal  = "a number in the metric's unit such as 0.25"
	wantAlertPolicies = "a list of alert policies such as - alertPolicyRef: NAME"
)

// object is one OpenSLO object: a document, or an object inlined in
// another (an SLO's indicator, an AlertPolicy's conditions).
type object struct {
	r        *report
	kind     string
	name     string // "" when the name has errors
	nameNode *yaml.Node
	path     string     // of the object's mapping: "" for a document
	node     *yaml.Node // the object's mapping
	meta     map[string]field
	ann      map[string]annotation // nines.dev/ annotations, checked
	labels   *field
	spec     *field // nil when missing or not a mapping
	order    int    // the document's index in its file
	inline   bool
	used     bool
	failed   bool // the object has errors; what refers to it fails quietly

	// What the object maps to, by kind.
	sli     *sliDef
	dsType  string
	dsAPI   *slo.PromAPI // a DataSource's connectionDetails, when nines queries it
	cond    *AlertCondition
	target  *AlertTarget
	policy  *AlertPolicy
	inlined []*AlertPolicy // an SLO's inline alert policies
}

// annotation is a nines.dev/ annotation, its value checked.
type annotation struct {
	value string
	f     field
}

func (o *object) describe() string { return o.kind + " " + quote(o.name) }

// add reads the header of one document and keeps it for resolve.
func (l *openSLOLoader) add(r *report, doc *yaml.Node, order int) {
	if r.full() {
		r.cut = true
		return
	}
	start := r.n
	fs := r.fields(doc, "", osloRootFields, osloRootElsewhere)
	if f, ok := fs["apiVersion"]; ok && f.val.Kind == yaml.ScalarNode && f.val.Value != openSLOVersion {
		r.errorf(f.val, f.path, "%s is not an OpenSLO version nines reads; want %s", quote(f.val.Value), openSLOVersion)
		return
	}
	kf, ok := r.require(doc, fs, "", "kind", wantKind)
	if !ok {
		return
	}
	kind, ok := r.scalar(kf, wantKind)
	if !ok {
		return
	}
	if !contains(openSLOKinds, kind) {
		if s := suggest(kind, openSLOKinds); s != "" {
			r.errorf(kf.val, kf.path, "%s is not an OpenSLO v1 kind; did you mean %s? (want %s)", quote(kind), s, wantKind)
		} else {
			r.errorf(kf.val, kf.path, "%s is not an OpenSLO v1 kind; want %s", quote(kind), wantKind)
		}
		return
	}
	obj := l.object(r, doc, "", fs, kind)
	obj.order = order
	obj.failed = r.n > start
	l.objs = append(l.objs, obj)
	l.register(obj)
}

// object reads the metadata of an object and finds its spec.
func (l *openSLOLoader) object(r *report, m *yaml.Node, path string, fs map[string]field, kind string) *object {
	obj := &object{r: r, kind: kind, path: path, node: m}
	if f, ok := r.require(m, fs, path, "metadata", wantMetadata); ok && r.mapping(f, wantMetadata) {
		l.metadata(obj, f)
	}
	switch f, ok := fs["spec"]; {
	case ok && kind == kindService && isNull(f.val):
		// A Service needs no fields.
	case ok:
		if r.mapping(f, "a mapping of the "+kind+"'s fields") {
			obj.spec = &f
		}
	case kind != kindService:
		r.errorf(m, join(path, "spec"), "missing; want a mapping of the %s's fields", kind)
	}
	return obj
}

func (l *openSLOLoader) metadata(obj *object, f field) {
	r := obj.r
	fs := r.fields(f.val, f.path, osloMetaFields, nil)
	obj.meta = fs
	if nf, ok := r.require(f.val, fs, f.path, "name", wantName); ok {
		if v, ok := r.scalar(nf, wantName); ok {
			if validName(v) {
				obj.name, obj.nameNode = v, nf.val
			} else {
				r.errorf(nf.val, nf.path, "%s is not a valid name; want %s", quote(v), wantName)
			}
		}
	}
	if df, ok := fs["displayName"]; ok {
		r.scalar(df, wantText)
	}
	if lf, ok := fs["labels"]; ok {
		if r.mapping(lf, wantOSLOLabels) {
			obj.labels = &lf
			osloLabels(r, lf, false)
		}
	}
	if af, ok := fs["annotations"]; ok && r.mapping(af, wantAnnotations) {
		obj.ann = annotations(r, af, obj.kind)
	}
}

// register makes obj findable by name, refusing a second object of the
// same kind and name: a reference to it would be ambiguous. Objects of
// different kinds may share a name, as in OpenSLO and Kubernetes, where a
// name is unique within its kind.
func (l *openSLOLoader) register(obj *object) {
	if obj.name == "" {
		return
	}
	if l.named == nil {
		l.named = map[string]map[string]*object{}
	}
	m := l.named[obj.kind]
	if m == nil {
		m = map[string]*object{}
		l.named[obj.kind] = m
	}
	if first, dup := m[obj.name]; dup {
		obj.r.errorf(obj.nameNode, join(obj.path, "metadata.name"), "%s is already the name of the %s at %s:%d:%d; names must be unique within a kind",
			quote(obj.name), obj.kind, first.r.file, first.nameNode.Line, first.nameNode.Column)
		obj.failed = true
		return
	}
	m[obj.name] = obj
}

// ref finds the object of kind that f names, reporting a missing one at f.
func (l *openSLOLoader) ref(r *report, f field, kind string) *object {
	v, ok := r.scalar(f, "the name of "+article(kind))
	if !ok {
		return nil
	}
	if obj := l.named[kind][v]; obj != nil && !obj.inline {
		obj.used = true
		return obj
	}
	var names []string
	for name, obj := range l.named[kind] {
		if !obj.inline {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	msg := fmt.Sprintf("no %s named %s among the documents loaded", kind, quote(v))
	switch s := suggest(v, names); {
	case s != "":
		msg += "; did you mean " + s + "?"
	case len(names) == 0 && kind == kindDataSource:
		msg += "; there is no DataSource at all, so define one (kind: DataSource) in these files, or give the metricSource a type such as Prometheus instead"
	case len(names) == 0:
		msg += fmt.Sprintf("; there is no %s at all, so define one (kind: %s) in these files or inline it here", kind, kind)
	default:
		msg += fmt.Sprintf("; the %s objects are named %s", kind, listNames(names))
	}
	r.errorf(f.val, f.path, "%s", msg)
	return nil
}

// article writes a kind with its indefinite article, as it is read
// aloud: an SLO, a Service.
func article(kind string) string {
	if strings.ContainsRune("SAEIOU", rune(kind[0])) && kind != kindService {
		return "an " + kind
	}
	return "a " + kind
}

// listNames writes at most ten names, quoted.
func listNames(names []string) string {
	const most = 10
	q := make([]string, 0, min(len(names), most))
	for i, n := range names {
		if i == most {
			return strings.Join(q, ", ") + fmt.Sprintf(" and %d more", len(names)-most)
		}
		q = append(q, quote(n))
	}
	return andList(q)
}

// andList writes "a, b and c".
func andList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// resolve maps every object, the ones referred to before those that refer
// to them, and returns the SLOs and alert policies.
func (l *openSLOLoader) resolve() ([]loaded, []*AlertPolicy) {
	each := func(kind string, fn func(*object)) {
		for _, obj := range l.objs {
			if obj.kind != kind {
				continue
			}
			if obj.r.full() {
				obj.r.cut = true
				continue
			}
			fn(obj)
		}
	}
	each(kindDataSource, l.dataSource)
	each(kindService, l.service)
	each(kindCondition, func(obj *object) { l.condition(obj) })
	each(kindTarget, func(obj *object) { l.target(obj) })
	each(kindPolicy, func(obj *object) { l.policy(obj) })
	each(kindSLI, func(obj *object) { l.sli(obj) })
	var out []loaded
	each(kindSLO, func(obj *object) { out = append(out, l.slo(obj)...) })

	var policies []*AlertPolicy
	for _, obj := range l.objs {
		if obj.failed {
			continue
		}
		switch obj.kind {
		case kindSLI, kindCondition, kindTarget, kindDataSource:
			if !obj.used {
				obj.r.warnf(obj.nameNode, "metadata.name", "%s is not used: no %s refers to it", obj.describe(), map[string]string{
					kindSLI: "SLO", kindCondition: "AlertPolicy", kindTarget: "AlertPolicy", kindDataSource: "SLI"}[obj.kind])
			}
		case kindPolicy:
			if obj.policy != nil {
				policies = append(policies, obj.policy)
			}
			if !obj.used {
				obj.r.warnf(obj.nameNode, "metadata.name", "%s is not used: no SLO refers to it", obj.describe())
			}
		case kindSLO:
			policies = append(policies, obj.inlined...)
		}
	}
	return out, policies
}

// dropped warns about the fields of obj that nines has no place for.
func dropped(obj *object, names ...string) {
	var have []string
	var first *field
	for _, name := range names {
		var f field
		var ok bool
		if name == "description" || name == "connectionDetails" {
			if obj.spec != nil {
				f, ok = fieldOf(obj.spec.val, obj.spec.path, name)
			}
		} else {
			f, ok = obj.meta[name]
		}
		if !ok {
			continue
		}
		have = append(have, name)
		if first == nil || f.key.Line < first.key.Line {
			first = &f
		}
	}
	if first == nil {
		return
	}
	verb := "has"
	if len(have) > 1 {
		verb = "have"
	}
	obj.r.warnf(first.key, first.path, "%s: %s %s no place in nines and %s dropped", obj.describe(), andList(have), verb, map[bool]string{true: "are", false: "is"}[len(have) > 1])
}

// fieldOf finds the field name of mapping m without checking the mapping.
func fieldOf(m *yaml.Node, path, name string) (field, bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := resolve(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == name {
			return field{path: join(path, name), key: k, val: resolve(m.Content[i+1])}, true
		}
	}
	return field{}, false
}

func (l *openSLOLoader) service(obj *object) {
	if obj.spec != nil {
		fs := obj.r.fields(obj.spec.val, obj.spec.path, serviceFields, nil)
		if f, ok := fs["description"]; ok {
			obj.r.scalar(f, wantText)
		}
	}
	dropped(obj, "displayName", "labels", "description")
}

// dataSource reads a DataSource for the type its metricSourceRefs take.
// nines does not connect to data sources: nines serve receives series by
// Prometheus remote write and OTLP.
func (l *openSLOLoader) dataSource(obj *object) {
	r := obj.r
	start := r.n
	if obj.spec == nil {
		obj.failed = true
		return
	}
	fs := r.fields(obj.spec.val, obj.spec.path, dataSourceFields, nil)
	if f, ok := r.require(obj.spec.val, fs, obj.spec.path, "type", "a metric source type such as Prometheus"); ok {
		if v, ok := r.scalar(f, "a metric source type such as Prometheus"); ok {
			obj.dsType = v
		}
	}
	if f, ok := fs["description"]; ok {
		r.scalar(f, wantText)
	}
	if f, ok := fs["connectionDetails"]; ok {
		switch {
		case !strings.EqualFold(obj.dsType, typePrometheus):
			r.warnf(f.key, f.path, "is not used: nines queries Prometheus-compatible APIs only (type: Prometheus)")
		case r.mapping(f, wantConnection):
			// nines serve reads the SLIs of this DataSource from its API
			// (docs/sources.md), as it does for sli.source.prometheus.
			obj.dsAPI = promAPI(r, f, r.fields(f.val, f.path, connectionFields, nil))
		}
	}
	dropped(obj, "displayName", "labels", "description")
	obj.failed = obj.failed || r.n > start
}

// osloLabels checks OpenSLO labels and, with keep, maps them onto nines
// labels: a list of values is joined with commas, and a label whose name
// nines cannot carry (Prometheus label names) is dropped with a warning.
func osloLabels(r *report, f field, keep bool) map[string]string {
	var out map[string]string
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := resolve(f.val.Content[i]), resolve(f.val.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			if !keep {
				r.errorf(k, f.path, "a key is %s; want a label name such as team", describe(k))
			}
			continue
		}
		p := join(f.path, k.Value)
		if first, dup := seen[k.Value]; dup {
			if !keep {
				r.errorf(k, p, "repeated; first set at line %d", first.Line)
			}
			continue
		}
		seen[k.Value] = k
		var value string
		switch {
		case v.Kind == yaml.ScalarNode && !isNull(v):
			value = v.Value
		case v.Kind == yaml.SequenceNode:
			var parts []string
			ok := true
			for _, item := range v.Content {
				item = resolve(item)
				if item.Kind != yaml.ScalarNode || isNull(item) {
					if !keep {
						r.errorf(item, p, "a value is %s; want a string", describe(item))
					}
					ok = false
					continue
				}
				parts = append(parts, item.Value)
			}
			if !ok {
				continue
			}
			value = strings.Join(parts, ",")
			if keep && len(parts) != 1 {
				r.warnf(v, p, "is a list of %d values; a nines label holds one value, so it is kept as %s", len(parts), quote(value))
			}
		default:
			if !keep {
				r.wrongType(field{path: p, key: k, val: v}, wantOSLOLabel)
			}
			continue
		}
		if !keep {
			continue
		}
		if !validLabel(k.Value) {
			r.warnf(k, p, "%s is not a label name nines can keep (letters, digits and '_', not starting with a digit or \"__\"), so the label is dropped", quote(k.Value))
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k.Value] = value
	}
	return out
}

// The nines.dev/ annotations, and the kinds each belongs on.
var ninesAnnotations = map[string][]string{
	"owner":        {kindSLO},
	"no-data":      {kindSLO},
	"since":        {kindSLO},
	"latency-unit": {kindSLO, kindSLI},
	"status":       {kindSLO, kindSLI},
	"status-label": {kindSLO, kindSLI},
	"errors":       {kindSLO, kindSLI},
	// The native alerting and budgetPolicy sections as inline YAML: OpenSLO
	// has no release policy, and its AlertPolicy cannot say everything
	// nines' tiers can.
	"alerting":      {kindSLO},
	"budget-policy": {kindSLO},
}

var latencyUnits = []string{"s", "ms", "us", "ns"}

// annotations checks metadata.annotations and returns the nines.dev/
// ones, each value checked. A nines.dev/ name nines does not know is an
// error: a typo would otherwise drop what the author meant.
func annotations(r *report, f field, kind string) map[string]annotation {
	var out map[string]annotation
	var known []string
	for k := range ninesAnnotations {
		known = append(known, annotationSpace+k)
	}
	slices.Sort(known)
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := resolve(f.val.Content[i]), resolve(f.val.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			r.errorf(k, f.path, "a key is %s; want an annotation name such as nines.dev/owner", describe(k))
			continue
		}
		af := field{path: join(f.path, k.Value), key: k, val: v}
		if first, dup := seen[k.Value]; dup {
			r.errorf(k, af.path, "repeated; first set at line %d", first.Line)
			continue
		}
		seen[k.Value] = k
		value, ok := r.scalar(af, wantText)
		name, ours := strings.CutPrefix(k.Value, annotationSpace)
		if !ours {
			if !ok {
				continue
			}
			if s := suggest(k.Value, known); s != "" && strings.Contains(strings.ToLower(k.Value), "nines") {
				r.errorf(k, af.path, "unknown nines annotation; did you mean %s? (nines reads %s)", s, strings.Join(known, ", "))
			}
			continue
		}
		kinds, isKnown := ninesAnnotations[name]
		switch {
		case !isKnown:
			msg := "unknown nines annotation"
			if s := suggest(k.Value, known); s != "" {
				msg += "; did you mean " + s + "?"
			}
			r.errorf(k, af.path, "%s (nines reads %s)", msg, strings.Join(known, ", "))
			continue
		case !contains(kinds, kind):
			r.errorf(k, af.path, "has no meaning on %s; it belongs on %s", article(kind), map[int]string{1: "the SLO", 2: "the SLO or its SLI"}[len(kinds)])
			continue
		case !ok:
			continue
		}
		if checkAnnotation(r, af, name, value) {
			if out == nil {
				out = map[string]annotation{}
			}
			out[name] = annotation{value: value, f: af}
		}
	}
	return out
}

func checkAnnotation(r *report, f field, name, v string) bool {
	switch name {
	case "owner", "status-label":
		if strings.TrimSpace(v) == "" {
			r.errorf(f.val, f.path, "is empty; want %s", map[string]string{"owner": "a team name such as team-payments", "status-label": "a label name such as code"}[name])
			return false
		}
	case "no-data":
		return enumValue(r, f, v, "noData policy", enumNames(slo.ParseNoData))
	case "latency-unit":
		return enumValue(r, f, v, "unit", latencyUnits)
	case "status":
		rule, err := slo.ParseStatusRule(v)
		if err != nil {
			r.errorf(f.val, f.path, "%w; want %s", err, wantStatus)
			return false
		}
		warnServerErrorsGood(r, f, rule)
	case "errors":
		sel, err := metrics.ParseSelector(v)
		switch {
		case err != nil:
			r.errorf(f.val, f.path, "%w; want label matchers such as {code=~\"5..\"}", err)
			return false
		case sel.Name != "":
			r.errorf(f.val, f.path, "%s names a metric; want label matchers alone such as {code=~\"5..\"}", quote(v))
			return false
		}
	}
	return true
}

// enumValue checks v against names, suggesting the nearest for a typo.
func enumValue(r *report, f field, v, what string, names []string) bool {
	if contains(names, v) {
		return true
	}
	if s := suggest(v, names); s != "" {
		r.errorf(f.val, f.path, "%s is not a %s; did you mean %s? (want %s)", quote(v), what, s, orList(names))
	} else {
		r.errorf(f.val, f.path, "%s is not a %s; want %s", quote(v), what, orList(names))
	}
	return false
}

// list checks that a field is a list and returns its items as fields
// whose path ends in [i].
func (r *report) list(f field, want string) ([]field, bool) {
	if f.val.Kind != yaml.SequenceNode {
		r.wrongType(f, want)
		return nil, false
	}
	items := make([]field, len(f.val.Content))
	for i, n := range f.val.Content {
		items[i] = field{path: f.path + "[" + strconv.Itoa(i) + "]", key: resolve(n), val: resolve(n)}
	}
	return items, true
}

// boolean reads true or false.
func (r *report) boolean(f field) (bool, bool) {
	v, ok := r.scalar(f, wantBool)
	if !ok {
		return false, false
	}
	switch strings.ToLower(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	r.wrongType(f, wantBool)
	return false, false
}

// ratioPercent rewrites a ratio written as a decimal ("0.999") as the
// percentage it is ("99.9") by moving the point in the text, so that no
// float ever stands between what was written and the slo.Ratio.
func ratioPercent(s string) (string, bool) {
	t := strings.TrimSpace(s)
	intPart, frac, hasPoint := strings.Cut(t, ".")
	if intPart == "" || !allDigits(intPart) || (hasPoint && (frac == "" || !allDigits(frac))) {
		return "", false
	}
	for len(frac) < 2 {
		frac += "0"
	}
	whole := strings.TrimLeft(intPart+frac[:2], "0")
	if whole == "" {
		whole = "0"
	}
	if rest := frac[2:]; rest != "" {
		return whole + "." + rest, true
	}
	return whole, true
}

// ratio reads an OpenSLO ratio such as target: 0.999 into a slo.Ratio,
// exactly. With one, 1 is allowed and reported as full.
func ratio(r *report, f field, want string, one bool) (ratio slo.Ratio, full, ok bool) {
	hint := ""
	if strings.HasSuffix(f.path, ".target") {
		hint = " (a percentage goes in targetPercent)"
	}
	v, ok := r.scalar(f, want)
	if !ok {
		return slo.Ratio{}, false, false
	}
	p, ok := ratioPercent(v)
	if !ok {
		r.errorf(f.val, f.path, "%s is not a decimal number; want %s", quote(v), want)
		return slo.Ratio{}, false, false
	}
	intPart, frac, _ := strings.Cut(strings.TrimSpace(v), ".")
	zeroFrac := strings.Trim(frac, "0") == ""
	intPart = strings.TrimLeft(intPart, "0")
	switch {
	case intPart == "" && zeroFrac:
		r.errorf(f.val, f.path, "%s promises nothing; want %s", quote(v), want)
		return slo.Ratio{}, false, false
	case intPart == "1" && zeroFrac && one:
		return slo.Ratio{}, true, true
	case intPart == "1" && zeroFrac:
		r.errorf(f.val, f.path, "%s is 100 %%, which leaves no error budget; want %s", quote(v), want)
		return slo.Ratio{}, false, false
	case intPart != "":
		r.errorf(f.val, f.path, "%s is above 1; want %s%s", quote(v), want, hint)
		return slo.Ratio{}, false, false
	case len(strings.TrimRight(frac, "0")) > 9:
		r.errorf(f.val, f.path, "%s has more than 9 digits after the point, finer than any SLO needs; want %s", quote(v), want)
		return slo.Ratio{}, false, false
	}
	rt, err := slo.ParsePercent(p)
	if err != nil {
		r.errorf(f.val, f.path, "%w", err)
		return slo.Ratio{}, false, false
	}
	return rt, false, true
}

// shorthand reads an OpenSLO duration shorthand: a whole number and one of
// m (minutes), h, d, w, M (months), Q (quarters) or Y (years).
func shorthand(s string) (n int64, unit byte, ok bool) {
	if len(s) < 2 {
		return 0, 0, false
	}
	unit, num := s[len(s)-1], s[:len(s)-1]
	if !strings.ContainsRune("mhdwMQY", rune(unit)) || !allDigits(num) {
		return 0, 0, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	return n, unit, err == nil
}

// fixed is the length of n units of a shorthand with a fixed length; a
// year is 365 days, as nines reads "1y" too. Months and quarters have none.
func fixed(n int64, unit byte) (time.Duration, bool) {
	const day = 24 * time.Hour
	d, ok := map[byte]time.Duration{'m': time.Minute, 'h': time.Hour, 'd': day, 'w': 7 * day, 'Y': 365 * day}[unit]
	if !ok || n > int64((1<<63-1)/d) {
		return 0, false
	}
	return time.Duration(n) * d, true
}

// duration reads a shorthand of a fixed length, such as an alert
// condition's lookbackWindow.
func duration(r *report, f field, want string, zero bool) (time.Duration, bool) {
	v, ok := r.scalar(f, want)
	if !ok {
		return 0, false
	}
	n, unit, ok := shorthand(strings.TrimSpace(v))
	if !ok {
		r.errorf(f.val, f.path, "%s is not a duration shorthand; want %s", quote(v), want)
		return 0, false
	}
	d, ok := fixed(n, unit)
	switch {
	case unit == 'M' || unit == 'Q':
		r.errorf(f.val, f.path, "%s has no fixed length (months and quarters vary); want %s", quote(v), want)
		return 0, false
	case !ok:
		r.errorf(f.val, f.path, "%s is too long; want %s", quote(v), want)
		return 0, false
	case d == 0 && !zero:
		r.errorf(f.val, f.path, "must be longer than zero; want %s", want)
		return 0, false
	}
	return d, true
}

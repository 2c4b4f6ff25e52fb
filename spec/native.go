package spec

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// nativeLoader reads the native nines format: one SLO per YAML document,
// fields as package doc shows them.
type nativeLoader struct{}

var (
	nativeFields = []string{"name", "service", "description", "owner", "labels", "sli",
		"objective", "quantumObjective", "method", "quantum", "window", "noData", "since", "alerting", "budgetPolicy"}
	sliFields    = []string{"good", "source", "log", "probes"}
	sourceFields = []string{"good", "bad", "total", "histogram", "errors", "statusLabel", "unit", "prometheus", "edge"}
	goodFields   = []string{"status", "ok", "latency"}
	windowFields = []string{"rolling", "calendar", "timezone"}

	// Fields people write one level off, and where they belong.
	rootElsewhere = map[string]string{
		"rolling": "window", "calendar": "window", "timezone": "window",
		"good": "sli", "status": "sli.good", "ok": "sli.good", "latency": "sli.good",
	}
	sliElsewhere = map[string]string{"status": "sli.good", "ok": "sli.good", "latency": "sli.good"}
)

// What each field wants, as the messages say it.
const (
	wantName       = "a name of letters, digits, '-', '_' and '.' such as checkout-availability"
	wantService    = "a service name such as checkout"
	wantText       = "a string"
	wantLabels     = "a mapping of label names to values such as team: payments"
	wantSource     = "a mapping with histogram: SELECTOR, or good (or bad) and total: SELECTOR, or edge: {from: SERVICE, to: SERVICE}"
	wantSelector   = "a Prometheus series selector such as http_request_duration_seconds{service=\"checkout\"}"
	wantLabelValue = "a string"
	wantSLI        = `a mapping such as good: {status: "<500"}`
	wantGood       = `a mapping with status: "<500" (an HTTP status rule) or ok: true (the events' ok flag), and optionally latency: "<=5ms"`
	wantStatus     = `a status rule such as "<500" or "2xx,3xx"`
	wantOK         = "true (judge by the events' ok flag)"
	wantLatency    = `a latency rule such as "<=5ms"`
	wantPercent    = "a number between 0 and 100 such as 99.9"
	wantQuantum    = "a duration such as 1m"
	wantWindow     = "a mapping with rolling: DURATION (such as 30d) or calendar: day, week, month, quarter or year"
	wantRolling    = "a duration such as 30d"
	wantTimezone   = "an IANA time zone name such as UTC or Europe/Berlin"
	wantSince      = "an RFC 3339 time on a quantum boundary such as 2026-11-01T00:00:00Z"
)

func (nativeLoader) load(r *report, docs []indexed) []loaded {
	var out []loaded
	for _, doc := range docs {
		if r.full() {
			r.cut = true
			break
		}
		if l, ok := mapNative(r, doc.node); ok {
			l.order = doc.order
			out = append(out, l)
		}
	}
	return out
}

// doc is the state of mapping one native document.
type doc struct {
	r     *report
	root  *yaml.Node
	first int                   // r.errs before this document
	nodes map[string]*yaml.Node // value node by field path, to place Validate's errors
	slo   slo.SLO
	name  *yaml.Node
	// timezone is kept apart from the window so that it can be warned
	// about once the kind of window is known.
	timezone *yaml.Node
}

// mapNative maps one document onto an SLO. It reports every problem it
// finds and returns ok only for a document without any.
func mapNative(r *report, root *yaml.Node) (loaded, bool) {
	d := &doc{r: r, root: root, first: len(r.errs), nodes: map[string]*yaml.Node{}}
	d.slo = slo.SLO{Method: slo.Quanta, Quantum: slo.DefaultQuantum, NoData: slo.NoDataBad}
	fs := d.fields(root, "", nativeFields, rootElsewhere)

	if f, ok := r.require(root, fs, "", "name", wantName); ok {
		if v, ok := r.scalar(f, wantName); ok {
			if validName(v) {
				d.slo.Name, d.name = v, f.val
			} else {
				r.errorf(f.val, f.path, "%s is not a valid name; want %s", quote(v), wantName)
			}
		}
	}
	if f, ok := r.require(root, fs, "", "service", wantService); ok {
		if v, ok := r.scalar(f, wantService); ok {
			if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\n\r\t") {
				r.errorf(f.val, f.path, "%s is not a service name; want %s", quote(v), wantService)
			} else {
				d.slo.Service = v
			}
		}
	}
	for name, dst := range map[string]*string{"description": &d.slo.Description, "owner": &d.slo.Owner} {
		if f, ok := fs[name]; ok {
			if v, ok := r.scalar(f, wantText); ok {
				*dst = v
			}
		}
	}
	if f, ok := fs["labels"]; ok {
		d.labels(f)
	}
	if f, ok := r.require(root, fs, "", "sli", wantSLI); ok && r.mapping(f, wantSLI) {
		d.sli(f)
	}
	if f, ok := r.require(root, fs, "", "objective", wantPercent); ok {
		d.slo.Objective, _ = d.percent(f)
	}
	qo, hasQO := fs["quantumObjective"]
	if hasQO {
		d.slo.QuantumObjective, hasQO = d.percent(qo)
	}
	if f, ok := fs["method"]; ok {
		if v, ok := d.enum(f, "method", enumNames(slo.ParseMethod)); ok {
			d.slo.Method, _ = slo.ParseMethod(v)
		}
	}
	quantumOK := true
	if f, ok := fs["quantum"]; ok {
		var v time.Duration
		if v, quantumOK = d.duration(f, wantQuantum); quantumOK {
			d.slo.Quantum = v
		}
	}
	if f, ok := r.require(root, fs, "", "window", wantWindow); ok && r.mapping(f, wantWindow) {
		d.window(f)
		if quantumOK {
			d.checkOffsets()
		}
	}
	if f, ok := fs["noData"]; ok {
		if v, ok := d.enum(f, "noData policy", enumNames(slo.ParseNoData)); ok {
			d.slo.NoData, _ = slo.ParseNoData(v)
		}
	}
	if f, ok := fs["since"]; ok && quantumOK {
		if v, ok := r.scalar(f, wantSince); ok {
			d.slo.Since, _ = parseSince(r, f, v, d.slo.Quantum)
		}
	}

	if f, ok := fs["alerting"]; ok {
		d.alerting(f)
	}
	if f, ok := fs["budgetPolicy"]; ok {
		d.budgetPolicy(f)
	}

	if hasQO && d.slo.Method != slo.Quanta && d.slo.Method != slo.Transactions {
		r.warnf(qo.val, qo.path, "has no effect with method %s; it applies to the quanta and transactions methods", d.slo.Method)
	}
	if d.timezone != nil && d.slo.Window.Rolling > 0 && d.slo.Window.Calendar == slo.NotCalendar {
		r.warnf(d.timezone, "window.timezone", "has no effect on a rolling window; a time zone only cuts calendar windows")
	}
	d.validate()
	d.checkAlerting()
	if len(r.errs) > d.first {
		return loaded{}, false
	}
	d.warnBudget()
	s := d.slo
	return loaded{slo: &s, nameNode: d.name, nameField: "name", r: r}, true
}

// fields is report.fields that also remembers where each field is.
func (d *doc) fields(m *yaml.Node, path string, allowed []string, elsewhere map[string]string) map[string]field {
	fs := d.r.fields(m, path, allowed, elsewhere)
	for _, f := range fs {
		d.nodes[f.path] = f.val
	}
	return fs
}

func (d *doc) labels(f field) {
	r := d.r
	if !r.mapping(f, wantLabels) {
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := resolve(f.val.Content[i]), resolve(f.val.Content[i+1])
		if k.Kind != yaml.ScalarNode || isNull(k) {
			r.errorf(k, f.path, "a key is %s; want a label name such as team", describe(k))
			continue
		}
		p := join(f.path, k.Value)
		if first, dup := seen[k.Value]; dup {
			r.errorf(k, p, "repeated; first set at line %d", first.Line)
			continue
		}
		seen[k.Value] = k
		if !validLabel(k.Value) {
			r.errorf(k, f.path, "%s is not a label name; want letters, digits and '_', not starting with a digit or \"__\"", quote(k.Value))
			continue
		}
		if v, ok := r.scalar(field{path: p, key: k, val: v}, wantLabelValue); ok {
			if d.slo.Labels == nil {
				d.slo.Labels = map[string]string{}
			}
			d.slo.Labels[k.Value] = v
		}
	}
}

func (d *doc) sli(f field) {
	r := d.r
	fs := d.fields(f.val, f.path, sliFields, sliElsewhere)
	if pf, ok := fs["probes"]; ok {
		d.probes(fs, pf)
		return // a probe's own verdict judges each run
	}
	g, ok := r.require(f.val, fs, f.path, "good", wantGood)
	if !ok || !r.mapping(g, wantGood) {
		return
	}
	gs := d.fields(g.val, g.path, goodFields, nil)
	d.slo.SLI.Status, d.slo.SLI.Latency = goodRules(r, g, gs)
	if src, ok := fs["source"]; ok && r.mapping(src, wantSource) {
		d.source(src)
	}
	if lf, ok := fs["log"]; ok && r.mapping(lf, wantLog) {
		d.slo.SLI.Log = logSource(r, lf, &d.slo.SLI)
	}
}

// goodRules reads the fields gs of an sli.good mapping f, native or an
// OpenSLO source of type nines: the status rule (or ok: true, which leaves
// the rule unset) and the optional latency rule.
func goodRules(r *report, f field, gs map[string]field) (status slo.StatusRule, latency *slo.LatencyRule) {
	sf, hasStatus := gs["status"]
	okf, hasOK := gs["ok"]
	if !hasStatus && !hasOK {
		r.errorf(f.val, f.path, "missing status or ok; want status: \"<500\" (an HTTP status rule) or ok: true (the events' ok flag)")
	}
	if hasStatus {
		if v, ok := r.scalar(sf, wantStatus); ok {
			rule, err := slo.ParseStatusRule(v)
			if err != nil {
				r.errorf(sf.val, sf.path, "%w; want %s", err, wantStatus)
			} else {
				status = rule
				warnServerErrorsGood(r, sf, rule)
			}
		}
	}
	if hasOK {
		if v, ok := r.scalar(okf, wantOK); ok {
			switch strings.ToLower(v) {
			case "true":
				if hasStatus {
					r.warnf(okf.key, okf.path, "has no effect next to status: an event's ok flag always wins over its status, and the status rule judges events without one")
				}
			case "false":
				r.errorf(okf.val, okf.path, "false is not allowed; want %s, or leave ok out and give a status rule", wantOK)
			default:
				r.wrongType(okf, wantOK)
			}
		}
	}
	if lf, ok := gs["latency"]; ok {
		if v, ok := r.scalar(lf, wantLatency); ok {
			rule, err := slo.ParseLatencyRule(v)
			if err != nil {
				r.errorf(lf.val, lf.path, "%w", err)
			} else {
				latency = &rule
			}
		}
	}
	return status, latency
}

// warnServerErrorsGood warns about a status rule that counts only server
// errors as good: "5xx" written as the good rule reads like "the 5xx are
// what we count", and an SLI judged by it reports the share of failures
// as its availability.
func warnServerErrorsGood(r *report, f field, rule slo.StatusRule) {
	some := false
	for code := 100; code <= 999; code++ {
		if !rule.Good(code) {
			continue
		}
		if code < 500 || code > 599 {
			return
		}
		some = true
	}
	if some {
		r.warnf(f.val, f.path, "%s counts only server errors (5xx) as good, so availability would be the share of failed requests; the rule says which requests succeeded: did you mean \"<500\"?", quote(rule.String()))
	}
}

func (d *doc) window(f field) {
	r := d.r
	fs := d.fields(f.val, f.path, windowFields, nil)
	rolling, hasR := fs["rolling"]
	calendar, hasC := fs["calendar"]
	switch {
	case hasR && hasC:
		later := calendar
		if rolling.key.Line > calendar.key.Line || (rolling.key.Line == calendar.key.Line && rolling.key.Column > calendar.key.Column) {
			later = rolling
		}
		r.errorf(later.key, f.path, "has both rolling and calendar; a window is one or the other")
	case !hasR && !hasC:
		r.errorf(f.val, f.path, "missing rolling or calendar; want rolling: DURATION (such as 30d) or calendar: day, week, month, quarter or year")
	}
	if hasR {
		if v, ok := d.duration(rolling, wantRolling); ok {
			if v == 0 {
				r.errorf(rolling.val, rolling.path, "must be longer than zero; want %s", wantRolling)
			}
			d.slo.Window.Rolling = v
		}
	}
	if hasC {
		if v, ok := d.enum(calendar, "calendar unit", enumNames(slo.ParseCalendarUnit)); ok {
			d.slo.Window.Calendar, _ = slo.ParseCalendarUnit(v)
		}
	}
	loc := time.UTC
	if tz, ok := fs["timezone"]; ok {
		if v, ok := r.scalar(tz, wantTimezone); ok {
			d.timezone = tz.val
			if l := r.zone(v); l == nil {
				r.errorf(tz.val, tz.path, "%s is not a time zone; want %s", quote(v), wantTimezone)
			} else {
				loc = l
			}
		}
	}
	if hasC {
		d.slo.Window.Location = loc
	}
}

// checkOffsets refuses a time zone whose offset from UTC is not a whole
// number of quanta. Quanta start at multiples of the quantum since the Unix
// epoch and a calendar window starts at local midnight, so in such a zone
// every window would begin in the middle of a quantum, and the evaluator
// refuses to cut one. Offsets are taken from every zone period between
// 2000 and 2050: older offsets (local mean time) matter to no SLO.
func (d *doc) checkOffsets() {
	if d.timezone == nil {
		return
	}
	if msg := offsetProblem(d.slo.Window, d.slo.Quantum); msg != "" {
		d.r.errorf(d.timezone, "window.timezone", "%s", msg)
	}
}

// offsetProblem says why calendar windows of w cannot be cut into quanta
// of q, or returns "".
func offsetProblem(w slo.WindowSpec, q time.Duration) string {
	if w.Calendar == slo.NotCalendar || w.Location == nil || q <= 0 {
		return ""
	}
	var bad time.Duration
	found, divisor := false, q
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
	for t := from; t.Before(to); {
		lt := t.In(w.Location)
		_, secs := lt.Zone()
		off := time.Duration(secs) * time.Second
		if off%q != 0 && !found {
			bad, found = off, true
		}
		divisor = gcd(divisor, off)
		_, end := lt.ZoneBounds()
		if !end.After(t) {
			break
		}
		t = end
	}
	if !found {
		return ""
	}
	return fmt.Sprintf("%s is UTC%s, which is not a whole number of %s quanta, so calendar windows would start inside a quantum; want a quantum that divides the offset, such as %s",
		w.Location, formatOffset(bad), slo.FormatDuration(q), slo.FormatDuration(divisor))
}

func gcd(a, b time.Duration) time.Duration {
	if a < 0 {
		a = -a
	}
	if b < 0 {
		b = -b
	}
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// formatOffset writes an offset from UTC as +05:45.
func formatOffset(off time.Duration) string {
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	h, m := int(off/time.Hour), int(off%time.Hour/time.Minute)
	s := sign + strconv.Itoa(h/10) + strconv.Itoa(h%10) + ":" + strconv.Itoa(m/10) + strconv.Itoa(m%10)
	if sec := int(off % time.Minute / time.Second); sec != 0 {
		s += ":" + strconv.Itoa(sec/10) + strconv.Itoa(sec%10)
	}
	return s
}

// percent reads a percentage from the text of the node, never through a
// float: 99.9 must become exactly 999/1000.
func (d *doc) percent(f field) (slo.Ratio, bool) {
	r := d.r
	v, ok := r.scalar(f, wantPercent)
	if !ok {
		return slo.Ratio{}, false
	}
	if !isDecimal(v) {
		r.errorf(f.val, f.path, "%s is not a percentage; want %s", quote(v), wantPercent)
		return slo.Ratio{}, false
	}
	ratio, err := slo.ParsePercent(v)
	if err != nil {
		r.errorf(f.val, f.path, "%w", err)
		return slo.Ratio{}, false
	}
	if ratio.Num*100 <= ratio.Den && !strings.HasSuffix(strings.TrimSpace(v), "%") {
		// OpenSLO and many dashboards write objectives as ratios, and
		// 0.999 read as a percentage is an SLO that is always met: a
		// value of 1 or less is taken only with its % sign.
		r.errorf(f.val, f.path, "%s", ratioMessage(v))
		return slo.Ratio{}, false
	}
	return ratio, true
}

// ratioMessage refuses an objective of 1 or less written without a %
// sign, saying what to write instead.
func ratioMessage(v string) string {
	t := strings.TrimSpace(v)
	x, _ := strconv.ParseFloat(t, 64) // t is a decimal: percent checked it
	pct := strconv.FormatFloat(slo.ShiftDecimal(x, 2), 'f', -1, 64)
	if x >= 1 {
		return fmt.Sprintf("%s looks like the ratio %s, that is 100 %%, which leaves no error budget; objectives are percentages such as 99.9 (write %q to mean %s %%)", quote(v), t, t+"%", t)
	}
	return fmt.Sprintf("%s looks like a ratio; objectives are percentages: write %s for the ratio %s (or %q to mean %s %%)", quote(v), pct, t, t+"%", t)
}

// isDecimal reports whether s is written the way a percentage may be:
// digits with an optional fraction and an optional % sign.
func isDecimal(s string) bool {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	intPart, frac, hasPoint := strings.Cut(t, ".")
	return intPart != "" && allDigits(intPart) && (!hasPoint || (frac != "" && allDigits(frac)))
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (d *doc) duration(f field, want string) (time.Duration, bool) {
	v, ok := d.r.scalar(f, want)
	if !ok {
		return 0, false
	}
	if t := strings.TrimSpace(v); t != "" && allDigits(t) {
		d.r.errorf(f.val, f.path, "%s has no unit; want %s", quote(v), want)
		return 0, false
	}
	dur, err := slo.ParseDuration(v)
	if err != nil {
		d.r.errorf(f.val, f.path, "%w", err)
		return 0, false
	}
	return dur, true
}

// enum checks a value against the names the model accepts, suggesting the
// nearest for a typo.
func (d *doc) enum(f field, what string, names []string) (string, bool) {
	v, ok := d.r.scalar(f, orList(names))
	if !ok {
		return "", false
	}
	if contains(names, v) {
		return v, true
	}
	if s := suggest(v, names); s != "" {
		d.r.errorf(f.val, f.path, "%s is not a %s; did you mean %s? (want %s)", quote(v), what, s, orList(names))
	} else {
		d.r.errorf(f.val, f.path, "%s is not a %s; want %s", quote(v), what, orList(names))
	}
	return "", false
}

// validateFields places the messages of slo.SLO.Validate, which carry no
// field, by how they begin. A message that matches none is reported
// against the whole document, so a new rule in the model still shows up.
var validateFields = []struct{ prefix, field string }{
	{"name", "name"},
	{"objective", "objective"},
	{"quantum", "quantum"},
	{"rolling window", "window.rolling"},
	{"a window", "window"},
	{"unknown method", "method"},
	{"unknown noData", "noData"},
	{"budgetPolicy", "budgetPolicy"},
}

// validate runs the model's own checks. Most of them repeat what mapping
// already reported with a better position (a missing objective is also
// "objective is not set"), so a message about a field that already has an
// error is dropped.
func (d *doc) validate() {
	err := d.slo.Validate()
	if err == nil {
		return
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	mapped := d.r.errs[d.first:]
	for _, e := range errs {
		fieldPath := ""
		for _, vf := range validateFields {
			if strings.HasPrefix(e.Error(), vf.prefix) {
				fieldPath = vf.field
				break
			}
		}
		dup := false
		for _, m := range mapped {
			dup = dup || top(m.Field) == top(fieldPath)
		}
		if dup {
			continue
		}
		n := d.root
		if v, ok := d.nodes[fieldPath]; ok {
			n = v
		} else if v, ok := d.nodes[top(fieldPath)]; ok {
			n = v
		}
		d.r.add(d.r.at(n, fieldPath, e))
	}
}

func top(path string) string {
	t, _, _ := strings.Cut(path, ".")
	return t
}

// warnBudget warns when the objective leaves less than one quantum of
// budget: with 99.99 % of one-minute quanta over a day, a single bad minute
// already breaks the SLO, which is rarely what the author meant. Calendar
// windows are taken at their longest, so the warning never fires for a
// window that does allow a bad quantum in its long months.
func (d *doc) warnBudget() {
	msg, ok := budgetTooSmall(&d.slo)
	if !ok {
		return
	}
	obj := d.nodes["objective"]
	d.r.warnf(obj, "objective", "%s %% %s", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(obj.Value), "%")), msg)
}

// budgetTooSmall says how few bad quanta the objective of s allows when
// that is less than one, for a warning that follows the objective.
func budgetTooSmall(s *slo.SLO) (string, bool) {
	if s.Method != slo.Quanta && s.Method != slo.TimeQuanta {
		return "", false
	}
	length, what := s.Window.Rolling, "rolling "+slo.FormatDuration(s.Window.Rolling)+" window"
	if s.Window.Calendar != slo.NotCalendar {
		const day = 24 * time.Hour
		longest := map[slo.CalendarUnit]time.Duration{slo.Day: 25 * time.Hour, slo.Week: 7 * day, slo.Month: 31 * day, slo.Quarter: 92 * day, slo.Year: 366 * day}
		length, what = longest[s.Window.Calendar], "calendar "+s.Window.Calendar.String()
	}
	n := uint64(length / s.Quantum)
	hi, lo := bits.Mul64(n, s.Objective.Den-s.Objective.Num)
	if n == 0 || hi > 0 || lo >= s.Objective.Den {
		return "", false
	}
	budget := float64(n) * s.Objective.Complement()
	return fmt.Sprintf("allows at most %s bad %s quanta per %s, so a single bad quantum breaks the SLO",
		strconv.FormatFloat(budget, 'g', 3, 64), slo.FormatDuration(s.Quantum), what), true
}

// validName keeps names fit for URLs, file names and metric labels.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return false
		}
	}
	return true
}

// validLabel accepts Prometheus label names, without the reserved "__".
func validLabel(s string) bool {
	if s == "" || strings.HasPrefix(s, "__") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// parseSince reads the explicit start of an SLO's life. It must fall on a
// quantum boundary, so that no quantum is half inside the life; whether it
// lies in the future depends on the clock, so the server and the CLI check
// that (CheckSince).
func parseSince(r *report, f field, v string, quantum time.Duration) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	switch {
	case err != nil:
		r.errorf(f.val, f.path, "%s is not a time; want %s", quote(v), wantSince)
		return time.Time{}, false
	case t.UnixNano()%int64(quantum) != 0 || t.Year() < 1970:
		r.errorf(f.val, f.path, "%s is not on a %s quantum boundary after 1970; want %s", quote(v), slo.FormatDuration(quantum), wantSince)
		return time.Time{}, false
	}
	return t, true
}

package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// sloMap is the state of mapping one OpenSLO SLO.
type sloMap struct {
	l      *openSLOLoader
	obj    *object
	r      *report
	base   slo.SLO
	sliObj *object
	ann    map[string]annotation // of the SLI, overridden by the SLO's
	broken bool                  // depends on an object with errors

	window    slo.WindowSpec
	windowF   field // spec.timeWindow[0]
	durationF field
	tz        *field // the calendar's timeZone, where given
	method    string
	reported  map[string]bool // Validate messages already reported
}

// objective is one item of spec.objectives.
type objective struct {
	f          field
	fs         map[string]field
	target     slo.Ratio
	targetF    field
	targetText string // the target as a warning quotes it
	qo         slo.Ratio
	full       bool // timeSliceTarget: 1
	hasQO      bool
	quantum    time.Duration
	hasQuantum bool
}

// slo maps an OpenSLO SLO onto one slo.SLO per objective.
func (l *openSLOLoader) slo(obj *object) []loaded {
	if obj.spec == nil {
		return nil
	}
	r := obj.r
	start := r.n
	m := &sloMap{l: l, obj: obj, r: r, reported: map[string]bool{}}
	m.base = slo.SLO{Name: obj.name, Method: slo.Quanta, Quantum: slo.DefaultQuantum, NoData: slo.NoDataBad}
	spec := *obj.spec
	fs := r.fields(spec.val, spec.path, sloSpecFields, sloSpecElsewhere)

	m.service(spec, fs)
	m.describe(fs)
	if obj.labels != nil {
		m.base.Labels = osloLabels(r, *obj.labels, true)
	}
	if a, ok := obj.ann["owner"]; ok {
		m.base.Owner = a.value
	}
	if a, ok := obj.ann["no-data"]; ok {
		m.base.NoData, _ = slo.ParseNoData(a.value)
	}
	m.indicator(spec, fs)
	if f, ok := fs["timeWindow"]; ok {
		m.timeWindow(f)
	} else {
		r.errorf(spec.val, join(spec.path, "timeWindow"), "missing; nines needs a time window, such as timeWindow: [{duration: 28d, isRolling: true}]")
	}
	if f, ok := r.require(spec.val, fs, spec.path, "budgetingMethod", wantMethod); ok {
		if v, ok := r.scalar(f, wantMethod); ok && enumValue(r, f, v, "budgeting method", budgetingMethods) {
			m.method = v
		}
	}
	var objectives []*objective
	var objectivesF field
	if f, ok := r.require(spec.val, fs, spec.path, "objectives", wantObjectives); ok {
		objectivesF = f
		if items, ok := r.list(f, wantObjectives); ok {
			if len(items) == 0 {
				r.errorf(f.val, f.path, "is empty; want %s", wantObjectives)
			}
			for i, item := range items {
				if i == 1 && m.sliObj != nil && m.sliObj.sli != nil && m.sliObj.sli.threshold != nil {
					r.errorf(item.val, item.path, "a second objective; an SLO whose SLI is a thresholdMetric takes one objective (OpenSLO v1), so write one SLO per latency threshold")
				}
				if ob := m.objective(item); ob != nil {
					objectives = append(objectives, ob)
				}
			}
		}
	}
	policies := m.alertPolicies(fs)

	// Every objective is mapped as far as it goes, so that the problems of
	// all of them show up in one run; only an SLO without any is returned.
	built := make([]*slo.SLO, len(objectives))
	for i, ob := range objectives {
		built[i] = m.build(ob, start)
		if built[i] != nil {
			annotatedPolicy(r, obj.ann, built[i])
			m.applyAlertPolicies(built[i], policies, fs["alertPolicies"])
		}
	}
	if r.n > start || m.broken || obj.failed {
		return nil
	}
	var out []loaded
	var names []string
	for i, ob := range objectives {
		s := built[i]
		if s == nil {
			return nil
		}
		l := loaded{slo: s, nameNode: obj.nameNode, nameField: join(obj.path, "metadata.name"), r: r, order: obj.order}
		if len(objectives) > 1 {
			s.Name, l.nameNode, l.nameField = objectiveName(obj.name, i, ob)
		}
		names = append(names, s.Name)
		out = append(out, l)
	}
	if r.n > start {
		return nil
	}
	if len(objectives) > 1 {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = quote(n)
		}
		r.warnf(objectivesF.key, objectivesF.path, "%d objectives become %d SLOs, %s: an SLO of nines has one objective", len(objectives), len(names), andList(q))
	}
	for _, p := range policies {
		p.SLOs = append(p.SLOs, names...)
	}
	return out
}

// objectiveName names the SLO of objective i of an SLO of several:
// NAME-DISPLAYNAME (the display name in lower case, other characters than
// letters, digits, '_' and '.' made dashes), or NAME-i without one.
func objectiveName(name string, i int, ob *objective) (string, *yaml.Node, string) {
	if f, ok := ob.fs["displayName"]; ok {
		var b strings.Builder
		dash := false
		for _, c := range strings.ToLower(f.val.Value) {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' {
				if dash && b.Len() > 0 {
					b.WriteByte('-')
				}
				b.WriteRune(c)
				dash = false
			} else {
				dash = true
			}
		}
		if n := name + "-" + b.String(); b.Len() > 0 && validName(n) {
			return n, f.val, f.path
		}
	}
	return name + "-" + strconv.Itoa(i), ob.f.val, ob.f.path
}

func (m *sloMap) service(spec field, fs map[string]field) {
	r := m.r
	f, ok := r.require(spec.val, fs, spec.path, "service", wantService)
	if !ok {
		return
	}
	v, ok := r.scalar(f, wantService)
	if !ok {
		return
	}
	if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\n\r\t") {
		r.errorf(f.val, f.path, "%s is not a service name; want %s", quote(v), wantService)
		return
	}
	m.base.Service = v
	if services := m.l.named[kindService]; len(services) > 0 {
		if svc, ok := services[v]; ok {
			svc.used = true
		} else {
			var names []string
			for n := range services {
				names = append(names, n)
			}
			slices.Sort(names)
			r.warnf(f.val, f.path, "no Service named %s among the documents loaded (the Services are %s); the SLO keeps the service name as written", quote(v), listNames(names))
		}
	}
}

// describe maps spec.description, or metadata.displayName when there is
// none, onto the description.
func (m *sloMap) describe(fs map[string]field) {
	r := m.r
	desc, hasDesc := fs["description"]
	if hasDesc {
		if v, ok := r.scalar(desc, wantText); ok {
			m.base.Description = v
			if len(v) > 1050 {
				r.warnf(desc.val, desc.path, "is %d characters long, more than the 1050 OpenSLO allows", len(v))
			}
		}
	}
	if dn, ok := m.obj.meta["displayName"]; ok && dn.val.Kind == yaml.ScalarNode && !isNull(dn.val) {
		if hasDesc {
			r.warnf(dn.key, dn.path, "has no place in nines next to spec.description, which becomes the description, and is dropped")
		} else {
			m.base.Description = dn.val.Value
		}
	}
}

// indicator finds the SLI: inline or by indicatorRef.
func (m *sloMap) indicator(spec field, fs map[string]field) {
	r := m.r
	ind, hasInd := fs["indicator"]
	ref, hasRef := fs["indicatorRef"]
	switch {
	case hasInd && hasRef:
		later := ref
		if before(ref, ind) {
			later = ind
		}
		r.errorf(later.key, spec.path, "has both indicator and indicatorRef; an SLO has one SLI")
		return
	case !hasInd && !hasRef:
		r.errorf(spec.val, spec.path, "missing indicator or indicatorRef; want indicatorRef: NAME (of an SLI), or indicator: {metadata: {name: NAME}, spec: {ratioMetric: ...}}")
		return
	case hasRef:
		sli := m.l.ref(r, ref, kindSLI)
		if sli == nil {
			return
		}
		m.sliObj = sli
		m.broken = sli.failed
	default:
		if !r.mapping(ind, "a mapping with metadata and spec, as an SLI has") {
			return
		}
		ifs := r.fields(ind.val, ind.path, osloIndicatorField, nil)
		sli := m.l.object(r, ind.val, ind.path, ifs, kindSLI)
		sli.inline = true
		m.l.sli(sli)
		m.sliObj = sli
	}
	m.ann = map[string]annotation{}
	for k, a := range m.sliObj.ann {
		m.ann[k] = a
	}
	for k, a := range m.obj.ann {
		if prev, ok := m.ann[k]; ok && prev.value != a.value {
			r.errorf(a.f.val, a.f.path, "%s differs from the SLI's %s at %s:%d:%d; say it once", quote(a.value), quote(prev.value), m.sliObj.r.file, prev.f.val.Line, prev.f.val.Column)
			continue
		}
		m.ann[k] = a
	}
}

// timeWindow reads spec.timeWindow, a list of exactly one window.
func (m *sloMap) timeWindow(f field) {
	r := m.r
	items, ok := r.list(f, wantTimeWindow)
	if !ok {
		return
	}
	if len(items) == 0 {
		r.errorf(f.val, f.path, "is empty; want %s", wantTimeWindow)
		return
	}
	if len(items) > 1 {
		r.errorf(items[1].val, items[1].path, "a second time window; OpenSLO allows exactly one")
	}
	item := items[0]
	m.windowF = item
	if !r.mapping(item, wantWindowItem) {
		return
	}
	fs := r.fields(item.val, item.path, timeWindowFields, nil)
	ir, hasIR := fs["isRolling"]
	cal, hasCal := fs["calendar"]
	rolling, rollingOK := false, hasIR
	if hasIR {
		rolling, rollingOK = r.boolean(ir)
	}
	switch {
	case hasIR && !rollingOK:
		return
	case rolling && hasCal:
		r.errorf(cal.key, cal.path, "a rolling window takes no calendar; leave calendar out, or say isRolling: false")
		return
	case hasIR && !rolling && !hasCal:
		r.errorf(item.val, join(item.path, "calendar"), "missing; a window with isRolling: false is aligned to the calendar and needs calendar: {startTime, timeZone}")
		return
	case !hasIR && !hasCal:
		r.errorf(item.val, item.path, "missing isRolling or calendar; want isRolling: true for a rolling window, or calendar: {startTime, timeZone} for a calendar one")
		return
	}
	d, ok := r.require(item.val, fs, item.path, "duration", wantWindowLength)
	if !ok {
		return
	}
	m.durationF = d
	v, ok := r.scalar(d, wantWindowLength)
	if !ok {
		return
	}
	n, unit, ok := shorthand(strings.TrimSpace(v))
	if !ok {
		r.errorf(d.val, d.path, "%s is not a duration shorthand; want %s", quote(v), wantWindowLength)
		return
	}
	if rolling {
		length, ok := fixed(n, unit)
		switch {
		case unit == 'M' || unit == 'Q':
			r.errorf(d.val, d.path, "%s has no fixed length (months and quarters vary), so it cannot be a rolling window; want a length in m, h, d or w such as 28d or 4w, or a calendar window", quote(v))
		case !ok:
			r.errorf(d.val, d.path, "%s is too long", quote(v))
		case length == 0:
			r.errorf(d.val, d.path, "must be longer than zero; want %s", wantWindowLength)
		default:
			m.window.Rolling = length
		}
		return
	}
	units := map[byte]slo.CalendarUnit{'d': slo.Day, 'w': slo.Week, 'M': slo.Month, 'Q': slo.Quarter, 'Y': slo.Year}
	u, ok := units[unit]
	if !ok || n != 1 {
		hint := ""
		if unit == 'm' {
			hint = " (m is minutes; a month is M)"
		}
		r.errorf(d.val, d.path, "%s cannot be a calendar window: nines cuts calendar windows by one day, week, month, quarter or year (1d, 1w, 1M, 1Q or 1Y)%s", quote(v), hint)
		return
	}
	m.window.Calendar = u
	m.window.Location = time.UTC
	m.calendar(cal, u)
}

// calendar reads the timeZone and startTime of a calendar window. A
// calendar window of nines starts at local midnight on the first day of
// its unit, so a startTime elsewhere would shift every window: refused.
func (m *sloMap) calendar(f field, u slo.CalendarUnit) {
	r := m.r
	if !r.mapping(f, wantCalendar) {
		return
	}
	fs := r.fields(f.val, f.path, calendarFields, nil)
	loc := time.UTC
	if tz, ok := fs["timeZone"]; ok {
		if v, ok := r.scalar(tz, wantTimezone); ok {
			if l := r.zone(v); l == nil {
				r.errorf(tz.val, tz.path, "%s is not a time zone; want %s", quote(v), wantTimezone)
				return
			} else {
				loc = l
				m.tz = &tz
			}
		}
	}
	m.window.Location = loc
	st, ok := fs["startTime"]
	if !ok {
		return
	}
	v, ok := r.scalar(st, wantStartTime)
	if !ok {
		return
	}
	t, err := time.ParseInLocation(time.DateTime, strings.TrimSpace(v), loc)
	if err != nil {
		r.errorf(st.val, st.path, "%s is not a date and time; want %s", quote(v), wantStartTime)
		return
	}
	spec := slo.WindowSpec{Calendar: u, Location: loc}
	w := spec.Containing(t)
	if w.Start.Equal(t) {
		return
	}
	where := map[slo.CalendarUnit]string{
		slo.Day: "at local midnight", slo.Week: "at local midnight on Monday", slo.Month: "at local midnight on the 1st",
		slo.Quarter: "at local midnight on 1 January, April, July or October", slo.Year: "at local midnight on 1 January",
	}[u]
	r.errorf(st.val, st.path, "%s is not the start of a calendar %s in %s: nines starts calendar windows %s, so every window would begin at another time than this one says; want a startTime such as %s",
		quote(v), u, loc, where, spec.Next(w).Start.Format(time.DateTime))
}

// objective reads one item of spec.objectives.
func (m *sloMap) objective(f field) *objective {
	r := m.r
	if !r.mapping(f, wantObjective) {
		return nil
	}
	start := r.n
	fs := r.fields(f.val, f.path, objectiveFields, nil)
	ob := &objective{f: f, fs: fs}
	for _, name := range []string{"indicator", "indicatorRef", "compositeWeight"} {
		if cf, ok := fs[name]; ok {
			r.errorf(cf.key, cf.path, "composite SLOs (an SLI per objective) have no equivalent in nines; give the SLO one SLI in spec.indicator or spec.indicatorRef")
		}
	}
	if dn, ok := fs["displayName"]; ok {
		r.scalar(dn, wantText)
	}
	tf, hasT := fs["target"]
	pf, hasP := fs["targetPercent"]
	exactlyOne(r, f, tf, pf, hasT, hasP, "has both target and targetPercent; want one of them", "missing target or targetPercent; want target: 0.999 (a ratio) or targetPercent: 99.9")
	switch {
	case hasT && !hasP:
		if rt, _, ok := ratio(r, tf, wantTarget, false); ok {
			ob.target, ob.targetF = rt, tf
			ob.targetText = strings.TrimSpace(tf.val.Value) + " (" + percentText(rt) + " %)"
		}
	case hasP && !hasT:
		if rt, ok := osloPercent(r, pf); ok {
			ob.target, ob.targetF = rt, pf
			ob.targetText = percentText(rt) + " %"
		}
	}
	if sf, ok := fs["timeSliceTarget"]; ok {
		ob.qo, ob.full, ob.hasQO = ratio(r, sf, wantTimeSlice, true)
	}
	if wf, ok := fs["timeSliceWindow"]; ok {
		ob.quantum, ob.hasQuantum = sliceWindow(r, wf)
	}
	if of, ok := fs["op"]; ok {
		if v, ok := r.scalar(of, wantOp); ok {
			enumValue(r, of, v, "comparison operator", operators)
		}
	}
	if r.n > start {
		return nil
	}
	return ob
}

// osloPercent reads a targetPercent.
func osloPercent(r *report, f field) (slo.Ratio, bool) {
	const want = "a percentage between 0 and 100 such as 99.9"
	v, ok := r.scalar(f, want)
	if !ok {
		return slo.Ratio{}, false
	}
	if !isPlainDecimal(strings.TrimSpace(v)) {
		r.errorf(f.val, f.path, "%s is not a percentage; want %s", quote(v), want)
		return slo.Ratio{}, false
	}
	rt, err := slo.ParsePercent(v)
	if err != nil {
		r.errorf(f.val, f.path, "%w", err)
		return slo.Ratio{}, false
	}
	return rt, true
}

// isPlainDecimal reports whether s is digits with an optional fraction.
func isPlainDecimal(s string) bool {
	intPart, frac, hasPoint := strings.Cut(s, ".")
	return intPart != "" && allDigits(intPart) && (!hasPoint || (frac != "" && allDigits(frac)))
}

// sliceWindow reads a timeSliceWindow: a duration shorthand, or a number
// of minutes (OpenSLO's default unit), which may have a fraction: 0.5 is
// 30 seconds.
func sliceWindow(r *report, f field) (time.Duration, bool) {
	v, ok := r.scalar(f, wantSliceWindow)
	if !ok {
		return 0, false
	}
	t := strings.TrimSpace(v)
	var d time.Duration
	if isPlainDecimal(t) {
		var ok bool
		if d, ok = minutes(t); !ok {
			r.errorf(f.val, f.path, "%s has more than 6 digits before the point or 9 after it; want %s", quote(v), wantSliceWindow)
			return 0, false
		}
	} else {
		n, unit, ok := shorthand(t)
		if !ok {
			r.errorf(f.val, f.path, "%s is not a duration; want %s", quote(v), wantSliceWindow)
			return 0, false
		}
		if d, ok = fixed(n, unit); !ok || unit == 'Y' {
			r.errorf(f.val, f.path, "%s is not a length a time slice can have; want %s", quote(v), wantSliceWindow)
			return 0, false
		}
	}
	if d <= 0 {
		r.errorf(f.val, f.path, "must be longer than zero; want %s", wantSliceWindow)
		return 0, false
	}
	return d, true
}

// minutes reads a decimal number of minutes exactly, without a float: at
// most six digits before the point and nine after it.
func minutes(t string) (time.Duration, bool) {
	intPart, frac, _ := strings.Cut(t, ".")
	frac = strings.TrimRight(frac, "0")
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 6 || len(frac) > 9 {
		return 0, false
	}
	n, err := strconv.ParseInt("0"+intPart+frac, 10, 64)
	if err != nil {
		return 0, false
	}
	den := int64(1)
	for range len(frac) {
		den *= 10
	}
	// n/den minutes is n·60·10⁹/den nanoseconds; den divides 10⁹.
	ns := n * 60 * (int64(time.Second) / den)
	return time.Duration(ns), true
}

// build makes the slo.SLO of one objective. Once the SLO has no errors
// since start, it runs the model's checks too; it returns nil when the
// objective or the SLO has problems.
func (m *sloMap) build(ob *objective, start int) *slo.SLO {
	r := m.r
	s := m.base
	s.Window = m.window
	s.Objective = ob.target
	if ob.hasQuantum {
		s.Quantum = ob.quantum
	}
	missing := func(name, what string) {
		r.errorf(ob.f.val, join(ob.f.path, name), "missing; %s needs %s", m.method, what)
	}
	switch m.method {
	case "Occurrences":
		s.Method = slo.Transactions
		switch {
		case ob.full:
			f := ob.fs["timeSliceTarget"]
			r.warnf(f.val, f.path, "1 is dropped: with Occurrences nines uses timeSliceTarget only to mark the time slices in violation, and a target of 100 %% marks every slice with a failure")
		case ob.hasQO:
			s.QuantumObjective = ob.qo
		}
	case "Timeslices":
		// A time slice is good when its share of good events reaches
		// timeSliceTarget; availability is good slices over all slices.
		// A target of 1 is the time-quanta method: any failure makes the
		// slice bad.
		if _, ok := ob.fs["timeSliceTarget"]; !ok {
			missing("timeSliceTarget", "timeSliceTarget, the share of a time slice's events that must be good, such as 0.95")
		}
		if !ob.hasQuantum {
			if _, ok := ob.fs["timeSliceWindow"]; !ok {
				missing("timeSliceWindow", "timeSliceWindow, the length of a time slice, such as 1m")
			}
		}
		s.Method, s.QuantumObjective = slo.Quanta, ob.qo
		if ob.full {
			s.Method, s.QuantumObjective = slo.TimeQuanta, slo.Ratio{}
		}
	case "RatioTimeslices":
		// OpenSLO: the average of every time slice's ratio of good
		// events. That is the downtime-minutes method: each quantum
		// counts as down for its share of failed events. Not the quanta
		// method, which counts a slice wholly good or wholly bad. A slice
		// without events is up, and one nothing reported for counts by
		// noData, as with every method of nines; OpenSLO leaves both open.
		s.Method = slo.DowntimeMinutes
		if !ob.hasQuantum {
			if _, ok := ob.fs["timeSliceWindow"]; !ok {
				missing("timeSliceWindow", "timeSliceWindow, the length of a time slice, such as 1m")
			}
		}
		if f, ok := ob.fs["timeSliceTarget"]; ok {
			r.warnf(f.key, f.path, "has no effect with RatioTimeslices: a time slice counts by its share of good events, whatever its target")
			if ob.hasQO && !ob.full {
				s.QuantumObjective = ob.qo
			}
		}
	}
	if m.sliObj == nil || m.sliObj.sli == nil || m.broken {
		return nil
	}
	sli, ok := m.sli(ob)
	if !ok || r.n > start || m.method == "" || m.obj.failed {
		return nil
	}
	s.SLI = sli
	if a, ok := m.ann["since"]; ok {
		if s.Since, ok = parseSince(r, a.f, a.value, s.Quantum); !ok {
			return nil
		}
	}
	if !m.validate(&s, ob) {
		return nil
	}
	if m.tz != nil {
		if msg := offsetProblem(s.Window, s.Quantum); msg != "" {
			if !m.reported[msg] {
				m.reported[msg] = true
				r.errorf(m.tz.val, m.tz.path, "%s", msg)
			}
			return nil
		}
	}
	if msg, ok := budgetTooSmall(&s); ok {
		r.warnf(ob.targetF.val, ob.targetF.path, "%s %s", ob.targetText, msg)
	}
	return &s
}

// validate runs the model's checks, placing each message at the field it
// is about. Mapping has checked most of what Validate does; what is left
// is how the quantum fits the window.
func (m *sloMap) validate(s *slo.SLO, ob *objective) bool {
	err := s.Validate()
	if err == nil {
		return true
	}
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	for _, e := range errs {
		f := field{path: join(m.obj.path, "spec"), val: m.obj.spec.val}
		switch msg := e.Error(); {
		case strings.HasPrefix(msg, "quantum"), strings.HasPrefix(msg, "rolling window") && ob.hasQuantum:
			f = ob.fs["timeSliceWindow"]
			if f.val == nil {
				f = ob.f
			}
		case strings.HasPrefix(msg, "rolling window"):
			f = m.durationF
		case strings.HasPrefix(msg, "a window"):
			f = m.windowF
		case strings.HasPrefix(msg, "objective"):
			f = ob.f
		}
		if f.val == nil {
			f = field{path: join(m.obj.path, "spec"), val: m.obj.spec.val}
		}
		key := fmt.Sprintf("%d:%d:%s", f.val.Line, f.val.Column, e)
		if !m.reported[key] {
			m.reported[key] = true
			m.r.add(m.r.at(f.val, f.path, e))
		}
	}
	return false
}

// percentText writes a ratio as the exact percentage it is: 999/1000 is
// "99.9". Den is 100 times a power of ten.
func percentText(r slo.Ratio) string {
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

// alertPolicies reads spec.alertPolicies, by reference or inline. An
// empty list, or none at all, is fine: the README's examples leave it
// empty.
func (m *sloMap) alertPolicies(fs map[string]field) []*AlertPolicy {
	r := m.r
	f, ok := fs["alertPolicies"]
	if !ok || isNull(f.val) {
		return nil
	}
	items, ok := r.list(f, wantAlertPolicies)
	if !ok {
		return nil
	}
	var out []*AlertPolicy
	for _, item := range items {
		if !r.mapping(item, "a mapping with alertPolicyRef: NAME, or an inline AlertPolicy (kind, metadata, spec)") {
			continue
		}
		if ref, ok := fieldOf(item.val, item.path, "alertPolicyRef"); ok {
			r.fields(item.val, item.path, []string{"alertPolicyRef"}, nil)
			p := m.l.ref(r, ref, kindPolicy)
			switch {
			case p == nil:
			case p.policy == nil:
				m.broken = true
			default:
				out = append(out, p.policy)
			}
			continue
		}
		if p := m.l.inline(r, item, kindPolicy); p != nil {
			m.l.policy(p)
			if p.policy != nil {
				m.obj.inlined = append(m.obj.inlined, p.policy)
				out = append(out, p.policy)
			}
		}
	}
	return out
}

// sli makes the slo.SLI of the SLO for one objective: a thresholdMetric
// takes its latency threshold from the objective.
func (m *sloMap) sli(ob *objective) (slo.SLI, bool) {
	r := m.r
	def := m.sliObj.sli
	var sli slo.SLI
	if def.threshold == nil {
		for _, name := range []string{"op", "value"} {
			if f, ok := ob.fs[name]; ok {
				r.warnf(f.key, f.path, "has no effect: OpenSLO compares op and value only with a thresholdMetric, and this SLI is a ratioMetric")
			}
		}
		if def.events {
			for _, name := range []string{"status", "status-label", "errors", "latency-unit"} {
				if a, ok := m.ann[name]; ok {
					r.errorf(a.f.key, a.f.path, "applies to SLIs read from Prometheus; an SLI of nines events gives its rules in the spec of its good metricSource")
				}
			}
			sli.Status, sli.Latency, sli.Log = def.good.status, def.good.latency, def.good.log
			return sli, true
		}
		src := &slo.MetricSource{Total: def.total.text, Prometheus: def.total.api}
		if def.good != nil {
			src.Good = def.good.text
		} else {
			src.Bad = def.bad.text
		}
		for _, name := range []string{"status-label", "errors"} {
			if a, ok := m.ann[name]; ok {
				r.errorf(a.f.key, a.f.path, "applies to a histogram (a thresholdMetric); counters count failed requests with bad")
			}
		}
		if a, ok := m.ann["latency-unit"]; ok {
			r.warnf(a.f.key, a.f.path, "has no effect: counters count requests and have no unit")
		}
		if a, ok := m.ann["status"]; ok {
			sli.Status, _ = slo.ParseStatusRule(a.value)
		}
		sli.Source = src
		return sli, true
	}

	// A latency threshold: requests at or under value (lte), or under it
	// (lt), are good. value is in the unit of the histogram's values.
	h := def.threshold
	opF, hasOp := ob.fs["op"]
	valF, hasVal := ob.fs["value"]
	ok := true
	if !hasOp {
		r.errorf(ob.f.val, join(ob.f.path, "op"), "missing; a thresholdMetric SLI needs op: lte (requests taking at most value are good) or lt")
		ok = false
	} else if op := opF.val.Value; op == "gte" || op == "gt" {
		r.errorf(opF.val, opF.path, "%s cannot be mapped: it counts requests taking at least value as good, and nines counts requests faster than a latency threshold as good; want lte or lt", quote(op))
		ok = false
	}
	if !hasVal {
		r.errorf(ob.f.val, join(ob.f.path, "value"), "missing; a thresholdMetric SLI needs value, the latency threshold in the histogram's unit, such as 0.25")
		return sli, false
	}
	v, vok := r.scalar(valF, wantThresholdVal)
	if !vok {
		return sli, false
	}
	if !isPlainDecimal(strings.TrimSpace(v)) {
		r.errorf(valF.val, valF.path, "%s is not a decimal number; want %s", quote(v), wantThresholdVal)
		return sli, false
	}
	implied := impliedUnit(h.name)
	unit, srcUnit := implied, implied
	if srcUnit == "s" {
		srcUnit = "" // seconds are the default
	}
	if a, has := m.ann["latency-unit"]; has {
		unit, srcUnit = a.value, a.value
		if implied != "" && implied != unit {
			r.warnf(a.f.val, a.f.path, "says %s but the metric name %s says %s; nines goes by the annotation", a.value, quote(h.name), implied)
		}
	} else if unit == "" {
		r.errorf(valF.val, valF.path, "%s has no unit: the name of %s does not say it (as _seconds or _milliseconds would); add the annotation nines.dev/latency-unit: s (or ms, us, ns) to the metadata.annotations of the SLO or its SLI", quote(v), quote(h.name))
		return sli, false
	}
	threshold, err := slo.ParseSeconds(strings.TrimSpace(v) + unit)
	switch {
	case err != nil:
		r.errorf(valF.val, valF.path, "%w", err)
		return sli, false
	case threshold <= 0:
		r.errorf(valF.val, valF.path, "must be above zero; want %s", wantThresholdVal)
		return sli, false
	}
	src := &slo.MetricSource{Histogram: h.text, Unit: srcUnit, Prometheus: h.api}
	if a, ok := m.ann["errors"]; ok {
		src.Errors = a.value
	}
	if a, ok := m.ann["status"]; ok {
		sli.Status, _ = slo.ParseStatusRule(a.value)
	}
	if a, ok := m.ann["status-label"]; ok {
		src.StatusLabel = a.value
		if sli.Status.IsZero() {
			r.errorf(a.f.key, a.f.path, "needs nines.dev/status, the status rule that judges the label")
			return sli, false
		}
	}
	if !ok {
		return sli, false
	}
	sli.Latency = &slo.LatencyRule{Threshold: threshold, Inclusive: opF.val.Value == "lte"}
	sli.Source = src
	return sli, true
}

package spec

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// The alerting and budgetPolicy sections of a native SLO: how its burn-rate
// alerts differ from the defaults, and when its release gate freezes.
var (
	alertingFields = []string{"minEvents", "resolveAfter", "noData", "tiers"}
	noDataFields   = []string{"after", "severity"}
	tierFields     = []string{"name", "severity", "budgetShare", "factor", "long", "short", "disabled"}
	budgetFields   = []string{"freeze"}
	freezeFields   = []string{"remainingBelow", "burnRateAbove", "over"}
)

const (
	wantAlerting     = "a mapping with minEvents, resolveAfter, noData or tiers"
	wantMinEvents    = "a whole number of events such as 20, or off"
	wantOff          = "a duration such as 10m, or off"
	wantNoData       = "a mapping with after: DURATION (or off) and severity: page or ticket, or off"
	wantTiers        = "a list of tiers such as - name: page-fast, factor: 20"
	wantTierName     = "a default tier's name (page-fast, page-slow, ticket-fast, ticket-slow) or a new one"
	wantTier         = "a mapping with name and the fields to change: severity, budgetShare, factor, long, short, disabled"
	wantShare        = "a percentage of the error budget such as 2%"
	wantFactor       = "a burn rate above 0 such as 14.4"
	wantBudgetPolicy = "a mapping with freeze: a list of rules such as - remainingBelow: 10%, burnRateAbove: 1, over: 1h"
	wantFreeze       = "a list of rules such as - remainingBelow: 0%"
	wantFreezeRule   = "a mapping with remainingBelow: PERCENT and optionally burnRateAbove: RATE with over: DURATION"
	wantRemaining    = "a percentage of the error budget such as 10% (negative: overspent)"
)

func (d *doc) alerting(f field) {
	r := d.r
	if !r.mapping(f, wantAlerting) {
		return
	}
	o := &slo.AlertOverrides{}
	fs := d.fields(f.val, f.path, alertingFields, nil)
	if g, ok := fs["minEvents"]; ok {
		if v, ok := r.scalar(g, wantMinEvents); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			switch {
			case v == "off":
				o.MinEvents = -1
			case err != nil || n < 1:
				r.errorf(g.val, g.path, "%s is not a number of events; want %s", quote(v), wantMinEvents)
			default:
				o.MinEvents = n
			}
		}
	}
	if g, ok := fs["resolveAfter"]; ok {
		o.ResolveAfter, _ = d.durationOrOff(g)
	}
	if g, ok := fs["noData"]; ok {
		switch {
		case g.val.Kind == yaml.ScalarNode && g.val.Value == "off":
			o.NoDataAfter = -1
		case r.mapping(g, wantNoData):
			nd := d.fields(g.val, g.path, noDataFields, nil)
			if h, ok := nd["after"]; ok {
				o.NoDataAfter, _ = d.durationOrOff(h)
			}
			if h, ok := nd["severity"]; ok {
				o.NoDataSeverity, _ = d.enum(h, "severity", severities)
			}
		}
	}
	if g, ok := fs["tiers"]; ok {
		o.Tiers = d.tiers(g)
	}
	d.slo.Alerting = o
}

var severities = []string{string(alert.Page), string(alert.Ticket)}

func (d *doc) tiers(f field) []slo.AlertTier {
	r := d.r
	if f.val.Kind != yaml.SequenceNode {
		r.wrongType(f, wantTiers)
		return nil
	}
	var out []slo.AlertTier
	for i, item := range f.val.Content {
		g := field{path: f.path + "[" + strconv.Itoa(i) + "]", key: item, val: resolve(item)}
		if !r.mapping(g, wantTier) {
			continue
		}
		fs := d.fields(g.val, g.path, tierFields, nil)
		var t slo.AlertTier
		if h, ok := r.require(g.val, fs, g.path, "name", wantTierName); ok {
			t.Name, _ = r.scalar(h, wantTierName)
		}
		if h, ok := fs["severity"]; ok {
			t.Severity, _ = d.enum(h, "severity", severities)
		}
		if h, ok := fs["budgetShare"]; ok {
			if v, ok := d.share(h, wantShare); ok {
				if v <= 0 {
					r.errorf(h.val, h.path, "must be above 0 %%; want %s", wantShare)
				}
				t.BudgetShare = v
			}
		}
		if h, ok := fs["factor"]; ok {
			t.Factor = d.burnRate(h)
		}
		for name, dst := range map[string]*time.Duration{"long": &t.Long, "short": &t.Short} {
			if h, ok := fs[name]; ok {
				*dst, _ = d.duration(h, "a duration such as 1h")
			}
		}
		if h, ok := fs["disabled"]; ok {
			if v, ok := r.scalar(h, wantBool); ok {
				switch v {
				case "true":
					t.Disabled = true
				case "false":
				default:
					r.errorf(h.val, h.path, "%s is not %s", quote(v), wantBool)
				}
			}
		}
		out = append(out, t)
	}
	return out
}

// checkAlerting runs the alert package's checks on the finished SLO (they
// need its window), placing them on the alerting section.
func (d *doc) checkAlerting() {
	if n, ok := d.nodes["alerting"]; ok && len(d.r.errs) == d.first {
		checkPolicy(d.r, n, "alerting", &d.slo)
	}
}

// checkPolicy reports each problem alert.Policy.Validate finds with the
// alerting s asks for, one error each, at n.
func checkPolicy(r *report, n *yaml.Node, path string, s *slo.SLO) {
	err := alert.PolicyFor(s).Validate()
	if err == nil {
		return
	}
	// One error a line: the policy joins its problems, each naming its tier.
	for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "alert policy: "), "\n") {
		r.add(r.at(n, path, errors.New(line)))
	}
}

// annotatedPolicy reads the nines.dev/alerting and nines.dev/budget-policy
// annotations of an OpenSLO SLO, whose values are the native sections
// written as inline YAML, onto s. Problems are reported at the
// annotation: positions inside its text would not be lines of the file.
func annotatedPolicy(r *report, ann map[string]annotation, s *slo.SLO) {
	for name, parse := range map[string]func(*doc, field){"alerting": (*doc).alerting, "budget-policy": (*doc).budgetPolicy} {
		a, ok := ann[name]
		if !ok {
			continue
		}
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(a.value), &root); err != nil || len(root.Content) == 0 {
			r.errorf(a.f.val, a.f.path, "is not YAML: %v; want the native %s section as inline YAML, such as {freeze: [{remainingBelow: 0%%}]}", err, name)
			continue
		}
		placeAt(root.Content[0], a.f.val)
		d := &doc{r: r, first: len(r.errs), nodes: map[string]*yaml.Node{}, slo: *s}
		parse(d, field{path: a.f.path, key: a.f.key, val: root.Content[0]})
		if name == "alerting" && len(r.errs) == d.first {
			checkPolicy(r, a.f.val, a.f.path, &d.slo)
		}
		s.Alerting, s.BudgetPolicy = d.slo.Alerting, d.slo.BudgetPolicy
	}
}

// placeAt gives every node of a tree the position of at.
func placeAt(n, at *yaml.Node) {
	n.Line, n.Column = at.Line, at.Column
	for _, c := range n.Content {
		placeAt(c, at)
	}
}

// flowText writes a section as one line of inline YAML, for an annotation.
func flowText(n *yaml.Node) string {
	var setFlow func(*yaml.Node)
	setFlow = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
			n.Style = yaml.FlowStyle
		}
		for _, c := range n.Content {
			setFlow(c)
		}
	}
	setFlow(n)
	b, err := yaml.Marshal(n)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func (d *doc) budgetPolicy(f field) {
	r := d.r
	if !r.mapping(f, wantBudgetPolicy) {
		return
	}
	fs := d.fields(f.val, f.path, budgetFields, nil)
	g, ok := r.require(f.val, fs, f.path, "freeze", wantFreeze)
	if !ok {
		return
	}
	if g.val.Kind != yaml.SequenceNode {
		r.wrongType(g, wantFreeze)
		return
	}
	rules := []slo.FreezeRule{} // written but empty: never freeze
	for i, item := range g.val.Content {
		h := field{path: g.path + "[" + strconv.Itoa(i) + "]", key: item, val: resolve(item)}
		if !r.mapping(h, wantFreezeRule) {
			continue
		}
		rf := d.fields(h.val, h.path, freezeFields, nil)
		var rule slo.FreezeRule
		if k, ok := r.require(h.val, rf, h.path, "remainingBelow", wantRemaining); ok {
			rule.RemainingBelow, _ = d.share(k, wantRemaining)
		}
		burn, hasBurn := rf["burnRateAbove"]
		over, hasOver := rf["over"]
		if hasBurn {
			rule.BurnAbove = d.burnRate(burn)
		}
		if hasOver {
			rule.Over, _ = d.duration(over, "a duration such as 1h")
		}
		switch {
		case hasBurn && !hasOver:
			r.errorf(burn.key, h.path, "burnRateAbove needs over: the span to measure the burn rate over, such as 1h")
		case hasOver && !hasBurn:
			r.errorf(over.key, h.path, "over needs burnRateAbove: the burn rate that freezes releases, such as 1")
		case hasOver && d.slo.Window.Rolling > 0 && rule.Over > d.slo.Window.Rolling:
			r.errorf(over.val, over.path, "%s is longer than the rolling %s window", slo.FormatDuration(rule.Over), slo.FormatDuration(d.slo.Window.Rolling))
		}
		rules = append(rules, rule)
	}
	d.slo.BudgetPolicy = rules
}

// burnRate reads a burn-rate threshold: above 0, at most a million.
func (d *doc) burnRate(f field) float64 {
	v, ok := d.r.scalar(f, wantFactor)
	if !ok {
		return 0
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || !(x > 0) || x > 1e6 {
		d.r.errorf(f.val, f.path, "%s is not a burn rate; want %s", quote(v), wantFactor)
	}
	return x
}

// share reads a percentage of the error budget as a share: "2%" or "2"
// is 0.02.
func (d *doc) share(f field, want string) (float64, bool) {
	v, ok := d.r.scalar(f, want)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%")), 64)
	if err != nil || x > 100 || x < -1000 {
		d.r.errorf(f.val, f.path, "%s is not a percentage; want %s", quote(v), want)
		return 0, false
	}
	return x / 100, true
}

// durationOrOff reads a duration, or "off" as -1.
func (d *doc) durationOrOff(f field) (time.Duration, bool) {
	if f.val.Kind == yaml.ScalarNode && f.val.Value == "off" {
		return -1, true
	}
	return d.duration(f, wantOff)
}

// alertingNode writes o back as the alerting section.
func alertingNode(o *slo.AlertOverrides) *yaml.Node {
	m := mapping()
	switch {
	case o.MinEvents < 0:
		put(m, "minEvents", "off")
	case o.MinEvents > 0:
		put(m, "minEvents", number(strconv.Itoa(o.MinEvents)))
	}
	if o.ResolveAfter != 0 {
		put(m, "resolveAfter", offText(o.ResolveAfter))
	}
	switch {
	case o.NoDataAfter < 0:
		put(m, "noData", "off")
	case o.NoDataAfter > 0 || o.NoDataSeverity != "":
		nd := mapping()
		if o.NoDataAfter > 0 {
			put(nd, "after", slo.FormatDuration(o.NoDataAfter))
		}
		if o.NoDataSeverity != "" {
			put(nd, "severity", o.NoDataSeverity)
		}
		put(m, "noData", nd)
	}
	if len(o.Tiers) > 0 {
		var items []*yaml.Node
		for _, t := range o.Tiers {
			tm := mapping("name", t.Name)
			if t.Severity != "" {
				put(tm, "severity", t.Severity)
			}
			if t.BudgetShare != 0 {
				put(tm, "budgetShare", shareText(t.BudgetShare))
			}
			if t.Factor != 0 {
				put(tm, "factor", number(strconv.FormatFloat(t.Factor, 'g', -1, 64)))
			}
			if t.Long != 0 {
				put(tm, "long", slo.FormatDuration(t.Long))
			}
			if t.Short != 0 {
				put(tm, "short", slo.FormatDuration(t.Short))
			}
			if t.Disabled {
				put(tm, "disabled", boolean(true))
			}
			items = append(items, tm)
		}
		put(m, "tiers", sequence(items...))
	}
	return m
}

// budgetPolicyNode writes rules back as the budgetPolicy section.
func budgetPolicyNode(rules []slo.FreezeRule) *yaml.Node {
	items := []*yaml.Node{}
	for _, r := range rules {
		rm := mapping("remainingBelow", shareText(r.RemainingBelow))
		if r.BurnAbove != 0 {
			put(rm, "burnRateAbove", number(strconv.FormatFloat(r.BurnAbove, 'g', -1, 64)))
			put(rm, "over", slo.FormatDuration(r.Over))
		}
		items = append(items, rm)
	}
	seq := sequence(items...)
	if len(items) == 0 {
		seq.Style = yaml.FlowStyle
	}
	return mapping("freeze", seq)
}

func shareText(x float64) string { return strconv.FormatFloat(100*x, 'g', -1, 64) + "%" }

func offText(d time.Duration) string {
	if d < 0 {
		return "off"
	}
	return slo.FormatDuration(d)
}

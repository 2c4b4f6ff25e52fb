package spec

import (
	"math"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	policyFields        = []string{"description", "alertWhenNoData", "alertWhenResolved", "alertWhenBreaching", "conditions", "notificationTargets"}
	conditionSpecFields = []string{"description", "severity", "condition"}
	conditionFields     = []string{"kind", "op", "threshold", "lookbackWindow", "alertAfter"}
	targetSpecFields    = []string{"description", "target"}
)

const (
	wantSeverity    = `a severity such as "page" or "sev1"`
	wantBurnRate    = "a burn rate above 0 such as 14.4"
	wantLookback    = "a duration shorthand such as 5m or 1h"
	wantConditions  = "a list of one condition such as - conditionRef: NAME"
	wantTargets     = "a list of notification targets such as - targetRef: NAME"
	wantTargetName  = "a target such as email or slack"
	wantConditionKV = "a mapping with kind: burnrate, op, threshold, lookbackWindow and alertAfter"
)

// inline reads an object written in place of a reference, such as an
// AlertCondition in an AlertPolicy's conditions, and registers its name:
// nines returns alert policies by name, so one must not shadow another.
func (l *openSLOLoader) inline(r *report, f field, kind string) *object {
	fs := r.fields(f.val, f.path, osloInlineFields, nil)
	kf, ok := r.require(f.val, fs, f.path, "kind", kind)
	if !ok {
		return nil
	}
	if v, ok := r.scalar(kf, kind); !ok {
		return nil
	} else if v != kind {
		r.errorf(kf.val, kf.path, "%s does not belong here; want %s, or a reference by name", quote(v), kind)
		return nil
	}
	obj := l.object(r, f.val, f.path, fs, kind)
	obj.inline, obj.used = true, true
	l.register(obj)
	return obj
}

// condition reads an AlertCondition. OpenSLO v1 knows one kind of
// condition, burnrate.
func (l *openSLOLoader) condition(obj *object) {
	r := obj.r
	start := r.n
	dropped(obj, "labels")
	if obj.spec == nil {
		obj.failed = true
		return
	}
	c := &AlertCondition{Name: obj.name, DisplayName: metaText(obj, "displayName")}
	fs := r.fields(obj.spec.val, obj.spec.path, conditionSpecFields, nil)
	if f, ok := fs["description"]; ok {
		c.Description, _ = r.scalar(f, wantText)
	}
	c.Severity = requiredText(r, obj, fs, "severity", wantSeverity)
	if f, ok := r.require(obj.spec.val, fs, obj.spec.path, "condition", wantConditionKV); ok && r.mapping(f, wantConditionKV) {
		cfs := r.fields(f.val, f.path, conditionFields, nil)
		if kf, ok := cfs["kind"]; ok {
			if v, ok := r.scalar(kf, "burnrate"); ok {
				enumValue(r, kf, v, "condition kind OpenSLO v1 knows", []string{"burnrate"})
			}
		}
		if of, ok := r.require(f.val, cfs, f.path, "op", wantOp); ok {
			if v, ok := r.scalar(of, wantOp); ok && enumValue(r, of, v, "comparison operator", operators) {
				c.Op = v
				if v == "lt" || v == "lte" {
					r.warnf(of.val, of.path, "%s alerts while the burn rate is below the threshold, that is while the SLO is doing well; burn-rate alerts usually say gte", quote(v))
				}
			}
		}
		if tf, ok := r.require(f.val, cfs, f.path, "threshold", wantBurnRate); ok {
			if v, ok := r.scalar(tf, wantBurnRate); ok {
				x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || math.IsInf(x, 0) || math.IsNaN(x) || x <= 0 {
					r.errorf(tf.val, tf.path, "%s is not a burn rate; want %s", quote(v), wantBurnRate)
				}
				c.Threshold = x
			}
		}
		if lf, ok := r.require(f.val, cfs, f.path, "lookbackWindow", wantLookback); ok {
			c.LookbackWindow, _ = duration(r, lf, wantLookback, false)
		}
		if af, ok := cfs["alertAfter"]; ok {
			c.AlertAfter, _ = duration(r, af, "a duration shorthand such as 0m or 5m", true)
		}
	}
	if r.n > start {
		obj.failed = true
		return
	}
	obj.cond = c
}

// requiredText reads a spec field that must be there and not be blank.
func requiredText(r *report, obj *object, fs map[string]field, name, want string) string {
	f, ok := r.require(obj.spec.val, fs, obj.spec.path, name, want)
	if !ok {
		return ""
	}
	v, ok := r.scalar(f, want)
	if ok && strings.TrimSpace(v) == "" {
		r.errorf(f.val, f.path, "is empty; want %s", want)
	}
	return v
}

// target reads an AlertNotificationTarget.
func (l *openSLOLoader) target(obj *object) {
	r := obj.r
	start := r.n
	dropped(obj, "labels")
	if obj.spec == nil {
		obj.failed = true
		return
	}
	t := &AlertTarget{Name: obj.name, DisplayName: metaText(obj, "displayName")}
	fs := r.fields(obj.spec.val, obj.spec.path, targetSpecFields, nil)
	if f, ok := fs["description"]; ok {
		t.Description, _ = r.scalar(f, wantText)
	}
	t.Target = requiredText(r, obj, fs, "target", wantTargetName)
	if r.n > start {
		obj.failed = true
		return
	}
	obj.target = t
}

// policy reads an AlertPolicy, a document or inline in an SLO.
func (l *openSLOLoader) policy(obj *object) {
	r := obj.r
	start := r.n
	dropped(obj, "labels")
	if obj.spec == nil {
		obj.failed = true
		return
	}
	p := &AlertPolicy{Name: obj.name, DisplayName: metaText(obj, "displayName")}
	spec := *obj.spec
	fs := r.fields(spec.val, spec.path, policyFields, nil)
	if f, ok := fs["description"]; ok {
		p.Description, _ = r.scalar(f, wantText)
	}
	alerts := false
	for name, dst := range map[string]*bool{"alertWhenBreaching": &p.WhenBreaching, "alertWhenResolved": &p.WhenResolved, "alertWhenNoData": &p.WhenNoData} {
		if f, ok := fs[name]; ok {
			*dst, _ = r.boolean(f)
			alerts = alerts || *dst
		}
	}
	broken := false
	if f, ok := r.require(spec.val, fs, spec.path, "conditions", wantConditions); ok {
		if items, ok := r.list(f, wantConditions); ok {
			switch {
			case len(items) == 0:
				r.errorf(f.val, f.path, "is empty; want %s", wantConditions)
			case len(items) > 1:
				r.errorf(items[1].val, items[1].path, "a second condition; OpenSLO v1 allows one condition per alert policy, so write one policy per condition")
			}
			for _, item := range items {
				c := l.item(r, item, "conditionRef", kindCondition, &broken)
				if c == nil {
					continue
				}
				if c.inline {
					l.condition(c)
				}
				if c.cond != nil {
					p.Conditions = append(p.Conditions, *c.cond)
				} else if !c.inline {
					broken = true
				}
			}
		}
	}
	if f, ok := r.require(spec.val, fs, spec.path, "notificationTargets", wantTargets); ok {
		if items, ok := r.list(f, wantTargets); ok {
			if len(items) == 0 {
				r.errorf(f.val, f.path, "is empty; want %s", wantTargets)
			}
			for _, item := range items {
				t := l.item(r, item, "targetRef", kindTarget, &broken)
				if t == nil {
					continue
				}
				if t.inline {
					l.target(t)
				}
				if t.target != nil {
					p.Targets = append(p.Targets, *t.target)
				} else if !t.inline {
					broken = true
				}
			}
		}
	}
	if r.n > start || broken {
		obj.failed = true
		return
	}
	if !alerts {
		r.warnf(obj.nameNode, join(obj.path, "metadata.name"), "%s never alerts: alertWhenBreaching, alertWhenResolved and alertWhenNoData are all false or missing", obj.describe())
	}
	obj.policy = p
}

// item reads an item of conditions or notificationTargets: a reference
// by refField, or an inline object of kind.
func (l *openSLOLoader) item(r *report, f field, refField, kind string, broken *bool) *object {
	if !r.mapping(f, "a mapping with "+refField+": NAME, or an inline "+kind+" (kind, metadata, spec)") {
		return nil
	}
	if ref, ok := fieldOf(f.val, f.path, refField); ok {
		r.fields(f.val, f.path, []string{refField}, nil)
		o := l.ref(r, ref, kind)
		if o != nil && o.failed {
			*broken = true
			return nil
		}
		return o
	}
	return l.inline(r, f, kind)
}

// metaText is the text of a metadata field, or "".
func metaText(obj *object, name string) string {
	if f, ok := obj.meta[name]; ok && f.val.Kind == yaml.ScalarNode && !isNull(f.val) {
		return f.val.Value
	}
	return ""
}

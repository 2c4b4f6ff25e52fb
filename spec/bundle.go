package spec

import (
	"io/fs"
	"maps"
	"slices"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Bundle is everything a set of spec files defines: the SLOs, the alert
// policies of OpenSLO documents, and the warnings.
type Bundle struct {
	SLOs          []*slo.SLO
	AlertPolicies []*AlertPolicy
	Warnings      []Warning
}

// AlertPolicy is an OpenSLO AlertPolicy: when to alert about the SLOs
// that name it, and whom to tell. The native format has no alert
// policies.
type AlertPolicy struct {
	Name        string
	DisplayName string
	Description string
	// SLOs are the names of the SLOs that list the policy in their
	// alertPolicies, in the order they were loaded. An SLO of several
	// objectives is several SLOs, and each is listed.
	SLOs []string
	// Alert when a condition starts to hold (breaching), when it stops
	// (resolved), and when the burn rate cannot be computed (no data).
	WhenBreaching, WhenResolved, WhenNoData bool
	// Conditions holds one condition: OpenSLO v1 allows exactly one and
	// keeps the list for later versions.
	Conditions []AlertCondition
	Targets    []AlertTarget
}

// AlertCondition is a burn-rate condition: the alert fires when the burn
// rate over LookbackWindow compares with Threshold as Op says, and has
// done so for AlertAfter. A burn rate of 1 spends the error budget exactly
// over the SLO's window.
type AlertCondition struct {
	Name        string
	DisplayName string
	Description string
	Severity    string // as written, such as "page" or "sev1"
	// Op is gt, gte, lt or lte: burn rate Op Threshold.
	Op             string
	Threshold      float64
	LookbackWindow time.Duration
	AlertAfter     time.Duration
}

// AlertTarget is an OpenSLO AlertNotificationTarget: where to send the
// alert, such as "email" or "slack", as the spec leaves it to the
// implementation to make sense of.
type AlertTarget struct {
	Name        string
	DisplayName string
	Description string
	Target      string
}

// LoadAll is Load that also returns the alert policies of OpenSLO
// documents. The Bundle is never nil; when the error is not nil it holds
// only the warnings.
func LoadAll(name string, data []byte) (*Bundle, error) {
	var c collector
	c.load(name, data)
	return c.bundle()
}

// LoadAllFiles is LoadFiles that also returns the alert policies.
// OpenSLO references (indicatorRef, alertPolicyRef, conditionRef,
// targetRef, metricSourceRef) resolve across all the files.
func LoadAllFiles(fsys fs.FS, names ...string) (*Bundle, error) {
	var c collector
	c.loadFiles(fsys, names)
	return c.bundle()
}

// LoadAllData is LoadAllFiles for files already read: name → text,
// loaded in name order as one set.
func LoadAllData(files map[string][]byte) (*Bundle, error) {
	var c collector
	for _, name := range slices.Sorted(maps.Keys(files)) {
		c.load(name, files[name])
	}
	return c.bundle()
}

// LoadAllDir is LoadDir that also returns the alert policies.
func LoadAllDir(fsys fs.FS, dir string) (*Bundle, error) {
	names, err := specFiles(fsys, dir)
	if err != nil {
		return &Bundle{}, err
	}
	return LoadAllFiles(fsys, names...)
}

func (c *collector) bundle() (*Bundle, error) {
	b, warns, err := c.finish()
	return &Bundle{SLOs: b.slos, AlertPolicies: b.policies, Warnings: warns}, err
}

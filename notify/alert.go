package notify

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/alertmanager"
	"github.com/nines-sre/nines/slo"
)

// Alert is one SLO alert as notifiers see it, in Alertmanager's model:
// identifying labels, descriptive annotations, and a time span.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	// EndsAt is zero while the alert fires.
	EndsAt       time.Time `json:"endsAt,omitzero"`
	GeneratorURL string    `json:"generatorURL,omitempty"`
	// Fingerprint identifies the alert across fire and resolve: a hash of
	// its labels, as Alertmanager computes it.
	Fingerprint string `json:"fingerprint"`
}

// Resolved reports whether the alert has ended.
func (a *Alert) Resolved() bool { return !a.EndsAt.IsZero() }

// Status is "firing" or "resolved".
func (a *Alert) Status() string {
	if a.Resolved() {
		return "resolved"
	}
	return "firing"
}

// reservedLabels are set by nines; an SLO label of the same name is
// dropped rather than allowed to change what an alert is.
var reservedLabels = []string{"slo", "service", "alert", "severity", "owner"}

// Labels are the identifying labels of the alert alertName (a tier, or
// alert.NoDataAlert) of s at severity sev: slo, alert, severity, service
// and owner when set, then the SLO's own labels under names Alertmanager
// accepts. Generated Prometheus rules carry the same set, so one
// Alertmanager route serves nines' notifications and the rules' alerts.
func Labels(s *slo.SLO, alertName string, sev alert.Severity) map[string]string {
	labels := map[string]string{"slo": s.Name, "alert": alertName, "severity": string(sev)}
	if s.Service != "" {
		labels["service"] = s.Service
	}
	if s.Owner != "" {
		labels["owner"] = s.Owner
	}
	// Keys that are label names first, then the others sanitized, each in
	// sorted order: when two keys give one name, the same one wins on
	// every transition, or fire and resolve would be two alerts.
	keys := slices.Sorted(maps.Keys(s.Labels))
	slices.SortStableFunc(keys, func(a, b string) int {
		return cmp.Compare(b2i(!validLabelName(a)), b2i(!validLabelName(b)))
	})
	for _, k := range keys {
		v := s.Labels[k]
		name := sanitizeLabelName(k)
		if slices.Contains(reservedLabels, name) || v == "" {
			continue
		}
		if _, taken := labels[name]; !taken {
			labels[name] = v
		}
	}
	return labels
}

// FromTransition turns an engine transition into an Alert. externalURL
// (may be empty) is nines' base URL, for links.
func FromTransition(s *slo.SLO, tr alert.Transition, externalURL string) Alert {
	labels := Labels(s, tr.Alert, tr.Severity)
	a := Alert{Labels: labels, StartsAt: tr.Since.UTC(), Annotations: map[string]string{}}
	if tr.Kind == alert.Resolve {
		a.EndsAt = tr.At.UTC()
	}
	if a.StartsAt.IsZero() {
		a.StartsAt = tr.At.UTC()
	}
	a.Fingerprint = Fingerprint(labels)
	if externalURL != "" {
		a.GeneratorURL = strings.TrimRight(externalURL, "/") + "/api/v1/slos/" + url.PathEscape(s.Name)
	}
	an := a.Annotations
	verb := "firing"
	if tr.Kind == alert.Resolve {
		verb = "resolved"
	}
	an["summary"] = alert.Title(s.Name, tr.Alert, tr.Severity) + " " + verb
	an["description"] = tr.Reason
	if s.Description != "" {
		an["slo_description"] = s.Description
	}
	if !math.IsNaN(tr.BurnLong) && tr.Long > 0 {
		an["burn_rate_"+slo.FormatDuration(tr.Long)] = strconv.FormatFloat(tr.BurnLong, 'g', 4, 64)
	}
	if !math.IsNaN(tr.BurnShort) && tr.Short > 0 {
		an["burn_rate_"+slo.FormatDuration(tr.Short)] = strconv.FormatFloat(tr.BurnShort, 'g', 4, 64)
	}
	if tr.Factor > 0 {
		an["burn_rate_threshold"] = strconv.FormatFloat(tr.Factor, 'g', 4, 64)
	}
	if !math.IsNaN(tr.BudgetRemaining) {
		an["budget_remaining"] = strconv.FormatFloat(tr.BudgetRemaining*100, 'f', 1, 64) + "%"
	}
	switch {
	case tr.TimeToExhaustion == 0:
		an["time_to_exhaustion"] = "budget spent"
	case tr.TimeToExhaustion > 0:
		an["time_to_exhaustion"] = slo.FormatDuration(tr.TimeToExhaustion.Round(time.Minute))
	}
	if tr.Kind == alert.Fire && !tr.ImpactStart.IsZero() {
		// An incident opened by the alert starts its impact here, not at
		// the page: TTD and the budget burned cover the damaging minutes.
		an[alertmanager.AnnotationImpactStart] = tr.ImpactStart.UTC().Format(time.RFC3339)
		an[alertmanager.AnnotationImpactReason] = impactReason(s, tr)
	}
	return a
}

// impactReason says in a sentence why the impact is held to have begun at
// tr.ImpactStart, for an incident's timeline.
func impactReason(s *slo.SLO, tr alert.Transition) string {
	const stamp = "2006-01-02 15:04 MST"
	return fmt.Sprintf("from %s on, the quanta of %s burned the error budget faster than its %s window allows, leading to %s at %s",
		tr.ImpactStart.UTC().Format(stamp), s.Name, s.Window, tr.Alert, tr.At.UTC().Format(stamp))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Fingerprint hashes a label set as Alertmanager's model.Fingerprint
// does (FNV-1a 64 over sorted name, 0xff, value, 0xff), so nines'
// fingerprints equal the ones Alertmanager shows for the same alert.
func Fingerprint(labels map[string]string) string {
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	h := fnv.New64a()
	sep := []byte{0xff}
	for _, k := range names {
		h.Write([]byte(k))
		h.Write(sep)
		h.Write([]byte(labels[k]))
		h.Write(sep)
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

package incident

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/alertmanager"
)

// Webhook is the body Alertmanager posts to a webhook receiver, version 4
// of its payload.
type Webhook alertmanager.Webhook

// WebhookAlert is one alert of a webhook notification.
type WebhookAlert = alertmanager.Alert

// ParseWebhook decodes and checks an Alertmanager webhook payload.
func ParseWebhook(body []byte) (*Webhook, error) {
	var w Webhook
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: alertmanager webhook: %v", ErrInvalid, err)
	}
	switch {
	case w.Version != "4":
		return nil, fmt.Errorf("%w: alertmanager webhook: version %q, want \"4\"", ErrInvalid, w.Version)
	case w.GroupKey == "":
		return nil, fmt.Errorf("%w: alertmanager webhook: groupKey is empty", ErrInvalid)
	case w.Status != "firing" && w.Status != "resolved":
		return nil, fmt.Errorf("%w: alertmanager webhook: status %q, want firing or resolved", ErrInvalid, w.Status)
	case len(w.Alerts) == 0:
		return nil, fmt.Errorf("%w: alertmanager webhook: no alerts", ErrInvalid)
	}
	return &w, nil
}

// label looks a label up in the group labels, the common labels, then
// the first alert that has it.
func (w *Webhook) label(name string) string {
	if v := w.GroupLabels[name]; v != "" {
		return v
	}
	if v := w.CommonLabels[name]; v != "" {
		return v
	}
	for _, a := range w.Alerts {
		if v := a.Labels[name]; v != "" {
			return v
		}
	}
	return ""
}

// Signal turns the notification into an AlertSignal: the service from
// the "service" label, the SLO from "slo" (or "sloth_slo"), the severity
// from a "severity" label that is a level or SEVn (others leave the
// configured alert severity), the title from the summary annotation or
// the alert name; detection at the earliest start, resolution at the
// latest end; the impact start at the earliest impact_start annotation
// (nines' own alerts carry one), with its impact_reason.
func (w *Webhook) Signal(cfg *Config) (AlertSignal, error) {
	cfg = cfg.withDefaults()
	s := AlertSignal{GroupKey: w.GroupKey, Service: w.label("service"), SLO: w.label("slo"), Resolved: w.Status == "resolved"}
	if s.SLO == "" {
		s.SLO = w.label("sloth_slo")
	}
	if s.Service == "" {
		return s, fmt.Errorf("%w: alertmanager webhook: no alert has a service label; add one (labels: {service: NAME}) so nines knows whose incident it is", ErrInvalid)
	}
	if sev := w.label("severity"); sev != "" {
		if n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(sev), "sev")); err == nil && cfg.checkSeverity(n) == nil {
			s.Severity = n
		}
	}
	s.Title = w.CommonAnnotations["summary"]
	if s.Title == "" {
		s.Title = w.label("alertname")
		if s.Title != "" {
			s.Title += " on " + s.Service
		}
	}
	for _, a := range w.Alerts {
		if !a.StartsAt.IsZero() && (s.DetectedAt.IsZero() || a.StartsAt.Before(s.DetectedAt)) {
			s.DetectedAt = a.StartsAt
		}
		if a.Status == "resolved" && a.EndsAt.After(s.ResolvedAt) {
			s.ResolvedAt = a.EndsAt
		}
		if s.Link == "" && strings.Contains(a.GeneratorURL, "://") {
			s.Link = a.GeneratorURL
		}
		s.readImpact(a.Annotations)
	}
	if s.Link == "" && strings.Contains(w.ExternalURL, "://") {
		s.Link = w.ExternalURL
	}
	return s, nil
}

// readImpact takes an alert's impact start if it is the earliest so far.
// One that cannot be read is noted for the timeline rather than refused:
// the page must still open its incident.
func (s *AlertSignal) readImpact(an map[string]string) {
	v := an[alertmanager.AnnotationImpactStart]
	if v == "" {
		return
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("the alert's %s annotation %q is not an RFC 3339 time; impact start left for a responder to set",
			alertmanager.AnnotationImpactStart, v))
		return
	}
	if s.ImpactStart.IsZero() || t.Before(s.ImpactStart) {
		s.ImpactStart, s.ImpactReason = t.UTC(), strings.TrimSpace(an[alertmanager.AnnotationImpactReason])
	}
}

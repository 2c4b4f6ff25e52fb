// Package alertmanager holds the wire format nines shares with
// Prometheus Alertmanager: the webhook payload, version 4, that notify
// sends (to webhooks and to nines' own incidents) and that incident reads
// from a real Alertmanager. One definition keeps the two sides from
// drifting apart.
package alertmanager

import "time"

// Webhook is the body Alertmanager posts to a webhook receiver, version 4
// of its payload (prometheus.io/docs/alerting/latest/configuration,
// webhook_config).
type Webhook struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a webhook notification. EndsAt is the zero time
// (0001-01-01T00:00:00Z) while the alert fires.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Annotations nines adds to an alert that fired, beyond Alertmanager's
// usual summary and description, and reads back when the alert opens an
// incident: when users first felt what the alert is about (RFC 3339), and
// a sentence saying why that moment. An alert from elsewhere without them
// opens its incident as any Alertmanager alert does.
const (
	AnnotationImpactStart  = "impact_start"
	AnnotationImpactReason = "impact_reason"
)

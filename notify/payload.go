package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nines-sre/nines/alertmanager"
)

// Notification is what one flush of a group sends to its receiver.
type Notification struct {
	Receiver    string
	GroupKey    string
	GroupLabels map[string]string
	Alerts      []Alert
}

// Status is "firing" when any alert fires, else "resolved".
func (n *Notification) Status() string {
	for i := range n.Alerts {
		if !n.Alerts[i].Resolved() {
			return "firing"
		}
	}
	return "resolved"
}

// Request is one HTTP POST a notification renders to.
type Request struct {
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body"`
}

// alertmanagerResend is how often firing alerts are pushed to an
// Alertmanager, and alertmanagerEndsAt how far ahead their endsAt lies:
// Alertmanager resolves an alert by itself once endsAt passes, so a nines
// that stops sending lets its alerts resolve rather than fire forever.
// The figures are Prometheus's (resend every minute, endsAt 4 resends
// ahead).
const (
	alertmanagerResend = time.Minute
	alertmanagerEndsAt = 4 * alertmanagerResend
)

// Render builds the requests that deliver n to r, at now.
func Render(r *Receiver, n *Notification, externalURL string, now time.Time) ([]Request, error) {
	var bodies []any
	url := r.URL
	headers := map[string]string{"Content-Type": "application/json"}
	switch r.Kind {
	case KindWebhook, KindIncidents:
		if r.URL == "" {
			return nil, fmt.Errorf("receiver %s: no URL: nines serve sets the incidents endpoint (Config.ResolveIncidents)", r.Name)
		}
		bodies = append(bodies, webhookV4(n, externalURL))
		maps.Copy(headers, r.Headers)
	case KindAlertmanager:
		bodies = append(bodies, postableAlerts(n, now))
		url = r.URL + "/api/v2/alerts"
		maps.Copy(headers, r.Headers)
	case KindPagerDuty:
		for i := range n.Alerts {
			bodies = append(bodies, pagerDutyEvent(r, &n.Alerts[i], externalURL))
		}
	case KindSlack:
		bodies = append(bodies, slackMessage(r, n))
	case KindEmail:
		req, err := renderEmail(r, n, externalURL)
		if err != nil {
			return nil, err
		}
		return []Request{req}, nil
	default:
		return nil, fmt.Errorf("receiver %s: %s does not send HTTP requests", r.Name, r.Kind)
	}
	out := make([]Request, 0, len(bodies))
	for _, b := range bodies {
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("receiver %s: %w", r.Name, err)
		}
		out = append(out, Request{URL: url, Headers: headers, Body: raw})
	}
	return out, nil
}

// WebhookMessage is Alertmanager's webhook payload, version 4.
type WebhookMessage = alertmanager.Webhook

// WebhookAlert is one alert of a WebhookMessage.
type WebhookAlert = alertmanager.Alert

func webhookV4(n *Notification, externalURL string) WebhookMessage {
	m := WebhookMessage{Version: "4", GroupKey: n.GroupKey, Status: n.Status(), Receiver: n.Receiver,
		GroupLabels: nonNil(n.GroupLabels), ExternalURL: externalURL, Alerts: []WebhookAlert{}}
	var labels, annotations []map[string]string
	for _, a := range n.Alerts {
		// A firing alert has the zero endsAt, as Alertmanager writes it.
		m.Alerts = append(m.Alerts, WebhookAlert{Status: a.Status(), Labels: a.Labels, Annotations: nonNil(a.Annotations),
			StartsAt: a.StartsAt, EndsAt: a.EndsAt, GeneratorURL: a.GeneratorURL, Fingerprint: a.Fingerprint})
		labels, annotations = append(labels, a.Labels), append(annotations, a.Annotations)
	}
	m.CommonLabels, m.CommonAnnotations = common(labels), common(annotations)
	return m
}

// common is the pairs every map has.
func common(ms []map[string]string) map[string]string {
	out := map[string]string{}
	if len(ms) == 0 {
		return out
	}
	maps.Copy(out, ms[0])
	for _, m := range ms[1:] {
		for k, v := range out {
			if w, ok := m[k]; !ok || w != v {
				delete(out, k)
			}
		}
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// PostableAlert is an alert as Alertmanager's API v2 takes it.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitzero"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

func postableAlerts(n *Notification, now time.Time) []PostableAlert {
	out := make([]PostableAlert, 0, len(n.Alerts))
	for _, a := range n.Alerts {
		end := a.EndsAt
		if end.IsZero() {
			end = now.Add(alertmanagerEndsAt).UTC()
		}
		out = append(out, PostableAlert{Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: end, GeneratorURL: a.GeneratorURL})
	}
	return out
}

// PagerDutyEvent is an Events API v2 event.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
	Links       []PagerDutyLink   `json:"links,omitempty"`
}

// PagerDutyPayload is the payload of a trigger event.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     time.Time      `json:"timestamp"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// PagerDutyLink is a link shown with the incident.
type PagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// pagerDutySummaryMax is the Events API v2 limit on payload.summary.
const pagerDutySummaryMax = 1024

// pagerDutySeverity maps nines severities onto PagerDuty's: a page is
// critical (high urgency by default), a ticket a warning.
func pagerDutySeverity(s string) string {
	switch s {
	case "page":
		return "critical"
	case "ticket":
		return "warning"
	}
	return "info"
}

func pagerDutyEvent(r *Receiver, a *Alert, externalURL string) PagerDutyEvent {
	e := PagerDutyEvent{RoutingKey: r.RoutingKey, EventAction: "trigger", DedupKey: a.Fingerprint}
	if a.Resolved() {
		e.EventAction = "resolve"
		return e
	}
	summary := a.Annotations["summary"]
	if d := a.Annotations["description"]; d != "" {
		summary += ": " + d
	}
	source := a.Labels["service"]
	if source == "" {
		source = "nines"
	}
	details := map[string]any{}
	for k, v := range a.Annotations {
		details[k] = v
	}
	details["labels"] = a.Labels
	e.Payload = &PagerDutyPayload{Summary: truncate(summary, pagerDutySummaryMax), Source: source,
		Severity: pagerDutySeverity(a.Labels["severity"]), Timestamp: a.StartsAt,
		Component: a.Labels["slo"], Group: a.Labels["service"], Class: a.Labels["alert"], CustomDetails: details}
	e.Client, e.ClientURL = "nines", externalURL
	if a.GeneratorURL != "" {
		e.Links = []PagerDutyLink{{Href: a.GeneratorURL, Text: "SLO " + a.Labels["slo"] + " in nines"}}
	}
	return e
}

// SlackMessage is an incoming-webhook message.
type SlackMessage struct {
	Channel string       `json:"channel,omitempty"`
	Text    string       `json:"text"`
	Blocks  []SlackBlock `json:"blocks"`
}

// SlackBlock is a Block Kit block: header or section.
type SlackBlock struct {
	Type string     `json:"type"`
	Text *SlackText `json:"text,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// Block Kit limits: a header's text, a section's text, blocks a message.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackBlocksMax  = 50
)

func slackMessage(r *Receiver, n *Notification) SlackMessage {
	firing := 0
	for i := range n.Alerts {
		if !n.Alerts[i].Resolved() {
			firing++
		}
	}
	var title string
	if firing > 0 {
		title = fmt.Sprintf("[FIRING:%d] %s", firing, groupTitle(n))
	} else {
		title = fmt.Sprintf("[RESOLVED] %s", groupTitle(n))
	}
	// The top-level text is read as markup: escaped, a label value such as
	// <!channel> cannot ping anyone. The header block is plain text.
	m := SlackMessage{Channel: r.Channel, Text: truncate(slackEscape(title), slackSectionMax)}
	m.Blocks = append(m.Blocks, SlackBlock{Type: "header", Text: &SlackText{Type: "plain_text", Text: truncate(title, slackHeaderMax)}})
	for i, a := range n.Alerts {
		if len(m.Blocks) == slackBlocksMax-1 && i < len(n.Alerts)-1 {
			m.Blocks = append(m.Blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: fmt.Sprintf("… and %d more alerts", len(n.Alerts)-i)}})
			break
		}
		var b strings.Builder
		icon := ":red_circle:"
		if a.Resolved() {
			icon = ":large_green_circle:"
		}
		fmt.Fprintf(&b, "%s *%s* — %s\n", icon, slackEscape(a.Annotations["summary"]), a.Status())
		if d := a.Annotations["description"]; d != "" {
			fmt.Fprintf(&b, "%s\n", slackEscape(d))
		}
		for _, k := range []string{"impact_start", "budget_remaining", "time_to_exhaustion"} {
			if v := a.Annotations[k]; v != "" {
				fmt.Fprintf(&b, "%s: %s\n", strings.ReplaceAll(k, "_", " "), slackEscape(v))
			}
		}
		if a.GeneratorURL != "" {
			fmt.Fprintf(&b, "<%s|SLO in nines>", a.GeneratorURL)
		}
		m.Blocks = append(m.Blocks, SlackBlock{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: truncate(strings.TrimRight(b.String(), "\n"), slackSectionMax)}})
	}
	return m
}

// groupTitle names a group by its labels, or by the common ones.
func groupTitle(n *Notification) string {
	labels := n.GroupLabels
	if len(labels) == 0 && len(n.Alerts) > 0 {
		labels = n.Alerts[0].Labels
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, " ")
}

// slackEscape escapes the three characters mrkdwn gives meaning to.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func slackEscape(s string) string { return slackEscaper.Replace(s) }

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

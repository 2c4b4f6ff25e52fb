// Package notify routes nines' burn-rate alerts to the people who answer
// them: PagerDuty (Events API v2), Slack incoming webhooks, generic
// webhooks in the Alertmanager v4 payload shape, an existing Alertmanager
// (POST /api/v2/alerts) and the log.
//
// The engine tells the Dispatcher of every alert transition with Enqueue,
// which never blocks. The Dispatcher's goroutine (Run) routes each alert
// through the route tree of notify.yaml (LoadConfig), groups alerts as
// Alertmanager does (group_by, group_wait, group_interval,
// repeat_interval), drops what a Silence covers, renders one notification
// per group for its receiver and writes it to an outbox in the state store
// before the first attempt to deliver it. Delivery retries network errors,
// 429 and 5xx with exponential backoff and jitter (honouring Retry-After)
// until a maximum age; other 4xx answers are dead letters at once. Both
// stay visible in the outbox (Outbox, GET /api/v1/notifications) and in
// /metrics (WriteMetrics). After a restart the outbox is read back and
// delivery resumes, so a notification is never lost silently.
//
// Logic takes time as a parameter: Step(ctx, now) does one round of work
// and is what tests drive with a fake clock; Run calls it on a ticker.
package notify

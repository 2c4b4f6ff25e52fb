package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/nines-sre/nines/store"
)

// State is the key-value store the dispatcher persists its outbox,
// pending alerts and silences in; store.State satisfies it. The
// dispatcher reads its records back by prefix only, at start.
type State interface {
	PutState(ctx context.Context, key string, value []byte) error
	RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
	DeleteStatePrefix(ctx context.Context, prefix string) (int64, error)
}

var _ State = (store.State)(nil)

// Key prefixes in State.
const (
	outboxPrefix  = "notify/outbox/"
	alertPrefix   = "notify/alert/"
	silencePrefix = "notify/silence/"
)

// Entry is one request in the outbox: written before the first attempt,
// deleted once the receiver accepted it, kept as a dead letter when it
// cannot be delivered.
type Entry struct {
	ID       string `json:"id"`
	Receiver string `json:"receiver"`
	Kind     string `json:"kind"`
	// Status is "firing" or "resolved"; Alerts names what the request
	// carries, for people reading the outbox.
	Status   string `json:"status"`
	GroupKey string `json:"group_key"`
	// Stream names what a newer entry replaces: the receiver and group
	// (and, for PagerDuty, the alert). A notification carries the whole
	// state of its group, so an older one still waiting is stale.
	Stream string   `json:"stream,omitempty"`
	Alerts []string `json:"alerts"`
	// Refs are the alerts in a form the delivery history keeps.
	Refs     []DeliveredAlert `json:"refs,omitempty"`
	Request  Request          `json:"request"`
	Created  time.Time        `json:"created"`
	Attempts int              `json:"attempts"`
	// NextAttempt is when delivery is tried again.
	NextAttempt time.Time `json:"next_attempt"`
	LastError   string    `json:"last_error,omitempty"`
	LastStatus  int       `json:"last_status,omitempty"`
	Dead        bool      `json:"dead,omitempty"`
	DeadReason  string    `json:"dead_reason,omitempty"`
	DeadAt      time.Time `json:"dead_at,omitzero"`
}

// EntryView is an Entry as the API shows it: without the request body,
// which may carry a routing key, and with a secret URL hidden.
type EntryView struct {
	ID          string    `json:"id"`
	Receiver    string    `json:"receiver"`
	Kind        string    `json:"kind"`
	Status      string    `json:"status"`
	GroupKey    string    `json:"group_key"`
	Alerts      []string  `json:"alerts"`
	Target      string    `json:"target"`
	Created     time.Time `json:"created"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastStatus  int       `json:"last_status,omitempty"`
	Dead        bool      `json:"dead"`
	DeadReason  string    `json:"dead_reason,omitempty"`
	DeadAt      time.Time `json:"dead_at,omitzero"`
}

func (e *Entry) view() EntryView {
	v := EntryView{ID: e.ID, Receiver: e.Receiver, Kind: e.Kind, Status: e.Status, GroupKey: e.GroupKey, Alerts: e.Alerts,
		Target: redactURL(e.Kind, e.Request.URL), Created: e.Created, Attempts: e.Attempts, LastError: e.LastError,
		LastStatus: e.LastStatus, Dead: e.Dead, DeadReason: e.DeadReason, DeadAt: e.DeadAt}
	if !e.Dead {
		v.NextAttempt = e.NextAttempt
	}
	return v
}

// redactURL shows where a request goes without the secrets a URL can
// hold: a Slack webhook's path is its credential, and any URL may carry
// a password or a token in its query.
func redactURL(kind, s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	if kind == KindSlack {
		// Appended, not set as the path, which String would escape.
		u.Path, u.RawPath = "", ""
		return u.String() + "/…"
	}
	return u.String()
}

func (e *Entry) key() string { return outboxPrefix + e.ID }

func (e *Entry) clone() *Entry {
	c := *e
	return &c
}

func encodeEntry(e *Entry) ([]byte, error) { return json.Marshal(e) }

func decodeEntry(key string, b []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("outbox %s: %w", key, err)
	}
	if e.ID == "" || e.Request.URL == "" {
		return nil, fmt.Errorf("outbox %s: no id or URL", key)
	}
	return &e, nil
}

// alertRecord is what survives a restart about an alert the dispatcher
// holds: the alert and the groups that were told it fires.
type alertRecord struct {
	Alert    Alert           `json:"alert"`
	Notified map[string]bool `json:"notified,omitempty"`
}

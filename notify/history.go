package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The delivery history: one record per notification a receiver accepted,
// kept HistoryRetention (default 400 days, so that a year can be compared
// month over month) in State under historyPrefix + day (UTC, YYYYMMDD) +
// "/" + the outbox ID. Day keys let a report read one month without the
// rest and let old days go with one prefix delete each. The outbox itself
// forgets an entry once it is delivered; on-call load is computed from
// this history.
const (
	historyPrefix = "notify/history/"
	// historyOldestKey holds the oldest day that may still have records,
	// so that pruning after a restart knows where to start without
	// reading the history.
	historyOldestKey = "notify/history-oldest"
	historyDay       = "20060102"
	// DefaultHistoryRetention keeps a year and a month.
	DefaultHistoryRetention = 400 * 24 * time.Hour
)

// DeliveredAlert is what the history keeps of one alert a notification
// carried: enough to tell a page from a ticket, whose service it was and
// which firing it belonged to.
type DeliveredAlert struct {
	Fingerprint string    `json:"fingerprint"`
	Status      string    `json:"status"`
	SLO         string    `json:"slo,omitempty"`
	Alert       string    `json:"alert,omitempty"`
	Severity    string    `json:"severity,omitempty"`
	Service     string    `json:"service,omitempty"`
	StartsAt    time.Time `json:"starts_at"`
	EndsAt      time.Time `json:"ends_at,omitzero"`
}

func deliveredAlert(a *Alert) DeliveredAlert {
	return DeliveredAlert{Fingerprint: a.Fingerprint, Status: a.Status(), SLO: a.Labels["slo"], Alert: a.Labels["alert"],
		Severity: a.Labels["severity"], Service: a.Labels["service"], StartsAt: a.StartsAt, EndsAt: a.EndsAt}
}

// Delivery is one notification a receiver accepted.
type Delivery struct {
	ID        string           `json:"id"`
	Receiver  string           `json:"receiver"`
	Kind      string           `json:"kind"`
	Status    string           `json:"status"`
	GroupKey  string           `json:"group_key"`
	Alerts    []DeliveredAlert `json:"alerts"`
	Created   time.Time        `json:"created"`
	Delivered time.Time        `json:"delivered"`
	Attempts  int              `json:"attempts"`
}

func historyDayPrefix(t time.Time) string { return historyPrefix + t.UTC().Format(historyDay) + "/" }

// HistoryRecord is the state key and value of a delivery in the history,
// for writing many at once (an import, a benchmark) through a store's
// batch; the dispatcher writes its own.
func HistoryRecord(d *Delivery) (key string, value []byte, err error) {
	if d.ID == "" || d.Delivered.IsZero() {
		return "", nil, errors.New("notify: a delivery record needs its ID and delivery time")
	}
	value, err = json.Marshal(d)
	return historyDayPrefix(d.Delivered) + d.ID, value, err
}

// recordDelivery adds e, just accepted by its receiver at now, to the
// history. A failed write is logged and counted like any state write:
// the notification went out whatever the history says.
func (d *Dispatcher) recordDelivery(ctx context.Context, e *Entry, now time.Time) {
	st := d.opts.State
	if st == nil || d.opts.HistoryRetention < 0 {
		return
	}
	rec := Delivery{ID: e.ID, Receiver: e.Receiver, Kind: e.Kind, Status: e.Status, GroupKey: e.GroupKey, Alerts: e.Refs,
		Created: e.Created, Delivered: now.UTC(), Attempts: e.Attempts + 1}
	key, b, err := HistoryRecord(&rec)
	if err == nil {
		err = st.PutState(ctx, key, b)
	}
	day := now.UTC().Truncate(24 * time.Hour)
	d.mu.Lock()
	mark := d.historyOldest.IsZero() || day.Before(d.historyOldest)
	if mark {
		d.historyOldest = day
	}
	d.mu.Unlock()
	if err == nil && mark {
		err = st.PutState(ctx, historyOldestKey, []byte(day.Format(historyDay)))
	}
	d.persist(err)
}

// loadHistoryOldest reads where pruning starts.
func (d *Dispatcher) loadHistoryOldest(ctx context.Context) error {
	return d.opts.State.RangeState(ctx, historyOldestKey, func(key string, v []byte) error {
		if key != historyOldestKey {
			return nil
		}
		t, err := time.Parse(historyDay, string(v))
		if err != nil {
			return fmt.Errorf("notify: %s holds %q, not a day: %w", key, v, err)
		}
		d.mu.Lock()
		d.historyOldest = t
		d.mu.Unlock()
		return nil
	})
}

// pruneHistory deletes the days older than the retention, one prefix
// delete per day, from the oldest day that may hold records.
func (d *Dispatcher) pruneHistory(ctx context.Context, now time.Time) {
	st := d.opts.State
	if st == nil || d.opts.HistoryRetention < 0 {
		return
	}
	cutoff := now.UTC().Add(-d.opts.HistoryRetention).Truncate(24 * time.Hour)
	d.mu.Lock()
	oldest := d.historyOldest
	d.mu.Unlock()
	if oldest.IsZero() || !oldest.Before(cutoff) {
		return
	}
	var err error
	for day := oldest; day.Before(cutoff) && err == nil; day = day.AddDate(0, 0, 1) {
		_, err = st.DeleteStatePrefix(ctx, historyDayPrefix(day))
	}
	if err == nil {
		err = st.PutState(ctx, historyOldestKey, []byte(cutoff.Format(historyDay)))
	}
	if err == nil {
		d.mu.Lock()
		if !d.historyOldest.IsZero() && d.historyOldest.Before(cutoff) {
			d.historyOldest = cutoff
		}
		d.mu.Unlock()
	}
	d.persist(err)
}

// HistoryReader is what ReadHistory needs of the state: store.State and
// State satisfy it.
type HistoryReader interface {
	RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
}

// ReadHistory calls fn with every delivery recorded from from until to
// (by delivery time, half-open), day by day. A record that cannot be read
// is counted in unreadable, not fatal: one damaged row must not hide a
// month.
func ReadHistory(ctx context.Context, st HistoryReader, from, to time.Time, fn func(*Delivery) error) (unreadable int, err error) {
	if !from.Before(to) {
		return 0, nil
	}
	if to.Sub(from) > 20*366*24*time.Hour {
		return 0, errors.New("notify: a history read spans at most 20 years")
	}
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.AddDate(0, 0, 1) {
		err := st.RangeState(ctx, historyDayPrefix(day), func(key string, v []byte) error {
			var rec Delivery
			if err := json.Unmarshal(v, &rec); err != nil || rec.ID == "" {
				unreadable++
				return nil
			}
			if rec.Delivered.Before(from) || !rec.Delivered.Before(to) {
				return nil
			}
			return fn(&rec)
		})
		if err != nil {
			return unreadable, fmt.Errorf("notify: reading the delivery history of %s: %w", day.Format(time.DateOnly), err)
		}
	}
	return unreadable, nil
}

package notify

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// ErrSilenceNotFound is returned for an unknown silence ID.
var ErrSilenceNotFound = errors.New("no such silence")

// SilenceView is a silence with its state at the time it was listed.
type SilenceView struct {
	Silence
	Status string `json:"status"`
}

// AddSilence validates s, gives it an ID, creation time and (when zero)
// a start of now, persists it and puts it in force.
func (d *Dispatcher) AddSilence(ctx context.Context, s Silence) (SilenceView, error) {
	now := d.opts.Now().UTC()
	s.ID, s.CreatedAt = newID(), now
	if s.StartsAt.IsZero() {
		s.StartsAt = now
	}
	s.StartsAt, s.EndsAt = s.StartsAt.UTC(), s.EndsAt.UTC()
	if err := s.Validate(now); err != nil {
		return SilenceView{}, err
	}
	if err := d.saveSilence(ctx, &s); err != nil {
		return SilenceView{}, err
	}
	d.mu.Lock()
	d.silences[s.ID] = &s
	d.mu.Unlock()
	d.opts.Logger.Info("silence added", "id", s.ID, "matchers", matcherText(s.Matchers), "ends", s.EndsAt, "by", s.CreatedBy, "comment", s.Comment)
	return SilenceView{s, s.State(now)}, nil
}

// ExpireSilence ends a silence now. Expiring one that has ended is not an
// error.
func (d *Dispatcher) ExpireSilence(ctx context.Context, id string) (SilenceView, error) {
	now := d.opts.Now().UTC()
	d.mu.Lock()
	cur := d.silences[id]
	var s Silence
	if cur != nil {
		s = *cur
	}
	d.mu.Unlock()
	if cur == nil {
		return SilenceView{}, fmt.Errorf("silence %q: %w", id, ErrSilenceNotFound)
	}
	if s.EndsAt.After(now) {
		s.EndsAt = now
		if s.StartsAt.After(now) {
			s.StartsAt = now
		}
		if err := d.saveSilence(ctx, &s); err != nil {
			return SilenceView{}, err
		}
		d.mu.Lock()
		d.silences[id] = &s
		d.mu.Unlock()
		d.opts.Logger.Info("silence expired", "id", id)
	}
	return SilenceView{s, s.State(now)}, nil
}

func (d *Dispatcher) saveSilence(ctx context.Context, s *Silence) error {
	if d.opts.State == nil {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := d.opts.State.PutState(ctx, silencePrefix+s.ID, b); err != nil {
		return fmt.Errorf("saving silence: %w", err)
	}
	return nil
}

// Silences lists the silences, newest first (then the soonest to end); expired ones stay listed
// for SilenceRetention.
func (d *Dispatcher) Silences() []SilenceView {
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]SilenceView, 0, len(d.silences))
	for _, s := range d.silences {
		out = append(out, SilenceView{*s, s.State(now)})
	}
	slices.SortFunc(out, func(a, b SilenceView) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), a.EndsAt.Compare(b.EndsAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

func matcherText(ms Matchers) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.String())
	}
	return strings.Join(parts, ",")
}

// OutboxView is the outbox as GET /api/v1/notifications shows it.
type OutboxView struct {
	Pending int         `json:"pending"`
	Dead    int         `json:"dead"`
	Entries []EntryView `json:"entries"`
	// Groups are the alert groups held, with their next flush.
	Groups []GroupView `json:"groups"`
}

// GroupView is one alert group.
type GroupView struct {
	Key       string            `json:"key"`
	Receiver  string            `json:"receiver"`
	Labels    map[string]string `json:"labels"`
	Alerts    []string          `json:"alerts"`
	NextFlush time.Time         `json:"next_flush"`
	LastSent  time.Time         `json:"last_sent,omitzero"`
}

// Outbox lists pending entries and dead letters, oldest first, and the
// alert groups held.
func (d *Dispatcher) Outbox() OutboxView {
	d.mu.Lock()
	defer d.mu.Unlock()
	v := OutboxView{Entries: []EntryView{}, Groups: []GroupView{}}
	for _, id := range slices.Sorted(maps.Keys(d.outbox)) {
		e := d.outbox[id]
		if e.Dead {
			v.Dead++
		} else {
			v.Pending++
		}
		v.Entries = append(v.Entries, e.view())
	}
	for _, key := range slices.Sorted(maps.Keys(d.groups)) {
		g := d.groups[key]
		gv := GroupView{Key: key, Receiver: g.route.Receiver, Labels: g.labels, NextFlush: g.nextFlush.UTC(), LastSent: g.lastSent.UTC()}
		for _, fp := range slices.Sorted(maps.Keys(g.members)) {
			if r := d.records[fp]; r != nil {
				gv.Alerts = append(gv.Alerts, alertName(&r.alert))
			}
		}
		v.Groups = append(v.Groups, gv)
	}
	return v
}

// WriteMetrics writes the dispatcher's counters in the Prometheus text
// format, for /metrics.
func (d *Dispatcher) WriteMetrics(w io.Writer) error {
	d.mu.Lock()
	pending, dead := 0, 0
	for _, e := range d.outbox {
		if e.Dead {
			dead++
		} else {
			pending++
		}
	}
	sent, failed, deadTotal := maps.Clone(d.stats.sent), maps.Clone(d.stats.failed), maps.Clone(d.stats.dead)
	silenced, inhibited, persistErrors := d.stats.silenced, d.stats.inhibited, d.stats.persistErrors
	active := 0
	now := d.opts.Now()
	for _, s := range d.silences {
		if s.Active(now) {
			active++
		}
	}
	d.mu.Unlock()
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("nines_notifications_sent_total", "counter", "Notifications receivers accepted, by receiver and status (firing, resolved).")
	for _, k := range slices.SortedFunc(maps.Keys(sent), compareKeys) {
		fmt.Fprintf(&b, "nines_notifications_sent_total{receiver=%q,kind=%q} %d\n", k[0], k[1], sent[k])
	}
	family("nines_notifications_failed_total", "counter", "Failed delivery attempts, by receiver and reason (timeout, network, http_429, http_5xx, http_4xx).")
	for _, k := range slices.SortedFunc(maps.Keys(failed), compareKeys) {
		fmt.Fprintf(&b, "nines_notifications_failed_total{receiver=%q,reason=%q} %d\n", k[0], k[1], failed[k])
	}
	family("nines_notifications_dead_total", "counter", "Notifications given up on (dead letters), by receiver.")
	for _, k := range slices.Sorted(maps.Keys(deadTotal)) {
		fmt.Fprintf(&b, "nines_notifications_dead_total{receiver=%q} %d\n", k, deadTotal[k])
	}
	family("nines_notifications_pending", "gauge", "Notifications in the outbox waiting for delivery.")
	fmt.Fprintf(&b, "nines_notifications_pending %d\n", pending)
	family("nines_notifications_dead_letters", "gauge", "Dead letters kept in the outbox.")
	fmt.Fprintf(&b, "nines_notifications_dead_letters %d\n", dead)
	family("nines_notifications_silenced_total", "counter", "Alert firings a silence kept from being notified.")
	fmt.Fprintf(&b, "nines_notifications_silenced_total %d\n", silenced)
	family("nines_notifications_inhibited_total", "counter", "Alert firings an inhibit rule kept from being notified (a page muting the tickets of its SLO).")
	fmt.Fprintf(&b, "nines_notifications_inhibited_total %d\n", inhibited)
	family("nines_notifications_dropped_total", "counter", "Alert transitions dropped because the queue was full.")
	fmt.Fprintf(&b, "nines_notifications_dropped_total %d\n", d.dropped.Load())
	family("nines_notifications_state_errors_total", "counter", "Failed writes of the outbox, alerts or silences to the store.")
	fmt.Fprintf(&b, "nines_notifications_state_errors_total %d\n", persistErrors)
	family("nines_silences_active", "gauge", "Silences in force.")
	fmt.Fprintf(&b, "nines_silences_active %d\n", active)
	_, err := io.WriteString(w, b.String())
	return err
}

func compareKeys(a, b [2]string) int {
	return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
}

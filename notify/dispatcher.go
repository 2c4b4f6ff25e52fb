package notify

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
)

// Options are what a Dispatcher needs besides its Config. Zero values
// take the defaults named.
type Options struct {
	// State persists the outbox, the alerts held and silences; nil keeps
	// them in memory only (lost on restart).
	State  State
	Logger *slog.Logger
	// Client sends requests (default: a client of its own); each attempt
	// is bounded by Config.Timeout whatever the client says.
	Client *http.Client
	// Now is the clock (default time.Now); Rand draws the jitter of
	// retry delays (default seeded from the runtime).
	Now  func() time.Time
	Rand *rand.Rand
	// Claimer, when set, is the State shared with other replicas: each
	// outbox entry is sent under a claim of its record (replica.go).
	Claimer Claimer
	// ExternalURL is used when the Config names none.
	ExternalURL string
	// Tick is how often Run does its work (default 1 s).
	Tick time.Duration
	// QueueSize bounds transitions waiting for the next tick (default
	// 10,000); past it they are dropped and counted.
	QueueSize int
	// MaxInflight bounds concurrent deliveries (default 8); one receiver
	// gets at most half of them.
	MaxInflight int
	// MinBackoff and MaxBackoff bound the delay between attempts
	// (defaults 1 s and 5 m); it doubles from MinBackoff with ±20 %
	// jitter, unless the receiver says Retry-After.
	MinBackoff, MaxBackoff time.Duration
	// RestartGrace is how long after a start an alert that was firing
	// before it waits for the engine to fire it again before it is
	// resolved (default 10 m): the engine does not keep alert state
	// across restarts.
	RestartGrace time.Duration
	// DeadRetention is how long dead letters stay in the outbox (default
	// 7 days); SilenceRetention how long expired silences stay listed
	// (default 24 h).
	DeadRetention, SilenceRetention time.Duration
	// HistoryRetention is how long delivered notifications stay in the
	// delivery history (history.go; default 400 days); negative keeps
	// none.
	HistoryRetention time.Duration
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	o.Tick = cmp.Or(o.Tick, time.Second)
	o.QueueSize = cmp.Or(o.QueueSize, 10_000)
	o.MaxInflight = cmp.Or(o.MaxInflight, 8)
	o.MinBackoff = cmp.Or(o.MinBackoff, time.Second)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, 5*time.Minute)
	o.RestartGrace = cmp.Or(o.RestartGrace, 10*time.Minute)
	o.DeadRetention = cmp.Or(o.DeadRetention, 7*24*time.Hour)
	o.SilenceRetention = cmp.Or(o.SilenceRetention, 24*time.Hour)
	o.HistoryRetention = cmp.Or(o.HistoryRetention, DefaultHistoryRetention)
}

// Dispatcher routes, groups, silences and delivers alert notifications.
// Enqueue is safe to call from any goroutine and never blocks; the other
// methods are safe for concurrent use.
type Dispatcher struct {
	opts        Options
	externalURL atomic.Pointer[string]

	qmu     sync.Mutex
	queue   []Alert
	dropped atomic.Uint64

	mu       sync.Mutex
	cfg      *Config
	groups   map[string]*group
	records  map[string]*record // the alerts held, by fingerprint
	dirty    map[string]bool    // fingerprints whose record must be written
	silences map[string]*Silence
	outbox   map[string]*Entry
	inflight map[string]bool
	// inhibitors counts, per inhibit rule, the firing alerts matching its
	// source by their equal labels; nil until a step needs it.
	inhibitors []map[string]int
	seq        uint64
	lastID     int64 // the time part of the newest outbox ID (Unix ns)
	// historyOldest is the oldest day the delivery history may hold.
	historyOldest time.Time
	stats         stats

	deliveries sync.WaitGroup
}

// group is the alerts of one route with the same group_by labels.
type group struct {
	key       string
	route     *Route
	labels    map[string]string
	members   map[string]*member // by fingerprint
	nextFlush time.Time
	lastSent  time.Time
}

type member struct {
	// notified: the receiver was told the alert fires.
	notified bool
}

type record struct {
	alert Alert
	// unconfirmed: loaded after a restart, not fired again by the engine
	// yet; resolved by the dispatcher at that time.
	unconfirmed time.Time
	// muteCounted: counted in silenced_total once for this firing.
	muteCounted bool
}

type stats struct {
	sent          map[[2]string]uint64 // receiver, status
	failed        map[[2]string]uint64 // receiver, reason
	dead          map[string]uint64    // receiver
	silenced      uint64
	inhibited     uint64
	persistErrors uint64
}

// New returns a Dispatcher for cfg (DefaultConfig when nil). Call Run, or
// Load and then Step, to make it work.
func New(cfg *Config, opts Options) *Dispatcher {
	opts.defaults()
	if cfg == nil {
		cfg = DefaultConfig()
	}
	d := &Dispatcher{opts: opts, cfg: cfg, groups: map[string]*group{}, records: map[string]*record{},
		dirty: map[string]bool{}, silences: map[string]*Silence{}, outbox: map[string]*Entry{}, inflight: map[string]bool{},
		stats: stats{sent: map[[2]string]uint64{}, failed: map[[2]string]uint64{}, dead: map[string]uint64{}}}
	d.setExternalURL(cfg)
	return d
}

func (d *Dispatcher) setExternalURL(cfg *Config) {
	u := cmp.Or(cfg.ExternalURL, strings.TrimRight(d.opts.ExternalURL, "/"))
	d.externalURL.Store(&u)
}

// Enqueue takes an alert transition for delivery. It only appends to a
// queue, so the engine may call it with its locks held.
func (d *Dispatcher) Enqueue(s *slo.SLO, tr alert.Transition) {
	d.EnqueueAlert(FromTransition(s, tr, *d.externalURL.Load()))
}

// EnqueueAlert takes an alert that is not an SLO's (a third party's
// change of state, a verifier that stopped) for delivery through the same
// routes, silences and inhibitions. Its fingerprint, unless set, is
// computed from its labels; a later EnqueueAlert with the same labels and EndsAt set
// resolves it.
func (d *Dispatcher) EnqueueAlert(a Alert) {
	if a.Fingerprint == "" { // FromTransition has set it already
		a.Fingerprint = Fingerprint(a.Labels)
	}
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	d.qmu.Lock()
	defer d.qmu.Unlock()
	if len(d.queue) >= d.opts.QueueSize {
		d.dropped.Add(1)
		d.opts.Logger.Error("notification queue full: alert dropped", "slo", a.Labels["slo"], "alert", a.Labels["alert"], "status", a.Status())
		return
	}
	d.queue = append(d.queue, a)
}

// SetConfig replaces the routing and receivers, as on reload. Alerts
// held are routed again; a group that exists under both keeps its
// timing and what it notified, a new one starts with group_wait.
func (d *Dispatcher) SetConfig(cfg *Config) {
	now := d.opts.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.groups
	d.cfg = cfg
	d.inhibitors = nil // indexed by the rules of the config
	d.setExternalURL(cfg)
	d.groups = map[string]*group{}
	for _, fp := range slices.Sorted(maps.Keys(d.records)) {
		d.route(d.records[fp], now, func(key string) (*group, *member) {
			if g := old[key]; g != nil {
				return g, g.members[fp]
			}
			return nil, nil
		})
	}
}

// Config returns the configuration in force.
func (d *Dispatcher) Config() *Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Load reads the outbox, the alerts held and the silences back from
// State after a start. Records that do not decode are logged and skipped.
func (d *Dispatcher) Load(ctx context.Context) error {
	if d.opts.State == nil {
		return nil
	}
	now := d.opts.Now()
	var entries []*Entry
	var records []*record
	var silences []*Silence
	notifiedOf := map[*record]map[string]bool{}
	bad := 0
	err := errors.Join(
		d.opts.State.RangeState(ctx, outboxPrefix, func(key string, v []byte) error {
			e, err := decodeEntry(key, v)
			if err != nil {
				d.opts.Logger.Error("notify: outbox record unreadable", "err", err)
				bad++
				return nil
			}
			entries = append(entries, e)
			return nil
		}),
		d.opts.State.RangeState(ctx, alertPrefix, func(key string, v []byte) error {
			var ar alertRecord
			if err := json.Unmarshal(v, &ar); err != nil || ar.Alert.Fingerprint == "" {
				d.opts.Logger.Error("notify: alert record unreadable", "key", key, "err", err)
				bad++
				return nil
			}
			r := &record{alert: ar.Alert}
			if !r.alert.Resolved() {
				r.unconfirmed = now.Add(d.opts.RestartGrace)
			}
			r.alert.Labels = nonNil(r.alert.Labels)
			r.alert.Annotations = nonNil(r.alert.Annotations)
			records = append(records, r)
			// Notified is per group key; the groups are rebuilt below.
			notifiedOf[r] = ar.Notified
			return nil
		}),
		d.loadHistoryOldest(ctx),
		d.opts.State.RangeState(ctx, silencePrefix, func(key string, v []byte) error {
			var s Silence
			if err := json.Unmarshal(v, &s); err != nil || s.ID == "" {
				d.opts.Logger.Error("notify: silence unreadable", "key", key, "err", err)
				bad++
				return nil
			}
			if len(s.Matchers) == 0 || s.Matchers.Matches(map[string]string{}) {
				// Refused when created; a stored one like it (a damaged
				// row, an older nines) would mute every alert.
				d.opts.Logger.Error("notify: stored silence mutes everything; ignored", "key", key, "matchers", matcherText(s.Matchers))
				bad++
				return nil
			}
			silences = append(silences, &s)
			return nil
		}),
	)
	// A crash between writing an entry and deleting those it superseded
	// leaves both: the newest of each stream wins. The stale ones are
	// deleted before d.mu is taken: the API must not wait for the store.
	slices.SortFunc(entries, func(a, b *Entry) int { return strings.Compare(b.ID, a.ID) })
	newest := map[string]bool{}
	var stale []*Entry
	entries = slices.DeleteFunc(entries, func(e *Entry) bool {
		if e.Dead || e.Stream == "" {
			return false
		}
		if newest[e.Stream] {
			stale = append(stale, e)
			return true
		}
		newest[e.Stream] = true
		return false
	})
	for _, e := range stale {
		if _, derr := d.opts.State.DeleteStatePrefix(ctx, e.key()); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range entries {
		var ns int64
		if _, err := fmt.Sscanf(e.ID, "%19d-", &ns); err == nil {
			d.lastID = max(d.lastID, ns)
		}
		if !e.Dead && e.NextAttempt.After(now) {
			// A restart is a fresh start for what was waiting to retry.
			e.NextAttempt = now
		}
		d.outbox[e.ID] = e
	}
	for _, s := range silences {
		d.silences[s.ID] = s
	}
	for _, r := range records {
		fp := r.alert.Fingerprint
		d.records[fp] = r
		notified := notifiedOf[r]
		delete(notifiedOf, r)
		d.route(r, now, func(key string) (*group, *member) {
			if notified[key] {
				return nil, &member{notified: true}
			}
			return nil, nil
		})
	}
	if n := len(entries); n > 0 || len(records) > 0 {
		d.opts.Logger.Info("notify: outbox loaded", "entries", n, "alerts", len(records), "silences", len(silences), "unreadable", bad)
	}
	return err
}

// groupKey names a group: the route, its receiver and the group_by
// label values.
func groupKey(r *Route, labels map[string]string) string {
	var b strings.Builder
	b.WriteString(r.ID + ":" + r.Receiver + ":{")
	for i, k := range slices.Sorted(maps.Keys(labels)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + strconv.Quote(labels[k]))
	}
	b.WriteByte('}')
	return b.String()
}

func groupLabels(r *Route, labels map[string]string) map[string]string {
	out := map[string]string{}
	if slices.Contains(r.GroupBy, groupAll) {
		maps.Copy(out, labels)
		return out
	}
	for _, k := range r.GroupBy {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// route puts a record into the groups of the routes it matches. prior
// tells, for a group key, the group and member it had before (SetConfig,
// Load), either of which may be nil. d.mu must be held.
func (d *Dispatcher) route(r *record, now time.Time, prior func(key string) (*group, *member)) {
	fp := r.alert.Fingerprint
	for _, rt := range d.cfg.Route.Match(r.alert.Labels) {
		gl := groupLabels(rt, r.alert.Labels)
		key := groupKey(rt, gl)
		g := d.groups[key]
		var pm *member
		if g == nil {
			var pg *group
			if prior != nil {
				pg, pm = prior(key)
			}
			g = &group{key: key, route: rt, labels: gl, members: map[string]*member{}, nextFlush: now.Add(rt.GroupWait)}
			if pg != nil {
				g.nextFlush, g.lastSent = pg.nextFlush, pg.lastSent
			}
			d.groups[key] = g
		} else if prior != nil {
			_, pm = prior(key)
		}
		if g.members[fp] == nil {
			m := &member{}
			if pm != nil {
				m.notified = pm.notified
				if m.notified && g.lastSent.IsZero() {
					g.lastSent = now // no repeat right after a restart
				}
			}
			g.members[fp] = m
		}
	}
	d.dirty[fp] = true
}

// receive folds one transition into the alerts held. d.mu must be held.
func (d *Dispatcher) receive(a Alert, now time.Time) {
	fp := a.Fingerprint
	r := d.records[fp]
	switch {
	case r == nil && a.Resolved():
		// Not held: it fired before a restart that lost the record, or
		// before notify was configured. Whoever was told should hear it
		// ended, so it counts as notified.
		r = &record{alert: a}
		d.records[fp] = r
		d.route(r, now, func(string) (*group, *member) { return nil, &member{notified: true} })
		return
	case r == nil:
		r = &record{alert: a}
		d.records[fp] = r
	case a.Resolved():
		r.alert.EndsAt, r.alert.Annotations, r.unconfirmed = a.EndsAt, a.Annotations, time.Time{}
	case r.alert.Resolved():
		// Fired again before its resolve went out: one incident, not two.
		r.alert.EndsAt, r.alert.Annotations, r.unconfirmed, r.muteCounted = time.Time{}, a.Annotations, time.Time{}, false
	default:
		// Fired again (after a restart): keep the first start.
		r.alert.Annotations, r.unconfirmed = a.Annotations, time.Time{}
	}
	d.route(r, now, nil)
}

// expireUnconfirmed resolves alerts held across a restart that the
// engine has not fired again within RestartGrace. d.mu must be held.
func (d *Dispatcher) expireUnconfirmed(now time.Time) {
	for fp, r := range d.records {
		if r.unconfirmed.IsZero() || now.Before(r.unconfirmed) {
			continue
		}
		r.unconfirmed = time.Time{}
		r.alert.EndsAt = now.UTC()
		r.alert.Annotations = maps.Clone(r.alert.Annotations)
		r.alert.Annotations["description"] = "no longer firing after nines restarted"
		d.dirty[fp] = true
	}
}

func (d *Dispatcher) muted(labels map[string]string, now time.Time) bool {
	for _, s := range d.silences {
		if s.Mutes(labels, now) {
			return true
		}
	}
	return false
}

// inhibited reports whether a firing alert other than the one with
// labels mutes it under an inhibit rule. The firing sources of each rule
// are counted by their equal labels once a step, so a burst of thousands
// of alerts costs a lookup each, not a scan of all the others. d.mu must
// be held.
func (d *Dispatcher) inhibited(labels map[string]string) bool {
	rules := d.cfg.InhibitRules
	if len(rules) == 0 {
		return false
	}
	if d.inhibitors == nil {
		d.inhibitors = make([]map[string]int, len(rules))
		for i := range rules {
			d.inhibitors[i] = map[string]int{}
			for _, r := range d.records {
				if !r.alert.Resolved() && rules[i].Source.Matches(r.alert.Labels) {
					d.inhibitors[i][equalKey(rules[i].Equal, r.alert.Labels)]++
				}
			}
		}
	}
	for i := range rules {
		if !rules[i].Target.Matches(labels) {
			continue
		}
		n := d.inhibitors[i][equalKey(rules[i].Equal, labels)]
		if rules[i].Source.Matches(labels) {
			n-- // the alert itself is one of the sources it was counted in
		}
		if n > 0 {
			return true
		}
	}
	return false
}

// equalKey joins the values of labels named in equal, for the index of
// inhibiting alerts.
func equalKey(equal []string, labels map[string]string) string {
	var b strings.Builder
	for _, l := range equal {
		b.WriteString(labels[l])
		b.WriteByte(0xff)
	}
	return b.String()
}

// intervals are a group's group_interval and repeat_interval; an
// Alertmanager receiver gets its firing alerts at least every minute, or
// it resolves them by itself.
func (d *Dispatcher) intervals(g *group) (interval, repeat time.Duration) {
	interval, repeat = g.route.GroupInterval, g.route.RepeatInterval
	if rc := d.cfg.Receiver(g.route.Receiver); rc != nil && rc.Kind == KindAlertmanager {
		interval, repeat = min(interval, alertmanagerResend), min(repeat, alertmanagerResend)
	}
	return interval, repeat
}

// flush decides what a due group sends. d.mu must be held.
func (d *Dispatcher) flush(g *group, now time.Time) *Notification {
	interval, repeat := d.intervals(g)
	n := &Notification{Receiver: g.route.Receiver, GroupKey: g.key, GroupLabels: g.labels}
	send, firing := false, 0
	var sent []string
	for _, fp := range slices.Sorted(maps.Keys(g.members)) {
		m, r := g.members[fp], d.records[fp]
		if r == nil {
			delete(g.members, fp)
			continue
		}
		if r.alert.Resolved() {
			if m.notified {
				n.Alerts = append(n.Alerts, r.alert)
				send = true
			}
			continue
		}
		if d.muted(r.alert.Labels, now) {
			if !m.notified && !r.muteCounted {
				r.muteCounted = true
				d.stats.silenced++
			}
			continue
		}
		if d.inhibited(r.alert.Labels) {
			// Not notified: when the inhibiting alert resolves, the next
			// flush tells of this one if it still fires.
			if !m.notified && !r.muteCounted {
				r.muteCounted = true
				d.stats.inhibited++
			}
			continue
		}
		n.Alerts = append(n.Alerts, r.alert)
		sent = append(sent, fp)
		firing++
		if !m.notified {
			send = true
		}
	}
	if !send && firing > 0 && !now.Before(g.lastSent.Add(repeat)) {
		send = true
	}
	if send {
		for _, fp := range sent {
			g.members[fp].notified = true
			d.dirty[fp] = true
		}
		g.lastSent = now
	}
	// Resolved alerts leave the group whether told or not.
	for fp := range g.members {
		if r := d.records[fp]; r != nil && r.alert.Resolved() {
			delete(g.members, fp)
			d.dirty[fp] = true
		}
	}
	if len(g.members) == 0 {
		delete(d.groups, g.key)
	} else {
		g.nextFlush = now.Add(interval)
	}
	if !send {
		return nil
	}
	return n
}

// takeDirty returns the alert records to write and those to delete: a
// resolved alert that no group holds any more is done. d.mu must be held.
func (d *Dispatcher) takeDirty() (puts map[string][]byte, dels []string) {
	if len(d.dirty) == 0 {
		return nil, nil
	}
	held := map[string]map[string]bool{}
	for key, g := range d.groups {
		for fp, m := range g.members {
			if held[fp] == nil {
				held[fp] = map[string]bool{}
			}
			held[fp][key] = m.notified
		}
	}
	puts = map[string][]byte{}
	for fp := range d.dirty {
		r := d.records[fp]
		if r == nil || held[fp] == nil {
			delete(d.records, fp)
			dels = append(dels, fp)
			continue
		}
		notified := map[string]bool{}
		for k, v := range held[fp] {
			if v {
				notified[k] = true
			}
		}
		b, err := json.Marshal(alertRecord{Alert: r.alert, Notified: notified})
		if err == nil {
			puts[fp] = b
		}
	}
	clear(d.dirty)
	return puts, dels
}

// Step does one round of work at now: takes the queued transitions,
// flushes the groups that are due, writes new notifications to the
// outbox and delivers what is due, waiting for those deliveries.
func (d *Dispatcher) Step(ctx context.Context, now time.Time) {
	d.step(ctx, now)
	d.deliveries.Wait()
}

// Run loads the persisted state, then works every Tick until ctx ends.
// Deliveries in flight at the end are abandoned; they stay in the outbox
// and go out after the next start.
func (d *Dispatcher) Run(ctx context.Context) {
	if err := d.Load(ctx); err != nil && ctx.Err() == nil {
		d.opts.Logger.Error("notify: loading the outbox", "err", err)
	}
	t := time.NewTicker(d.opts.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.deliveries.Wait()
			return
		case <-t.C:
			d.step(ctx, d.opts.Now())
		}
	}
}

type flushed struct {
	n  *Notification
	rc *Receiver
}

func (d *Dispatcher) step(ctx context.Context, now time.Time) {
	d.qmu.Lock()
	batch := d.queue
	d.queue = nil
	d.qmu.Unlock()

	d.mu.Lock()
	for _, a := range batch {
		d.receive(a, now)
	}
	d.expireUnconfirmed(now)
	d.inhibitors = nil // the firing alerts changed: index them again when asked
	var out []flushed
	for _, key := range slices.Sorted(maps.Keys(d.groups)) {
		g := d.groups[key]
		if now.Before(g.nextFlush) {
			continue
		}
		if n := d.flush(g, now); n != nil {
			out = append(out, flushed{n, d.cfg.Receiver(n.Receiver)})
		}
	}
	puts, dels := d.takeDirty()
	expired := d.pruneLocked(now)
	externalURL := *d.externalURL.Load()
	d.mu.Unlock()

	st := d.opts.State
	if st != nil {
		for _, fp := range slices.Sorted(maps.Keys(puts)) {
			d.persist(st.PutState(ctx, alertPrefix+fp, puts[fp]))
		}
		for _, fp := range dels {
			_, err := st.DeleteStatePrefix(ctx, alertPrefix+fp)
			d.persist(err)
		}
		for _, key := range expired {
			_, err := st.DeleteStatePrefix(ctx, key)
			d.persist(err)
		}
	}
	d.pruneHistory(ctx, now)
	for _, f := range out {
		d.emit(ctx, f, externalURL, now)
	}
	d.deliverDue(ctx, now)
}

func (d *Dispatcher) persist(err error) {
	if err == nil {
		return
	}
	d.opts.Logger.Error("notify: writing state", "err", err)
	d.mu.Lock()
	d.stats.persistErrors++
	d.mu.Unlock()
}

// emit turns a flushed notification into outbox entries, written to
// State before any attempt, or into log lines.
func (d *Dispatcher) emit(ctx context.Context, f flushed, externalURL string, now time.Time) {
	n := f.n
	if f.rc == nil {
		// Only possible if a reload removed the receiver between flush
		// and emit; routing again will find the new one.
		d.opts.Logger.Error("notify: receiver gone", "receiver", n.Receiver)
		return
	}
	status := n.Status()
	if f.rc.Kind == KindLog {
		for _, a := range n.Alerts {
			d.opts.Logger.Warn("alert "+a.Status(), "receiver", f.rc.Name, "slo", a.Labels["slo"], "alert", a.Labels["alert"],
				"severity", a.Labels["severity"], "since", a.StartsAt, "summary", a.Annotations["summary"], "reason", a.Annotations["description"])
		}
		d.mu.Lock()
		d.stats.sent[[2]string{f.rc.Name, status}]++
		d.mu.Unlock()
		return
	}
	reqs, err := Render(f.rc, n, externalURL, now)
	if err != nil {
		d.opts.Logger.Error("notify: rendering", "receiver", f.rc.Name, "err", err)
		return
	}
	for i, req := range reqs {
		d.mu.Lock()
		d.seq++
		// IDs order a stream's notifications (a newer one replaces an
		// older one): they never go back, even if the clock does.
		d.lastID = max(now.UnixNano(), d.lastID+1)
		id := fmt.Sprintf("%019d-%06d", d.lastID, d.seq%1_000_000)
		d.mu.Unlock()
		e := &Entry{ID: id, Receiver: f.rc.Name, Kind: f.rc.Kind, Status: status, GroupKey: n.GroupKey,
			Request: req, Created: now.UTC(), NextAttempt: now.UTC()}
		e.Stream = f.rc.Name + "|" + n.GroupKey
		if f.rc.Kind == KindPagerDuty {
			// One event per alert.
			a := n.Alerts[i]
			e.Status, e.Alerts, e.Stream = a.Status(), []string{alertName(&a)}, e.Stream+"|"+a.Fingerprint
			e.Refs = []DeliveredAlert{deliveredAlert(&a)}
		} else {
			for _, a := range n.Alerts {
				e.Alerts = append(e.Alerts, alertName(&a))
				e.Refs = append(e.Refs, deliveredAlert(&a))
			}
		}
		d.mu.Lock()
		stale := d.supersededLocked(e)
		d.outbox[e.ID] = e
		e = e.clone()
		d.mu.Unlock()
		if d.opts.State != nil {
			b, err := encodeEntry(e)
			if err == nil {
				err = d.opts.State.PutState(ctx, e.key(), b)
			}
			// Still delivered when the write failed; the failure is
			// logged and counted, not silent.
			d.persist(err)
		}
		for _, old := range stale {
			d.opts.Logger.Info("notify: superseded by a newer notification of its group", "receiver", old.Receiver, "id", old.ID, "by", e.ID)
			if d.opts.State != nil {
				_, err := d.opts.State.DeleteStatePrefix(ctx, old.key())
				d.persist(err)
			}
		}
	}
}

// supersededLocked removes the entries still waiting that e replaces
// (older, same stream, not being sent) and returns them. A resolve must
// not be followed by the firing notification it replaced. e takes over
// their age, attempts and next attempt, so that max_age still ends a
// stream that keeps failing, the backoff goes on growing and a receiver
// that asked for time (429 with Retry-After) gets it. d.mu must be held.
func (d *Dispatcher) supersededLocked(e *Entry) []*Entry {
	var out []*Entry
	for id, old := range d.outbox {
		if old.Stream == e.Stream && id < e.ID && !old.Dead && !d.inflight[id] {
			delete(d.outbox, id)
			out = append(out, old)
			if old.Created.Before(e.Created) {
				e.Created = old.Created
			}
			e.Attempts += old.Attempts
			if old.NextAttempt.After(e.NextAttempt) {
				e.NextAttempt = old.NextAttempt
			}
			if e.LastError == "" {
				e.LastError, e.LastStatus = old.LastError, old.LastStatus
			}
		}
	}
	return out
}

func alertName(a *Alert) string {
	return fmt.Sprintf("%s/%s %s", a.Labels["slo"], a.Labels["alert"], a.Status())
}

// pruneLocked drops expired silences and old dead letters, returning
// their keys. d.mu must be held.
func (d *Dispatcher) pruneLocked(now time.Time) []string {
	var keys []string
	for id, s := range d.silences {
		if now.Sub(s.EndsAt) > d.opts.SilenceRetention {
			delete(d.silences, id)
			keys = append(keys, silencePrefix+id)
		}
	}
	for id, e := range d.outbox {
		if e.Dead && now.Sub(e.DeadAt) > d.opts.DeadRetention {
			delete(d.outbox, id)
			keys = append(keys, e.key())
		}
	}
	return keys
}

// deliverDue starts an attempt for every outbox entry that is due, up to
// MaxInflight at once.
func (d *Dispatcher) deliverDue(ctx context.Context, now time.Time) {
	d.mu.Lock()
	var due []*Entry
	// Entries of one stream go out one at a time, oldest first; one
	// receiver gets at most half the slots, so a receiver that hangs
	// cannot hold up the others.
	busy := map[string]bool{}
	perReceiver := map[string]int{}
	maxPer := max(1, d.opts.MaxInflight/2)
	for id := range d.inflight {
		if e := d.outbox[id]; e != nil {
			perReceiver[e.Receiver]++
			if e.Stream != "" {
				busy[e.Stream] = true
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(d.outbox)) {
		e := d.outbox[id]
		if len(d.inflight)+len(due) >= d.opts.MaxInflight {
			break
		}
		if e.Dead || d.inflight[id] || e.Stream != "" && busy[e.Stream] {
			continue
		}
		if e.Stream != "" {
			busy[e.Stream] = true
		}
		if e.NextAttempt.After(now) || perReceiver[e.Receiver] >= maxPer {
			continue
		}
		perReceiver[e.Receiver]++
		due = append(due, e.clone())
	}
	for _, e := range due {
		d.inflight[e.ID] = true
	}
	cfg := d.cfg
	d.mu.Unlock()
	for _, e := range due {
		d.deliveries.Add(1)
		go func() {
			defer d.deliveries.Done()
			d.attempt(ctx, cfg, e)
		}()
	}
}

// attempt sends one outbox entry once and records the outcome.
func (d *Dispatcher) attempt(ctx context.Context, cfg *Config, e *Entry) {
	res := d.sendClaimed(ctx, cfg.Timeout, e)
	status, retryAfter, detail, err := res.status, res.retryAfter, res.detail, res.err
	now := d.opts.Now()
	if !res.tried {
		// Another replica holds it (or delivered it); a failed claim is
		// tried again at the next tick.
		d.mu.Lock()
		delete(d.inflight, e.ID)
		if res.gone {
			delete(d.outbox, e.ID)
		}
		d.mu.Unlock()
		return
	}
	if ctx.Err() != nil {
		// Shutting down: the entry stays as it was, for the next start.
		d.mu.Lock()
		delete(d.inflight, e.ID)
		d.mu.Unlock()
		return
	}
	st := d.opts.State
	if err == nil && status >= 200 && status < 300 {
		if st != nil && !res.removed {
			_, perr := st.DeleteStatePrefix(ctx, e.key())
			d.persist(perr)
		}
		d.mu.Lock()
		delete(d.outbox, e.ID)
		delete(d.inflight, e.ID)
		d.stats.sent[[2]string{e.Receiver, e.Status}]++
		d.mu.Unlock()
		d.recordDelivery(ctx, e, now)
		if e.Attempts > 0 {
			d.opts.Logger.Info("notify: delivered after retries", "receiver", e.Receiver, "attempts", e.Attempts+1)
		}
		return
	}
	e.Attempts++
	e.LastStatus = status
	reason, retry := classify(status, err)
	if err != nil {
		e.LastError = err.Error()
	} else {
		e.LastError = fmt.Sprintf("HTTP %d", status)
		if detail != "" {
			e.LastError += ": " + detail
		}
		if retryAfter > 0 {
			e.LastError += fmt.Sprintf(" (Retry-After %s)", retryAfter)
		}
	}
	switch {
	case !retry:
		e.Dead, e.DeadAt, e.DeadReason = true, now.UTC(), "the receiver refused it: "+e.LastError
	case now.Sub(e.Created) >= cfg.MaxAge:
		e.Dead, e.DeadAt, e.DeadReason = true, now.UTC(), fmt.Sprintf("gave up after %s and %d attempts: %s", slo.FormatDuration(cfg.MaxAge), e.Attempts, e.LastError)
	default:
		e.NextAttempt = now.Add(d.backoff(e.Attempts, retryAfter)).UTC()
	}
	// e stays in flight (and so does a newer entry that takes over) until
	// its record is written, so that no delivery can delete the record
	// before this write would bring it back.
	d.mu.Lock()
	d.stats.failed[[2]string{e.Receiver, reason}]++
	// A newer notification of the stream, made while this one was being
	// sent, replaces it now that it failed.
	var newer *Entry
	if !e.Dead && e.Stream != "" {
		for id, o := range d.outbox {
			if o.Stream == e.Stream && id > e.ID && !o.Dead && !d.inflight[id] && (newer == nil || id < newer.ID) {
				newer = o
			}
		}
	}
	switch {
	case newer != nil:
		delete(d.outbox, e.ID)
		if e.Created.Before(newer.Created) {
			newer.Created = e.Created
		}
		newer.Attempts += e.Attempts
		if e.NextAttempt.After(newer.NextAttempt) {
			newer.NextAttempt = e.NextAttempt // the backoff this failure earned
		}
		d.inflight[newer.ID] = true
		newer = newer.clone()
	case d.outbox[e.ID] != nil:
		d.outbox[e.ID] = e
	}
	if e.Dead {
		d.stats.dead[e.Receiver]++
	}
	d.mu.Unlock()
	if st != nil {
		var err error
		w := e
		if newer != nil {
			_, err = st.DeleteStatePrefix(ctx, e.key())
			w = newer
		}
		b, merr := encodeEntry(w)
		if merr == nil {
			merr = st.PutState(ctx, w.key(), b)
		}
		d.persist(errors.Join(err, merr))
	}
	d.mu.Lock()
	delete(d.inflight, e.ID)
	if newer != nil {
		delete(d.inflight, newer.ID)
	}
	d.mu.Unlock()
	if newer != nil {
		d.opts.Logger.Warn("notify: delivery failed; a newer notification of the group replaces it", "receiver", e.Receiver, "id", e.ID)
		return
	}
	if e.Dead {
		d.opts.Logger.Error("notify: dead letter", "receiver", e.Receiver, "id", e.ID, "reason", e.DeadReason)
	} else {
		d.opts.Logger.Warn("notify: delivery failed, will retry", "receiver", e.Receiver, "id", e.ID, "attempts", e.Attempts, "err", e.LastError, "next", e.NextAttempt)
	}
}

// classify names a failure for metrics and says whether it is worth
// retrying: network errors, timeouts, 429 and 5xx are; other answers
// mean the request itself is wrong.
func classify(status int, err error) (reason string, retry bool) {
	var ne net.Error
	var se *smtpError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("smtp_%dxx", se.code/100), !se.permanent()
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()):
		return "timeout", true
	case err != nil:
		return "network", true
	case status == http.StatusTooManyRequests:
		return "http_429", true
	case status >= 500:
		return "http_5xx", true
	case status >= 400:
		return "http_4xx", false
	}
	return "http_other", false
}

// maxRetryAfter bounds how long a Retry-After can hold a notification.
const maxRetryAfter = time.Hour

// backoff is the delay before attempt n+1: Retry-After when the receiver
// gave one, else MinBackoff doubled per attempt up to MaxBackoff, ±20 %.
func (d *Dispatcher) backoff(attempts int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, maxRetryAfter)
	}
	delay := d.opts.MinBackoff
	for i := 1; i < attempts && delay < d.opts.MaxBackoff; i++ {
		delay *= 2
	}
	delay = min(delay, d.opts.MaxBackoff)
	d.mu.Lock()
	j := 0.8 + 0.4*d.opts.Rand.Float64()
	d.mu.Unlock()
	return time.Duration(float64(delay) * j)
}

// send POSTs a request with a timeout and returns the status, the
// Retry-After the receiver asked for and the start of its answer. An
// error names the URL as redactURL shows it: it ends up in the outbox,
// the API and the log, and a receiver's URL may be its credential.
func (d *Dispatcher) send(ctx context.Context, timeout time.Duration, kind string, r *Request) (int, time.Duration, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(r.Body))
	if err != nil {
		return 0, 0, "", redactURLError(kind, err)
	}
	for k, v := range r.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "nines-notify")
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return 0, 0, "", fmt.Errorf("no answer within %s: %w", timeout, context.DeadlineExceeded)
		}
		return 0, 0, "", redactURLError(kind, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	detail := ""
	if resp.StatusCode >= 300 {
		detail = truncate(strings.Join(strings.Fields(string(snippet)), " "), 200)
	}
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), d.opts.Now()), detail, nil
}

// sendEntry sends an outbox entry: an e-mail through its receiver's
// relay, anything else as an HTTP POST.
func (d *Dispatcher) sendEntry(ctx context.Context, timeout time.Duration, e *Entry) (int, time.Duration, string, error) {
	if e.Kind == KindEmail {
		status, err := sendEmail(ctx, timeout, d.Config().Receiver(e.Receiver), &e.Request, d.opts.Now())
		return status, 0, "", err
	}
	return d.send(ctx, timeout, e.Kind, &e.Request)
}

// redactURLError hides the secrets of the URL a *url.Error names.
func redactURLError(kind string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactURL(kind, ue.URL)
	}
	return err
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// maxAlertHistory bounds the transitions an SLO keeps for the API and the
// UI, in memory and in the store (saved on Tick, read at Load); notifiers
// persist what they send (Config.OnTransition).
const maxAlertHistory = 200

// advance steps en's run to the evaluation time t, one quantum at a
// time: at each quantum's end it hands over the pending rollups the
// quantum needs and evaluates the alerts, as a replay does. Only the step
// to t itself is live; the steps before it catch up on time the engine
// did not see pass (a restart, a stall) and are replayed. en.mu must be
// held.
func (e *Engine) advance(en *entry, t time.Time) error {
	if en.retired {
		return nil
	}
	q := en.slo.Quantum
	target := time.Unix(0, slo.QuantumStart(t.UnixNano(), q)).UTC()
	if from := target.Add(-maxCatchUp); en.run.tracker.Elapsed().Before(from) {
		// Too long unseen to catch up on minute by minute: the alerts
		// resume maxCatchUp before now, from the state they had.
		if err := en.run.step(from, en.handOver); err != nil {
			return err
		}
	}
	for b := en.run.tracker.Elapsed().Add(q); !b.After(target); b = b.Add(q) {
		if err := en.run.step(b, en.handOver); err != nil {
			return err
		}
		if en.replayFrom != slo.NotStarted {
			continue // a backfill is under way: the replay will judge
		}
		e.evaluateAlerts(en, b.Equal(target))
	}
	return nil
}

// evaluateAlerts runs the SLO's alert policy at its tracker's time and
// records the transitions; a live evaluation also tells the notifiers.
// en.mu must be held.
func (e *Engine) evaluateAlerts(en *entry, live bool) {
	prev := en.run.alerts
	trs, err := en.run.evaluate(live)
	if err != nil {
		e.cfg.Logger.Error("alert policy", "slo", en.slo.Name, "err", err)
		return
	}
	e.record(en, trs)
	if len(trs) > 0 || !sameHolds(prev, en.run.alerts) {
		en.stateDirty = true
		en.changes++
	}
	if live {
		e.notify(en, trs)
	}
}

// record appends transitions to the SLO's history.
func (e *Engine) record(en *entry, trs []alert.Transition) {
	for _, tr := range trs {
		e.cfg.Logger.Info("alert "+tr.Kind.String(), "slo", en.slo.Name, "alert", tr.Alert, "severity", string(tr.Severity),
			"reason", tr.Reason, "replayed", tr.Replayed)
	}
	en.history = append(en.history, trs...)
	if n := len(en.history) - maxAlertHistory; n > 0 {
		en.history = slices.Delete(en.history, 0, n)
	}
	if len(trs) > 0 {
		en.historyDirty = true
		en.changes++
	}
}

// sameHolds reports whether two states hold the same alerts in the same
// phase: a restart must keep an alert's resolve hold, so a change of it
// is worth storing.
func sameHolds(a, b alert.State) bool {
	return slices.EqualFunc(a.Alerts, b.Alerts, func(x, y alert.Alert) bool {
		return x.Name == y.Name && x.Since.Equal(y.Since) && x.ClearSince.Equal(y.ClearSince)
	})
}

// notify tells the notifiers how the firing set changed since they were
// last told: the live step's own transitions, and for alerts that fired
// or resolved in replayed steps (a restart's catch-up, a backfill's
// replay) one transition now, so nothing is announced for a past minute
// and nothing twice. en.mu must be held.
func (e *Engine) notify(en *entry, trs []alert.Transition) {
	if e.cfg.OnTransition == nil || !e.leading() {
		en.notified = firingSet(en.run.alerts)
		return
	}
	at := en.run.tracker.Elapsed()
	own := func(name string, k alert.Kind) (alert.Transition, bool) {
		for _, tr := range trs {
			if tr.Alert == name && tr.Kind == k {
				return tr, true
			}
		}
		return alert.Transition{}, false
	}
	if en.confirm {
		// Held before a restart: tell the notifiers it still fires, with
		// its first start, so they neither drop nor repeat it.
		for _, a := range en.run.alerts.Alerts {
			if old, ok := en.notified[a.Name]; ok && old.Since.Equal(a.Since) {
				tr := a.Fired
				tr.Replayed = false
				e.cfg.OnTransition(en.slo, tr)
			}
		}
		en.confirm = false
	}
	now := firingSet(en.run.alerts)
	for _, a := range en.run.alerts.Alerts {
		if old, ok := en.notified[a.Name]; ok && old.Since.Equal(a.Since) {
			continue
		}
		tr, ok := own(a.Name, alert.Fire)
		if !ok {
			// It fired in a replayed step: news now, of an alert that has
			// fired since then.
			tr = a.Fired
			tr.At, tr.Replayed = at, false
		}
		e.cfg.OnTransition(en.slo, tr)
	}
	for _, name := range slices.Sorted(maps.Keys(en.notified)) {
		old := en.notified[name]
		if a, ok := now[name]; ok && a.Since.Equal(old.Since) {
			continue
		}
		tr, ok := own(name, alert.Resolve)
		if !ok {
			tr = old.Fired
			tr.Kind, tr.At, tr.Replayed = alert.Resolve, at, false
			tr.BudgetRemaining, tr.TimeToExhaustion = math.NaN(), alert.NoExhaustion
			tr.Reason = "no longer firing: replayed history shows it resolved"
		}
		e.cfg.OnTransition(en.slo, tr)
	}
	en.notified = now
}

// firingSet is the firing alerts of st by name.
func firingSet(st alert.State) map[string]alert.Alert {
	out := make(map[string]alert.Alert, len(st.Alerts))
	for _, a := range st.Alerts {
		out[a.Name] = a
	}
	return out
}

// replayIfDue replays en's alerts when a backfill changed its history and
// has been quiet for ReplayQuiet. en.mu must not be held.
func (e *Engine) replayIfDue(en *entry, now time.Time) {
	en.mu.Lock()
	due := !en.retired && en.replayFrom != slo.NotStarted && now.Sub(en.lastBackfill) >= e.cfg.ReplayQuiet
	en.mu.Unlock()
	if !due {
		return
	}
	if err := e.replayAlerts(context.Background(), en, now); err != nil {
		e.cfg.Logger.Error("replaying alerts over backfilled history", "slo", en.slo.Name, "err", err)
	}
}

// replayAlerts replays the alerts of en over its whole stored history
// after a backfill changed it, and takes over the result: transitions
// before the backfilled time stay as they were, those after are the
// replay's (marked replayed), and the next live step tells the notifiers
// what differs now. Writes wait meanwhile, so that nothing lands in the
// store between the replay's read and its taking over.
func (e *Engine) replayAlerts(ctx context.Context, en *entry, now time.Time) error {
	e.writes.Lock()
	defer e.writes.Unlock()
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.replayFrom == slo.NotStarted || en.retired {
		return nil // another caller replayed it meanwhile, or a reload replaced it
	}
	from, to := en.replayFrom, en.run.tracker.Elapsed()
	since := en.run.tracker.Since()
	if since == slo.NotStarted {
		en.replayFrom = slo.NotStarted
		return nil
	}
	if to.UnixNano() <= since {
		en.replayFrom = slo.NotStarted
		return nil
	}
	trs, st, err := Replay(ctx, en.slo, e.cfg.Store, ReplayOptions{Key: en.slo.Name, Since: since, To: to})
	if err != nil {
		return err
	}
	r, err := newRun(en.slo, to, since)
	if err != nil {
		return err
	}
	it := e.cfg.Store.Rollups(ctx, en.slo.Name, en.slo.Quantum, r.historyFrom().UnixNano(), to.UnixNano())
	defer it.Close()
	for it.Next() {
		r.tracker.Update(it.At())
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("reading rollups: %w", err)
	}
	r.alerts = st
	kept := slices.DeleteFunc(slices.Clone(en.history), func(tr alert.Transition) bool { return tr.At.UnixNano() > from })
	replayed := slices.DeleteFunc(trs, func(tr alert.Transition) bool { return tr.At.UnixNano() <= from })
	en.history = append(kept, replayed...)
	if n := len(en.history) - maxAlertHistory; n > 0 {
		en.history = slices.Delete(en.history, 0, n)
	}
	en.run = r
	en.replayFrom = slo.NotStarted
	en.historyDirty, en.stateDirty = true, true
	en.changes++
	e.cfg.Logger.Info("alerts replayed over backfilled history", "slo", en.slo.Name, "from", time.Unix(0, from).UTC(), "to", to, "transitions", len(replayed))
	return nil
}

// historyKey is where an SLO's recent alert transitions are kept, so that
// the history the API and the UI show survives a restart.
// SLO names hold no '/', so the trailing one makes the key a prefix of no
// other SLO's, and a prefix delete removes this one alone.
func historyKey(name string) string { return "alerts/history/" + name + "/" }

// savedTransition is an alert.Transition as stored: JSON has no NaN, so
// unknown figures are null.
type savedTransition struct {
	Alert            string         `json:"alert"`
	Severity         alert.Severity `json:"severity"`
	Kind             string         `json:"kind"`
	At               time.Time      `json:"at"`
	Since            time.Time      `json:"since"`
	Factor           float64        `json:"factor"`
	Long             time.Duration  `json:"long"`
	Short            time.Duration  `json:"short"`
	BurnLong         *float64       `json:"burn_long"`
	BurnShort        *float64       `json:"burn_short"`
	Attempted        uint64         `json:"attempted"`
	BudgetRemaining  *float64       `json:"budget_remaining"`
	TimeToExhaustion time.Duration  `json:"time_to_exhaustion"`
	Reason           string         `json:"reason"`
	ImpactStart      time.Time      `json:"impact_start,omitzero"`
	Replayed         bool           `json:"replayed,omitempty"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

func toSaved(t alert.Transition) savedTransition {
	return savedTransition{Alert: t.Alert, Severity: t.Severity, Kind: t.Kind.String(), At: t.At, Since: t.Since,
		Factor: t.Factor, Long: t.Long, Short: t.Short, BurnLong: finite(t.BurnLong), BurnShort: finite(t.BurnShort),
		Attempted: t.Attempted, BudgetRemaining: finite(t.BudgetRemaining), TimeToExhaustion: t.TimeToExhaustion, Reason: t.Reason,
		ImpactStart: t.ImpactStart, Replayed: t.Replayed}
}

func fromSaved(t savedTransition) alert.Transition {
	kind := alert.Fire
	if t.Kind == alert.Resolve.String() {
		kind = alert.Resolve
	}
	return alert.Transition{Alert: t.Alert, Severity: t.Severity, Kind: kind, At: t.At, Since: t.Since,
		Factor: t.Factor, Long: t.Long, Short: t.Short, BurnLong: orNaN(t.BurnLong), BurnShort: orNaN(t.BurnShort),
		Attempted: t.Attempted, BudgetRemaining: orNaN(t.BudgetRemaining), TimeToExhaustion: t.TimeToExhaustion, Reason: t.Reason,
		ImpactStart: t.ImpactStart, Replayed: t.Replayed}
}

func encodeHistory(h []alert.Transition) ([]byte, error) {
	out := make([]savedTransition, 0, len(h))
	for _, t := range h {
		out = append(out, toSaved(t))
	}
	return json.Marshal(out)
}

func decodeHistory(b []byte) ([]alert.Transition, error) {
	var in []savedTransition
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	out := make([]alert.Transition, 0, len(in))
	for _, t := range in {
		out = append(out, fromSaved(t))
	}
	return out, nil
}

// saveAlerts stores the alert history and state of every SLO that has
// changes, in one transaction, outside the SLOs' locks. A failed save
// leaves them marked, so the next Tick tries again.
func (e *Engine) saveAlerts(ctx context.Context, entries []*entry) {
	type saved struct {
		en      *entry
		changes int64
	}
	var done []saved
	app := e.cfg.Store.Appender(ctx)
	for _, en := range entries {
		en.mu.Lock()
		if !en.historyDirty && !en.stateDirty {
			en.mu.Unlock()
			continue
		}
		h, err := encodeHistory(en.history)
		var st []byte
		if err == nil {
			st, err = encodeState(en.run.alerts)
		}
		if err == nil {
			err = errors.Join(app.SetState(historyKey(en.slo.Name), h), app.SetState(alertStateKey(en.slo.Name), st))
		}
		done = append(done, saved{en, en.changes})
		en.mu.Unlock()
		if err != nil {
			app.Rollback()
			e.cfg.Logger.Error("saving alert history", "slo", en.slo.Name, "err", err)
			return
		}
	}
	if len(done) == 0 {
		app.Rollback()
		return
	}
	if err := app.Commit(); err != nil {
		// Said when the saves start failing and when they work again, not
		// at every tick of an outage.
		if e.alertSaveFailing.CompareAndSwap(0, e.cfg.Now().UnixNano()) {
			e.cfg.Logger.Error("saving alert history and state; retried at every tick, logged again when it works", "slos", len(done), "err", err)
		}
		return
	}
	if since := e.alertSaveFailing.Swap(0); since != 0 {
		e.cfg.Logger.Info("saving alert history and state works again", "failed_for", e.cfg.Now().Sub(time.Unix(0, since)).Round(time.Second))
	}
	for _, d := range done {
		d.en.mu.Lock()
		if d.en.changes == d.changes {
			d.en.historyDirty, d.en.stateDirty = false, false
		}
		d.en.mu.Unlock()
	}
}

// alertStateKey is where an SLO's alert state is kept: the alerts firing
// with their start and resolve hold, and the time they were evaluated
// up to, so that a restart changes nothing a user can see. It sits under
// historyKey, so removing an SLO removes both.
func alertStateKey(name string) string { return historyKey(name) + "state" }

// savedState is an alert.State as stored; the checks are recomputed.
type savedState struct {
	At     time.Time    `json:"at"`
	Alerts []savedAlert `json:"alerts"`
}

type savedAlert struct {
	Name       string          `json:"name"`
	Severity   alert.Severity  `json:"severity"`
	Since      time.Time       `json:"since"`
	ClearSince time.Time       `json:"clear_since,omitzero"`
	Fired      savedTransition `json:"fired"`
}

func encodeState(st alert.State) ([]byte, error) {
	out := savedState{At: st.At, Alerts: []savedAlert{}}
	for _, a := range st.Alerts {
		out.Alerts = append(out.Alerts, savedAlert{Name: a.Name, Severity: a.Severity, Since: a.Since, ClearSince: a.ClearSince, Fired: toSaved(a.Fired)})
	}
	return json.Marshal(out)
}

func decodeState(b []byte) (alert.State, error) {
	var in savedState
	if err := json.Unmarshal(b, &in); err != nil {
		return alert.State{}, err
	}
	st := alert.State{At: in.At}
	for _, a := range in.Alerts {
		st.Alerts = append(st.Alerts, alert.Alert{Name: a.Name, Severity: a.Severity, Since: a.Since, ClearSince: a.ClearSince, Fired: fromSaved(a.Fired)})
	}
	return st, nil
}

// loadAlertState reads the alert state stored for the SLO called name;
// the zero State when there is none.
func (e *Engine) loadAlertState(ctx context.Context, name string) (alert.State, error) {
	b, err := e.cfg.Store.GetState(ctx, alertStateKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return alert.State{}, nil
	}
	if err != nil {
		return alert.State{}, err
	}
	return decodeState(b)
}

// Alerts returns the SLO's alerting state and its recent transitions,
// newest last, evaluated up to now.
func (e *Engine) Alerts(name string) (alert.State, []alert.Transition, error) {
	en, err := e.advanced(name)
	if err != nil {
		return alert.State{}, nil, err
	}
	defer en.mu.Unlock()
	return en.run.alerts, slices.Clone(en.history), nil
}

// loadHistory gives a new entry the alert history stored for its SLO.
func (e *Engine) loadHistory(ctx context.Context, en *entry) {
	b, err := e.cfg.Store.GetState(ctx, historyKey(en.slo.Name))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			e.cfg.Logger.Warn("reading alert history", "slo", en.slo.Name, "err", err)
		}
		return
	}
	h, err := decodeHistory(b)
	if err != nil {
		e.cfg.Logger.Warn("reading alert history", "slo", en.slo.Name, "err", err)
		return
	}
	en.history = h
}

package verify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/store"
)

// State keeps a verifier's schedule across restarts: the shape of
// store.State, whose implementations nines serve passes. It is safe for
// concurrent use.
type State interface {
	PutState(ctx context.Context, key string, value []byte) error
	// GetState returns an error wrapping store.ErrNotFound for a key that
	// is not stored.
	GetState(ctx context.Context, key string) ([]byte, error)
	// RangeState calls fn for every key starting with prefix, in
	// ascending byte order, and stops at the first error fn returns.
	RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
	DeleteStatePrefix(ctx context.Context, prefix string) (int64, error)
}

var _ State = (store.State)(nil)

// Event is one event of a verifier's SLIs.
type Event struct {
	// SLO is DurabilitySLO or HeartbeatSLO of the verifier.
	SLO  string
	Time time.Time
	Good bool
	// Reason says why a bad event is bad: missing, corrupt (durability),
	// canary-missed, canary-undetected, unreachable (heartbeat).
	Reason string
	// ID names the fact the event records (an object's read at one age,
	// one heartbeat, one canary's verdict): a sink counts each ID once,
	// so a batch sent again after a failure or a restart counts once.
	ID string
}

// Status is the HTTP-like status an event is stored with, so the per-
// status counts of the SLI tell its reasons apart: 200 good, 404
// missing, 422 corrupt, 503 unreachable, 504 canary-missed (no verdict
// in time), 500 canary-undetected. The SLIs judge events by their ok
// flag (SLOSpecs), so the status changes no verdict.
func (e Event) Status() int {
	switch {
	case e.Good:
		return 200
	case e.Reason == OutcomeMissing:
		return 404
	case e.Reason == OutcomeCorrupt:
		return 422
	case e.Reason == ReasonUnreachable:
		return 503
	case e.Reason == ReasonCanaryMissed:
		return 504
	}
	return 500
}

// AppendLine appends the event as a line of nines' events API
// (POST /api/v1/events?slo=SLO, application/x-ndjson), newline included:
// {"time":"…","ok":true,"status":200}.
func (e Event) AppendLine(dst []byte) []byte {
	dst = append(dst, `{"time":"`...)
	dst = e.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","ok":`...)
	dst = strconv.AppendBool(dst, e.Good)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(e.Status()), 10)
	return append(dst, "}\n"...)
}

// Sink takes the events of a verifier. nines serve commits them to the
// engine with each ID as an idempotency key.
type Sink interface {
	// Record stores events. On error the verifier sends the events again
	// later, with the same IDs; an ID stored before must not count twice.
	Record(ctx context.Context, events []Event) error
}

// DurabilitySLO names the SLI whose events are a verifier's reads.
func DurabilitySLO(verifier string) string { return verifier + ".durability" }

// HeartbeatSLO names the SLI whose events say the verifier runs and
// passes its canaries.
func HeartbeatSLO(verifier string) string { return verifier + ".heartbeat" }

// Outcomes of a read, and reasons of bad heartbeat events.
const (
	OutcomeGood        = "good"
	OutcomeMissing     = "missing"
	OutcomeCorrupt     = "corrupt"
	OutcomeUnreachable = "unreachable"
	// OutcomeTooLarge: an object reported without its size is larger than
	// maxObjectSize; it cannot be verified and leaves the schedule,
	// counted apart (Status.TooLarge), never as a bad read.
	OutcomeTooLarge = "too-large"

	ReasonCanaryMissed     = "canary-missed"
	ReasonCanaryUndetected = "canary-undetected"
	ReasonUnreachable      = "unreachable"
)

// retryAfter is how long a read or a delete that could not reach the
// target waits before it is tried again.
const retryAfter = time.Minute

// batchLimit bounds the reads of one step, so memory stays bounded
// whatever the backlog (after a long stop, a day's reads are due at once).
const batchLimit = 512

// Options are what a Verifier is built from besides its Definition.
type Options struct {
	Target Target
	State  State
	Sink   Sink
	// Clock is the time every decision is taken at (time.Now in nines
	// serve, a fake clock in tests).
	Clock func() time.Time
	// Random fills synthetic objects and names them (crypto/rand when nil).
	Random io.Reader
	Logger *slog.Logger
}

// Verifier watches one target. Step, Report and Status are safe for
// concurrent use.
type Verifier struct {
	def    *Definition
	o      Options
	prefix string

	// mu guards the state writes of Step and Report and every field
	// below; it is not held during the target's requests.
	mu     sync.Mutex
	step   sync.Mutex // one Step at a time
	loaded bool
	st     stats
	// pending counts scheduled objects per age index; the last slot is
	// the objects waiting to be deleted.
	pending  []int64
	canaries map[string]time.Time // open canaries: id → deadline
	missed   map[string]bool      // canaries judged missed in this step
	// tokens and tokensAt are the read rate limiter; writeDebt the
	// synthetic writes owed.
	tokens    float64
	tokensAt  time.Time
	writeAt   time.Time
	writeDebt float64
	// unreachableSince is set while the target fails to answer.
	unreachable  bool
	recount      bool // the pending counts are unsure
	lastStep     time.Time
	lastErr      string
	lastErrAt    time.Time
	reportedMem  int64
	sampledMem   int64
	statsChanged bool
}

// stats is what a verifier keeps of its past in State ("s").
type stats struct {
	Done          [][3]int64 `json:"done"` // per age: good, missing, corrupt
	Unreachable   int64      `json:"unreachable"`
	TooLarge      int64      `json:"too_large"`
	LastBeat      int64      `json:"last_beat"`
	LastCanary    int64      `json:"last_canary"`
	Failing       bool       `json:"failing"`
	FailingReason string     `json:"failing_reason,omitempty"`
	FailingSince  int64      `json:"failing_since,omitempty"`
	CanaryVerdict string     `json:"canary_verdict,omitempty"`
	CanaryAt      int64      `json:"canary_at,omitempty"`
	CanaryPassed  int64      `json:"canary_passed"`
	CanaryFailed  int64      `json:"canary_failed"`
	Written       int64      `json:"written"`
	Reported      int64      `json:"reported"`
	Sampled       int64      `json:"sampled"`
}

// object is the record of one object under watch ("o/<id>").
type object struct {
	Key     string `json:"k"`
	SHA256  string `json:"h"`
	Size    int64  `json:"n"` // -1: not reported
	Written int64  `json:"w"`
	// Own marks objects nines wrote, deleted after their last read.
	Own    bool `json:"own,omitempty"`
	Canary bool `json:"canary,omitempty"`
	// Next is the index of the next read (len(ReadAfter): delete), and
	// Due when it is.
	Next int   `json:"i"`
	Due  int64 `json:"d"`
}

// New builds the verifier d describes.
func New(d *Definition, o Options) (*Verifier, error) {
	if d == nil || o.Target == nil || o.State == nil || o.Sink == nil || o.Clock == nil {
		return nil, errors.New("verify: a definition, a target, a state, a sink and a clock are required")
	}
	if len(d.ReadAfter) == 0 || d.Heartbeat <= 0 || d.CanaryEvery <= 0 || d.Concurrency <= 0 || d.ReadsPerSecond <= 0 || d.Timeout <= 0 {
		return nil, fmt.Errorf("verify: verifier %s: read ages, heartbeat, canary interval, concurrency, read rate and timeout must be set (Parse sets them)", d.Name)
	}
	if o.Random == nil {
		o.Random = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Verifier{def: d, o: o, prefix: "verify/" + d.Name + "/", canaries: map[string]time.Time{}, missed: map[string]bool{}}, nil
}

// Definition returns what the verifier was built from.
func (v *Verifier) Definition() *Definition { return v.def }

func (v *Verifier) now() time.Time { return v.o.Clock() }

// load reads the stats, the pending reads and the open canaries from
// State. Call with mu held.
func (v *Verifier) load(ctx context.Context) error {
	if v.loaded {
		return nil
	}
	n := len(v.def.ReadAfter)
	st := stats{}
	if b, err := v.o.State.GetState(ctx, v.prefix+"s"); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("verify: %s: stored stats: %w", v.def.Name, err)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("verify: %s: reading stats: %w", v.def.Name, err)
	}
	for len(st.Done) < n {
		st.Done = append(st.Done, [3]int64{})
	}
	st.Done = st.Done[:n]
	v.st = st
	if err := v.countPending(ctx); err != nil {
		return err
	}
	err := v.o.State.RangeState(ctx, v.prefix+"c/", func(key string, val []byte) error {
		ns, err := strconv.ParseInt(string(val), 10, 64)
		if err == nil {
			v.canaries[strings.TrimPrefix(key, v.prefix+"c/")] = time.Unix(0, ns)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify: %s: reading the canaries: %w", v.def.Name, err)
	}
	now := v.now()
	v.tokensAt, v.writeAt = now, now
	v.tokens = v.burst()
	v.loaded = true
	return nil
}

// countPending counts the scheduled reads by age from State. A step that
// failed to save its changes has left the counts in memory unsure, so
// the next step counts again.
func (v *Verifier) countPending(ctx context.Context) error {
	n := len(v.def.ReadAfter)
	pending := make([]int64, n+1)
	err := v.o.State.RangeState(ctx, v.prefix+"d/", func(_ string, val []byte) error {
		if i, err := strconv.Atoi(string(val)); err == nil {
			pending[min(max(i, 0), n)]++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("verify: %s: reading the schedule: %w", v.def.Name, err)
	}
	v.pending, v.recount = pending, false
	return nil
}

// burst is ten seconds of reads: what a step may do after a pause, so a
// step every few seconds keeps up with the rate.
func (v *Verifier) burst() float64 { return max(1, 10*v.def.ReadsPerSecond) }

func (v *Verifier) dueKey(due int64, id string) string {
	return fmt.Sprintf("%sd/%019d/%s", v.prefix, max(due, 0), id)
}

// putObject stores o's due key, then o. The order makes a write that
// stops halfway harmless: a due key whose object does not name it is
// dropped when it comes due (dueJobs).
func (v *Verifier) putObject(ctx context.Context, id string, o *object) error {
	if err := v.o.State.PutState(ctx, v.dueKey(o.Due, id), []byte(strconv.Itoa(o.Next))); err != nil {
		return err
	}
	b, _ := json.Marshal(o)
	return v.o.State.PutState(ctx, v.prefix+"o/"+id, b)
}

// move stores o and its due key, and drops the due key it had, old,
// unless that is the same key.
func (v *Verifier) move(ctx context.Context, id string, o *object, old string) error {
	if err := v.putObject(ctx, id, o); err != nil {
		return err
	}
	if old == v.dueKey(o.Due, id) {
		return nil
	}
	_, err := v.o.State.DeleteStatePrefix(ctx, old)
	return err
}

// objectID names an object in State: a hash of the verifier and the key,
// so a key reported twice is one object.
func (v *Verifier) objectID(key string) (string, [32]byte) {
	h := sha256.Sum256([]byte(v.def.Name + "\x00" + key))
	return hex.EncodeToString(h[:12]), h
}

// Sampled reports whether the verifier samples key: the first 8 bytes of
// the key's hash (salted with the verifier's name) below SampleRate of
// 2^64. The same key is always sampled or always not.
func (v *Verifier) Sampled(key string) bool {
	_, h := v.objectID(key)
	if v.def.SampleRate >= 1 {
		return true
	}
	return float64(binary.BigEndian.Uint64(h[:8])) < v.def.SampleRate*math.Exp2(64)
}

// Reported is an object the application says it wrote.
type Reported struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
	// Size, when given, is checked too; without it an object larger
	// than maxObjectSize cannot be read back and leaves the schedule.
	Size *int64 `json:"size,omitempty"`
}

// ReportResult says what became of reported objects.
type ReportResult struct {
	Accepted int `json:"accepted"`
	// Sampled were taken into the schedule; Known were sampled before.
	Sampled int `json:"sampled"`
	Known   int `json:"known"`
}

// Errors of Report.
var (
	// ErrNotReported is returned by Report on a verifier that writes its
	// own objects.
	ErrNotReported = errors.New("verify: this verifier writes objects of its own (mode: write) and takes no reports")
	// ErrPendingFull says the verifier already watches MaxPending objects.
	ErrPendingFull = errors.New("verify: the verifier's pending reads are at their limit (maxPending)")
	// ErrInvalid wraps a reported object nines cannot verify.
	ErrInvalid = errors.New("verify: invalid object")
)

// CheckReported checks one reported object.
func (v *Verifier) CheckReported(r Reported) error {
	if err := checkKey(r.Key); err != nil || r.Key == "" {
		return fmt.Errorf("%w: key %q: %s", ErrInvalid, truncate(r.Key, 80), errOr(err, "it is empty"))
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("%w: key %q: sha256 %q is not 64 hex digits", ErrInvalid, truncate(r.Key, 80), truncate(r.SHA256, 80))
	}
	if r.Size != nil && (*r.Size < 0 || *r.Size > v.def.MaxObjectSize) {
		return fmt.Errorf("%w: key %q: size %d is out of range; the verifier reads objects of 0 to %d bytes (maxObjectSize)", ErrInvalid, truncate(r.Key, 80), *r.Size, v.def.MaxObjectSize)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// Report takes objects the application wrote: each is checked (all or
// none are taken), and those sampled are scheduled for reads from now.
func (v *Verifier) Report(ctx context.Context, objs []Reported) (ReportResult, error) {
	var res ReportResult
	if v.def.Mode != ModeReported {
		return res, ErrNotReported
	}
	for i, r := range objs {
		if err := v.CheckReported(r); err != nil {
			return res, fmt.Errorf("object %d of %d: %w; nothing of the report was taken", i+1, len(objs), err)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.load(ctx); err != nil {
		return res, err
	}
	now := v.now()
	for _, r := range objs {
		res.Accepted++
		if !v.Sampled(r.Key) {
			continue
		}
		id, _ := v.objectID(r.Key)
		if _, err := v.o.State.GetState(ctx, v.prefix+"o/"+id); err == nil {
			res.Known++
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return res, fmt.Errorf("verify: %s: %w", v.def.Name, err)
		}
		if v.pendingTotal() >= v.def.MaxPending {
			return res, fmt.Errorf("%w: %d objects; %d of this request were taken", ErrPendingFull, v.def.MaxPending, res.Sampled)
		}
		size := int64(-1)
		if r.Size != nil {
			size = *r.Size
		}
		o := &object{Key: r.Key, SHA256: strings.ToLower(r.SHA256), Size: size, Written: now.UnixNano(), Due: now.Add(v.def.ReadAfter[0]).UnixNano()}
		if err := v.putObject(ctx, id, o); err != nil {
			return res, fmt.Errorf("verify: %s: scheduling %q: %w", v.def.Name, r.Key, err)
		}
		v.pending[0]++
		res.Sampled++
		v.st.Sampled++
	}
	v.st.Reported += int64(res.Accepted)
	v.statsChanged = true
	return res, nil
}

func (v *Verifier) pendingTotal() int64 {
	var n int64
	for _, p := range v.pending {
		n += p
	}
	return n
}

// job is one request a step makes of the target.
type job struct {
	id      string
	dueKey  string
	o       object
	del     bool // delete rather than read
	outcome string
	err     error
}

// Run steps the verifier every tick until ctx ends, logging failed steps.
func (v *Verifier) Run(ctx context.Context, tick time.Duration) error {
	// Read the state anew: among replicas, another one may have run the
	// verifier since this one last did.
	v.mu.Lock()
	v.loaded = false
	v.mu.Unlock()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if err := v.Step(ctx); err != nil && ctx.Err() == nil {
			v.o.Logger.Warn("verifier step failed", "verifier", v.def.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Step does what is due at Clock(): judges canaries past their deadline,
// plants a canary, writes synthetic objects, reads the objects due (at
// most the rate limit allows), deletes those read for the last time,
// sends a heartbeat, hands the events to the sink and only then moves the
// schedule on. When the sink fails nothing moves on: the next step does
// the work again and sends the same IDs.
func (v *Verifier) Step(ctx context.Context) error {
	v.step.Lock()
	defer v.step.Unlock()
	v.mu.Lock()
	if err := v.load(ctx); err != nil {
		v.mu.Unlock()
		return err
	}
	if v.recount {
		if err := v.countPending(ctx); err != nil {
			v.mu.Unlock()
			return err
		}
	}
	now := v.now()
	v.lastStep = now
	var events []Event
	var applies []func(context.Context) error

	// Canaries past their deadline with no verdict.
	clear(v.missed)
	for id, deadline := range v.canaries {
		if !now.Before(deadline) {
			v.missed[id] = true
			events = append(events, Event{SLO: HeartbeatSLO(v.def.Name), Time: now, Reason: ReasonCanaryMissed, ID: v.def.Name + "/canary/" + id})
			applies = append(applies, func(ctx context.Context) error {
				delete(v.canaries, id)
				v.fail(now, ReasonCanaryMissed)
				_, err := v.o.State.DeleteStatePrefix(ctx, v.prefix+"c/"+id)
				return err
			})
		}
	}
	jobs, err := v.dueJobs(ctx, now)
	v.mu.Unlock()
	if err != nil {
		return err
	}

	// Requests to the target, bounded in number and in time.
	v.runJobs(ctx, jobs)
	plantErr := v.plantCanary(ctx, now)
	writeErr := v.writeSynthetic(ctx, now)

	v.mu.Lock()
	defer v.mu.Unlock()
	unreachable := plantErr != nil || writeErr != nil
	for _, err := range []error{plantErr, writeErr} {
		if err != nil {
			v.noteErr(now, err)
		}
	}
	for i := range jobs {
		j := &jobs[i]
		if j.outcome == OutcomeUnreachable || j.del && j.err != nil {
			unreachable = true
			v.noteErr(now, j.err)
		}
		ev, apply := v.judge(now, j)
		if ev != nil {
			events = append(events, *ev)
		}
		applies = append(applies, apply)
	}
	if unreachable {
		v.unreachable = true
	}
	beat := v.st.LastBeat == 0 || !now.Before(time.Unix(0, v.st.LastBeat).Add(v.def.Heartbeat))
	if beat {
		slot := now.Truncate(v.def.Heartbeat)
		ev := Event{SLO: HeartbeatSLO(v.def.Name), Time: now, Good: true, ID: fmt.Sprintf("%s/heartbeat/%d", v.def.Name, slot.Unix())}
		switch {
		case v.st.Failing:
			ev.Good, ev.Reason = false, v.st.FailingReason
		case v.unreachable:
			ev.Good, ev.Reason = false, ReasonUnreachable
		}
		events = append(events, ev)
	}
	if len(events) > 0 {
		if err := v.o.Sink.Record(ctx, events); err != nil {
			return fmt.Errorf("verify: %s: recording %d events: %w", v.def.Name, len(events), err)
		}
	}
	if beat {
		v.st.LastBeat = now.UnixNano()
		// The beat told of this step's failures; the next tells of its own.
		v.unreachable = false
		v.statsChanged = true
	}
	var errs []error
	for _, apply := range applies {
		if err := apply(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if v.statsChanged {
		b, _ := json.Marshal(&v.st)
		if err := v.o.State.PutState(ctx, v.prefix+"s", b); err != nil {
			errs = append(errs, err)
		} else {
			v.statsChanged = false
		}
	}
	if err := errors.Join(errs...); err != nil {
		v.recount = true
		return fmt.Errorf("verify: %s: saving the schedule: %w", v.def.Name, err)
	}
	return nil
}

func (v *Verifier) noteErr(now time.Time, err error) {
	if err == nil {
		return
	}
	v.lastErr, v.lastErrAt = err.Error(), now
}

// fail marks the verifier failing for reason.
func (v *Verifier) fail(now time.Time, reason string) {
	if !v.st.Failing {
		v.st.FailingSince = now.UnixNano()
	}
	v.st.Failing, v.st.FailingReason = true, reason
	v.st.CanaryVerdict, v.st.CanaryAt = reason, now.UnixNano()
	v.st.CanaryFailed++
	v.statsChanged = true
	v.o.Logger.Error("verifier failing its canary", "verifier", v.def.Name, "reason", reason)
}

var errStop = errors.New("stop")

// dueJobs collects the jobs due at now, as many as the read rate allows.
// Call with mu held.
func (v *Verifier) dueJobs(ctx context.Context, now time.Time) ([]job, error) {
	if el := now.Sub(v.tokensAt).Seconds(); el > 0 {
		v.tokens = min(v.burst(), v.tokens+el*v.def.ReadsPerSecond)
	}
	v.tokensAt = now
	limit := min(batchLimit, int(v.tokens))
	if limit <= 0 {
		return nil, nil
	}
	type due struct{ key, id string }
	var dues []due
	err := v.o.State.RangeState(ctx, v.prefix+"d/", func(key string, _ []byte) error {
		rest := strings.TrimPrefix(key, v.prefix+"d/")
		ts, id, ok := strings.Cut(rest, "/")
		ns, err := strconv.ParseInt(ts, 10, 64)
		if !ok || err != nil {
			return nil
		}
		if ns > now.UnixNano() || len(dues) >= limit {
			return errStop
		}
		dues = append(dues, due{key, id})
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return nil, fmt.Errorf("verify: %s: reading the schedule: %w", v.def.Name, err)
	}
	jobs := make([]job, 0, len(dues))
	for _, d := range dues {
		b, err := v.o.State.GetState(ctx, v.prefix+"o/"+d.id)
		var o object
		if err == nil {
			err = json.Unmarshal(b, &o)
		}
		if err != nil || v.dueKey(o.Due, d.id) != d.key {
			// A key left behind by a step that stopped halfway (the
			// object moved on, or is gone): drop it, and make sure the
			// object's own due key is there.
			v.recount = true
			if _, derr := v.o.State.DeleteStatePrefix(ctx, d.key); derr != nil {
				return nil, derr
			}
			if err == nil {
				own := v.dueKey(o.Due, d.id)
				if _, gerr := v.o.State.GetState(ctx, own); errors.Is(gerr, store.ErrNotFound) {
					if perr := v.putObject(ctx, d.id, &o); perr != nil {
						return nil, perr
					}
				}
			}
			continue
		}
		j := job{id: d.id, dueKey: d.key, o: o}
		j.del = o.Next >= len(v.def.ReadAfter) || (o.Canary && o.Next > 0)
		if !j.del {
			v.tokens--
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// runJobs makes the jobs' requests, Concurrency at a time, each bounded
// by Timeout. The mutex is not held: a slow target does not hold Report.
func (v *Verifier) runJobs(ctx context.Context, jobs []job) {
	v.parallel(ctx, len(jobs), func(cctx context.Context, i int) {
		j := &jobs[i]
		if j.del {
			// Only objects nines wrote are deleted; a reported object
			// past its reads (after readAfter was shortened) only
			// leaves the schedule.
			if j.o.Own {
				j.err = v.o.Target.Delete(cctx, j.o.Key)
			}
			return
		}
		data, err := v.o.Target.Get(cctx, j.o.Key)
		j.err = err
		switch {
		case errors.Is(err, ErrNotFound):
			j.outcome = OutcomeMissing
		case errors.Is(err, ErrTooLarge) && j.o.Size < 0:
			j.outcome = OutcomeTooLarge
		case errors.Is(err, ErrTooLarge):
			// Its reported size is within maxObjectSize: it grew.
			j.outcome = OutcomeCorrupt
		case err != nil:
			j.outcome = OutcomeUnreachable
		default:
			sum := sha256.Sum256(data)
			j.outcome = OutcomeGood
			if hex.EncodeToString(sum[:]) != j.o.SHA256 || (j.o.Size >= 0 && int64(len(data)) != j.o.Size) {
				j.outcome = OutcomeCorrupt
			}
		}
	})
}

// parallel calls fn(ctx, i) for i in [0, n), Concurrency at a time, each
// with a context cut off after Timeout.
func (v *Verifier) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int)) {
	sem := make(chan struct{}, v.def.Concurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, v.def.Timeout)
			defer cancel()
			fn(cctx, i)
		}()
	}
	wg.Wait()
}

// judge turns a finished job into its event and the change of schedule
// that follows it, applied once the event is recorded. Call with mu held.
func (v *Verifier) judge(now time.Time, j *job) (*Event, func(context.Context) error) {
	id, o := j.id, j.o
	retry := func(ctx context.Context) error {
		o.Due = now.Add(retryAfter).UnixNano()
		return v.move(ctx, id, &o, j.dueKey)
	}
	if j.del {
		if j.err != nil {
			return nil, retry
		}
		return nil, func(ctx context.Context) error {
			if _, err := v.o.State.DeleteStatePrefix(ctx, v.prefix+"o/"+id); err != nil {
				return err
			}
			_, err := v.o.State.DeleteStatePrefix(ctx, j.dueKey)
			if err == nil {
				v.pending[len(v.pending)-1]--
			}
			return err
		}
	}
	if j.outcome == OutcomeUnreachable {
		v.st.Unreachable++
		v.statsChanged = true
		return nil, retry
	}
	if j.outcome == OutcomeTooLarge {
		v.noteErr(now, j.err)
		return nil, func(ctx context.Context) error {
			if _, err := v.o.State.DeleteStatePrefix(ctx, v.prefix+"o/"+id); err != nil {
				return err
			}
			if _, err := v.o.State.DeleteStatePrefix(ctx, j.dueKey); err != nil {
				return err
			}
			v.pending[o.Next]--
			v.st.TooLarge++
			v.statsChanged = true
			return nil
		}
	}
	age := o.Next
	advance := func(ctx context.Context) error {
		old := j.dueKey
		o.Next++
		if o.Canary || !o.Own && o.Next >= len(v.def.ReadAfter) {
			// Canaries are read once; objects of others are never deleted.
			o.Next = len(v.def.ReadAfter)
		}
		switch {
		case o.Next < len(v.def.ReadAfter):
			o.Due = o.Written + int64(v.def.ReadAfter[o.Next])
		case !o.Own:
			// Reported objects leave the schedule after their last read.
			if _, err := v.o.State.DeleteStatePrefix(ctx, v.prefix+"o/"+id); err != nil {
				return err
			}
			if _, err := v.o.State.DeleteStatePrefix(ctx, old); err != nil {
				return err
			}
			v.pending[age]--
			return nil
		default:
			o.Due = max(o.Due, now.UnixNano())
		}
		if err := v.move(ctx, id, &o, old); err != nil {
			return err
		}
		v.pending[age]--
		v.pending[min(o.Next, len(v.pending)-1)]++
		return nil
	}
	if o.Canary {
		if _, open := v.canaries[id]; !open || v.missed[id] {
			// Judged missed already: nothing more to say about it.
			return nil, advance
		}
		ev := &Event{SLO: HeartbeatSLO(v.def.Name), Time: now, Good: true, ID: v.def.Name + "/canary/" + id}
		passed := j.outcome != OutcomeGood
		if !passed {
			ev.Good, ev.Reason = false, ReasonCanaryUndetected
		}
		return ev, func(ctx context.Context) error {
			delete(v.canaries, id)
			if passed {
				v.st.Failing, v.st.FailingReason, v.st.FailingSince = false, "", 0
				v.st.CanaryVerdict, v.st.CanaryAt = "passed", now.UnixNano()
				v.st.CanaryPassed++
				v.statsChanged = true
			} else {
				v.fail(now, ReasonCanaryUndetected)
			}
			if _, err := v.o.State.DeleteStatePrefix(ctx, v.prefix+"c/"+id); err != nil {
				return err
			}
			return advance(ctx)
		}
	}
	ev := &Event{SLO: DurabilitySLO(v.def.Name), Time: now, Good: j.outcome == OutcomeGood, ID: fmt.Sprintf("%s/%s/%d", v.def.Name, id, age)}
	if !ev.Good {
		ev.Reason = j.outcome
		v.o.Logger.Error("verifier found an object damaged", "verifier", v.def.Name, "key", o.Key, "age", v.def.ReadAfter[age], "outcome", j.outcome)
	}
	return ev, func(ctx context.Context) error {
		if err := advance(ctx); err != nil {
			return err
		}
		c := 0
		switch j.outcome {
		case OutcomeMissing:
			c = 1
		case OutcomeCorrupt:
			c = 2
		}
		v.st.Done[age][c]++
		v.statsChanged = true
		return nil
	}
}

// forget deletes an object nines wrote but could not schedule, so it is
// not left on the target for ever; if that fails too, it is logged.
func (v *Verifier) forget(ctx context.Context, key string) {
	cctx, cancel := context.WithTimeout(ctx, v.def.Timeout)
	defer cancel()
	if err := v.o.Target.Delete(cctx, key); err != nil {
		v.o.Logger.Warn("verifier left an unscheduled object on its target", "verifier", v.def.Name, "key", key, "err", err)
	}
}

// newKey names an object nines writes.
func (v *Verifier) newKey(now time.Time, kind string) (string, error) {
	var b [8]byte
	if _, err := io.ReadFull(v.o.Random, b[:]); err != nil {
		return "", fmt.Errorf("verify: %s: naming an object: %w", v.def.Name, err)
	}
	return v.def.KeyPrefix + kind + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}

func (v *Verifier) objectSize() int64 { return max(1, v.def.ObjectSize) }

// plantCanary writes a canary when one is due: bytes A under a fresh key,
// recorded with the checksum of bytes B (A with its first byte flipped),
// so a working verifier must find it corrupt.
func (v *Verifier) plantCanary(ctx context.Context, now time.Time) error {
	v.mu.Lock()
	due := v.st.LastCanary == 0 || !now.Before(time.Unix(0, v.st.LastCanary).Add(v.def.CanaryEvery))
	v.mu.Unlock()
	if !due {
		return nil
	}
	key, err := v.newKey(now, "canary-")
	if err != nil {
		return err
	}
	data := make([]byte, min(v.objectSize(), v.def.MaxObjectSize, 4<<10))
	if _, err := io.ReadFull(v.o.Random, data); err != nil {
		return fmt.Errorf("verify: %s: canary bytes: %w", v.def.Name, err)
	}
	cctx, cancel := context.WithTimeout(ctx, v.def.Timeout)
	err = v.o.Target.Put(cctx, key, data)
	cancel()
	if err != nil {
		return fmt.Errorf("verify: %s: planting a canary: %w", v.def.Name, err)
	}
	data[0] ^= 0xFF
	sum := sha256.Sum256(data)
	id, _ := v.objectID(key)
	o := &object{Key: key, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data)), Written: now.UnixNano(), Own: true, Canary: true,
		Due: now.Add(v.def.ReadAfter[0]).UnixNano()}
	deadline := now.Add(v.def.CanaryDeadline)
	v.mu.Lock()
	defer v.mu.Unlock()
	// The deadline first: a canary recorded without one would never be
	// missed.
	err = v.o.State.PutState(ctx, v.prefix+"c/"+id, []byte(strconv.FormatInt(deadline.UnixNano(), 10)))
	if err == nil {
		err = v.putObject(ctx, id, o)
	}
	if err != nil {
		v.o.State.DeleteStatePrefix(ctx, v.prefix+"c/"+id)
		v.forget(ctx, key)
		v.recount = true
		return fmt.Errorf("verify: %s: recording a canary: %w", v.def.Name, err)
	}
	v.canaries[id] = deadline
	v.pending[0]++
	v.st.LastCanary = now.UnixNano()
	v.statsChanged = true
	return nil
}

// writeSynthetic writes the synthetic objects owed at now (write mode):
// WritesPerMinute on average, at most a minute's worth at once (a
// verifier that was stopped does not catch up), none while MaxPending
// objects are pending. Each object written is scheduled at once: writes
// make no events, so they need not wait for the sink.
func (v *Verifier) writeSynthetic(ctx context.Context, now time.Time) error {
	if v.def.Mode != ModeWrite {
		return nil
	}
	v.mu.Lock()
	if el := now.Sub(v.writeAt).Minutes(); el > 0 {
		v.writeDebt = min(max(1, v.def.WritesPerMinute), v.writeDebt+el*v.def.WritesPerMinute)
	}
	v.writeAt = now
	n := int(min(int64(v.writeDebt), max(0, v.def.MaxPending-v.pendingTotal())))
	v.writeDebt -= float64(n)
	v.mu.Unlock()
	if n == 0 {
		return nil
	}
	type write struct {
		key  string
		data []byte
		err  error
	}
	ws := make([]write, n)
	for i := range ws {
		key, err := v.newKey(now, "")
		if err != nil {
			return err
		}
		ws[i].key, ws[i].data = key, make([]byte, v.objectSize())
		if _, err := io.ReadFull(v.o.Random, ws[i].data); err != nil {
			return fmt.Errorf("verify: %s: object bytes: %w", v.def.Name, err)
		}
	}
	v.parallel(ctx, len(ws), func(cctx context.Context, i int) {
		ws[i].err = v.o.Target.Put(cctx, ws[i].key, ws[i].data)
	})
	v.mu.Lock()
	defer v.mu.Unlock()
	var errs []error
	for _, w := range ws {
		if w.err != nil {
			errs = append(errs, w.err)
			continue
		}
		sum := sha256.Sum256(w.data)
		id, _ := v.objectID(w.key)
		o := &object{Key: w.key, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(w.data)), Written: now.UnixNano(), Own: true,
			Due: now.Add(v.def.ReadAfter[0]).UnixNano()}
		if err := v.putObject(ctx, id, o); err != nil {
			v.forget(ctx, w.key)
			v.recount = true
			errs = append(errs, err)
			continue
		}
		v.pending[0]++
		v.st.Written++
		v.statsChanged = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("verify: %s: %d of %d writes failed: %w", v.def.Name, len(errs), n, errs[0])
	}
	return nil
}

package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/verify/blobtest"
)

const reportedYAML = `verifiers:
  - name: uploads
    mode: reported
    sampleRate: 100%
    target: {kind: blob, baseURL: http://127.0.0.1:1/}
    readsPerSecond: 1000
`

func TestAnObjectCorruptedAfterTwoHoursIsFoundAtTheDayReadNotBefore(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	obj := r.put("photos/cat.jpg", []byte("a cat, asleep on a keyboard"))
	r.blob.Fault(blobtest.Corrupt, blobtest.Key(obj.Key), 2*time.Hour)
	if res, err := r.v.Report(context.Background(), []Reported{obj}); err != nil || res.Sampled != 1 {
		t.Fatalf("report: %+v, %v", res, err)
	}
	r.run(3*time.Hour, time.Minute)
	r.run(23*time.Hour, 10*time.Minute)
	evs := r.sink.events(DurabilitySLO("uploads"))
	if len(evs) != 3 {
		t.Fatalf("got %d durability events, want the reads at 1m, 1h and 1d: %+v", len(evs), evs)
	}
	want := []struct {
		at     time.Duration
		good   bool
		reason string
	}{{time.Minute, true, ""}, {time.Hour, true, ""}, {24 * time.Hour, false, OutcomeCorrupt}}
	for i, w := range want {
		e := evs[i]
		if e.Good != w.good || e.Reason != w.reason || since(e) < w.at || since(e) > w.at+10*time.Minute {
			t.Errorf("read %d: good %v, reason %q at %s; want good %v, reason %q at %s", i, e.Good, e.Reason, since(e), w.good, w.reason, w.at)
		}
		if want := fmt.Sprintf("/%d", i); !strings.HasSuffix(e.ID, want) {
			t.Errorf("read %d: ID %s does not name the age index", i, e.ID)
		}
	}
	st := r.status()
	if st.Ages[2].Corrupt != 1 || st.Ages[0].Good != 1 || st.Ages[1].Good != 1 || st.Ages[3].Pending != 1 {
		t.Errorf("status ages: %+v", st.Ages)
	}
}

func TestALostObjectIsReportedMissingAndTheRestOfItsReadsGoOn(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	obj := r.put("a", []byte("kept for a while"))
	r.blob.Fault(blobtest.Lose, blobtest.Key("a"), 30*time.Second)
	if _, err := r.v.Report(context.Background(), []Reported{obj}); err != nil {
		t.Fatal(err)
	}
	r.run(2*time.Hour, time.Minute)
	evs := r.sink.events(DurabilitySLO("uploads"))
	if len(evs) != 2 || evs[0].Good || evs[0].Reason != OutcomeMissing || evs[1].Reason != OutcomeMissing {
		t.Fatalf("events: %+v; want the 1m and 1h reads missing", evs)
	}
}

func TestAStoppedVerifierFallsSilentAndItsStatusSaysStale(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	r.run(10*time.Minute, time.Minute)
	if st := r.status(); st.Stale {
		t.Fatalf("a running verifier is stale: %+v", st)
	}
	stopped := r.clock.Now()
	r.clock.Add(10 * time.Minute) // no steps: the process hangs or died
	st := r.status()
	if !st.Stale || st.LastHeartbeat == nil || !st.LastHeartbeat.Equal(stopped) {
		t.Errorf("after 10 minutes stopped: stale %v, last heartbeat %v; want stale since %s", st.Stale, st.LastHeartbeat, stopped)
	}
	r.run(5*time.Minute, time.Minute)
	var silent time.Duration
	var beats []Event
	for _, e := range r.sink.events(HeartbeatSLO("uploads")) {
		if strings.Contains(e.ID, "/heartbeat/") { // not the canaries' verdicts
			beats = append(beats, e)
		}
	}
	for i := 1; i < len(beats); i++ {
		silent = max(silent, beats[i].Time.Sub(beats[i-1].Time))
	}
	// The heartbeat SLO's no-data alert (SLOSpecs: 5m) fires on this gap.
	if silent != 11*time.Minute || len(beats) != 10+5 {
		t.Errorf("%d heartbeats, longest silence %s; want 15 beats and 11m between the last before the stop and the first after", len(beats), silent)
	}
	if r.status().Stale {
		t.Error("the verifier is stale after it resumed")
	}
}

func TestAMissedCanaryMarksTheVerifierFailingUntilACanaryPasses(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	r.run(time.Minute, time.Minute) // plants the first canary
	r.blob.FailWith(http.StatusServiceUnavailable)
	r.run(9*time.Minute, time.Minute)
	if st := r.status(); st.Failing || st.Canary.Open != 1 {
		t.Fatalf("before the deadline: %+v", st.Canary)
	}
	r.run(5*time.Minute, time.Minute)
	st := r.status()
	if !st.Failing || st.FailingReason != ReasonCanaryMissed || st.Canary.Failed != 1 {
		t.Fatalf("after the deadline: failing %v (%s), canary %+v", st.Failing, st.FailingReason, st.Canary)
	}
	var missed int
	for _, e := range r.sink.events(HeartbeatSLO("uploads")) {
		if e.Reason == ReasonCanaryMissed {
			missed++
		}
	}
	if missed == 0 {
		t.Error("no heartbeat event says the canary was missed")
	}
	if n := len(r.sink.events(DurabilitySLO("uploads"))); n != 0 {
		t.Errorf("%d durability events: canary reads and unreachable reads must not count", n)
	}
	r.blob.FailWith(0)
	r.run(time.Hour, time.Minute) // the next canary is planted and found corrupt
	st = r.status()
	if st.Failing || st.Canary.LastVerdict != "passed" || st.Canary.Passed < 1 {
		t.Errorf("after a canary passed: failing %v, canary %+v", st.Failing, st.Canary)
	}
	beats := r.sink.events(HeartbeatSLO("uploads"))
	if last := beats[len(beats)-1]; !last.Good {
		t.Errorf("last heartbeat is bad: %+v", last)
	}
}

func TestACanaryReadAsGoodMarksTheVerifierFailing(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	r.tgt = healingTarget{r.tgt}
	r.restart()
	r.run(5*time.Minute, time.Minute)
	st := r.status()
	if !st.Failing || st.FailingReason != ReasonCanaryUndetected {
		t.Fatalf("failing %v (%q); want canary-undetected", st.Failing, st.FailingReason)
	}
	beats := r.sink.events(HeartbeatSLO("uploads"))
	if last := beats[len(beats)-1]; last.Good || last.Reason != ReasonCanaryUndetected {
		t.Errorf("last heartbeat: %+v", last)
	}
}

func TestARestartResumesTheScheduleAndRecordsEachReadOnce(t *testing.T) {
	def := testDef(t, `verifiers:
  - name: backups
    target: {kind: blob, baseURL: http://127.0.0.1:1/}
    writesPerMinute: 2
    objectSize: 1KiB
    readAfter: [1m, 1h, 1d]
    readsPerSecond: 1000
`)
	r := newRig(t, def)
	r.run(90*time.Minute, time.Minute)
	written := r.status().Written
	r.restart()
	r.run(30*time.Minute, time.Minute)
	// A failing sink makes a step do its reads again, with the same IDs.
	r.sink.fail = errors.New("engine unavailable")
	r.clock.Add(time.Minute)
	if err := r.v.Step(context.Background()); err == nil {
		t.Fatal("a step whose events were not recorded did not fail")
	}
	r.sink.fail = nil
	r.restart()
	r.run(26*time.Hour, 5*time.Minute)
	st := r.status()
	if r.sink.resent != 0 {
		t.Errorf("%d events were sent twice", r.sink.resent)
	}
	perAge := map[string]int{}
	for _, e := range r.sink.events(DurabilitySLO("backups")) {
		if !e.Good {
			t.Errorf("bad read: %+v", e)
		}
		perAge[e.ID[strings.LastIndex(e.ID, "/"):]]++
	}
	// Every object of the first 90 minutes is read at each age once.
	for _, age := range []string{"/0", "/1", "/2"} {
		if int64(perAge[age]) < written {
			t.Errorf("age %s: %d reads of %d objects written before the restart", age, perAge[age], written)
		}
	}
	reads := perAge["/0"] + perAge["/1"] + perAge["/2"]
	if int64(reads) != st.Ages[0].Good+st.Ages[1].Good+st.Ages[2].Good {
		t.Errorf("%d events, status counts %+v", reads, st.Ages)
	}
	// Objects past their last read are deleted from the target and the
	// state at the next step: only those of the last step wait.
	if st.Deleting > 2 {
		t.Errorf("%d objects wait to be deleted", st.Deleting)
	}
	live := int64(len(r.blob.Keys()))
	if live != st.Pending {
		t.Errorf("%d objects on the target, %d pending", live, st.Pending)
	}
	if n := int64(r.state.count("verify/backups/o/")); n != st.Pending {
		t.Errorf("%d object records, %d pending", n, st.Pending)
	}
}

func TestAHangingTargetIsBoundedByTheTimeoutAndCountsAsUnreachable(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML+"    timeout: 50ms\n"))
	obj := r.put("slow", []byte("x"))
	if _, err := r.v.Report(context.Background(), []Reported{obj}); err != nil {
		t.Fatal(err)
	}
	r.tgt = hangingTarget{}
	r.restart()
	start := time.Now()
	r.run(3*time.Minute, time.Minute)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("three steps against a hanging target took %s", el)
	}
	if n := len(r.sink.events(DurabilitySLO("uploads"))); n != 0 {
		t.Errorf("%d durability events from a target that never answered", n)
	}
	st := r.status()
	if st.Unreachable == 0 || st.Ages[0].Pending != 1 || st.LastError == "" {
		t.Errorf("status: unreachable %d, pending %+v, last error %q", st.Unreachable, st.Ages[0], st.LastError)
	}
	beats := r.sink.events(HeartbeatSLO("uploads"))
	if last := beats[len(beats)-1]; last.Good || last.Reason != ReasonUnreachable {
		t.Errorf("last heartbeat: %+v; want bad, unreachable", last)
	}
}

func TestReadsAreRateLimited(t *testing.T) {
	r := newRig(t, testDef(t, strings.Replace(reportedYAML, "readsPerSecond: 1000", "readsPerSecond: 1", 1)))
	var objs []Reported
	for i := range 50 {
		objs = append(objs, r.put(fmt.Sprintf("k%d", i), []byte{byte(i)}))
	}
	if _, err := r.v.Report(context.Background(), objs); err != nil {
		t.Fatal(err)
	}
	r.run(90*time.Second, 10*time.Second)
	// Due at 1m; in the 30 s since, 1 read/s and a burst of 10 s.
	n := len(r.sink.events(DurabilitySLO("uploads")))
	if n < 30 || n > 41 {
		t.Errorf("%d reads in the 30 s after they were due at 1 read/s", n)
	}
	r.run(time.Minute, 10*time.Second)
	if n := len(r.sink.events(DurabilitySLO("uploads"))); n != 50 {
		t.Errorf("%d reads, want all 50 done", n)
	}
}

func TestSamplingByKeyHashIsDeterministicAndNearTheRate(t *testing.T) {
	v, err := New(&Definition{Name: "uploads", SampleRate: 0.01, ReadAfter: DefaultReadAfter(), Heartbeat: time.Minute, CanaryEvery: time.Hour, Concurrency: 1, ReadsPerSecond: 1, Timeout: time.Second},
		Options{Target: hangingTarget{}, State: newMemState(), Sink: newSink(), Clock: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := range 100_000 {
		k := fmt.Sprintf("user/%d/file", i)
		if v.Sampled(k) {
			n++
		}
		if v.Sampled(k) != v.Sampled(k) {
			t.Fatal("sampling is not deterministic")
		}
	}
	// 1 % of 100,000 is 1,000 with a standard deviation near 31.
	if n < 880 || n > 1120 {
		t.Errorf("sampled %d of 100,000 keys at 1 %%", n)
	}
}

func TestReportRefusesWhatCannotBeVerified(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML+"    maxObjectSize: 1KiB\n"))
	good := "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	cases := []struct {
		name string
		obj  Reported
		want string
	}{
		{"an empty key", Reported{SHA256: good}, "it is empty"},
		{"a key with a line break", Reported{Key: "a\nb", SHA256: good}, "control character"},
		{"a key from the root", Reported{Key: "/a", SHA256: good}, "starts with /"},
		{"a short checksum", Reported{Key: "a", SHA256: "abc"}, "64 hex digits"},
		{"a negative size", Reported{Key: "a", SHA256: good, Size: size(-1)}, "out of range"},
		{"an object too large to read back", Reported{Key: "a", SHA256: good, Size: size(2048)}, "maxObjectSize"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := r.v.Report(context.Background(), []Reported{{Key: "fine", SHA256: good}, c.obj})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v; want ErrInvalid saying %q", err, c.want)
			}
		})
	}
	if st := r.status(); st.Pending != 0 {
		t.Errorf("a refused request scheduled %d objects", st.Pending)
	}
	w := newRig(t, testDef(t, "verifiers: [{name: w, target: {kind: blob, baseURL: http://x/}, writesPerMinute: 1}]"))
	if _, err := w.v.Report(context.Background(), nil); !errors.Is(err, ErrNotReported) {
		t.Errorf("a write verifier took a report: %v", err)
	}
}

func TestReportingAKeyTwiceSchedulesItOnce(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	obj := r.put("twice", []byte("y"))
	for i, want := range []ReportResult{{Accepted: 1, Sampled: 1}, {Accepted: 1, Known: 1}} {
		res, err := r.v.Report(context.Background(), []Reported{obj})
		if err != nil || res != want {
			t.Errorf("report %d: %+v, %v; want %+v", i, res, err, want)
		}
	}
}

func TestMaxPendingBoundsTheObjectsUnderWatch(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML+"    maxPending: 3\n"))
	var objs []Reported
	for i := range 5 {
		objs = append(objs, r.put(fmt.Sprint(i), []byte{byte(i)}))
	}
	res, err := r.v.Report(context.Background(), objs)
	if !errors.Is(err, ErrPendingFull) || res.Sampled != 3 {
		t.Errorf("%+v, %v; want 3 taken and ErrPendingFull", res, err)
	}
}

// flakyState fails a share of its writes, as a store does when its disk
// fills or its database restarts.
type flakyState struct {
	*memState
	rng  *rand.Rand
	rate float64
}

var errFlaky = errors.New("store: unavailable (test)")

func (f *flakyState) PutState(ctx context.Context, k string, v []byte) error {
	if f.rng.Float64() < f.rate {
		return errFlaky
	}
	return f.memState.PutState(ctx, k, v)
}

func (f *flakyState) DeleteStatePrefix(ctx context.Context, p string) (int64, error) {
	if f.rng.Float64() < f.rate {
		return 0, errFlaky
	}
	return f.memState.DeleteStatePrefix(ctx, p)
}

func TestAStoreFailingHalfwayThroughStepsLosesNoObjectAndCountsNoReadTwice(t *testing.T) {
	def := testDef(t, `verifiers:
  - name: backups
    target: {kind: blob, baseURL: http://127.0.0.1:1/}
    writesPerMinute: 2
    readAfter: [1m, 1h]
    canaryEvery: 20m
    readsPerSecond: 1000
`)
	r := newRig(t, def)
	flaky := &flakyState{memState: r.state, rng: rand.New(rand.NewPCG(7, 7)), rate: 0.05}
	r.v, _ = New(r.def, Options{Target: r.tgt, State: flaky, Sink: r.sink, Clock: r.clock.Now, Random: rand.NewChaCha8([32]byte{2})})
	failed := 0
	for range 180 {
		r.clock.Add(time.Minute)
		if err := r.v.Step(context.Background()); err != nil {
			failed++
			// Half the time the process dies with the error.
			if failed%2 == 0 {
				r.v, _ = New(r.def, Options{Target: r.tgt, State: flaky, Sink: r.sink, Clock: r.clock.Now, Random: rand.NewChaCha8([32]byte{byte(failed)})})
			}
		}
	}
	if failed < 10 {
		t.Fatalf("only %d steps failed; the test wants many", failed)
	}
	flaky.rate = 0
	r.def.WritesPerMinute = 0.0001 // let the schedule drain
	r.restart()
	r.run(3*time.Hour, time.Minute)
	st := r.status()
	ages := map[string]map[string]bool{}
	for _, e := range r.sink.events(DurabilitySLO("backups")) {
		if !e.Good {
			t.Errorf("bad read: %+v", e)
		}
		i := strings.LastIndex(e.ID, "/")
		if ages[e.ID[i:]] == nil {
			ages[e.ID[i:]] = map[string]bool{}
		}
		ages[e.ID[i:]][e.ID[:i]] = true
	}
	for obj := range ages["/0"] {
		if !ages["/1"][obj] {
			t.Errorf("object %s was read at 1m and never at 1h", obj)
		}
	}
	if len(ages["/0"]) < 200 {
		t.Errorf("%d objects read", len(ages["/0"]))
	}
	if keys := r.blob.Keys(); st.Pending != 0 || len(keys) != 0 || st.Failing {
		t.Errorf("after draining: %d pending, %d objects left on the target (%v), failing %v (%s)", st.Pending, len(keys), keys, st.Failing, st.FailingReason)
	}
	t.Logf("%d failed steps, %d events sent again and counted once", failed, r.sink.resent)
}

func TestShorteningReadAfterNeverDeletesAReportedObject(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML))
	obj := r.put("theirs", []byte("the application's own bytes"))
	if _, err := r.v.Report(context.Background(), []Reported{obj}); err != nil {
		t.Fatal(err)
	}
	r.run(2*time.Hour, time.Minute) // read at 1m and 1h
	r.def = testDef(t, strings.Replace(reportedYAML, "readsPerSecond: 1000", "readsPerSecond: 1000\n    readAfter: [1m, 1h]", 1))
	r.restart()
	r.run(23*time.Hour, 10*time.Minute) // its next read was due at 1d
	id, _ := r.v.objectID("theirs")
	if _, err := r.state.GetState(context.Background(), "verify/uploads/o/"+id); err == nil {
		t.Error("the object is still scheduled")
	}
	if keys := r.blob.Keys(); len(keys) != 1 || keys[0] != "theirs" {
		t.Errorf("keys %v: a reported object was deleted", keys)
	}
}

func TestAnObjectReportedWithoutItsSizeAndTooLargeIsNotCountedBad(t *testing.T) {
	r := newRig(t, testDef(t, reportedYAML+"    maxObjectSize: 1KiB\n"))
	big := r.put("big", make([]byte, 4096))
	big.Size = nil
	grown := r.put("grown", []byte("small"))
	if _, err := r.v.Report(context.Background(), []Reported{big, grown}); err != nil {
		t.Fatal(err)
	}
	r.put("grown", make([]byte, 4096)) // overwritten with more than it said
	r.run(2*time.Minute, time.Minute)
	evs := r.sink.events(DurabilitySLO("uploads"))
	if len(evs) != 1 || evs[0].Reason != OutcomeCorrupt {
		t.Errorf("events %+v; want only the grown object, corrupt", evs)
	}
	if st := r.status(); st.TooLarge != 1 || st.Ages[1].Pending != 1 {
		t.Errorf("too large %d, pending at 1h %d; want the big object out of the schedule", st.TooLarge, st.Ages[1].Pending)
	}
}

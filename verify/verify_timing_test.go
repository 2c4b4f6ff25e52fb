package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/verify/blobtest"
)

// storedRig is a reported verifier against the loopback blob server with
// nines' SQLite store as its State, as nines serve runs it.
func storedRig(tb testing.TB, objects int) (*Verifier, *clock, *sqlite.DB) {
	tb.Helper()
	c := &clock{t: epoch}
	blob := blobtest.New(c.Now)
	tb.Cleanup(blob.Close)
	db, err := sqlite.Open(context.Background(), tb.TempDir(), sqlite.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	d := &Definition{Name: "bench", Mode: ModeReported, SampleRate: 1, ReadAfter: DefaultReadAfter(), Heartbeat: time.Minute,
		CanaryEvery: 30 * 24 * time.Hour, CanaryDeadline: time.Hour, Concurrency: 8, ReadsPerSecond: 1e6, Timeout: 10 * time.Second,
		MaxObjectSize: 1 << 20, MaxPending: 10_000_000, ObjectSize: 4 << 10, KeyPrefix: "bench/"}
	tgt := &BlobTarget{Base: blob.URL + "/", Client: blob.Client(), MaxObject: d.MaxObjectSize}
	v, err := New(d, Options{Target: tgt, State: db, Sink: newSink(), Clock: c.Now})
	if err != nil {
		tb.Fatal(err)
	}
	data := make([]byte, 4<<10)
	sum := sha256.Sum256(data)
	var batch []Reported
	for i := range objects {
		key := fmt.Sprintf("objects/%08d", i)
		if err := tgt.Put(context.Background(), key, data); err != nil {
			tb.Fatal(err)
		}
		batch = append(batch, Reported{Key: key, SHA256: hex.EncodeToString(sum[:]), Size: size(int64(len(data)))})
		if len(batch) == 10_000 || i == objects-1 {
			if _, err := v.Report(context.Background(), batch); err != nil {
				tb.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return v, c, db
}

// BenchmarkVerifierReads times the 1m reads of b.N 4 KiB objects from
// the loopback blob server, each compared, recorded and rescheduled in
// SQLite (an fsync at every state write), eight requests at a time.
func BenchmarkVerifierReads(b *testing.B) {
	v, c, _ := storedRig(b, b.N)
	c.Add(2 * time.Minute)
	b.ResetTimer()
	start := time.Now()
	for v.st.Done[0][0] < int64(b.N) {
		if err := v.Step(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "reads/s")
}

// TestPendingReadsFootprint measures what 100,000 pending reads cost:
// the verifier's heap (the schedule is in the store) and the store's
// bytes. Run with NINES_VERIFY_FIGURES=1 (it takes a minute).
func TestPendingReadsFootprint(t *testing.T) {
	if os.Getenv("NINES_VERIFY_FIGURES") == "" {
		t.Skip("set NINES_VERIFY_FIGURES=1 to measure")
	}
	ctx := context.Background()
	var m0, m1 runtime.MemStats
	size0 := int64(0)
	start := time.Now()
	v, c, db := storedRig(t, 100_000)
	took := time.Since(start)
	size1, _ := db.Size(ctx)
	// A fresh verifier on the same store: what a restart holds.
	runtime.GC()
	runtime.ReadMemStats(&m0)
	v2, err := New(v.def, Options{Target: v.o.Target, State: db, Sink: newSink(), Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	st, err := v2.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	loadTook := time.Since(t0)
	runtime.GC()
	runtime.ReadMemStats(&m1)
	t.Logf("100,000 pending: reported and scheduled in %s; store %.1f MiB (%.0f bytes per pending read); a restart counts them in %s and holds %d bytes more heap",
		took.Round(time.Millisecond), float64(size1-size0)/(1<<20), float64(size1-size0)/1e5, loadTook.Round(time.Millisecond), int64(m1.HeapAlloc)-int64(m0.HeapAlloc))
	if st.Pending != 100_000 {
		t.Errorf("%d pending", st.Pending)
	}
	runtime.KeepAlive(v2)
}

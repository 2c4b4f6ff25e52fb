package metrics_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
)

// changeSources read counters, a classic histogram per pod, a native
// histogram and delta counters, so that every kind of baseline and open
// quantum goes through records.
func changeSources(t testing.TB) []metrics.SLISource {
	return []metrics.SLISource{
		{Name: "counters", Good: sel(`ok_total`), Total: sel(`all_total`)},
		{Name: "classic", SLI: slo.SLI{Latency: latencyRule(t, "<=10ms")}, Histogram: sel(`lat_seconds`)},
		{Name: "native", SLI: slo.SLI{Latency: latencyRule(t, "<=5ms")}, Histogram: sel(`nat_seconds`)},
		{Name: "deltas", Good: sel(`d_ok`), Total: sel(`d_all`)},
	}
}

func newChangeCollector(t testing.TB) *metrics.Collector {
	t.Helper()
	c, err := metrics.NewCollector(metrics.Config{Sources: changeSources(t), IdleTimeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// changeStream is what a Prometheus and an OTLP exporter send over 12
// minutes, scraped every 10 s: each scrape in two requests that split
// the classic histograms' buckets, a counter reset, a stale marker, a
// pod that goes away (and is forgotten when idle) and one that comes.
func changeStream() (reqs [][]metrics.Series, times []int64) {
	les := []string{"0.005", "0.01", "+Inf"}
	for i := range 72 {
		tm := t0 + int64(i)*10*sec
		k := float64(i*i + 3*i)
		ok, all := 10*k, 11*k
		if i >= 40 {
			ok, all = 10*float64(i-40), 11*float64(i-40) // the process restarted
		}
		var a, b []metrics.Series
		a = append(a, counter(ls("ok_total"), tm, ok), counter(ls("all_total"), tm, all))
		if i == 20 {
			a[0].Samples[0].V = metrics.StaleNaN
		}
		for pod := range 3 {
			if pod == 0 && i >= 30 || pod == 2 && i < 10 {
				continue
			}
			extra := []string{"pod", fmt.Sprint(pod)}
			buckets := classic("lat_seconds", extra, tm, les, []float64{k, 2*k + float64(pod), 3*k + float64(2*pod)})
			a = append(a, buckets[:2]...)
			b = append(b, buckets[2:]...)
		}
		b = append(b, native(ls("nat_seconds"), tm, 1, k, map[int32]float64{-15: k, -16: 2 * k, -10: k}))
		b = append(b,
			metrics.Series{Labels: ls("d_ok"), Temporality: metrics.Delta, Samples: []metrics.Sample{{T: tm, V: float64(i % 7)}}},
			metrics.Series{Labels: ls("d_all"), Temporality: metrics.Delta, Samples: []metrics.Sample{{T: tm, V: float64(i%7 + i%3)}}})
		reqs = append(reqs, a, b)
		times = append(times, tm+2*sec, tm+4*sec)
	}
	return reqs, times
}

// horizon is the flush horizon of a request at ms: quanta held 30 s.
func horizon(ms int64) int64 { return ns(ms - 30*sec) }

// begin opens a change of series and flushes it to before, as a server
// does with one request.
func begin(t testing.TB, c *metrics.Collector, series []metrics.Series, before int64) *metrics.Change {
	t.Helper()
	ch, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ch.Add(series)
	if before != math.MinInt64 {
		ch.Flush(before)
	}
	return ch
}

func state(t *testing.T, c *metrics.Collector) []byte {
	t.Helper()
	s, err := c.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRecordsRebuildTheCollector runs the stream through a Collector the
// way nines serve does (a Change per request, its record stored with its
// results, every fourth request failing once and retried), and checks
// that:
//   - a rolled-back change leaves the state byte for byte as it was;
//   - the results equal those of a Collector that never failed;
//   - a Collector rebuilt from a state saved halfway and the records
//     since holds the same state, byte for byte, at every record: a crash
//     at any point loses nothing and counts nothing twice.
func TestRecordsRebuildTheCollector(t *testing.T) {
	reqs, times := changeStream()
	ref := newChangeCollector(t)
	var want []metrics.Result
	for i, r := range reqs {
		ref.Add(r)
		res, _ := ref.Flush(horizon(times[i]))
		want = append(want, res...)
	}
	last, _ := ref.Flush(math.MaxInt64)
	want = append(want, last...)

	live := newChangeCollector(t)
	var got []metrics.Result
	var saved []byte
	var records [][]byte
	var states [][]byte // live's state after each record
	for i, r := range reqs {
		if i%4 == 3 {
			before := state(t, live)
			ch := begin(t, live, r, horizon(times[i]))
			_ = ch.AppendRecord(nil)
			ch.Rollback()
			if after := state(t, live); !bytes.Equal(before, after) {
				t.Fatalf("request %d: the state after a rollback differs from the one before", i)
			}
		}
		ch := begin(t, live, r, horizon(times[i]))
		rec := ch.AppendRecord(nil)
		ch.Commit()
		got = append(got, ch.Results...)
		if i == 33 {
			saved = state(t, live)
			live.MarkLogged()
			continue
		}
		if saved != nil {
			records = append(records, rec)
			states = append(states, state(t, live))
		}
	}
	end, _ := live.Flush(math.MaxInt64)
	got = append(got, end...)
	if !slices.Equal(flatten(got), flatten(want)) {
		t.Errorf("results with failures and retries\n got %+v\nwant %+v", flatten(got), flatten(want))
	}
	for i := range want {
		if i < len(got) && !got[i].Rollup.Latency.Equal(&want[i].Rollup.Latency) {
			t.Errorf("result %d: latency histograms differ", i)
		}
	}

	rebuilt := newChangeCollector(t)
	if err := rebuilt.UnmarshalState(saved); err != nil {
		t.Fatal(err)
	}
	rebuilt.MarkLogged()
	for i, rec := range records {
		if err := rebuilt.ApplyRecord(rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(state(t, rebuilt), states[i]) {
			t.Fatalf("after record %d the rebuilt state differs from the live one", i)
		}
	}
	// Counters, 2 pods × 3 buckets, the native histogram and the deltas;
	// pod 0's buckets were forgotten when idle, as live.
	if n := rebuilt.NumSeries(); n != 11 {
		t.Errorf("%d series rebuilt, want 11", n)
	}
}

// A request's record costs what the request carries: once a series' labels
// are stored, a counter sample takes about four bytes.
func TestRecordFollowsTheRequest(t *testing.T) {
	c := newCollector(t, metrics.SLISource{Name: "s", Bad: sel(`req_total{code="500"}`), Total: sel(`req_total`)})
	scrape := func(k int) []metrics.Series {
		var out []metrics.Series
		for i := range 1000 {
			out = append(out, counter(ls("req_total", "code", fmt.Sprint(200+i%4*100), "instance", fmt.Sprintf("10.0.%d.%d:8080", i/250, i%250)), t0+int64(k)*15*sec, float64(1000+k*i)))
		}
		return out
	}
	size := func(k int) int {
		ch := begin(t, c, scrape(k), math.MinInt64)
		n := len(ch.AppendRecord(nil))
		ch.Commit()
		return n
	}
	first, second := size(0), size(1)
	if per := float64(second) / 1000; per > 5 {
		t.Errorf("a request of 1,000 known series takes %d bytes, %.1f a series; want at most 5", second, per)
	}
	if first < 40_000 {
		t.Errorf("the first request, with every series' labels, takes %d bytes; want them all in it", first)
	}
}

// TestApplyRecordRefusesWhatItCannotApply: a record for another state, a
// truncated one, one of another quantum and garbage are refused, and the
// Collector is left as it was.
func TestApplyRecordRefusesWhatItCannotApply(t *testing.T) {
	reqs, times := changeStream()
	src := newChangeCollector(t)
	var recs [][]byte
	for i := range 4 {
		ch := begin(t, src, reqs[i], horizon(times[i]))
		recs = append(recs, ch.AppendRecord(nil))
		ch.Commit()
	}
	dst := newChangeCollector(t)
	if err := dst.ApplyRecord(recs[0]); err != nil {
		t.Fatal(err)
	}
	dst.MarkLogged()
	before := state(t, dst)
	other, _ := metrics.NewCollector(metrics.Config{Sources: changeSources(t), Quantum: 10 * time.Second})
	oc := begin(t, other, reqs[0], math.MinInt64)
	otherRec := oc.AppendRecord(nil)
	for _, c := range []struct {
		name, want string
		rec        []byte
	}{
		{"A record naming series by ids this state lacks.", "does not hold", recs[3]},
		{"A truncated record.", "", recs[1][:len(recs[1])-5]},
		{"A record with bytes after its end.", "after the end", append(slices.Clone(recs[1]), 1)},
		{"A record of another quantum.", "quantum", otherRec},
		{"Not a record.", "not a nines collector record", []byte("nines-metrics-state\x02")},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := dst.ApplyRecord(c.rec)
			if !errors.Is(err, metrics.ErrState) || c.want != "" && !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Fatalf("ApplyRecord = %v, want ErrState saying %q", err, c.want)
			}
			if !bytes.Equal(state(t, dst), before) {
				t.Fatal("a refused record changed the collector")
			}
		})
	}
	if err := dst.ApplyRecord(recs[1]); err != nil {
		t.Fatalf("the next record after the refused ones: %v", err)
	}
}

func TestOneChangeAtATime(t *testing.T) {
	c := newChangeCollector(t)
	ch, err := c.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Begin(); !errors.Is(err, metrics.ErrChangeOpen) {
		t.Errorf("a second Begin: %v", err)
	}
	if rep := c.Add([]metrics.Series{counter(ls("ok_total"), t0, 1)}); len(rep.Problems) != 1 || !errors.Is(rep.Problems[0], metrics.ErrChangeOpen) {
		t.Errorf("Add during a change: %v", rep.Problems)
	}
	if _, err := c.MarshalState(); !errors.Is(err, metrics.ErrChangeOpen) {
		t.Errorf("MarshalState during a change: %v", err)
	}
	ch.Flush(math.MaxInt64)
	if rep := ch.Add(nil); len(rep.Problems) != 1 || !errors.Is(rep.Problems[0], metrics.ErrFlushed) {
		t.Errorf("Add after the change's Flush: %v", rep.Problems)
	}
	ch.Commit()
	ch.Rollback() // ended: does nothing
	if _, err := c.Begin(); err != nil {
		t.Errorf("Begin after the change ended: %v", err)
	}
}

func FuzzApplyRecord(f *testing.F) {
	reqs, times := changeStream()
	c := newChangeCollector(f)
	for i := range 6 {
		ch := begin(f, c, reqs[i], horizon(times[i]))
		f.Add(ch.AppendRecord(nil))
		ch.Commit()
	}
	f.Fuzz(func(t *testing.T, rec []byte) {
		d := newChangeCollector(t)
		if err := d.ApplyRecord(rec); err != nil {
			return
		}
		// Whatever was accepted must work: take samples, flush, marshal
		// and read back.
		d.Add([]metrics.Series{counter(ls("ok_total"), t0+time.Hour.Milliseconds(), 5)})
		d.Flush(math.MaxInt64)
		s, err := d.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		if err := newChangeCollector(t).UnmarshalState(s); err != nil {
			t.Fatalf("the state after an accepted record does not read back: %v", err)
		}
	})
}

// TestOneChangeOfSeveralRequests: the requests of a group commit, added
// to one change in the order they came, count as they would one change
// each, and the record of the group rebuilds the same state.
func TestOneChangeOfSeveralRequests(t *testing.T) {
	reqs, times := changeStream()
	one := newChangeCollector(t)
	var want []metrics.Result
	for i, r := range reqs {
		ch := begin(t, one, r, horizon(times[i]))
		ch.Commit()
		want = append(want, ch.Results...)
	}
	grouped := newChangeCollector(t)
	rebuilt := newChangeCollector(t)
	var got []metrics.Result
	for i := 0; i < len(reqs); i += 3 {
		ch, err := grouped.Begin()
		if err != nil {
			t.Fatal(err)
		}
		last := min(i+3, len(reqs))
		for _, r := range reqs[i:last] {
			if rep := ch.Add(r); rep.Samples == 0 {
				t.Fatal("a request's report counts no samples")
			}
		}
		ch.Flush(horizon(times[last-1]))
		rec := ch.AppendRecord(nil)
		ch.Commit()
		got = append(got, ch.Results...)
		if err := rebuilt.ApplyRecord(rec); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(state(t, rebuilt), state(t, grouped)) {
		t.Error("the records of grouped changes do not rebuild the state")
	}
	end1, _ := one.Flush(math.MaxInt64)
	end2, _ := grouped.Flush(math.MaxInt64)
	sum := func(rs []metrics.Result) map[string]uint64 {
		m := map[string]uint64{}
		for _, r := range rs {
			m[r.SLI+" attempted"] += r.Rollup.Attempted
			m[r.SLI+" good"] += r.Rollup.Good
		}
		return m
	}
	if a, b := sum(append(want, end1...)), sum(append(got, end2...)); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("grouped requests count %v, one at a time %v", b, a)
	}
}

// TestVersion1StateIsRead: a state saved by nines before durable records
// (version 1: floats, no ids) still restores baselines and open quanta.
func TestVersion1StateIsRead(t *testing.T) {
	c := newCollector(t, metrics.SLISource{Name: "s", Good: sel(`ok`), Total: sel(`all`)})
	var b []byte
	b = append(b, "nines-metrics-state\x01"...)
	b = binary.AppendVarint(b, int64(time.Minute))
	b = append(b, 1)                      // anySample
	b = binary.AppendVarint(b, t0+10*sec) // newestMs
	b = binary.AppendVarint(b, math.MinInt64)
	b = binary.AppendUvarint(b, 2)
	for _, s := range []struct {
		name string
		v    float64
	}{{"ok", 90}, {"all", 100}} {
		b = binary.AppendUvarint(b, 1)
		for _, x := range []string{"__name__", s.name} {
			b = binary.AppendUvarint(b, uint64(len(x)))
			b = append(b, x...)
		}
		b = append(b, byte(metrics.TypeUnknown), 0) // type, unit ""
		b = append(b, 1<<1|1<<2)                    // seen, has
		b = binary.AppendVarint(b, t0+10*sec)
		b = binary.AppendVarint(b, t0+10*sec)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.v))
		b = binary.AppendVarint(b, 0)
	}
	// One open quantum of s: 5 good of 6.
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendUvarint(b, 1)
	b = append(b, 's')
	b = binary.AppendUvarint(b, 1)
	b = binary.AppendVarint(b, ns(t0))
	b = append(b, 1)
	for _, v := range []float64{5, 0, 6, 0, 0, 0, 0} {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	var h hist.Histogram
	lat := h.AppendBinary(nil)
	b = binary.AppendUvarint(b, uint64(len(lat)))
	b = append(b, lat...)
	b = binary.AppendUvarint(b, 0) // no classic histograms
	if err := c.UnmarshalState(b); err != nil {
		t.Fatal(err)
	}
	c.Add([]metrics.Series{counter(ls("ok"), t0+20*sec, 99), counter(ls("all"), t0+20*sec, 110)})
	res, _ := c.Flush(math.MaxInt64)
	checkFlat(t, res, []flat{{Start: ns(t0), Attempted: 16, Good: 14, Measured: true}})
}

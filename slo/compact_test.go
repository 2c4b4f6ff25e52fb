package slo

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
)

// compactTwin folds the same events into a plain Aggregator and into two
// aggregators that spill into one Compact, each event to a random one of
// the two, in time order or shuffled, so that many quanta are spilled in
// several records that Seal must merge.
//
// With a file, the Compact keeps no more than a slab of its pages in
// memory and the rest in file.
func compactTwin(t *testing.T, sli *SLI, quantum time.Duration, events []Event, shuffle bool, file PageFile) (full, compact *Series) {
	t.Helper()
	plain := NewAggregator(sli, quantum)
	c := NewCompact(quantum)
	if file != nil {
		c.KeepPagesIn(file, slabSize)
	}
	a, b := NewAggregator(sli, quantum), NewAggregator(sli, quantum)
	a.SpillTo(c)
	b.SpillTo(c)
	r := rand.New(rand.NewPCG(3, 4))
	order := r.Perm(len(events))
	if !shuffle {
		slices.SortFunc(events, func(x, y Event) int { return cmpInt64(x.Time, y.Time) })
		for i := range order {
			order[i] = i
		}
	}
	for _, i := range order {
		e := events[i]
		errPlain := plain.Add(&e)
		dst := a
		if r.IntN(2) == 0 {
			dst = b
		}
		errSpill := dst.Add(&e)
		if (errPlain == nil) != (errSpill == nil) {
			t.Fatalf("event %+v: plain aggregator says %v, spilling one %v", e, errPlain, errSpill)
		}
		if dst.Len() > spillAfter {
			t.Fatalf("a spilling aggregator holds %d quanta, more than %d", dst.Len(), spillAfter)
		}
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	compact, err := a.CompactSeries()
	if err != nil {
		t.Fatal(err)
	}
	return plain.Series(), compact
}

// spanEvents draws n events over span from start: bursts and gaps, some
// failures, some without a latency, a few with a count of zero or many.
func spanEvents(r *rand.Rand, start time.Time, span time.Duration, n int) []Event {
	events := make([]Event, 0, n)
	for range n {
		at := start.Add(time.Duration(r.Int64N(int64(span))))
		if r.IntN(4) == 0 { // a busy hour
			at = start.Add(span/3 + time.Duration(r.Int64N(int64(time.Hour))))
		}
		e := Event{Time: at.UnixNano(), Status: 200, Count: 1, Latency: 0.003 * math.Exp(0.8*r.NormFloat64())}
		switch r.IntN(20) {
		case 0:
			e.Status = 503
		case 1:
			e.Latency = math.NaN()
		case 2:
			e.Count = 0
		case 3:
			e.Count = uint64(r.IntN(1000))
		case 4:
			e.Latency = 0
		}
		events = append(events, e)
	}
	return events
}

// describe prints a result with its histogram left out, NaNs and all, so
// that two results can be compared whole; equalResults checks the
// histograms apart.
func describe(r *Result) string {
	c := *r
	c.Latency.Histogram = Result{}.Latency.Histogram
	return fmt.Sprintf("%+v", c)
}

func TestCompactSeriesEvaluatesLikeTheFullSeries(t *testing.T) {
	rule := LatencyRule{Threshold: 0.005, Inclusive: true}
	status, err := ParseStatusRule("<500")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 20, 13, 7, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		shuffle bool
		quantum time.Duration
		span    time.Duration
		events  int
		window  WindowSpec
		method  Method
		noData  NoData
		since   time.Time
	}{
		{"Calendar days over 40 days of minutes, sparse, in time order.", false, time.Minute, 40 * 24 * time.Hour, 20000, WindowSpec{Calendar: Day, Location: time.UTC}, Quanta, NoDataBad, time.Time{}},
		{"Berlin weeks across a change of summer time.", true, time.Minute, 20 * 24 * time.Hour, 20000, WindowSpec{Calendar: Week, Location: berlin}, TimeQuanta, NoDataSkip, time.Time{}},
		{"A rolling week of 5-minute quanta with a spec start.", true, 5 * time.Minute, 30 * 24 * time.Hour, 10000, WindowSpec{Rolling: 7 * 24 * time.Hour}, DowntimeMinutes, NoDataGood, start.Add(50 * time.Hour)},
		{"Calendar months of dense 10-second quanta.", true, 10 * time.Second, 3 * 24 * time.Hour, 50000, WindowSpec{Calendar: Month, Location: time.UTC}, Transactions, NoDataBad, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &SLO{
				Name: "twin", SLI: SLI{Status: status, Latency: &rule}, Objective: Ratio{999, 1000},
				QuantumObjective: Ratio{99, 100}, Method: tc.method, Quantum: tc.quantum, Window: tc.window,
				NoData: tc.noData, Since: tc.since,
			}
			r := rand.New(rand.NewPCG(uint64(tc.events), 9))
			file := &memFile{}
			full, compact := compactTwin(t, &s.SLI, s.Quantum, spanEvents(r, start, tc.span, tc.events), tc.shuffle, nil)
			_, inFile := compactTwin(t, &s.SLI, s.Quantum, spanEvents(rand.New(rand.NewPCG(uint64(tc.events), 9)), start, tc.span, tc.events), tc.shuffle, file)
			if len(file.b) == 0 {
				t.Fatal("nothing was written to the page file")
			}
			first, last, ok := full.Span()
			cf, cl, cok := compact.Span()
			if first != cf || last != cl || ok != cok {
				t.Fatalf("Span: full %d, %d, %v; compact %d, %d, %v", first, last, ok, cf, cl, cok)
			}
			full.Since, compact.Since, inFile.Since = LifeStart(s, full), LifeStart(s, compact), LifeStart(s, inFile)
			if full.Since != compact.Since {
				t.Fatalf("LifeStart: full %d, compact %d", full.Since, compact.Since)
			}
			end := time.Unix(0, last).UTC()
			for _, at := range []time.Time{end, end.Add(-tc.span / 3).Truncate(s.Quantum), end.Add(-tc.span / 2).Truncate(s.Quantum).Add(time.Second)} {
				windows := s.Window.Covering(time.Unix(0, first), at)
				if s.Window.Calendar == NotCalendar {
					windows = []Window{s.Window.Containing(at)}
				}
				for _, w := range windows {
					want, errFull := Evaluate(s, full, w, at)
					got, err := Evaluate(s, compact, w, at)
					if fmt.Sprint(err) != fmt.Sprint(errFull) {
						t.Fatalf("window %s at %s: compact says %v, full %v", w, at, err, errFull)
					}
					if err != nil {
						continue // a rolling window ending between quanta
					}
					if describe(got) != describe(want) || !got.Latency.Histogram.Equal(&want.Latency.Histogram) {
						t.Fatalf("window %s at %s:\ncompact %s\nfull    %s", w, at, describe(got), describe(want))
					}
					if got, err := Evaluate(s, inFile, w, at); err != nil || describe(got) != describe(want) || !got.Latency.Histogram.Equal(&want.Latency.Histogram) {
						t.Fatalf("window %s at %s (%v):\nin a file %s\nfull      %s", w, at, err, describe(got), describe(want))
					}
					has := want.Quanta.Elapsed > want.Quanta.Unmeasured
					if Measured(s, full, w, at) != has || Measured(s, compact, w, at) != has {
						t.Fatalf("window %s at %s: Measured full %v, compact %v; the evaluation has %d elapsed quanta, %d unmeasured",
							w, at, Measured(s, full, w, at), Measured(s, compact, w, at), want.Quanta.Elapsed, want.Quanta.Unmeasured)
					}
				}
				q := QuantumStart(at.UnixNano(), s.Quantum)
				for _, span := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 3 * 24 * time.Hour} {
					from, to := time.Unix(0, q).Add(-span), time.Unix(0, q)
					want, errFull := BurnRate(s, full, from, to)
					got, errCompact := BurnRate(s, compact, from, to)
					if fmt.Sprint(got, errCompact) != fmt.Sprint(want, errFull) {
						t.Fatalf("burn rate over %s to %s: compact %v (%v), full %v (%v)", span, to, got, errCompact, want, errFull)
					}
				}
			}
		})
	}
}

func TestCompactSealRefusesACountPastTheLimit(t *testing.T) {
	var sli SLI
	c := NewCompact(time.Minute)
	a, b := NewAggregator(&sli, time.Minute), NewAggregator(&sli, time.Minute)
	a.SpillTo(c)
	b.SpillTo(c)
	e := Event{Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Count: math.MaxUint64 - 1, Latency: math.NaN()}
	if err := a.Add(&e); err != nil {
		t.Fatal(err)
	}
	e.Count = 2
	if err := b.Add(&e); err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CompactSeries(); !errors.Is(err, ErrOverflow) {
		t.Fatalf("CompactSeries = %v, want an error wrapping ErrOverflow", err)
	}
}

func TestCompactSeriesOfAnAggregatorThatDoesNotSpill(t *testing.T) {
	var sli SLI
	if _, err := NewAggregator(&sli, time.Minute).CompactSeries(); err == nil {
		t.Fatal("CompactSeries of a plain aggregator: no error")
	}
}

func TestCompactOfNothing(t *testing.T) {
	var sli SLI
	a := NewAggregator(&sli, time.Minute)
	a.SpillTo(NewCompact(time.Minute))
	s, err := a.CompactSeries()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := s.Span(); ok {
		t.Error("Span of no rollups says ok")
	}
	if got := LifeStart(&SLO{Quantum: time.Minute}, s); got != NotStarted {
		t.Errorf("LifeStart = %d, want NotStarted", got)
	}
}

func TestMeasuredSaysWhetherAWindowHasData(t *testing.T) {
	var sli SLI
	s := &SLO{SLI: sli, Quantum: time.Minute, Window: WindowSpec{Calendar: Day, Location: time.UTC}}
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	// Data on the 1st and the 3rd, around page edges of the compact form,
	// and a quantum on the 4th that only says "no traffic" (Count 0 is
	// still measured).
	var events []Event
	for _, at := range []time.Time{day(1).Add(10 * time.Hour), day(3).Add(17*time.Hour + 3*time.Minute), day(3).Add(23*time.Hour + 59*time.Minute), day(4).Add(time.Hour)} {
		events = append(events, Event{Time: at.UnixNano(), Status: 200, Count: 1, Latency: 0.001})
	}
	events[3].Count = 0
	full, compact := compactTwin(t, &s.SLI, s.Quantum, events, false, nil)
	for _, series := range []*Series{full, compact} {
		series.Since = LifeStart(s, series)
		for _, tc := range []struct {
			name string
			w    Window
			at   time.Time
			want bool
		}{
			{"A day with a request is measured.", Window{day(1), day(2)}, day(5), true},
			{"A day with no line is not.", Window{day(2), day(3)}, day(5), false},
			{"A day whose only requests come after the evaluation time is not.", Window{day(3), day(4)}, day(3).Add(17 * time.Hour), false},
			{"The quantum the evaluation time falls in counts.", Window{day(3), day(4)}, day(3).Add(17*time.Hour + 3*time.Minute + time.Second), true},
			{"A quantum of no traffic is measured.", Window{day(4), day(5)}, day(5), true},
			{"A window before the SLO's life is not.", Window{day(1).Add(-24 * time.Hour), day(1)}, day(5), false},
		} {
			if got := Measured(s, series, tc.w, tc.at); got != tc.want {
				t.Errorf("%s (compact %v) Measured = %v, want %v", tc.name, series.compact != nil, got, tc.want)
			}
			r, err := Evaluate(s, series, tc.w, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if has := r.Quanta.Elapsed > r.Quanta.Unmeasured; has != tc.want {
				t.Errorf("%s Evaluate has elapsed %d, unmeasured %d: the test's expectation is wrong", tc.name, r.Quanta.Elapsed, r.Quanta.Unmeasured)
			}
		}
	}
}

// The compact form written from bin codes, for quanta of few events, is
// the histogram's own, byte for byte, whatever the values, their counts
// and their order; and a value the histogram refuses is refused.
func TestSparseLatenciesWriteTheHistogramsForm(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	values := []float64{0, 1e-9, 0.001, 0.0015, 0.003, 0.003, 0.0049, 0.005, 0.0051, 0.2, 1, 59.9, 3600, 1e-300, math.Inf(1), math.MaxFloat64}
	var sp sparseLatencies
	for round := range 2000 {
		var want Rollup
		want.Start = int64(round)
		var samples []sample
		for range 1 + r.IntN(sparseEvents) {
			v := values[r.IntN(len(values))]
			if r.IntN(3) == 0 {
				v = 0.003 * math.Exp(r.NormFloat64())
			}
			n := uint64(1 + r.IntN(3))
			holds := want.Latency.InsertN(v, n) == nil
			code := sp.code(v)
			if holds != (code != 0) {
				t.Fatalf("value %g: the histogram holds it: %v; its code is %d", v, holds, code)
			}
			if code != 0 {
				samples = append(samples, sample{start: want.Start, code: code, n: n})
			}
		}
		got, rest := sp.appendCompact(nil, &Rollup{Start: want.Start}, samples)
		if len(rest) != 0 {
			t.Fatalf("round %d: %d samples left over", round, len(rest))
		}
		if w := want.Latency.AppendCompact(nil); !slices.Equal(got, w) {
			t.Fatalf("round %d: from codes % x, histogram % x", round, got, w)
		}
	}
}

// memFile is a PageFile in memory, which can be made to fail.
type memFile struct {
	b          []byte
	failWrite  bool
	failRead   bool
	reads, wrs int
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if f.failWrite {
		return 0, errors.New("disk full")
	}
	f.wrs++
	if end := int(off) + len(p); end > len(f.b) {
		f.b = append(f.b, make([]byte, end-len(f.b))...)
	}
	return copy(f.b[off:], p), nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.failRead {
		return 0, errors.New("I/O error")
	}
	f.reads++
	if int(off)+len(p) > len(f.b) {
		return 0, io.ErrUnexpectedEOF
	}
	return copy(p, f.b[off:]), nil
}

func TestCompactPageFileFailures(t *testing.T) {
	var sli SLI
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	events := spanEvents(rand.New(rand.NewPCG(7, 8)), start, 200*24*time.Hour, 30000)
	t.Run("A write that fails ends the read with its error.", func(t *testing.T) {
		c := NewCompact(time.Minute)
		c.KeepPagesIn(&memFile{failWrite: true}, slabSize)
		a := NewAggregator(&sli, time.Minute)
		a.SpillTo(c)
		for i := range events {
			_ = a.Add(&events[i])
		}
		if _, err := a.CompactSeries(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("CompactSeries = %v, want the write's error", err)
		}
	})
	t.Run("A read that fails after Seal is kept for Series.Err.", func(t *testing.T) {
		f := &memFile{}
		c := NewCompact(time.Minute)
		c.KeepPagesIn(f, slabSize)
		a := NewAggregator(&sli, time.Minute)
		a.SpillTo(c)
		for i := range events {
			_ = a.Add(&events[i])
		}
		series, err := a.CompactSeries()
		if err != nil {
			t.Fatal(err)
		}
		if series.Err() != nil {
			t.Fatalf("Err before any failure: %v", series.Err())
		}
		f.failRead = true
		s := &SLO{SLI: sli, Quantum: time.Minute, Objective: Ratio{99, 100}, Window: WindowSpec{Rolling: 200 * 24 * time.Hour}}
		first, last, _ := series.Span()
		w := Window{Start: time.Unix(0, first), End: time.Unix(0, last)}
		if _, err := Evaluate(s, series, w, w.End); err != nil {
			t.Fatal(err)
		}
		if err := series.Err(); err == nil || !strings.Contains(err.Error(), "I/O error") {
			t.Fatalf("Err = %v, want the read's error", err)
		}
	})
}

// Two workers reading a log in time order, block by block, cut a minute
// in two at each block's end: Seal then splices the minute's two records
// between the segments instead of writing the page again, and the series
// still evaluates as the full one does.
func TestCompactSplicesAMinuteCutBetweenBlocks(t *testing.T) {
	rule := LatencyRule{Threshold: 0.005, Inclusive: true}
	status, err := ParseStatusRule("<500")
	if err != nil {
		t.Fatal(err)
	}
	s := &SLO{
		Name: "blocks", SLI: SLI{Status: status, Latency: &rule}, Objective: Ratio{999, 1000}, QuantumObjective: Ratio{99, 100},
		Method: Quanta, Quantum: time.Minute, Window: WindowSpec{Calendar: Day, Location: time.UTC}, NoData: NoDataBad,
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(11, 12))
	var events []Event
	for i := range 30000 { // about three a minute for a week
		at := start.Add(time.Duration(i) * 20 * time.Second).Add(time.Duration(r.IntN(20)) * time.Second)
		events = append(events, Event{Time: at.UnixNano(), Status: 200 + 303*int(r.IntN(50)/49), Count: 1, Latency: 0.003 * math.Exp(r.NormFloat64())})
	}
	for _, file := range []PageFile{nil, &memFile{}} {
		plain := NewAggregator(&s.SLI, s.Quantum)
		c := NewCompact(s.Quantum)
		if file != nil {
			c.KeepPagesIn(file, slabSize)
		}
		workers := [2]*Aggregator{NewAggregator(&s.SLI, s.Quantum), NewAggregator(&s.SLI, s.Quantum)}
		for _, a := range workers {
			a.SpillTo(c)
		}
		// Blocks of 500 events, to one worker and the next in turn; a
		// block's last minute goes on in the next block.
		for i := range events {
			if err := plain.Add(&events[i]); err != nil {
				t.Fatal(err)
			}
			if err := workers[i/500%2].Add(&events[i]); err != nil {
				t.Fatal(err)
			}
		}
		if err := workers[0].Merge(workers[1]); err != nil {
			t.Fatal(err)
		}
		compact, err := workers[0].CompactSeries()
		if err != nil {
			t.Fatal(err)
		}
		spliced := 0
		for k := range c.keys {
			for _, seg := range c.segs[c.starts[k]:c.starts[k+1]] {
				if seg.first == seg.last && c.starts[k+1]-c.starts[k] >= 3 {
					spliced++
				}
			}
		}
		if spliced == 0 {
			t.Fatal("no page was spliced")
		}
		full := plain.Series()
		full.Since, compact.Since = LifeStart(s, full), LifeStart(s, compact)
		first, last, _ := full.Span()
		at := time.Unix(0, last).UTC()
		for _, w := range s.Window.Covering(time.Unix(0, first), at) {
			want, err := Evaluate(s, full, w, at)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Evaluate(s, compact, w, at)
			if err != nil {
				t.Fatal(err)
			}
			if describe(got) != describe(want) || !got.Latency.Histogram.Equal(&want.Latency.Histogram) {
				t.Fatalf("window %s (file %v):\ncompact %s\nfull    %s", w, file != nil, describe(got), describe(want))
			}
		}
	}
}

// Summing compact histograms bin by bin and merging once gives the
// histogram that merging each gives, bit for bit: bins over many decades
// (so that the table's slots are contended), the zero bin, and counts
// that saturate.
func TestCodeSumsMergeAsEachForm(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for round := range 200 {
		var want, got hist.Histogram
		var cs codeSums
		for range 1 + r.IntN(300) {
			var h hist.Histogram
			for range 1 + r.IntN(5) {
				v := math.Pow(10, -9+12*r.Float64())
				if r.IntN(20) == 0 {
					v = 0
				}
				n := uint64(1 + r.IntN(3))
				if round%50 == 0 && r.IntN(10) == 0 {
					n, v = math.MaxUint64/4, 0.003 // one bin, saturating
				}
				_ = h.InsertN(v, n)
			}
			form := h.AppendCompact(nil)
			if err := want.MergeCompact(form); err != nil {
				// A total past 2^64−1 in one form: refused by both.
				continue
			}
			cs.add(form, &got)
		}
		cs.add([]byte{0x80}, &got) // cut short: skipped, as MergeCompact refuses it
		cs.flush(&got)
		if !got.Equal(&want) || got.Count() != want.Count() {
			t.Fatalf("round %d: summed %d in %d bins, merged %d in %d bins", round, got.Count(), got.NumBins(), want.Count(), want.NumBins())
		}
	}
}

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// This file reads Prometheus remote write requests on its own, with
// protowire, rather than with nines' decoder (ingest/promrw): the test's
// account of what Prometheus sent must not share nines' mistakes.

// rwSample is one float sample of a series.
type rwSample struct {
	T int64 // Unix ms
	V float64
}

// rwSeries is a decoded remote write series.
type rwSeries struct {
	Labels  map[string]string
	Samples []rwSample
}

// key is the series' identity: its labels sorted, as name="value" pairs.
func (s *rwSeries) key() string {
	names := make([]string, 0, len(s.Labels))
	for n := range s.Labels {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%q,", n, s.Labels[n])
	}
	return b.String()
}

// field is one protobuf field: bytes for length-delimited fields, the
// number for varint and fixed ones.
type field struct {
	num   protowire.Number
	typ   protowire.Type
	bytes []byte
	u64   uint64
}

// fields splits a protobuf message into its fields.
func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u64, n = protowire.ConsumeVarint(b)
		case protowire.Fixed64Type:
			f.u64, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u64 = uint64(v)
		case protowire.BytesType:
			f.bytes, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		out = append(out, f)
	}
	return out, nil
}

// decodeWriteRequest decodes a snappy-compressed prometheus.WriteRequest:
// field 1 repeated TimeSeries{1 repeated Label{1 name, 2 value},
// 2 repeated Sample{1 double value, 2 int64 timestamp}}. Metadata (field
// 3), exemplars and native histograms are skipped.
func decodeWriteRequest(compressed []byte) ([]rwSeries, error) {
	b, err := snappy.Decode(nil, compressed)
	if err != nil {
		return nil, fmt.Errorf("snappy: %w", err)
	}
	req, err := fields(b)
	if err != nil {
		return nil, err
	}
	var out []rwSeries
	for _, f := range req {
		if f.num != 1 || f.typ != protowire.BytesType {
			continue
		}
		ts, err := fields(f.bytes)
		if err != nil {
			return nil, err
		}
		s := rwSeries{Labels: map[string]string{}}
		for _, tf := range ts {
			if tf.typ != protowire.BytesType {
				continue
			}
			sub, err := fields(tf.bytes)
			if err != nil {
				return nil, err
			}
			switch tf.num {
			case 1:
				var name, value string
				for _, lf := range sub {
					switch lf.num {
					case 1:
						name = string(lf.bytes)
					case 2:
						value = string(lf.bytes)
					}
				}
				s.Labels[name] = value
			case 2:
				var smp rwSample
				for _, sf := range sub {
					switch {
					case sf.num == 1 && sf.typ == protowire.Fixed64Type:
						smp.V = math.Float64frombits(sf.u64)
					case sf.num == 2 && sf.typ == protowire.VarintType:
						smp.T = int64(sf.u64)
					}
				}
				s.Samples = append(s.Samples, smp)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// staleNaN is Prometheus' stale marker.
const staleNaN = 0x7ff0000000000002

func isStale(v float64) bool { return math.Float64bits(v) == staleNaN }

// rwRecorder is a remote write endpoint in front of nines: it forwards
// each request as it is, answers with nines' answer, and keeps the
// samples of every request nines acknowledged (2xx) together with the
// statuses of those it did not.
type rwRecorder struct {
	next string // nines' remote write URL (setNext changes it)
	keep func(labels map[string]string) bool

	mu       sync.Mutex
	requests int
	refused  []string // status and body of every non-2xx answer
	dropped  []string // X-Nines-Dropped of 2xx answers: samples nines did not count
	series   map[string]*rwSeries
}

func (rec *rwRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	decoded, derr := decodeWriteRequest(body)
	rec.mu.Lock()
	next := rec.next
	rec.mu.Unlock()
	fwd, err := http.NewRequestWithContext(r.Context(), "POST", next, bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	for _, h := range []string{"Content-Type", "Content-Encoding", "User-Agent", "X-Prometheus-Remote-Write-Version"} {
		if v := r.Header.Get(h); v != "" {
			fwd.Header.Set(h, v)
		}
	}
	resp, err := client.Do(fwd)
	if err != nil {
		rec.mu.Lock()
		rec.refused = append(rec.refused, "forwarding: "+err.Error())
		rec.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	rec.mu.Lock()
	rec.requests++
	switch {
	case resp.StatusCode/100 != 2:
		rec.refused = append(rec.refused, fmt.Sprintf("%s: %s (X-Nines-Dropped %q)", resp.Status, answer, resp.Header.Get("X-Nines-Dropped")))
	case derr != nil:
		rec.refused = append(rec.refused, fmt.Sprintf("nines took a request the test cannot decode: %v", derr))
	default:
		if d := resp.Header.Get("X-Nines-Dropped"); d != "" {
			rec.dropped = append(rec.dropped, d)
		}
		for i := range decoded {
			s := &decoded[i]
			if !rec.keep(s.Labels) {
				continue
			}
			k := s.key()
			if rec.series[k] == nil {
				rec.series[k] = &rwSeries{Labels: s.Labels}
			}
			rec.series[k].Samples = append(rec.series[k].Samples, s.Samples...)
		}
	}
	rec.mu.Unlock()

	for _, h := range []string{"Content-Type", "X-Nines-Dropped"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(answer)
}

// setNext points the recorder at a nines restarted on another port.
func (rec *rwRecorder) setNext(url string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.next = url
}

// rwSnapshot is what a recorder has seen so far.
type rwSnapshot struct {
	series           []rwSeries // acknowledged, samples in time order
	requests         int
	refused, dropped []string
}

func (rec *rwRecorder) snapshot() rwSnapshot {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	snap := rwSnapshot{requests: rec.requests, refused: slices.Clone(rec.refused), dropped: slices.Clone(rec.dropped)}
	for _, s := range rec.series {
		c := rwSeries{Labels: s.Labels, Samples: slices.Clone(s.Samples)}
		slices.SortStableFunc(c.Samples, func(a, b rwSample) int { return int(a.T - b.T) })
		snap.series = append(snap.series, c)
	}
	return snap
}

// increases reads a series the way Prometheus' rate() does, which is what
// nines promises: the first sample (and the first after a stale marker)
// sets a baseline, a decrease is a reset whose new value is the increase,
// and each increase belongs to the quantum holding the later sample. It
// returns the increase by quantum start.
func increases(s *rwSeries, q time.Duration) map[time.Time]float64 {
	out := map[time.Time]float64{}
	has, last, lastT := false, 0.0, int64(math.MinInt64)
	for _, smp := range s.Samples {
		switch {
		case smp.T <= lastT:
			continue // a resend of a sample already counted
		case isStale(smp.V):
			has = false
		case !has:
			has, last = true, smp.V
		default:
			inc := smp.V - last
			if inc < 0 {
				inc = smp.V
			}
			out[time.UnixMilli(smp.T).Truncate(q).UTC()] += inc
			last = smp.V
		}
		lastT = smp.T
	}
	return out
}

// TestIncreasesReadsCountersLikeRate checks the test's own reading of
// counters on a hand-made series.
func TestIncreasesReadsCountersLikeRate(t *testing.T) {
	s := &rwSeries{Samples: []rwSample{
		{1000, 10}, {2000, 12}, {3000, 12}, {9000, 15}, // baseline 10, +2, +0, +3 in [0,10s)
		{10000, 4},                              // reset: +4 in [10s,20s)
		{11000, math.Float64frombits(staleNaN)}, // stale
		{12000, 100}, {13000, 101},              // new baseline, +1
	}}
	got := increases(s, 10*time.Second)
	want := map[time.Time]float64{time.UnixMilli(0).UTC(): 5, time.UnixMilli(10000).UTC(): 5}
	if !maps.Equal(got, want) {
		t.Fatalf("increases = %v, want %v", got, want)
	}
}

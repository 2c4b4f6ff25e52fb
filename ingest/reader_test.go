package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nines-sre/nines/slo"
)

func testSLI(t testing.TB) *slo.SLI {
	t.Helper()
	st, err := slo.ParseStatusRule("<500")
	if err != nil {
		t.Fatal(err)
	}
	lat, err := slo.ParseLatencyRule("<=5ms")
	if err != nil {
		t.Fatal(err)
	}
	return &slo.SLI{Status: st, Latency: &lat}
}

func opts(t testing.TB, mod func(*Options)) Options {
	o := Options{SLI: testSLI(t), Quantum: time.Minute, MaxErrors: 1000}
	if mod != nil {
		mod(&o)
	}
	return o
}

func mustRead(t *testing.T, in []byte, o Options) (*slo.Series, *Report) {
	t.Helper()
	s, rep, err := Read(context.Background(), bytes.NewReader(in), o)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return s, rep
}

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func nginxLine(t time.Time, status int, rt string) string {
	return fmt.Sprintf(`203.0.113.9 - - [%s] "GET /pay HTTP/1.1" %d 12 "-" "curl/8.5" %s`,
		t.Format("02/Jan/2006:15:04:05 -0700"), status, rt)
}

func jsonLine(t time.Time, status int, ms string) string {
	return fmt.Sprintf(`{"time":%q,"status":%d,"latency_ms":%s}`, t.Format(time.RFC3339Nano), status, ms)
}

// sameSeries compares two series rollup by rollup, histograms included.
func sameSeries(t *testing.T, got, want *slo.Series) {
	t.Helper()
	if got.Quantum != want.Quantum || len(got.Rollups) != len(want.Rollups) {
		t.Fatalf("series: quantum %v with %d rollups, want %v with %d", got.Quantum, len(got.Rollups), want.Quantum, len(want.Rollups))
	}
	for i := range got.Rollups {
		g, w := &got.Rollups[i], &want.Rollups[i]
		if g.Start != w.Start || g.Attempted != w.Attempted || g.Good != w.Good || g.Errors != w.Errors ||
			g.Slow != w.Slow || g.OverThreshold != w.OverThreshold || g.Measured != w.Measured || !g.Latency.Equal(&w.Latency) {
			t.Errorf("rollup %d:\n got  start=%d att=%d good=%d err=%d slow=%d over=%d measured=%v n=%d\n want start=%d att=%d good=%d err=%d slow=%d over=%d measured=%v n=%d",
				i, g.Start, g.Attempted, g.Good, g.Errors, g.Slow, g.OverThreshold, g.Measured, g.Latency.Count(),
				w.Start, w.Attempted, w.Good, w.Errors, w.Slow, w.OverThreshold, w.Measured, w.Latency.Count())
		}
		if len(g.Statuses) != len(w.Statuses) {
			t.Fatalf("rollup %d: %d statuses, want %d", i, len(g.Statuses), len(w.Statuses))
		}
		for j := range g.Statuses {
			gs, ws := &g.Statuses[j], &w.Statuses[j]
			if gs.Code != ws.Code || gs.Count != ws.Count || gs.Timed != ws.Timed || gs.Over != ws.Over || !gs.Latency.Equal(&ws.Latency) {
				t.Errorf("rollup %d status %d: %d %d/%d/%d, want %d %d/%d/%d", i, j, gs.Code, gs.Count, gs.Timed, gs.Over, ws.Code, ws.Count, ws.Timed, ws.Over)
			}
		}
	}
}

// numbered builds an nginx log of n lines in which the lines for which
// bad returns a text get that text instead, and returns the expected
// errors' line numbers.
func numbered(n int, bad func(i int) string) (in []byte, badLines []int64, empty int) {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		switch s := bad(i); s {
		case "":
			b.WriteString(nginxLine(t0.Add(time.Duration(i)*time.Second), 200+i%2*300, "0.003"))
		case "\x00empty":
			empty++
		default:
			b.WriteString(s)
			badLines = append(badLines, int64(i))
		}
		if i%3 == 0 {
			b.WriteString("\r\n") // CRLF and LF mixed
		} else {
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), badLines, empty
}

func TestReadLineNumbersAreExactAcrossBlocks(t *testing.T) {
	const n = 3000
	in, badLines, empty := numbered(n, func(i int) string {
		switch {
		case i%97 == 0:
			return "garbage line " + fmt.Sprint(i)
		case i%89 == 0:
			return "\x00empty"
		case i%83 == 0:
			return "   " // blank: skipped like an empty line
		case i == 1500:
			return strings.Repeat("x", 700) // over MaxLine, inside a block
		case i == 2000:
			return strings.Repeat("y", 5000) // longer than a whole buffer
		}
		return ""
	})
	// Blank lines count as empty, not as malformed.
	var wantBad []int64
	for _, l := range badLines {
		if l%83 != 0 || l%97 == 0 {
			wantBad = append(wantBad, l)
		} else {
			empty++
		}
	}
	for _, workers := range []int{1, 2, 5} {
		for _, block := range []int{600, 1 << 12, 1 << 20} {
			t.Run(fmt.Sprintf("workers=%d block=%d", workers, block), func(t *testing.T) {
				_, rep := mustRead(t, in, opts(t, func(o *Options) {
					o.Workers, o.blockSize, o.MaxLine = workers, block, 500
				}))
				if rep.Format != "nginx" {
					t.Errorf("format %v", rep.Format)
				}
				if rep.Lines != n || rep.Malformed != int64(len(wantBad)) || rep.Events != n-int64(len(wantBad))-int64(empty) {
					t.Errorf("lines %d events %d malformed %d; want %d, %d, %d", rep.Lines, rep.Events, rep.Malformed, n, n-len(wantBad)-empty, len(wantBad))
				}
				if len(rep.Errors) != len(wantBad) {
					t.Fatalf("%d errors kept, want %d", len(rep.Errors), len(wantBad))
				}
				for i, e := range rep.Errors {
					if e.Line != wantBad[i] {
						t.Errorf("error %d names line %d, want %d: %v", i, e.Line, wantBad[i], e)
					}
				}
				for _, e := range rep.Errors {
					switch e.Line {
					case 1500:
						if e.Error() != "line 1500: longer than the 500-byte limit (700 bytes)" {
							t.Errorf("got %q", e.Error())
						}
					case 2000:
						if e.Error() != "line 2000: longer than the 500-byte limit (5000 bytes)" {
							t.Errorf("got %q", e.Error())
						}
					}
				}
				wantFirst, wantLast := t0.Add(time.Second).UnixNano(), t0.Add(n*time.Second).UnixNano()
				if rep.First != wantFirst || rep.Last != wantLast {
					t.Errorf("first, last = %d, %d; want %d, %d", rep.First, rep.Last, wantFirst, wantLast)
				}
			})
		}
	}
}

func TestReadKeepsTheFirstMaxErrorsInLineOrder(t *testing.T) {
	in, badLines, _ := numbered(2000, func(i int) string {
		if i%10 == 7 {
			return "bad"
		}
		return ""
	})
	_, rep := mustRead(t, in, opts(t, func(o *Options) { o.Workers, o.blockSize, o.MaxErrors = 4, 700, 0 }))
	if rep.Malformed != int64(len(badLines)) || len(rep.Errors) != defaultMaxErrors {
		t.Fatalf("malformed %d with %d kept; want %d with %d", rep.Malformed, len(rep.Errors), len(badLines), defaultMaxErrors)
	}
	for i, e := range rep.Errors {
		if e.Line != badLines[i] {
			t.Errorf("error %d: line %d, want %d", i, e.Line, badLines[i])
		}
	}
	_, rep = mustRead(t, in, opts(t, func(o *Options) { o.MaxErrors = -1 }))
	if len(rep.Errors) != 0 || rep.Malformed != int64(len(badLines)) {
		t.Errorf("MaxErrors -1 kept %d errors of %d", len(rep.Errors), rep.Malformed)
	}
}

func TestReadUnsortedGivesTheSameSeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var lines []string
	for i := range 5000 {
		ts := t0.Add(time.Duration(i) * 37 * time.Millisecond)
		ms := fmt.Sprintf("%d.%d", rng.IntN(12), rng.IntN(10))
		status := 200
		if rng.IntN(20) == 0 {
			status = 503
		}
		lines = append(lines, jsonLine(ts, status, ms))
	}
	sorted := []byte(strings.Join(lines, "\n") + "\n")
	rng.Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	shuffled := []byte(strings.Join(lines, "\n") + "\n")

	want, _ := mustRead(t, sorted, opts(t, func(o *Options) { o.Workers = 1 }))
	if len(want.Rollups) != 4 {
		t.Fatalf("%d rollups, want 4", len(want.Rollups))
	}
	var total uint64
	for _, r := range want.Rollups {
		total += r.Attempted
	}
	if total != 5000 {
		t.Fatalf("attempted %d, want 5000", total)
	}
	for _, workers := range []int{1, 2, 3} {
		got, _ := mustRead(t, shuffled, opts(t, func(o *Options) { o.Workers, o.blockSize = workers, 2048 }))
		sameSeries(t, got, want)
	}
}

func TestReadOneMegabyteLine(t *testing.T) {
	long := strings.Repeat("z", 1<<20)
	for _, tc := range []struct {
		name, in string
		line     int64
		size     int
	}{
		{"in the middle", jsonLine(t0, 200, "1") + "\n" + long + "\n" + jsonLine(t0, 200, "2") + "\n", 2, 1 << 20},
		{"with CRLF", jsonLine(t0, 200, "1") + "\r\n" + long + "\r\n" + jsonLine(t0, 200, "2") + "\r\n", 2, 1 << 20},
		{"first", long + "\n" + jsonLine(t0, 200, "1") + "\n" + jsonLine(t0, 200, "2") + "\n", 1, 1 << 20},
		{"last without newline", jsonLine(t0, 200, "1") + "\n" + jsonLine(t0, 200, "2") + "\n" + long, 3, 1 << 20},
		{"newline right after a buffer", jsonLine(t0, 200, "1") + "\n" + long[:defaultBlockSize-len(jsonLine(t0, 200, "1"))-1] + "\n" + jsonLine(t0, 200, "2") + "\n", 2, defaultBlockSize - len(jsonLine(t0, 200, "1")) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, workers := range []int{1, 2} {
				s, rep := mustRead(t, []byte(tc.in), opts(t, func(o *Options) { o.Workers = workers }))
				want := fmt.Sprintf("line %d: longer than the 65536-byte limit (%d bytes)", tc.line, tc.size)
				if rep.Lines != 3 || rep.Events != 2 || rep.Malformed != 1 || len(rep.Errors) != 1 || rep.Errors[0].Error() != want {
					t.Fatalf("lines %d events %d malformed %d errors %v; want 3, 2, 1, [%s]", rep.Lines, rep.Events, rep.Malformed, rep.Errors, want)
				}
				if rep.Format != "jsonl" || len(s.Rollups) != 1 || s.Rollups[0].Attempted != 2 {
					t.Errorf("format %v, rollups %+v", rep.Format, s.Rollups)
				}
			}
		})
	}
}

func TestReadStrictStopsAtTheFirstBadLine(t *testing.T) {
	in, badLines, _ := numbered(3000, func(i int) string {
		if i == 1234 || i == 2500 || i == 2999 {
			return fmt.Sprintf("bad %d", i)
		}
		return ""
	})
	for _, workers := range []int{1, 2, 4} {
		s, rep, err := Read(context.Background(), bytes.NewReader(in), opts(t, func(o *Options) {
			o.Strict, o.Workers, o.blockSize = true, workers, 1024
		}))
		var le LineError
		if !errors.As(err, &le) || le.Line != badLines[0] || !strings.Contains(err.Error(), `line 1234: nginx: no [time_local] after the client address, got "bad 1234"`) {
			t.Fatalf("workers=%d: err %v, want a LineError for line %d", workers, err, badLines[0])
		}
		if s != nil {
			t.Errorf("strict error returned a series")
		}
		if rep.Malformed != 1 || rep.Lines != 1234 || rep.Events != 1233 {
			t.Errorf("workers=%d: report lines %d events %d malformed %d; want 1234, 1233, 1", workers, rep.Lines, rep.Events, rep.Malformed)
		}
	}
	if _, _, err := Read(context.Background(), strings.NewReader(nginxLine(t0, 200, "0.001")+"\n"), opts(t, func(o *Options) { o.Strict = true })); err != nil {
		t.Errorf("strict on a good file: %v", err)
	}
}

func gz(t testing.TB, parts ...[]byte) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range parts {
		w := gzip.NewWriter(&b)
		if _, err := w.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestReadGzip(t *testing.T) {
	in, _, _ := numbered(4000, func(i int) string { return "" })
	want, wantRep := mustRead(t, in, opts(t, nil))
	t.Run("one member", func(t *testing.T) {
		got, rep := mustRead(t, gz(t, in), opts(t, func(o *Options) { o.blockSize = 4096 }))
		sameSeries(t, got, want)
		if rep.Lines != wantRep.Lines || rep.Events != wantRep.Events {
			t.Errorf("report %+v, want %+v", rep, wantRep)
		}
	})
	t.Run("concatenated members", func(t *testing.T) {
		cut := bytes.IndexByte(in[len(in)/2:], '\n') + len(in)/2 + 1
		got, _ := mustRead(t, gz(t, in[:cut], in[cut:]), opts(t, nil))
		sameSeries(t, got, want)
	})
	t.Run("truncated", func(t *testing.T) {
		z := gz(t, in)
		_, _, err := Read(context.Background(), bytes.NewReader(z[:len(z)/2]), opts(t, nil))
		if err == nil || !strings.Contains(err.Error(), "ingest: reading gzip input after") {
			t.Errorf("err %v, want a gzip reading error", err)
		}
	})
	t.Run("corrupt header", func(t *testing.T) {
		_, _, err := Read(context.Background(), bytes.NewReader([]byte{0x1f, 0x8b, 0, 0, 0}), opts(t, nil))
		if err == nil || !strings.Contains(err.Error(), "ingest: reading gzip header") {
			t.Errorf("err %v, want a gzip header error", err)
		}
	})
}

func TestReadCountZeroMarksAQuantumMeasured(t *testing.T) {
	in := `{"time":"2026-11-24T10:00:30Z","ok":true,"count":0}
{"time":"2026-11-24T10:02:30Z","status":200,"latency_ms":3,"count":5}
`
	s, rep := mustRead(t, []byte(in), opts(t, nil))
	if rep.Events != 2 || len(s.Rollups) != 2 {
		t.Fatalf("events %d, rollups %+v", rep.Events, s.Rollups)
	}
	r := s.Rollups[0]
	if r.Start != t0.UnixNano() || !r.Measured || r.Attempted != 0 || r.Latency.Count() != 0 {
		t.Errorf("count 0 rollup %+v, want measured with no attempts", r)
	}
	r = s.Rollups[1]
	if r.Start != t0.Add(2*time.Minute).UnixNano() || r.Attempted != 5 || r.Good != 5 || r.Latency.Count() != 5 {
		t.Errorf("count 5 rollup %+v", r)
	}
}

func TestReadLatencyAtThresholdIsGood(t *testing.T) {
	// 5 ms in each unit must land exactly on the "<=5ms" threshold.
	for _, tc := range []struct{ name, in string }{
		{"jsonl", jsonLine(t0, 200, "5") + "\n" + jsonLine(t0, 200, "5.1") + "\n"},
		{"nginx", nginxLine(t0, 200, "0.005") + "\n" + nginxLine(t0, 200, "0.006") + "\n"},
		{"envoy", `[2026-11-24T10:00:00.000Z] "GET / HTTP/1.1" 200 - 0 1 5 4 "-" "-" "-" "-" "-"` + "\n" +
			`[2026-11-24T10:00:00.000Z] "GET / HTTP/1.1" 200 - 0 1 6 4 "-" "-" "-" "-" "-"` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := mustRead(t, []byte(tc.in), opts(t, nil))
			r := s.Rollups[0]
			if r.Attempted != 2 || r.Good != 1 || r.Slow != 1 || r.OverThreshold != 1 {
				t.Errorf("rollup %+v, want 2 attempted, 1 good, 1 slow", r)
			}
		})
	}
}

func TestReadDetectsTheFormat(t *testing.T) {
	envoy := `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"`
	for _, tc := range []struct {
		name string
		in   string
		want string
		err  string
	}{
		{"jsonl", jsonLine(t0, 200, "1") + "\n", "jsonl", ""},
		{"jsonl after empty lines and a BOM", utf8BOM + "\n\r\n  \n" + jsonLine(t0, 200, "1") + "\n", "jsonl", ""},
		{"envoy", envoy + "\n", "envoy", ""},
		{"nginx", nginxLine(t0, 200, "0.001") + "\n", "nginx", ""},
		{"nginx after a junk first line", "#Fields: whatever\n" + nginxLine(t0, 200, "0.001") + "\n", "nginx", ""},
		{"empty input", "", "auto", ""},
		{"only empty lines", "\n\n\r\n", "auto", ""},
		{"unknown", "\n\nDate,Status,Latency\n2026-11-24,200,3\n", "auto",
			`ingest: cannot tell the format from line 3: it is not JSON, LTSV or a text format nines knows (as combined: apache format: %h: no " " after it, got "Date,Status,Latency"); the line starts with "Date,Status,Latency"; name it with --format`},
		{"combined with fields after it", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "curl" 0.004 0.003` + "\n", "auto",
			`ingest: cannot tell the format from line 1: it is not JSON, LTSV or a text format nines knows (as combined: apache format: want "\"" at the end of the line`},
		{"a format that reads under half the lines", "junk one\njunk two\n" + nginxLine(t0, 200, "0.001") + "\n", "auto",
			`ingest: cannot tell the format from line 1`},
		{"plain combined under a latency rule", `127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "curl"` + "\n", "auto",
			`ingest: the SLI has a latency rule (<=5ms) but combined logs carry no latency`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, rep, err := Read(context.Background(), strings.NewReader(tc.in), opts(t, nil))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != tc.want {
				t.Errorf("format %v, want %v", rep.Format, tc.want)
			}
			if tc.want == "auto" && (len(s.Rollups) != 0 || rep.Events != 0) {
				t.Errorf("events from nothing: %+v", rep)
			}
			if tc.want != "auto" && rep.Events != 1 {
				t.Errorf("events %d, want 1: %v", rep.Events, rep.Errors)
			}
		})
	}
}

func TestReadGivenFormatIsNotDetected(t *testing.T) {
	in := nginxLine(t0, 200, "0.001") + "\n" + jsonLine(t0, 200, "1") + "\n"
	_, rep := mustRead(t, []byte(in), opts(t, func(o *Options) { o.Format = JSONL }))
	if rep.Format != "jsonl" || rep.Events != 1 || rep.Malformed != 1 || rep.Errors[0].Line != 1 ||
		!strings.Contains(rep.Errors[0].Msg, "not a JSON object") {
		t.Errorf("report %+v", rep)
	}
}

func TestReadOptionErrors(t *testing.T) {
	sli := testSLI(t)
	for _, tc := range []struct {
		name string
		o    Options
		err  string
	}{
		{"no SLI", Options{Quantum: time.Minute}, "no SLI"},
		{"no quantum", Options{SLI: sli}, "quantum 0s: must be positive"},
		{"bad format", Options{SLI: sli, Quantum: time.Minute, Format: 9}, "unknown format Format(9)"},
		{"negative workers", Options{SLI: sli, Quantum: time.Minute, Workers: -1}, "must not be negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Read(context.Background(), strings.NewReader(""), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestReadUnreadableStream(t *testing.T) {
	in, _, _ := numbered(100, func(int) string { return "" })
	r := io.MultiReader(bytes.NewReader(in), iotest.ErrReader(errors.New("disk on fire")))
	_, rep, err := Read(context.Background(), r, opts(t, nil))
	if err == nil || err.Error() != fmt.Sprintf("ingest: reading input after %d bytes: disk on fire", len(in)) {
		t.Errorf("err %v", err)
	}
	if rep == nil {
		t.Error("no report")
	}
	_, _, err = Read(context.Background(), iotest.ErrReader(errors.New("permission denied")), opts(t, nil))
	if err == nil || !strings.Contains(err.Error(), "ingest: reading input: permission denied") {
		t.Errorf("err %v", err)
	}
}

func TestReadStopsWhenCancelled(t *testing.T) {
	in, _, _ := numbered(5000, func(int) string { return "" })
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	_, _, err := Read(ctx, bytes.NewReader(in), opts(t, func(o *Options) {
		o.blockSize = 1024
		o.Progress = func(int64) {
			if calls++; calls == 3 {
				cancel()
			}
		}
	}))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "ingest: stopped after") {
		t.Errorf("err %v, want context.Canceled with context", err)
	}
}

func TestReadProgress(t *testing.T) {
	in, _, _ := numbered(3000, func(int) string { return "" })
	z := gz(t, in)
	var last int64
	calls := 0
	mustRead(t, z, opts(t, func(o *Options) {
		o.blockSize = 4096
		o.Progress = func(n int64) {
			if n < last {
				t.Errorf("progress went back from %d to %d", last, n)
			}
			last = n
			calls++
		}
	}))
	if last != int64(len(z)) || calls < 2 {
		t.Errorf("progress ended at %d after %d calls, want %d (compressed size)", last, calls, len(z))
	}
}

func TestFormatNames(t *testing.T) {
	for _, f := range []Format{Auto, JSONL, Nginx, Envoy} {
		g, err := ParseFormat(strings.ToUpper(f.String()))
		if err != nil || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), g, err)
		}
		var h Format
		if err := h.UnmarshalText([]byte(f.String())); err != nil || h != f {
			t.Errorf("UnmarshalText(%q) = %v, %v", f.String(), h, err)
		}
	}
	if _, err := ParseFormat("apache"); err == nil || err.Error() != `ingest: unknown format "apache" (want auto, jsonl, nginx or envoy)` {
		t.Errorf("err %v", err)
	}
}

func TestReadBOMBeforeALineOfTheMaximumLength(t *testing.T) {
	// The BOM must not count against the first buffer: a first line of
	// exactly MaxLine bytes after it is still good.
	line := jsonLine(t0, 200, "1")
	line = line[:len(line)-1] + `,"pad":"` + strings.Repeat("p", 200-len(line)-9) + `"}`
	if len(line) != 200 {
		t.Fatalf("line is %d bytes", len(line))
	}
	in := utf8BOM + line + "\n" + line + "\n"
	_, rep := mustRead(t, []byte(in), opts(t, func(o *Options) { o.MaxLine, o.blockSize = 200, 202 }))
	if rep.Events != 2 || rep.Malformed != 0 {
		t.Errorf("events %d, malformed %d: %v", rep.Events, rep.Malformed, rep.Errors)
	}
}

// TestReadKeepsStatuses: with KeepStatuses every rollup splits its events
// by status, across workers as with one, and an edited SLI judges them as
// reading the file again under it would; without, rollups keep none.
func TestReadKeepsStatuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var lines []string
	for i := range 3000 {
		ts := t0.Add(time.Duration(i) * 50 * time.Millisecond)
		status := []int{200, 200, 200, 201, 404, 503}[rng.IntN(6)]
		lines = append(lines, jsonLine(ts, status, fmt.Sprintf("%d", rng.IntN(12))))
	}
	lines = append(lines, `{"time":"2026-11-24T10:00:01Z","ok":false,"latency_ms":1}`, `{"time":"2026-11-24T10:00:01Z","status":200}`)
	in := []byte(strings.Join(lines, "\n") + "\n")

	plain, _ := mustRead(t, in, opts(t, nil))
	for _, r := range plain.Rollups {
		if r.Statuses != nil {
			t.Fatalf("statuses without KeepStatuses: %+v", r.Statuses)
		}
	}
	one, _ := mustRead(t, in, opts(t, func(o *Options) { o.KeepStatuses, o.Workers = true, 1 }))
	many, _ := mustRead(t, in, opts(t, func(o *Options) { o.KeepStatuses, o.Workers, o.blockSize = true, 3, 2048 }))
	sameSeries(t, many, one)

	edited := testSLI(t)
	edited.Status, _ = slo.ParseStatusRule("<400")
	edited.Latency = &slo.LatencyRule{Threshold: 0.01, Inclusive: true}
	want, _ := mustRead(t, in, opts(t, func(o *Options) { o.SLI = edited }))
	for i := range many.Rollups {
		r := &many.Rollups[i]
		if len(r.Statuses) < 4 {
			t.Fatalf("rollup %d keeps statuses %+v", i, r.Statuses)
		}
		if _, err := edited.Rejudge(r); err != nil {
			t.Fatal(err)
		}
		w := &want.Rollups[i]
		if r.Good != w.Good || r.Errors != w.Errors || r.Slow != w.Slow || r.OverThreshold != w.OverThreshold {
			t.Errorf("rollup %d re-judged %d/%d/%d/%d, read under the edited SLI %d/%d/%d/%d", i,
				r.Good, r.Errors, r.Slow, r.OverThreshold, w.Good, w.Errors, w.Slow, w.OverThreshold)
		}
	}
}

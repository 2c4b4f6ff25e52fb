package main

import (
	"bufio"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// evalSpanLines is the size of the benchmark logs: a busy day's worth of
// requests at 1,000 a minute, spread over each span.
const evalSpanLines = 1_440_000

// writeSpanLog writes lines nginx access-log lines ($request_time
// appended, as scripts/genlog writes them) spread evenly over span,
// lognormal latencies around 3 ms and one 5xx in a thousand.
func writeSpanLog(tb testing.TB, path string, lines int, span time.Duration) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := span / time.Duration(lines)
	var b []byte
	for i := range lines {
		t := start.Add(time.Duration(i) * step)
		status := 200
		if rng.IntN(1000) == 0 {
			status = 503
		}
		ms := math.Round(math.Exp(math.Log(3)+0.65*rng.NormFloat64())) / 1000
		b = append(b[:0], "203.0.113."...)
		b = strconv.AppendInt(b, int64(rng.IntN(254)+1), 10)
		b = append(b, " - - ["...)
		b = t.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
		b = append(b, `] "GET /pay HTTP/1.1" `...)
		b = strconv.AppendInt(b, int64(status), 10)
		b = append(b, ` 512 "-" "curl/8.5.0" `...)
		b = strconv.AppendFloat(b, ms, 'f', 3, 64)
		b = append(b, '\n')
		if _, err := w.Write(b); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkEvalSpan times the whole of nines eval --json on 1.44 M lines
// over one day, 30 days and a year: the longer the span, the more quanta
// and report windows (a calendar day each) the same lines make.
func BenchmarkEvalSpan(b *testing.B) {
	dir := b.TempDir()
	for _, days := range []int{1, 30, 365} {
		b.Run("days="+strconv.Itoa(days), func(b *testing.B) {
			path := filepath.Join(dir, "span-"+strconv.Itoa(days)+"d.log")
			writeSpanLog(b, path, evalSpanLines, time.Duration(days)*24*time.Hour)
			e := &env{stdin: eofReader{}, stdout: io.Discard, stderr: io.Discard}
			args := []string{"--spec", filepath.Join("..", "..", "examples", "checkout.yaml"), "--events", path, "--json"}
			b.ReportAllocs()
			for b.Loop() {
				if err := runEval(context.Background(), e, args); err != nil && err != errViolated {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/evalSpanLines, "ns/line")
		})
	}
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

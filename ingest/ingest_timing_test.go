package ingest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// benchLines returns n lines of a format shaped like scripts/genlog's
// output: 100 requests a second, lognormal latencies around 3 ms, a few
// user agents and paths.
func benchLines(format Format, n int) [][]byte {
	rng := rand.New(rand.NewPCG(7, 11))
	agents := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"curl/8.5.0", "Go-http-client/2.0",
	}
	paths := []string{"/", "/pay", "/api/v1/orders/8812", "/static/app.js", "/search?q=shoes"}
	lines := make([][]byte, n)
	for i := range lines {
		t := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		status := 200
		if rng.IntN(1000) == 0 {
			status = 503
		}
		ms := math.Exp(math.Log(3) + 0.65*rng.NormFloat64())
		path, ua := paths[rng.IntN(len(paths))], agents[rng.IntN(len(agents))]
		var s string
		switch format {
		case Nginx:
			s = fmt.Sprintf(`203.0.113.%d - - [%s] "GET %s HTTP/1.1" %d %d "-" "%s" %.3f`,
				rng.IntN(254)+1, t.Format("02/Jan/2006:15:04:05 -0700"), path, status, 100+rng.IntN(20000), ua, math.Round(ms)/1000)
		case JSONL:
			s = fmt.Sprintf(`{"time":"%s","method":"GET","path":"%s","status":%d,"latency_ms":%s,"bytes":%d}`,
				t.Format("2006-01-02T15:04:05.000Z07:00"), path, status, strconv.FormatFloat(math.Round(ms*10)/10, 'f', -1, 64), 100+rng.IntN(20000))
		case Envoy:
			s = fmt.Sprintf(`[%s] "GET %s HTTP/1.1" %d - 0 %d %d %d "203.0.113.%d" "%s" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "shop.example.com" "10.0.2.1:8080"`,
				t.Format("2006-01-02T15:04:05.000Z07:00"), path, status, 100+rng.IntN(20000), int(math.Round(ms)), max(0, int(math.Round(ms))-1), rng.IntN(254)+1, ua)
		}
		lines[i] = []byte(s)
	}
	return lines
}

var sinkEvent slo.Event

// benchParse measures one line's way from bytes to an event: the text
// check and the parse, everything but the aggregation.
func benchParse(b *testing.B, format Format, parse func([]byte, *slo.Event) *problem) {
	lines := benchLines(format, 4096)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	b.SetBytes(int64(size / len(lines)))
	b.ReportAllocs()
	var e slo.Event
	i := 0
	for b.Loop() {
		l := lines[i&4095]
		i++
		p := checkText(l)
		if p == nil {
			p = parse(l, &e)
		}
		if p != nil {
			b.Fatal(p.message())
		}
	}
	sinkEvent = e
}

func BenchmarkParseNginxLine(b *testing.B) {
	var p nginxParser
	benchParse(b, Nginx, p.parse)
}

func BenchmarkParseJSONLLine(b *testing.B) { benchParse(b, JSONL, parseJSONL) }

func BenchmarkParseEnvoyLine(b *testing.B) { benchParse(b, Envoy, parseEnvoy) }

func BenchmarkCheckText(b *testing.B) {
	lines := benchLines(Nginx, 4096)
	b.SetBytes(int64(len(lines[0])))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if p := checkText(lines[i&4095]); p != nil {
			b.Fatal(p.message())
		}
		i++
	}
}

// BenchmarkRead measures the whole path, aggregation included, on 100k
// lines; ns/line is the figure to compare with the per-line parse.
func BenchmarkRead(b *testing.B) {
	sli := testSLI(b)
	for _, format := range []Format{Nginx, JSONL, Envoy} {
		in := bytes.Join(benchLines(format, 100000), []byte{'\n'})
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/workers=%d", format, workers), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for b.Loop() {
					_, rep, err := Read(context.Background(), bytes.NewReader(in), Options{
						Format: format, SLI: sli, Quantum: time.Minute, Workers: workers,
					})
					if err != nil || rep.Events != 100000 {
						b.Fatalf("%v, %+v", err, rep)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/line")
			})
		}
	}
}

// nginxCombinedRT is nginx's combined format with $request_time appended,
// as a user pastes it from nginx.conf: the format the hand-written nginx
// parser reads, compiled from its format string instead.
const nginxCombinedRT = `nginx:$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" $request_time`

// BenchmarkParseNginxFormatString is BenchmarkParseNginxLine's work done
// by the parser compiled from the format string: the two are compared in
// docs/performance.md (goal: within 1.3× of the hand-written one).
func BenchmarkParseNginxFormatString(b *testing.B) {
	p, err := NewParser(Config{Format: nginxCombinedRT})
	if err != nil {
		b.Fatal(err)
	}
	benchParse(b, Nginx, p.parse)
}

// BenchmarkReadNginxFormatString is BenchmarkRead's nginx case read with
// the compiled format string.
func BenchmarkReadNginxFormatString(b *testing.B) {
	sli := testSLI(b)
	in := bytes.Join(benchLines(Nginx, 100000), []byte{'\n'})
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				_, rep, err := Read(context.Background(), bytes.NewReader(in), Options{
					Log: Config{Format: nginxCombinedRT}, SLI: sli, Quantum: time.Minute, Workers: workers,
				})
				if err != nil || rep.Events != 100000 {
					b.Fatalf("%v, %+v", err, rep)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100000, "ns/line")
		})
	}
}

package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/nines-sre/nines/slo"
)

var (
	jsonlSeeds = []string{
		`{"time": "2026-11-24T10:20:31.5Z", "status": 503, "ok": false, "latency_ms": 3.2, "count": 1}`,
		`{"time":1795515631.25,"ok":true,"latency_ms":5}`,
		`{"time":"2026-11-24T11:20:31+01:00","status":"200","path":"/a\"b","tags":["x",{"y":null}],"count":0}`,
		`{"time":"2026-11-24T10:20:31Z","st\u0061tus":200,"latency_ms":1.234567890123456789e-2}`,
		`{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":-3}`,
		`{"time":"2026-11-24T10:20:31","status":200}`,
		`{"status":2`,
	}
	nginxSeeds = []string{
		`203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl/8.5" 0.004`,
		`2001:db8::1 - bob [29/Feb/2028:23:59:59 -0930] "POST /a\x22b HTTP/2.0" 201 0 "https://x/" "Mozilla/5.0 (X11)" -`,
		`203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /a\"b HTTP/1.1" 400 0 "-" "x" 12.5`,
		`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326 "-" "curl"`,
	}
	envoySeeds = []string{
		`[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"`,
		`[2024-06-02T13:35:27.054Z] "GET / HTTP/2" 302 UAEX ext_authz_denied - "-" 0 387 16 - "192.168.0.24" "Mozilla/5.0" "1d3ec87f" "kubeflow.example.com" "-" outbound|80|| - 10.0.0.196:8443 192.168.0.24:41604 x -`,
		`[2026-11-24T10:20:31.123Z] "GET /pay HTTP/2" 0 DC 0 0 1520 - "-" "curl/8.5.0" "f21ebd42" "shop.example.com" "-"`,
		`[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1" 200 - 0 1 22`,
	}
)

// checkEvent asserts what every parsed event must satisfy.
func checkEvent(t *testing.T, line []byte, e *slo.Event) {
	t.Helper()
	if e.Status < slo.NoStatus || e.Status > 999 {
		t.Errorf("%q: status %d", line, e.Status)
	}
	if l := e.Latency; !math.IsNaN(l) && (l < 0 || math.IsInf(l, 0) || math.Signbit(l)) {
		t.Errorf("%q: latency %v", line, l)
	}
	if e.OK > slo.FlagTrue {
		t.Errorf("%q: ok %d", line, e.OK)
	}
}

func FuzzJSONL(f *testing.F) {
	for _, s := range jsonlSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e slo.Event
		p := parseJSONL(line, &e)
		_ = p.message()
		if p != nil {
			return
		}
		checkEvent(t, line, &e)
		// Whatever the scanner accepts is JSON. (It is lenient about raw
		// tabs inside strings, which encoding/json is not.)
		if checkText(line) == nil && bytes.IndexByte(line, '\t') < 0 && !json.Valid(line) {
			t.Errorf("accepted invalid JSON %q", line)
		}
	})
}

func FuzzNginx(f *testing.F) {
	for _, s := range nginxSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var p nginxParser
		var e slo.Event
		pr := p.parse(line, &e)
		_ = pr.message()
		if pr == nil {
			checkEvent(t, line, &e)
			// The cached time must agree with a fresh parse.
			var e2 slo.Event
			if p.parse(line, &e2); e2.Time != e.Time {
				t.Errorf("%q: cached time %d, fresh %d", line, e2.Time, e.Time)
			}
		}
	})
}

func FuzzEnvoy(f *testing.F) {
	for _, s := range envoySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var e slo.Event
		p := parseEnvoy(line, &e)
		_ = p.message()
		if p == nil {
			checkEvent(t, line, &e)
		}
	})
}

// FuzzRead feeds whole inputs through Read with tiny blocks and checks
// that the counts add up and that parallel workers report exactly what one
// worker does.
func FuzzRead(f *testing.F) {
	join := func(lines []string) []byte {
		var b bytes.Buffer
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		return b.Bytes()
	}
	f.Add(join(jsonlSeeds))
	f.Add(join(nginxSeeds))
	f.Add(join(envoySeeds))
	f.Add([]byte("\n\r\n" + nginxSeeds[0] + "\r\n\x00\x01\n" + nginxSeeds[1]))
	f.Add(gz(f, join(jsonlSeeds)))
	sli := testSLI(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		read := func(workers int) (*slo.Series, *Report, error) {
			return Read(context.Background(), bytes.NewReader(in), Options{
				SLI: sli, Quantum: 60e9, Workers: workers, MaxLine: 256, blockSize: 300, MaxErrors: 1000,
			})
		}
		s1, r1, err1 := read(1)
		s2, r2, err2 := read(3)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("workers 1: %v; workers 3: %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if r1.Lines != r2.Lines || r1.Events != r2.Events || r1.Malformed != r2.Malformed ||
			!slices.Equal(r1.Errors, r2.Errors) || r1.First != r2.First || r1.Last != r2.Last {
			t.Fatalf("reports differ:\n%+v\n%+v", r1, r2)
		}
		if r1.Events+r1.Malformed > r1.Lines || int64(len(r1.Errors)) != min(r1.Malformed, 1000) {
			t.Errorf("counts do not add up: %+v", r1)
		}
		var att uint64
		for _, r := range s1.Rollups {
			att += r.Attempted
		}
		var att2 uint64
		for _, r := range s2.Rollups {
			att2 += r.Attempted
		}
		if att != att2 || len(s1.Rollups) != len(s2.Rollups) {
			t.Errorf("series differ: %d vs %d attempted", att, att2)
		}
	})
}

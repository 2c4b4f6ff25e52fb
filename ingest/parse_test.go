package ingest

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// ev builds the expected event; latency NaN means unmeasured.
func ev(rfc3339 string, status int, ok slo.Flag, latency float64, count uint64) slo.Event {
	t, err := time.Parse(time.RFC3339Nano, rfc3339)
	if err != nil {
		panic(err)
	}
	return slo.Event{Time: t.UnixNano(), Status: status, OK: ok, Latency: latency, Count: count}
}

// secs is the float64 ParseFloat gives for s: the exact value a correctly
// scaled latency must have.
func secs(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

var nan = math.NaN()

// sameEvent compares events field by field, latencies by their bits so
// that an unmeasured NaN and a rounding error both show.
func sameEvent(t *testing.T, got, want slo.Event) {
	t.Helper()
	latOK := math.Float64bits(got.Latency) == math.Float64bits(want.Latency) ||
		(math.IsNaN(got.Latency) && math.IsNaN(want.Latency))
	if got.Time != want.Time || got.Status != want.Status || got.OK != want.OK || got.Count != want.Count || !latOK {
		t.Errorf("event\n got  time=%s status=%d ok=%d latency=%v (%#x) count=%d\n want time=%s status=%d ok=%d latency=%v (%#x) count=%d",
			time.Unix(0, got.Time).UTC().Format(time.RFC3339Nano), got.Status, got.OK, got.Latency, math.Float64bits(got.Latency), got.Count,
			time.Unix(0, want.Time).UTC().Format(time.RFC3339Nano), want.Status, want.OK, want.Latency, math.Float64bits(want.Latency), want.Count)
	}
}

type parseCase struct {
	name string
	line string
	want slo.Event
	err  string // substring of the problem's message; empty for a good line
}

func runParseCases(t *testing.T, cases []parseCase, parse func([]byte, *slo.Event) *problem) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e slo.Event
			p := checkText([]byte(c.line))
			if p == nil {
				p = parse([]byte(c.line), &e)
			}
			switch {
			case c.err == "" && p != nil:
				t.Fatalf("unexpected problem: %s", p.message())
			case c.err != "" && p == nil:
				t.Fatalf("parsed a bad line, want a problem containing %q", c.err)
			case c.err != "":
				if msg := p.message(); !strings.Contains(msg, c.err) {
					t.Fatalf("problem %q, want it to contain %q", msg, c.err)
				}
			default:
				sameEvent(t, e, c.want)
			}
		})
	}
}

func TestParseJSONL(t *testing.T) {
	const ts = "2026-11-24T10:20:31Z"
	runParseCases(t, []parseCase{
		{name: "all fields", line: `{"time": "2026-11-24T10:20:31.5Z", "status": 503, "ok": false, "latency_ms": 3.2, "count": 7}`,
			want: ev("2026-11-24T10:20:31.5Z", 503, slo.FlagFalse, secs("0.0032"), 7)},
		{name: "status only, count defaults to one, latency unmeasured", line: `{"time":"2026-11-24T10:20:31Z","status":200}`,
			want: ev(ts, 200, slo.FlagUnset, nan, 1)},
		{name: "ok only", line: `{"time":"2026-11-24T10:20:31Z","ok":true}`,
			want: ev(ts, slo.NoStatus, slo.FlagTrue, nan, 1)},
		{name: "latency 5 ms is exactly 0.005 s", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":5}`,
			want: ev(ts, 200, 0, secs("0.005"), 1)},
		{name: "latency 5.1 ms is exactly 0.0051 s", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":5.1}`,
			want: ev(ts, 200, 0, secs("0.0051"), 1)},
		{name: "latency with exponent", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":2.5E+2}`,
			want: ev(ts, 200, 0, secs("0.25"), 1)},
		{name: "latency zero", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":0}`,
			want: ev(ts, 200, 0, 0, 1)},
		{name: "latency negative zero is zero", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":-0.0}`,
			want: ev(ts, 200, 0, 0, 1)},
		{name: "latency with 25 digits takes the slow path exactly", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":1.234567890123456789012345}`,
			want: ev(ts, 200, 0, secs("0.001234567890123456789012345"), 1)},
		{name: "count zero reports no traffic", line: `{"time":"2026-11-24T10:20:31Z","ok":true,"count":0}`,
			want: ev(ts, slo.NoStatus, slo.FlagTrue, nan, 0)},
		{name: "unix seconds with fraction", line: `{"time":1795515631.25,"status":200}`,
			want: ev("2026-11-24T10:20:31.25Z", 200, 0, nan, 1)},
		{name: "unix seconds with exponent", line: `{"time":1.79551563125e9,"status":200}`,
			want: ev("2026-11-24T10:20:31.25Z", 200, 0, nan, 1)},
		{name: "unix seconds finer than ns are truncated", line: `{"time":1795515631.1234567899,"status":200}`,
			want: ev("2026-11-24T10:20:31.123456789Z", 200, 0, nan, 1)},
		{name: "offset time", line: `{"time":"2026-11-24T11:20:31.000+01:00","status":200}`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "negative offset without colon", line: `{"time":"2026-11-24T05:20:31-0500","status":200}`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "space separator and lower-case z", line: `{"time":"2026-11-24 10:20:31z","status":200}`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "nanosecond fraction", line: `{"time":"2026-11-24T10:20:31.123456789Z","status":200}`,
			want: ev("2026-11-24T10:20:31.123456789Z", 200, 0, nan, 1)},
		{name: "leap day", line: `{"time":"2028-02-29T00:00:00Z","status":200}`,
			want: ev("2028-02-29T00:00:00Z", 200, 0, nan, 1)},
		{name: "status as a quoted number", line: `{"time":"2026-11-24T10:20:31Z","status":"404"}`,
			want: ev(ts, 404, 0, nan, 1)},
		{name: "status zero", line: `{"time":"2026-11-24T10:20:31Z","status":0}`,
			want: ev(ts, 0, 0, nan, 1)},
		{name: "unknown fields of every kind are skipped", line: `{"a":"x\"y\\z\u00e9","time":"2026-11-24T10:20:31Z","n":-1.5e-3,"b":[1,{"c":[true,false,null]},[]],"o":{},"status":200,"z":null}`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "whitespace everywhere", line: " {\t\"time\" : \"2026-11-24T10:20:31Z\" ,\t\"status\" :200 } \t",
			want: ev(ts, 200, 0, nan, 1)},
		{name: "escaped key matches", line: `{"ti\u006de":"2026-11-24T10:20:31Z","st\u0061tus":201}`,
			want: ev(ts, 201, 0, nan, 1)},
		{name: "escaped time value", line: `{"time":"2026-11-24T10:20:31\u002B00:00","status":200}`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "null fields are absent", line: `{"time":"2026-11-24T10:20:31Z","status":null,"ok":true,"latency_ms":null,"count":null}`,
			want: ev(ts, slo.NoStatus, slo.FlagTrue, nan, 1)},
		{name: "last duplicate wins", line: `{"time":"2026-11-24T10:20:31Z","status":200,"status":500}`,
			want: ev(ts, 500, 0, nan, 1)},
		{name: "envoy json_format names", line: `{"start_time":"2026-11-24T10:20:31.000Z","method":"GET","response_code":503,"response_flags":"UF","duration":12,"upstream_host":"10.0.0.7:8080"}`,
			want: ev(ts, 503, 0, 0.012, 1)},
		{name: "envoy no response", line: `{"start_time":"2026-11-24T10:20:31Z","response_code":0,"duration":0}`,
			want: ev(ts, 0, 0, 0, 1)},
		{name: "time and start_time", line: `{"time":"2026-11-24T10:20:31Z","start_time":"2026-11-24T10:20:31Z","status":200}`, err: `both "time" and "start_time"`},
		{name: "response_code and status", line: `{"time":"2026-11-24T10:20:31Z","response_code":200,"status":500}`, err: `both "response_code" and "status"`},
		{name: "duration and latency_ms", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":1,"duration":2}`, err: `both "latency_ms" and "duration"`},
		{name: "non-ASCII in an unknown field", line: `{"time":"2026-11-24T10:20:31Z","status":200,"path":"/café/日本"}`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "keys are case-sensitive", line: `{"time":"2026-11-24T10:20:31Z","Status":200,"ok":true}`,
			want: ev(ts, slo.NoStatus, slo.FlagTrue, nan, 1)},

		{name: "missing time", line: `{"status":200}`, err: `no "time" field`},
		{name: "null time", line: `{"time":null,"status":200}`, err: `no "time" field`},
		{name: "missing status and ok", line: `{"time":"2026-11-24T10:20:31Z","latency_ms":3}`, err: `no "status" or "ok" field`},
		{name: "unparsable time", line: `{"time":"yesterday","status":200}`, err: `time: want RFC 3339`},
		{name: "time without offset", line: `{"time":"2026-11-24T10:20:31","status":200}`, err: `no UTC offset`},
		{name: "no such date", line: `{"time":"2026-02-29T10:20:31Z","status":200}`, err: `no such date`},
		{name: "hour 24", line: `{"time":"2026-11-24T24:00:00Z","status":200}`, err: `out of range`},
		{name: "time as bool", line: `{"time":true,"status":200}`, err: `time: want an RFC 3339 string or Unix seconds, got "true"`},
		{name: "unix milliseconds", line: `{"time":1795515631000000,"status":200}`, err: `milliseconds?`},
		{name: "year 9999 overflows nanoseconds", line: `{"time":"9999-01-01T00:00:00Z","status":200}`, err: `out of range`},
		{name: "status over 999", line: `{"time":"2026-11-24T10:20:31Z","status":1000}`, err: `status: want an integer 0-999, got "1000"`},
		{name: "negative status", line: `{"time":"2026-11-24T10:20:31Z","status":-1}`, err: `status: want an integer 0-999, got "-1"`},
		{name: "fractional status", line: `{"time":"2026-11-24T10:20:31Z","status":200.5}`, err: `status: want an integer`},
		{name: "status with leading zero", line: `{"time":"2026-11-24T10:20:31Z","status":"0200"}`, err: `status: want an integer`},
		{name: "status as word", line: `{"time":"2026-11-24T10:20:31Z","status":"OK"}`, err: `status: want an integer 0-999, got "\"OK\""`},
		{name: "ok as string", line: `{"time":"2026-11-24T10:20:31Z","ok":"yes"}`, err: `ok: want true or false`},
		{name: "negative latency", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":-3}`, err: `negative latency, got "-3"`},
		{name: "latency of centuries", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":1e300}`, err: `out of range (more than a year), got "1e300"`},
		{name: "infinite latency", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":1e400}`, err: `latency_ms: out of range`},
		{name: "NaN latency", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":NaN}`, err: `latency_ms: want a number`},
		{name: "latency as string", line: `{"time":"2026-11-24T10:20:31Z","status":200,"latency_ms":"3"}`, err: `latency_ms: want a number`},
		{name: "negative count", line: `{"time":"2026-11-24T10:20:31Z","status":200,"count":-1}`, err: `count: want a whole number`},
		{name: "fractional count", line: `{"time":"2026-11-24T10:20:31Z","status":200,"count":1.5}`, err: `count: want a whole number`},
		{name: "count beyond uint64", line: `{"time":"2026-11-24T10:20:31Z","status":200,"count":18446744073709551616}`, err: `count: want a whole number`},
		{name: "not an object", line: `["time", 1]`, err: `not a JSON object`},
		{name: "plain text", line: `hello world`, err: `not a JSON object, got "hello world"`},
		{name: "truncated", line: `{"time":"2026-11-24T10:20:31Z","status":2`, err: `want ',' or '}'`},
		{name: "truncated in a string", line: `{"time":"2026-11-24T10:20:31Z","status":200,"path":"/pa`, err: `unterminated string`},
		{name: "trailing comma", line: `{"time":"2026-11-24T10:20:31Z","status":200,}`, err: `want a quoted field name`},
		{name: "two objects", line: `{"time":"2026-11-24T10:20:31Z","status":200}{}`, err: `text after the closing brace`},
		{name: "single quotes", line: `{'time':1}`, err: `want a quoted field name`},
		{name: "bad escape", line: `{"time":"2026-11-24T10:20:31Z","status":200,"p":"\q"}`, err: `invalid escape`},
		{name: "bad unicode escape", line: `{"time":"2026-11-24T10:20:31Z","status":200,"p":"\u12G4"}`, err: `invalid \u escape`},
		{name: "mismatched brackets in unknown field", line: `{"time":"2026-11-24T10:20:31Z","status":200,"b":[1,2}`, err: `want ',' or a closing bracket`},
		{name: "leading zero number in unknown field", line: `{"time":"2026-11-24T10:20:31Z","status":200,"n":01}`, err: `want ',' or '}'`},
		{name: "bare word in unknown field", line: `{"time":"2026-11-24T10:20:31Z","status":200,"n":nul}`, err: `invalid value`},
		{name: "missing colon", line: `{"time" "2026-11-24T10:20:31Z"}`, err: `want ':'`},
		{name: "nested too deep", line: `{"time":"2026-11-24T10:20:31Z","status":200,"d":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, err: `nested too deep`},
		{name: "invalid UTF-8", line: "{\"time\":\"2026-11-24T10:20:31Z\",\"status\":200,\"p\":\"\xff\xfe\"}", err: `invalid UTF-8 at byte 50`},
		{name: "binary junk", line: "\x00\x01\x02{\"time\"", err: `control character (binary data?) at byte 1`},
	}, parseJSONL)
}

// TestParseJSONLAgreesWithEncodingJSON checks the hand-written scanner
// against encoding/json on the good cases: same fields, same values.
func TestParseJSONLAgreesWithEncodingJSON(t *testing.T) {
	lines := []string{
		`{"time":"2026-11-24T10:20:31.5Z","status":503,"ok":false,"latency_ms":3.2,"count":7}`,
		`{"time":1795515631.25,"status":200,"latency_ms":0.001}`,
		`{"time":"2026-11-24T10:20:31Z","ok":true,"latency_ms":12345.678,"x":{"y":[1,2,{"z":"\""}]}}`,
	}
	for _, line := range lines {
		var e slo.Event
		if p := parseJSONL([]byte(line), &e); p != nil {
			t.Fatalf("%s: %s", line, p.message())
		}
		var v struct {
			Status    *int
			OK        *bool
			LatencyMS *json.Number `json:"latency_ms"`
			Count     *uint64
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatal(err)
		}
		if v.Status != nil && *v.Status != e.Status {
			t.Errorf("%s: status %d, encoding/json says %d", line, e.Status, *v.Status)
		}
		if v.OK != nil && (*v.OK != (e.OK == slo.FlagTrue)) {
			t.Errorf("%s: ok %v, encoding/json says %v", line, e.OK, *v.OK)
		}
		if v.LatencyMS != nil {
			want := secs(string(*v.LatencyMS) + "e-3")
			if math.Float64bits(e.Latency) != math.Float64bits(want) {
				t.Errorf("%s: latency %v, want %v", line, e.Latency, want)
			}
		}
		if v.Count != nil && *v.Count != e.Count {
			t.Errorf("%s: count %d, encoding/json says %d", line, e.Count, *v.Count)
		}
	}
}

func TestParseNginx(t *testing.T) {
	const ts = "2026-11-24T10:20:31Z"
	var p nginxParser
	runParseCases(t, []parseCase{
		{name: "brief example", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl/8.5" 0.004`,
			want: ev(ts, 503, 0, secs("0.004"), 1)},
		{name: "request_time 0.005 is exactly 0.005", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 0.005`,
			want: ev(ts, 200, 0, secs("0.005"), 1)},
		{name: "request_time dash is unmeasured", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" -`,
			want: ev(ts, 200, 0, nan, 1)},
		{name: "positive offset", line: `203.0.113.9 - alice [24/Nov/2026:11:20:31 +0100] "POST /api/v1/orders HTTP/2.0" 201 512 "https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/132.0" 0.120`,
			want: ev(ts, 201, 0, secs("0.12"), 1)},
		{name: "negative offset", line: `2001:db8::1 - - [24/Nov/2026:05:20:31 -0500] "GET / HTTP/1.1" 304 0 "-" "-" 0.000`,
			want: ev(ts, 304, 0, 0, 1)},
		{name: "escaped quote in request and user agent", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /a\x22b HTTP/1.1" 400 0 "-" "evil \x22agent\x22" 0.001`,
			want: ev(ts, 400, 0, secs("0.001"), 1)},
		{name: "backslash-escaped quote in request", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /a\"b HTTP/1.1" 400 0 "-" "x" 0.001`,
			want: ev(ts, 400, 0, secs("0.001"), 1)},
		{name: "garbage request nginx logs as is", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03" 400 157 "-" "-" 0.002`,
			want: ev(ts, 400, 0, secs("0.002"), 1)},
		{name: "status 499", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /slow HTTP/1.1" 499 0 "-" "curl/8.5" 30.001`,
			want: ev(ts, 499, 0, secs("30.001"), 1)},
		{name: "trailing spaces", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 0.004  `,
			want: ev(ts, 200, 0, secs("0.004"), 1)},
		{name: "leap day", line: `203.0.113.9 - - [29/Feb/2028:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
			want: ev("2028-02-29T00:00:00Z", 200, 0, secs("0.001"), 1)},

		{name: "plain combined without request_time", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5"`,
			err: `want $request_time after the user agent (log_format must end with $request_time), got "\"curl/8.5\""`},
		{name: "negative request_time", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" -0.004`,
			err: `negative latency, got "-0.004"`},
		{name: "request_time not a number", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 4ms`,
			err: `request_time: want seconds like 0.004 or -, got "4ms"`},
		{name: "request_time NaN", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" NaN`,
			err: `request_time: want seconds`},
		{name: "request_time infinite", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 1e999`,
			err: `out of range`},
		{name: "status over 999", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 1200 12 "-" "curl/8.5" 0.004`,
			err: `status: want an integer 0-999, got "1200"`},
		{name: "status not a number", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" abc 12 "-" "curl/8.5" 0.004`,
			err: `status: want an integer 0-999, got "abc"`},
		{name: "bad month", line: `203.0.113.9 - - [24/Noe/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 0.004`,
			err: `time_local: want 24/Nov/2026:10:20:31 +0000, got "[24/Noe/2026:10:20:31 +0000]"`},
		{name: "no such date", line: `203.0.113.9 - - [31/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 0.004`,
			err: `no such date`},
		{name: "missing time", line: `203.0.113.9 - - "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 0.004`,
			err: `no [time_local]`},
		{name: "ISO time is not time_local", line: `203.0.113.9 - - [2026-11-24T10:20:31+00:00] "GET /pay HTTP/1.1" 200 12 "-" "curl/8.5" 0.004`,
			err: `time_local: want`},
		{name: "unterminated request", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1 200 12`,
			err: `request: no closing quote`},
		{name: "cut after status", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 200`,
			err: `line ends after the status`},
		{name: "apache common log", line: `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`,
			err: `want referer, user agent and request_time`},
		{name: "JSON", line: `{"time":"2026-11-24T10:20:31Z","status":200}`, err: `no [time_local]`},
		{name: "invalid UTF-8 in user agent", line: "203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"\xc3\x28\" 0.001", err: `invalid UTF-8`},
	}, p.parse)
}

func TestNginxTimeCache(t *testing.T) {
	var p nginxParser
	lines := []string{
		`203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
		`203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
		`203.0.113.9 - - [24/Nov/2026:10:20:32 +0000] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
		`203.0.113.9 - - [24/Nov/2026:10:20:31 +0100] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
		`203.0.113.9 - - [24/Nov/2026:10:20:99 +0100] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
		`203.0.113.9 - - [24/Nov/2026:10:20:31 +0100] "GET / HTTP/1.1" 200 1 "-" "-" 0.001`,
	}
	want := []string{"2026-11-24T10:20:31Z", "2026-11-24T10:20:31Z", "2026-11-24T10:20:32Z", "2026-11-24T09:20:31Z", "", "2026-11-24T09:20:31Z"}
	for i, l := range lines {
		var e slo.Event
		pr := p.parse([]byte(l), &e)
		if want[i] == "" {
			if pr == nil {
				t.Errorf("line %d: parsed second 99", i)
			}
			continue
		}
		if pr != nil {
			t.Fatalf("line %d: %s", i, pr.message())
		}
		if got := time.Unix(0, e.Time).UTC().Format(time.RFC3339); got != want[i] {
			t.Errorf("line %d: time %s, want %s", i, got, want[i])
		}
	}
}

func TestParseEnvoy(t *testing.T) {
	runParseCases(t, []parseCase{
		{name: "documented example", line: `[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"`,
			want: ev("2016-04-15T20:17:00.310Z", 204, 0, secs("0.226"), 1)},
		{name: "duration 5 ms is exactly 0.005 s", line: `[2026-11-24T10:20:31.000Z] "GET /pay HTTP/1.1" 200 - 0 58 5 4 "-" "curl/8.5.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "shop.example.com" "172.18.0.4:80"`,
			want: ev("2026-11-24T10:20:31Z", 200, 0, secs("0.005"), 1)},
		{name: "upstream failure with flags", line: `[2026-11-24T10:20:31.123Z] "GET /pay HTTP/1.1" 503 UF,URX 0 91 30 - "-" "curl/8.5.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "shop.example.com" "172.18.0.4:80"`,
			want: ev("2026-11-24T10:20:31.123Z", 503, 0, secs("0.03"), 1)},
		{name: "response code 0 is an explicit failure", line: `[2026-11-24T10:20:31.123Z] "GET /pay HTTP/2" 0 DC 0 0 1520 - "-" "curl/8.5.0" "f21ebd42-6770-4aa5-88d4-e56118165a7d" "shop.example.com" "-"`,
			want: ev("2026-11-24T10:20:31.123Z", 0, slo.FlagFalse, secs("1.52"), 1)},
		{name: "istio default format", line: `[2024-06-02T13:35:27.054Z] "GET / HTTP/2" 302 UAEX ext_authz_denied - "-" 0 387 16 - "192.168.0.24" "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0" "1d3ec87f-d974-4521-b5ac-23404817a56a" "kubeflow.example.com" "-" outbound|80||centraldashboard.kubeflow.svc.cluster.local - 10.0.0.196:8443 192.168.0.24:41604 kubeflow.example.com -`,
			want: ev("2024-06-02T13:35:27.054Z", 302, 0, secs("0.016"), 1)},
		{name: "istio with a transport failure reason", line: `[2024-06-02T13:24:57.930Z] "GET /x HTTP/2" 503 UF upstream_reset_before_response_started{connection_failure} - "delayed_connect_error:_111" 0 91 2 - "-" "curl/8.5.0" "9f69865b-eed1-409b-8c12-12436234a191" "auth.example.com" "10.0.0.159:8080" outbound|80||keycloak.auth.svc.cluster.local - 10.0.1.244:8443 192.168.0.24:8459 - -`,
			want: ev("2024-06-02T13:24:57.930Z", 503, 0, secs("0.002"), 1)},
		{name: "offset start time", line: `[2026-11-24T11:20:31.000+01:00] "GET / HTTP/1.1" 200 - 0 1 1 1 "-" "-" "-" "-" "-"`,
			want: ev("2026-11-24T10:20:31Z", 200, 0, secs("0.001"), 1)},

		{name: "negative duration", line: `[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1" 200 - 0 1 -5 1 "-" "-" "-" "-" "-"`, err: `negative latency, got "-5"`},
		{name: "duration not a number", line: `[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1" 200 - 0 1 5ms 1 "-" "-" "-" "-" "-"`, err: `DURATION: want whole milliseconds, got "5ms"`},
		{name: "cut at duration", line: `[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1" 200 - 0 1 22`, err: `line ends at DURATION`},
		{name: "status over 999", line: `[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1" 2000 - 0 1 5 1 "-" "-" "-" "-" "-"`, err: `RESPONSE_CODE: want an integer 0-999, got "2000"`},
		{name: "bad start time", line: `[2026-13-24T10:20:31.000Z] "GET / HTTP/1.1" 200 - 0 1 5 1 "-" "-" "-" "-" "-"`, err: `START_TIME: time: no such date, got "[2026-13-24T10:20:31.000Z]"`},
		{name: "no start time", line: `"GET / HTTP/1.1" 200 - 0 1 5 1`, err: `want [START_TIME] first`},
		{name: "unterminated request", line: `[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1 200 - 0 1 5 1`, err: `request: no closing quote`},
		{name: "cut after response code", line: `[2026-11-24T10:20:31.000Z] "GET / HTTP/1.1" 200`, err: `line ends after RESPONSE_CODE`},
		{name: "nginx line", line: `203.0.113.9 - - [24/Nov/2026:10:20:31 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl/8.5" 0.004`, err: `want [START_TIME] first`},
	}, parseEnvoy)
}

// TestLatencyScalingIsExact checks the decimal scaling against
// strconv.ParseFloat on the shifted text for many numbers, including ones
// that leave the fast path.
func TestLatencyScalingIsExact(t *testing.T) {
	f := func(text string, scale int) {
		t.Helper()
		var d decimal
		n, ok := scanNumber([]byte(text), 0, &d)
		if !ok || n != len(text) {
			t.Fatalf("scanNumber(%q) failed", text)
		}
		want, err := strconv.ParseFloat(text+"e"+strconv.Itoa(scale), 64)
		if err != nil && !math.IsInf(want, 0) {
			t.Fatal(err)
		}
		if want == 0 {
			want = 0 // no negative zero
		}
		if got := d.float(scale); math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("%q × 10^%d = %v (%#x), want %v (%#x)", text, scale, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
	f("5", -3)
	f("5.1", -3)
	f("0.005", 0)
	f("0.1", -3)
	f("3.2", -3)
	f("226", -3)
	f("0.00001", -3)
	f("9007199254740993", -3) // 2^53+1: leaves the fast path
	f("123456789012345678901234567890", -3)
	f("0.000000000000000000000000001", -3)
	f("1"+strings.Repeat("0", 308), 3) // overflows to +Inf
	f("0."+strings.Repeat("0", 400)+"1", 0)
	f("0."+strings.Repeat("0", 323)+"49", -3)
	f("179769313486231570000000000000000000000", 0)
	f("-7.5", -3)
	// Random milliseconds with up to 6 decimals and random mantissas.
	rng := uint64(1)
	next := func() uint64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
	for range 20000 {
		v := next() % 100000000
		dec := int(next() % 7)
		s := strconv.FormatUint(v, 10)
		if dec > 0 {
			for len(s) <= dec {
				s = "0" + s
			}
			s = s[:len(s)-dec] + "." + s[len(s)-dec:]
		}
		f(s, -3)
		f(s, 0)
		f(strconv.FormatUint(next(), 10), -int(next()%30))
	}
}

func TestUnixNanos(t *testing.T) {
	f := func(text string, want int64, wantOK bool) {
		t.Helper()
		var d decimal
		_, ok := scanNumber([]byte(text), 0, &d)
		if !ok {
			t.Fatalf("scanNumber(%q) failed", text)
		}
		got, ok := d.unixNanos()
		if ok != wantOK || (ok && got != want) {
			t.Errorf("unixNanos(%q) = %d, %v; want %d, %v", text, got, ok, want, wantOK)
		}
	}
	f("0", 0, true)
	f("1", 1e9, true)
	f("1795515631", 1795515631e9, true)
	f("1795515631.000000001", 1795515631000000001, true)
	f("1795515631.0000000019", 1795515631000000001, true)
	f("1.5e-9", 1, true)
	f("1e-10", 0, true)
	f("-1.5", -1500000000, true)
	f("9223372036.854775807", math.MaxInt64, true)
	f("9223372036.854775808", 0, false)
	f("1e19", 0, false)
	f("1e100000", 0, false)
	f("12345678901234567890123", 0, false)
}

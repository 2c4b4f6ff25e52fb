package server

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/ingest/promrw"
)

// FuzzWriteEndpoints sends arbitrary bodies to every endpoint that takes
// data. Whatever the body, the answer is a 2xx or a 4xx with a JSON error:
// never a 5xx, never a panic.
func FuzzWriteEndpoints(f *testing.F) {
	fx := newFixture(f, "")
	if _, err := fx.eng.Load(context.Background(), map[string][]byte{
		"checkout.yaml": []byte(testSpec), "api.yaml": []byte(remoteSpec),
	}); err != nil {
		f.Fatal(err)
	}
	graph, err := callgraph.New(callgraph.Options{Spans: 1024, Pending: 256})
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{SLOs: fx.eng, Writes: fx.eng, Annotations: fx.db, Size: fx.db, Incidents: incidentsOn(f, fx.eng, fx.db), MaxBody: 1 << 20, MaxSeries: 1000, Traces: graph})
	if err != nil {
		f.Fatal(err)
	}
	good := promrw.Encode(scrape(time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC), 10, 1, 1))
	f.Add(uint8(0), []byte(`{"time": "2026-11-25T09:59:00Z", "status": 200, "latency_ms": 3}`))
	f.Add(uint8(0), []byte(`[{"time": 1795600000, "ok": true}]`))
	f.Add(uint8(1), []byte(`{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:59:00Z", "attempted": 3, "good": 2, "errors": 1}]}`))
	f.Add(uint8(2), good)
	f.Add(uint8(2), good[:len(good)/2])
	f.Add(uint8(3), []byte(`{"resourceMetrics": []}`))
	f.Add(uint8(4), []byte{0x0a, 0xff, 0xff, 0xff, 0x0f})
	f.Add(uint8(5), []byte(`{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}]}`))
	f.Add(uint8(6), []byte{0x0a, 0x02, 0x12, 0x00})
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		type target struct{ path, contentType, encoding string }
		targets := []target{
			{"/api/v1/events?service=checkout", "application/x-ndjson", ""},
			{"/api/v1/rollups", "application/json", ""},
			{"/api/v1/write", "application/x-protobuf", "snappy"},
			{"/v1/metrics", "application/json", ""},
			{"/v1/metrics", "application/x-protobuf", ""},
			{"/v1/traces", "application/json", ""},
			{"/v1/traces", "application/x-protobuf", ""},
		}
		tg := targets[int(which)%len(targets)]
		req := httptest.NewRequest("POST", tg.path, bytes.NewReader(body))
		req.Host = "localhost" // not httptest's example.com, which nines does not answer to
		req.Header.Set("Content-Type", tg.contentType)
		if tg.encoding != "" {
			req.Header.Set("Content-Encoding", tg.encoding)
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s answered %d: %s", tg.path, rec.Code, rec.Body.String())
		}
		if rec.Code >= 400 && !bytes.Contains(rec.Body.Bytes(), []byte(`"message"`)) {
			t.Fatalf("%s answered %d without a message: %s", tg.path, rec.Code, rec.Body.String())
		}
	})
}

// mixedOp is a request of FuzzMixedWrites: a valid write and what it adds
// to the store's totals.
type mixedOp struct {
	method, path, contentType, body string
	adds                            func(*storeTotals)
}

var mixedOps = []mixedOp{
	{"POST", "/api/v1/events?slo=checkout-availability", "application/x-ndjson",
		`{"time": "2026-11-25T09:59:10Z", "status": 200, "count": 3}` + "\n", func(t *storeTotals) { t.events += 3 }},
	{"POST", "/api/v1/rollups", "application/json",
		`{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:58:00Z", "attempted": 10, "good": 9, "errors": 1}]}`, func(t *storeTotals) { t.events += 10 }},
	{"POST", "/api/v1/annotations", "application/json", `{"slo": "checkout-availability", "title": "v2"}`, func(t *storeTotals) { t.annotations++ }},
	{"POST", "/api/v1/silences", "application/json", `{"matchers": ["slo=checkout-availability"], "duration": "1h", "createdBy": "ana"}`, func(t *storeTotals) { t.silences++ }},
	{"POST", "/api/v1/incidents", "application/json", `{"title": "pay fails", "services": ["checkout"], "severity": 2}`, func(t *storeTotals) { t.incidents++ }},
	{"POST", "/api/v1/incidents/1/timeline", "application/json", `{"text": "rolled back"}`, func(t *storeTotals) { t.entries++ }},
}

// mixedFaults turn a valid request into one nines must refuse whole.
var mixedFaults = []func(ct, body string) (header map[string]string, b string){
	func(ct, body string) (map[string]string, string) {
		return map[string]string{"Content-Type": "text/plain"}, body
	},
	func(ct, body string) (map[string]string, string) {
		return map[string]string{"Content-Type": ct, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, body
	},
	func(ct, body string) (map[string]string, string) {
		return map[string]string{"Content-Type": ct, "Host": "evil.example"}, body
	},
	func(ct, body string) (map[string]string, string) {
		return map[string]string{"Content-Type": ct}, body + "}"
	},
	func(ct, body string) (map[string]string, string) {
		return map[string]string{"Content-Type": ct}, strings.Replace(body, `"`, "\"\xc3\x28", 1)
	},
	func(ct, body string) (map[string]string, string) {
		return map[string]string{"Content-Type": ct}, strings.Replace(body, "{", `{"slo ": 1, `, 1)
	},
}

// FuzzMixedWrites sends a run of valid and invalid writes, and after
// each checks the store's totals: a valid write adds exactly what it
// carries, a refused one changes nothing at all, and a body the fuzzer
// made up either is refused with a 4xx and changes nothing, or is taken;
// none gets a 5xx. Each byte pair of ops is one request: which write, and
// whether it is sent as it is or broken; the body, when given, is sent to
// the write the first byte names.
func FuzzMixedWrites(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 2, 0}, []byte(nil))
	f.Add([]byte{0, 1, 0, 0, 1, 4, 1, 0}, []byte(nil))
	f.Add([]byte{2, 2, 3, 3, 4, 0, 5, 0, 5, 6}, []byte(nil))
	f.Add([]byte{0, 5, 0, 0}, []byte(`{"time": "2026-11-25T09:59:30Z", "ok": false}`))
	f.Add([]byte{1, 0}, []byte(`{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:57:00Z", "attempted": 18446744073709551615}]}`))
	f.Add([]byte{4, 0, 5, 0}, []byte(`{"text": "`+strings.Repeat("x", 9000)+`"}`))
	f.Fuzz(func(t *testing.T, ops []byte, body []byte) {
		if len(ops) > 40 {
			ops = ops[:40]
		}
		fx := newWriteFixture(t)
		want := fx.totals()
		for i := 0; i+1 < len(ops); i += 2 {
			op := mixedOps[int(ops[i])%len(mixedOps)]
			kind := int(ops[i+1]) % (len(mixedFaults) + 2)
			header, b := map[string]string{"Content-Type": op.contentType}, op.body
			broken, madeUp := kind > 0 && kind <= len(mixedFaults), kind > len(mixedFaults) && body != nil
			switch {
			case madeUp:
				b = string(body)
			case broken:
				header, b = mixedFaults[kind-1](op.contentType, op.body)
			}
			status, answer := fx.send(op.method, op.path, b, header)
			got := fx.totals()
			switch {
			case status >= 500:
				t.Fatalf("%s %s answered %d: %s", op.method, op.path, status, answer)
			case status >= 400 && got != want:
				t.Fatalf("%s %s answered %d but the store changed:\nbefore %s\nafter  %s\n%s", op.method, op.path, status, want, got, answer)
			case status >= 400 && !broken && !madeUp:
				t.Fatalf("%s %s refused a valid request (%d): %s", op.method, op.path, status, answer)
			case status >= 400:
			case broken:
				t.Fatalf("%s %s took a broken request (%d): %s", op.method, op.path, status, answer)
			case madeUp:
				want = got // a made-up body that was valid
			default:
				op.adds(&want)
				if got.events != want.events || got.annotations != want.annotations || got.incidents != want.incidents ||
					got.entries != want.entries || got.silences != want.silences {
					t.Fatalf("%s %s (%d) stored other than it carries:\nwant %s\ngot  %s", op.method, op.path, status, want, got)
				}
				want = got
			}
		}
	})
}

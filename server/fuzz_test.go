package server

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"

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
	s, err := New(Config{Engine: fx.eng, Store: fx.db, MaxBody: 1 << 20, MaxSeries: 1000})
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
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		type target struct{ path, contentType, encoding string }
		targets := []target{
			{"/api/v1/events?service=checkout", "application/x-ndjson", ""},
			{"/api/v1/rollups", "application/json", ""},
			{"/api/v1/write", "application/x-protobuf", "snappy"},
			{"/v1/metrics", "application/json", ""},
			{"/v1/metrics", "application/x-protobuf", ""},
		}
		tg := targets[int(which)%len(targets)]
		req := httptest.NewRequest("POST", tg.path, bytes.NewReader(body))
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

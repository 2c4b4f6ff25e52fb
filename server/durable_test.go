package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/store/storetest"
)

// otlpSpec is a counter SLO read from OTLP.
const otlpSpec = `name: otlp-requests
service: api
sli:
  good:
    status: "<500"
  source:
    bad: 'app.requests{code="500"}'
    total: 'app.requests'
objective: 99
method: transactions
window:
  rolling: 1h
`

// otlpJSON is an OTLP/HTTP JSON export of the cumulative counter
// app.requests at t: ok 200s and bad 500s since start.
func otlpJSON(start, t time.Time, ok, bad int) string {
	point := func(code string, v int) string {
		return fmt.Sprintf(`{"attributes": [{"key": "code", "value": {"stringValue": %q}}], "startTimeUnixNano": "%d", "timeUnixNano": "%d", "asInt": "%d"}`,
			code, start.UnixNano(), t.UnixNano(), v)
	}
	return `{"resourceMetrics": [{"scopeMetrics": [{"metrics": [{"name": "app.requests", "sum": {"aggregationTemporality": 2, "isMonotonic": true, "dataPoints": [` +
		point("200", ok) + `, ` + point("500", bad) + `]}}]}]}]}`
}

// TestStoreFaultsAreAnsweredWithRetryAfter fails the store's writes with
// each fault a disk can have: every ingest endpoint answers 503 (507 for
// a full disk) with Retry-After, keeps nothing of the request, and once
// the fault clears the same requests, sent again, are counted exactly
// once, with nothing acknowledged before the fault lost.
func TestStoreFaultsAreAnsweredWithRetryAfter(t *testing.T) {
	for _, c := range []struct {
		name       string
		fault      error
		status     int
		retryAfter string
	}{
		{"An fsync failing with EIO is 503.", storetest.FaultIO, 503, "5"},
		{"A full disk is 507.", storetest.FaultFull, 507, "30"},
		{"A lock held past the busy timeout is 503.", storetest.FaultBusy, 503, "5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			st := storetest.NewFaulty(db)
			clk := &clock{t: time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)}
			eng, err := engine.New(ctx, engine.Config{Store: st, Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := eng.Load(ctx, map[string][]byte{"a.yaml": []byte(testSpec + "---\n" + remoteSpec + "---\n" + otlpSpec)}); err != nil {
				t.Fatal(err)
			}
			srv, err := New(Config{SLOs: eng, Writes: eng, Annotations: st, Size: st, MaxBody: 1 << 20, MaxSeries: 1000})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			t.Cleanup(hs.Close)

			post := func(path, ctype, body string, header map[string]string) (int, http.Header, string) {
				t.Helper()
				req, _ := http.NewRequest("POST", hs.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", ctype)
				for k, v := range header {
					req.Header.Set(k, v)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var b bytes.Buffer
				b.ReadFrom(resp.Body)
				return resp.StatusCode, resp.Header, b.String()
			}
			rw := map[string]string{"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}
			t0 := time.Date(2026, 11, 25, 9, 57, 10, 0, time.UTC)
			m := time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)
			requests := []struct {
				name, path, ctype, body string
				header                  map[string]string
			}{
				{"events", "/api/v1/events?slo=checkout-transactions", "application/x-ndjson", minuteOfEvents(m, 100, 3, 0), nil},
				{"rollups", "/api/v1/rollups", "application/json", `{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:59:00Z", "attempted": 10, "good": 9, "errors": 1}]}`, nil},
				{"remote write", "/api/v1/write", "application/x-protobuf", string(promrw.Encode(scrape(t0.Add(time.Minute), 5980, 35, 15))), rw},
				{"OTLP", "/v1/metrics", "application/json", otlpJSON(t0.Add(-time.Hour), t0.Add(time.Minute), 990, 10), nil},
			}
			// Acknowledged before the fault: the metric baselines.
			for _, r := range []struct{ path, ctype, body string }{
				{"/api/v1/write", "application/x-protobuf", string(promrw.Encode(scrape(t0, 5000, 20, 10)))},
				{"/v1/metrics", "application/json", otlpJSON(t0.Add(-time.Hour), t0, 100, 0)},
			} {
				if status, _, body := post(r.path, r.ctype, r.body, rw); status/100 != 2 {
					t.Fatalf("POST %s before the fault: %d %s", r.path, status, body)
				}
			}

			st.Fail(c.fault, 0)
			for _, r := range requests {
				status, h, body := post(r.path, r.ctype, r.body, r.header)
				if status != c.status || h.Get("Retry-After") != c.retryAfter {
					t.Errorf("%s while the store fails: %d, Retry-After %q, %s; want %d, Retry-After %s",
						r.name, status, h.Get("Retry-After"), body, c.status, c.retryAfter)
				}
			}
			st.Fail(nil, 0)
			for _, r := range requests {
				if status, _, body := post(r.path, r.ctype, r.body, r.header); status/100 != 2 {
					t.Fatalf("%s after the fault cleared: %d %s", r.name, status, body)
				}
			}

			clk.Set(t0.Add(5 * time.Minute))
			eng.Tick(clk.Now())
			for _, w := range []struct {
				slo         string
				total, fail uint64
			}{
				{"checkout-transactions", 100, 3},
				{"checkout-availability", 10, 1},
				{"api-requests", 1000, 5},
				{"otlp-requests", 900, 10},
			} {
				var doc statusDoc
				resp, err := http.Get(hs.URL + "/api/v1/slos/" + w.slo + "/status")
				if err != nil {
					t.Fatal(err)
				}
				err = json.NewDecoder(resp.Body).Decode(&doc)
				resp.Body.Close()
				if err != nil || len(doc.Windows) != 1 {
					t.Fatalf("status of %s: %v, %+v", w.slo, err, doc)
				}
				if e := doc.Windows[0].Events; e.Total != w.total || e.Failed != w.fail {
					t.Errorf("%s: events %+v, want %d with %d failed: each request counted once", w.slo, e, w.total, w.fail)
				}
			}
		})
	}
}

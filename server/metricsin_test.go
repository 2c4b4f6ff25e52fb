package server

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/promrw"
)

const remoteSpec = `name: api-latency
service: api
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'http_request_duration_seconds{job="api"}'
    statusLabel: code
objective: 99
method: transactions
window:
  rolling: 1h
noData: good
---
name: api-requests
service: api
sli:
  good:
    status: "<500"
  source:
    bad: 'http_requests_total{job="api", code=~"5.."}'
    total: 'http_requests_total{job="api"}'
objective: 99.9
method: transactions
window:
  rolling: 1h
`

func labels(kv ...string) metrics.Labels {
	var ls metrics.Labels
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, metrics.Label{Name: kv[i], Value: kv[i+1]})
	}
	return ls
}

// scrape is what a Prometheus scrape of the test target would send at t:
// cumulative request counters and classic histogram buckets.
func scrape(t time.Time, ok200, slow200, err500 float64) *promrw.WriteRequest {
	ms := t.UnixMilli()
	s := func(v float64, kv ...string) metrics.Series {
		return metrics.Series{Labels: labels(kv...), Samples: []metrics.Sample{{T: ms, V: v}}}
	}
	req := &promrw.WriteRequest{}
	req.Series = append(req.Series,
		s(ok200+slow200, "__name__", "http_requests_total", "code", "200", "job", "api"),
		s(err500, "__name__", "http_requests_total", "code", "500", "job", "api"),
	)
	// 200s: ok200 at or under 250 ms, slow200 at 1 s; 500s fast.
	for _, b := range []struct {
		le       string
		v200, v5 float64
	}{{"0.1", ok200, err500}, {"0.25", ok200, err500}, {"1", ok200 + slow200, err500}, {"+Inf", ok200 + slow200, err500}} {
		req.Series = append(req.Series,
			s(b.v200, "__name__", "http_request_duration_seconds_bucket", "code", "200", "job", "api", "le", b.le),
			s(b.v5, "__name__", "http_request_duration_seconds_bucket", "code", "500", "job", "api", "le", b.le))
	}
	return req
}

func TestRemoteWriteFeedsStatus(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	if _, err := f.eng.Load(ctx, map[string][]byte{"api.yaml": []byte(remoteSpec)}); err != nil {
		t.Fatal(err)
	}
	send := func(req *promrw.WriteRequest, want int) {
		t.Helper()
		r, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/write", bytes.NewReader(promrw.Encode(req)))
		r.Header.Set("Content-Encoding", "snappy")
		r.Header.Set("Content-Type", "application/x-protobuf")
		r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("remote write: %d %s, want %d", resp.StatusCode, b, want)
		}
	}
	t0 := time.Date(2026, 11, 25, 9, 57, 10, 0, time.UTC)
	// The first scrape sets the baselines; the second, a minute later,
	// brings 1,000 requests: 980 fast 200s, 15 slow 200s, 5 errors.
	send(scrape(t0, 5000, 20, 10), 204)
	send(scrape(t0.Add(time.Minute), 5980, 35, 15), 204)
	f.clock.Set(t0.Add(4 * time.Minute))

	var lat statusDoc
	f.do("GET", "/api/v1/slos/api-latency/status", "", nil, 200, &lat)
	w := lat.Windows[0]
	if w.Events.Total != 1000 || w.Events.Good != 980 || w.Events.Errors != 5 || w.Events.Slow != 15 {
		t.Fatalf("latency SLO events %+v, want 1000 = 980 good + 5 errors + 15 slow", w.Events)
	}
	var req statusDoc
	f.do("GET", "/api/v1/slos/api-requests/status", "", nil, 200, &req)
	if e := req.Windows[0].Events; e.Total != 1000 || e.Failed != 5 {
		t.Fatalf("counter SLO events %+v, want 5 failed of 1000", e)
	}

	// Bad payloads: 4xx, nothing stored, counted.
	for _, c := range []struct {
		body, enc string
		status    int
	}{
		{"not snappy at all", "snappy", 400},
		{"x", "zstd", 415},
	} {
		r, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/write", strings.NewReader(c.body))
		r.Header.Set("Content-Encoding", c.enc)
		r.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("body %q encoding %s: status %d, want %d", c.body, c.enc, resp.StatusCode, c.status)
		}
	}
	if m := f.do("GET", "/metrics", "", nil, 200, nil); !strings.Contains(m, `reason="remote write: undecodable"} 2`) {
		t.Fatalf("undecodable requests must be counted:\n%s", m)
	}
}

func TestRemoteWriteWithoutMetricSLOs(t *testing.T) {
	f := newFixture(t, "")
	r, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/write", bytes.NewReader(promrw.Encode(scrape(time.Now(), 1, 0, 0))))
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "no SLO reads metrics") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

func TestRemoteWriteSeriesLimit(t *testing.T) {
	f := newFixture(t, "")
	if _, err := f.eng.Load(context.Background(), map[string][]byte{"api.yaml": []byte(remoteSpec)}); err != nil {
		t.Fatal(err)
	}
	req := &promrw.WriteRequest{}
	for i := range 1001 {
		req.Series = append(req.Series, metrics.Series{
			Labels:  labels("__name__", "junk_total", "i", strconv.Itoa(i)),
			Samples: []metrics.Sample{{T: 1, V: 1}},
		})
	}
	r, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/write", bytes.NewReader(promrw.Encode(req)))
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || !strings.Contains(string(b), "at most 1000") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

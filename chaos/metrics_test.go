package chaos

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protodelim"
)

func newMetrics(t testing.TB) *Metrics {
	t.Helper()
	m, err := NewMetrics(MetricsConfig{Routes: []string{"/api", "/api/pay"}, Upstreams: []string{"http://up:80"}})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMetricsLabelRouteUpstreamAndCohort(t *testing.T) {
	m := newMetrics(t)
	for _, o := range []Outcome{
		{Path: "/api/pay/1", Upstream: "http://up:80", Cohort: Experiment, Status: 200, Latency: 5 * time.Millisecond},
		{Path: "/api/pay/2", Upstream: "http://up:80", Cohort: Experiment, Status: 503, Latency: 20 * time.Millisecond},
		{Path: "/api/cart", Upstream: "http://up:80", Cohort: Control, Status: 0, Latency: time.Second},
		{Path: "/secret/user/42", Upstream: "http://elsewhere:80", Cohort: Outside, Status: 200},
	} {
		m.Record(o)
	}
	text := writeText(m.families(nil))
	for _, want := range []string{
		`nines_proxy_requests_total{route="/api/pay",upstream="http://up:80",cohort="experiment"} 2`,
		`nines_proxy_errors_total{route="/api/pay",upstream="http://up:80",cohort="experiment",kind="5xx"} 1`,
		`nines_proxy_errors_total{route="/api",upstream="http://up:80",cohort="control",kind="broken"} 1`,
		`nines_proxy_requests_total{route="other",upstream="other",cohort="outside"} 1`,
		// 5 ms is at the 0.005 bound: buckets are "less than or equal".
		`nines_proxy_request_duration_seconds_bucket{route="/api/pay",upstream="http://up:80",cohort="experiment",le="0.005"} 1`,
		`nines_proxy_request_duration_seconds_bucket{route="/api/pay",upstream="http://up:80",cohort="experiment",le="0.025"} 2`,
		`nines_proxy_request_duration_seconds_bucket{route="/api/pay",upstream="http://up:80",cohort="experiment",le="+Inf"} 2`,
		`nines_proxy_request_duration_seconds_sum{route="/api/pay",upstream="http://up:80",cohort="experiment"} 0.025`,
		`nines_proxy_request_duration_seconds_count{route="/api",upstream="http://up:80",cohort="control"} 1`,
		"# TYPE nines_proxy_request_duration_seconds histogram",
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want) {
			t.Errorf("missing %s in\n%s", want, text)
		}
	}
	if strings.Contains(text, "/secret") {
		t.Error("a path that is no configured route became a label")
	}
}

func TestMetricsRefuseUnboundedLabels(t *testing.T) {
	many := make([]string, maxRoutes+1)
	for i := range many {
		many[i] = "/r" + string(rune('a'+i%26)) + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		name string
		cfg  MetricsConfig
	}{
		{"More routes than the bound are refused.", MetricsConfig{Routes: many}},
		{"A route that is no path prefix is refused.", MetricsConfig{Routes: []string{"api"}}},
		{"A route given twice is refused.", MetricsConfig{Routes: []string{"/a", "/a"}}},
		{"An upstream named other is refused.", MetricsConfig{Upstreams: []string{"other"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewMetrics(tc.cfg); err == nil {
				t.Errorf("%+v accepted", tc.cfg)
			}
		})
	}
}

func TestNativeKeysFollowSchema3(t *testing.T) {
	// Bucket k of schema 3 holds (2^((k-1)/8), 2^(k/8)]: a power of two
	// is the upper bound of its bucket.
	for n := -30; n <= 33; n++ {
		if k := nativeKey(math.Ldexp(1, n)); k != 8*n {
			t.Fatalf("2^%d in bucket %d, want %d", n, k, 8*n)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		v := math.Exp2(rng.Float64()*60 - 30)
		k := nativeKey(v)
		if lo, hi := math.Exp2(float64(k-1)/8), math.Exp2(float64(k)/8); !(lo < v && v <= hi) {
			t.Fatalf("%g in bucket %d, which holds (%g, %g]", v, k, lo, hi)
		}
	}
}

// scrape gets the admin handler's /metrics with an Accept header.
func scrape(t *testing.T, h http.Handler, accept string) *http.Response {
	t.Helper()
	r := httptest.NewRequest("GET", "/metrics", nil)
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

const prometheusAccept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"

func TestProtobufExpositionCarriesClassicAndNativeHistograms(t *testing.T) {
	m := newMetrics(t)
	p, err := NewProxy(Config{Upstream: mustURL("http://up:80"), Assigner: Assigner{Key: KeySource{Client: true}, Share: 0.1}, Recorder: &outcomes{}, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	want := map[int]uint64{} // native key → count, by the bucket's definition
	var zero, count uint64
	var sum float64
	for i := range 2000 {
		lat := time.Duration(rng.ExpFloat64() * float64(30*time.Millisecond))
		if i%500 == 0 {
			lat = 0
		}
		m.Record(Outcome{Path: "/api/pay/x", Upstream: "http://up:80", Cohort: Control, Status: 200, Latency: lat})
		count++
		sum += lat.Seconds()
		if lat == 0 {
			zero++
			continue
		}
		want[int(math.Ceil(math.Log2(lat.Seconds())*8))]++
	}
	resp := scrape(t, AdminHandler(p), prometheusAccept)
	if ct := resp.Header.Get("Content-Type"); ct != protoMediaType {
		t.Fatalf("content type %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	var h *dto.Histogram
	names := map[string]bool{}
	for {
		var mf dto.MetricFamily
		if err := protodelim.UnmarshalFrom(br, &mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding the exposition: %v", err)
		}
		names[mf.GetName()] = true
		if mf.GetName() == "nines_proxy_request_duration_seconds" {
			if mf.GetType() != dto.MetricType_HISTOGRAM || len(mf.Metric) != 1 {
				t.Fatalf("family %v", &mf)
			}
			h = mf.Metric[0].GetHistogram()
		}
	}
	if !names["nines_proxy_requests_total"] || !names["nines_proxy_upgrades_total"] || h == nil {
		t.Fatalf("families %v", names)
	}
	if h.GetSampleCount() != count || math.Abs(h.GetSampleSum()-sum) > 1e-9 || h.GetSchema() != 3 || h.GetZeroCount() != zero {
		t.Errorf("count %d sum %g schema %d zero %d; want %d %g 3 %d", h.GetSampleCount(), h.GetSampleSum(), h.GetSchema(), h.GetZeroCount(), count, sum, zero)
	}
	// Classic: cumulative, ending at most at the count.
	var last uint64
	for _, b := range h.Bucket {
		if b.GetCumulativeCount() < last || b.GetCumulativeCount() > count {
			t.Errorf("classic bucket le=%g: %d after %d", b.GetUpperBound(), b.GetCumulativeCount(), last)
		}
		last = b.GetCumulativeCount()
	}
	// Native: spans and deltas decode to the buckets each latency's
	// definition gives.
	got := map[int]uint64{}
	key, i := 0, 0
	var cur int64
	for s, sp := range h.PositiveSpan {
		if s == 0 {
			key = int(sp.GetOffset())
		} else {
			key += int(sp.GetOffset())
		}
		for range sp.GetLength() {
			cur += h.PositiveDelta[i]
			got[key] = uint64(cur)
			key++
			i++
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d native buckets, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("native bucket %d: %d, want %d", k, got[k], n)
		}
	}
}

func TestScrapersGetTheFormatTheyAskFor(t *testing.T) {
	for _, tc := range []struct {
		name, accept string
		proto        bool
	}{
		{"Prometheus asking for native histograms gets protobuf.", prometheusAccept, true},
		{"No Accept header gets text.", "", false},
		{"A text scraper gets text.", "text/plain;version=0.0.4", false},
		{"Protobuf ranked below text gets text.", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.2,text/plain;q=0.5", false},
		{"Protobuf of another message gets text.", "application/vnd.google.protobuf;proto=other.Message;encoding=delimited", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := wantsProtobuf(tc.accept); got != tc.proto {
				t.Errorf("protobuf %v, want %v", got, tc.proto)
			}
		})
	}
}

func TestAdminHandlerPausesResumesAndReports(t *testing.T) {
	ps := newPauser(t, PauseConfig{Queue: 5, MaxHold: 10 * time.Second, ReleaseRate: 1000})
	th, _ := NewThrottle(ThrottleConfig{GlobalRate: 100, Replicas: 2, Burst: 5}, nil)
	p, srv := opsRig(t, okHandler, Config{Pauser: ps, Throttle: th, Metrics: newMetrics(t)})
	admin := httptest.NewServer(AdminHandler(p))
	defer admin.Close()
	post := func(path string) string {
		resp, err := http.Post(admin.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post("/pause"); !strings.Contains(got, `"paused":true`) {
		t.Errorf("POST /pause: %s", got)
	}
	held := send(t.Context(), srv.URL+"/api/x")
	waitQueued(t, ps, 1)
	text := scrapeText(t, admin.URL)
	for _, want := range []string{"nines_proxy_paused 1\n", "nines_proxy_queue_depth 1\n", "nines_proxy_held_requests_total 1\n", "nines_proxy_throttle_rate 50\n", "nines_proxy_throttled_total 0\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("paused: missing %q in\n%s", want, text)
		}
	}
	if got := post("/resume"); !strings.Contains(got, `"paused":false`) {
		t.Errorf("POST /resume: %s", got)
	}
	if a := <-held; a.code != 200 {
		t.Errorf("held request: %+v", a)
	}
	// The proxy records a request a moment after its client has the
	// answer.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if text = scrapeText(t, admin.URL); strings.Contains(text, "nines_proxy_requests_total{") {
			break
		}
	}
	for _, want := range []string{"nines_proxy_paused 0\n", "nines_proxy_queue_depth 0\n", `nines_proxy_requests_total{route="/api",upstream="other",cohort="outside"} 1`} {
		if !strings.Contains(text, want) {
			t.Errorf("resumed: missing %q in\n%s", want, text)
		}
	}
	if resp, _ := http.Get(admin.URL + "/resume"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /resume: %d, want 405", resp.StatusCode)
	}
}

func scrapeText(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func TestRecordingAnOutcomeDoesNotAllocate(t *testing.T) {
	m := newMetrics(t)
	o := Outcome{Path: "/api/pay/1", Upstream: "http://up:80", Cohort: Experiment, Status: 200, Latency: 3 * time.Millisecond}
	m.Record(o)
	if n := testing.AllocsPerRun(1000, func() { m.Record(o) }); n != 0 {
		t.Errorf("%g allocations a record, want 0", n)
	}
}

func BenchmarkMetricsRecord(b *testing.B) {
	m := newMetrics(b)
	outs := make([]Outcome, 256)
	rng := rand.New(rand.NewPCG(5, 6))
	paths := []string{"/api/pay/1", "/api/cart", "/static/x.css", "/"}
	for i := range outs {
		outs[i] = Outcome{Path: paths[i%len(paths)], Upstream: "http://up:80", Cohort: Cohort(i % 3), Status: 200, Latency: time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))}
	}
	b.Run("one goroutine", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			m.Record(outs[i&255])
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				m.Record(outs[i&255])
			}
		})
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// BenchmarkScrape builds /metrics for 60 series: 20 routes, one
// upstream, three cohorts.
func BenchmarkScrape(b *testing.B) {
	var routes []string
	for i := range 20 {
		routes = append(routes, "/route"+strconv.Itoa(i))
	}
	m, err := NewMetrics(MetricsConfig{Routes: routes, Upstreams: []string{"http://up:80"}})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 100_000 {
		m.Record(Outcome{Path: routes[i%20] + "/x", Upstream: "http://up:80", Cohort: Cohort(i % 3), Status: 200, Latency: time.Duration(rng.ExpFloat64() * float64(20*time.Millisecond))})
	}
	p := &Proxy{cfg: Config{Metrics: m}}
	for _, f := range []struct{ name, accept string }{{"text", ""}, {"protobuf", prometheusAccept}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			h := AdminHandler(p)
			for b.Loop() {
				r := httptest.NewRequest("GET", "/metrics", nil)
				r.Header.Set("Accept", f.accept)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				b.SetBytes(int64(w.Body.Len()))
			}
		})
	}
}

func TestLabelsOfTakeTheFaultsRoutesAndUpstreams(t *testing.T) {
	cfg := Config{Upstream: mustURL("http://checkout:8080"), Faults: []*Fault{
		{Name: "a", Match: Match{Routes: []string{"/pay", "/cart"}}},
		{Name: "b", Match: Match{Routes: []string{"/pay"}}, Upstream: mustURL("http://experiment:8080")},
	}}
	got := LabelsOf(cfg, []string{"/api", "/pay"})
	if want := []string{"/api", "/pay", "/cart"}; !slices.Equal(got.Routes, want) {
		t.Errorf("routes %v, want %v", got.Routes, want)
	}
	if want := []string{"http://checkout:8080", "http://experiment:8080"}; !slices.Equal(got.Upstreams, want) {
		t.Errorf("upstreams %v, want %v", got.Upstreams, want)
	}
	if _, err := NewMetrics(got); err != nil {
		t.Errorf("NewMetrics refused LabelsOf's answer: %v", err)
	}
}

package chaos

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
)

// BenchmarkProxyNoFault is the proxy's cost per request with no run going
// on, as nines chaos proxy serves it (pauser, metrics), over loopback.
func BenchmarkProxyNoFault(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	pauser, _ := NewPauser(PauseConfig{Queue: 1000, MaxHold: time.Second, ReleaseRate: 100}, time.Now)
	cfg := Config{Upstream: u, Recorder: &outcomes{}, Pauser: pauser}
	m, _ := NewMetrics(LabelsOf(cfg, nil))
	cfg.Metrics = m
	cfg.Recorder = discard{}
	p, err := NewProxy(cfg)
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(p)
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get(srv.URL + "/api/pay")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

type discard struct{}

func (discard) Record(Outcome) {}

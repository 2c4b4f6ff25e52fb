package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkChaosProxyOverhead measures nines chaos proxy with no fault
// active against nginx's proxy_pass (Debian's nginx) in front of the same
// Go service, in turns, on this machine: the throughput of 32 keep-alive
// clients as fast as they go, and the p99 latency added at 1,000
// requests/s (open loop), each against the service reached directly.
//
//	go test -run '^$' -bench ChaosProxyOverhead -benchtime 1x ./e2e/
func BenchmarkChaosProxyOverhead(b *testing.B) {
	if _, err := exec.LookPath("nginx"); err != nil {
		b.Skip("nginx is not installed (apt-get install nginx-light)")
	}
	service := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer service.Close()
	nginxURL := startNginx(b, service.Listener.Addr().String())
	proxy := startProc(b, "nines chaos proxy", exec.Command(ninesBinary(b), "chaos", "proxy", "--listen", "127.0.0.1:0",
		"--upstream", service.URL, "--server", "http://127.0.0.1:1", "--name", "bench"))
	var proxyURL string
	waitFor(b, 20*time.Second, "the proxy to listen", func() (bool, string) {
		m := proxyRE.FindStringSubmatch(proxy.log.String())
		if m == nil {
			return false, ""
		}
		proxyURL = "http://" + m[1]
		return true, ""
	}, proxy)

	targets := []struct{ name, url string }{{"direct", service.URL}, {"nginx", nginxURL}, {"nines", proxyURL}}
	const rounds = 3
	tput := map[string][]float64{}
	p99 := map[string][]time.Duration{}
	for range b.N {
		for range rounds {
			for _, tg := range targets {
				tput[tg.name] = append(tput[tg.name], throughput(b, tg.url, 32, 3*time.Second))
			}
			for _, tg := range targets {
				p99[tg.name] = append(p99[tg.name], openLoopP99(b, tg.url, 1000, 3*time.Second))
			}
		}
	}
	med := func(xs []float64) float64 { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
	medD := func(xs []time.Duration) time.Duration { s := slices.Clone(xs); slices.Sort(s); return s[len(s)/2] }
	b.ReportMetric(med(tput["nines"]), "nines-req/s")
	b.ReportMetric(med(tput["nginx"]), "nginx-req/s")
	b.ReportMetric(med(tput["nines"])/med(tput["nginx"]), "throughput-ratio")
	b.ReportMetric(float64(medD(p99["nines"])-medD(p99["direct"]))/1e6, "nines-added-p99-ms")
	b.ReportMetric(float64(medD(p99["nginx"])-medD(p99["direct"]))/1e6, "nginx-added-p99-ms")
	b.Logf("throughput req/s: %v; p99 at 1,000 req/s: %v", tput, p99)
}

// startNginx runs nginx in front of upstream (host:port) and returns its URL.
func startNginx(b *testing.B, upstream string) string {
	dir := b.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body; proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi; uwsgi_temp_path %[1]s/uwsgi; scgi_temp_path %[1]s/scgi;
  upstream service { server %[2]s; keepalive 64; }
  server {
    listen 127.0.0.1:%[3]d;
    location / { proxy_pass http://service; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`, dir, upstream, port)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	p := startProc(b, "nginx", exec.Command("nginx", "-c", filepath.Join(dir, "nginx.conf"), "-p", dir))
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	waitFor(b, 10*time.Second, "nginx to answer", func() (bool, string) {
		resp, err := http.Get(url + "/")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}, p)
	return url
}

// throughput is the requests per second of n keep-alive clients sending
// as fast as they are answered, for d.
func throughput(b *testing.B, url string, n int, d time.Duration) float64 {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var done atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				resp, err := c.Get(url + "/api/pay")
				if err != nil {
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if ctx.Err() == nil {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / d.Seconds()
}

// openLoopP99 sends rate requests a second, each at its own time whatever
// the answers do, for d, and returns their p99 latency.
func openLoopP99(b *testing.B, url string, rate int, d time.Duration) time.Duration {
	tr := &http.Transport{MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	for now := range tick.C {
		if now.After(end) {
			break
		}
		wg.Go(func() {
			t0 := time.Now()
			resp, err := c.Get(url + "/api/pay")
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			lat = append(lat, time.Since(t0))
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		b.Fatalf("%s: no answer", url)
	}
	return lat[len(lat)*99/100]
}

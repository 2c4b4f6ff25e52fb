package probe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The probe benchmark's target runs in a process of its own (this test
// binary, started again with benchTargetEnv set), so that the prober's
// CPU time is its own.
const benchTargetEnv = "NINES_PROBE_BENCH_TARGET"

func TestMain(m *testing.M) {
	if os.Getenv(benchTargetEnv) == "1" {
		serveBenchTarget()
		return
	}
	os.Exit(m.Run())
}

func serveBenchTarget() {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println(l.Addr())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	io.Copy(io.Discard, os.Stdin) // until the parent closes stdin or dies
}

// startBenchTarget starts the target process and returns its address.
func startBenchTarget(b *testing.B) string {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), benchTargetEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("the target did not start: %q %v", line, err)
	}
	return strings.TrimSpace(line)
}

type usage struct {
	cpu, sys time.Duration // sys: the kernel's part of cpu
	maxRSS   int64         // bytes
}

func selfUsage() usage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(ru.Stime.Nano()), ru.Maxrss * 1024}
}

// procUsage reads another process's CPU time and peak RSS from /proc.
func procUsage(pid int) (usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return usage{}, err
	}
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	u := usage{cpu: time.Duration(ut+st) * 10 * time.Millisecond, sys: time.Duration(st) * 10 * time.Millisecond} // USER_HZ is 100 on Linux
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			u.maxRSS = kb * 1024
		}
	}
	return u, nil
}

type countSink struct{ ok, bad atomic.Int64 }

func (c *countSink) Results(_ context.Context, rs []Result) {
	for _, r := range rs {
		if r.OK {
			c.ok.Add(1)
		} else {
			c.bad.Add(1)
		}
	}
}

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("NINES_PROBE_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 60 * time.Second
}

// BenchmarkThousandHTTPProbes runs 1,000 HTTP probes at a 10 s interval
// against a loopback server in another process for a minute
// (NINES_PROBE_BENCH_SECONDS) and reports the prober's share of a core
// and its peak RSS; with prometheus-blackbox-exporter installed it then
// probes the same targets through the exporter, scraped as Prometheus
// would, and reports the exporter's figures beside them. Run it alone:
//
//	go test ./probe -run '^$' -bench ThousandHTTPProbes -benchtime 1x
func BenchmarkThousandHTTPProbes(b *testing.B) {
	const n, interval = 1000, 10 * time.Second
	addr := startBenchTarget(b)
	var ps []*Probe
	for i := range n {
		ps = append(ps, mustProbe(b, fmt.Sprintf("name: t%d\ninterval: 10s\ntimeout: 5s\nlocations: [bench]\nhttp: {url: 'http://%s/t/%d'}", i, addr, i)))
	}
	dur := benchSeconds()
	b.ResetTimer()
	sink := &countSink{}
	s, err := NewScheduler(SchedulerConfig{Location: "bench", Probes: ps, Sink: sink})
	if err != nil {
		b.Fatal(err)
	}
	u0 := selfUsage()
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	s.Run(ctx)
	cancel()
	wall := time.Since(t0)
	u1 := selfUsage()
	share := float64(u1.cpu-u0.cpu) / float64(wall)
	b.ReportMetric(share*100, "%core")
	b.ReportMetric(float64(u1.maxRSS)/(1<<20), "MiB-maxRSS")
	b.ReportMetric(float64(sink.ok.Load()), "checks-ok")
	b.ReportMetric(float64(sink.bad.Load()), "checks-failed")
	b.Logf("nines: %d probes at %s for %s: %d checks good, %d failed, %d skipped; CPU %s = %.2f %% of a core (%.0f %% in the kernel); peak RSS %.1f MiB",
		n, interval, wall.Round(time.Second), sink.ok.Load(), sink.bad.Load(), s.Stats().Skipped, (u1.cpu - u0.cpu).Round(time.Millisecond), share*100, 100*float64(u1.sys-u0.sys)/float64(u1.cpu-u0.cpu), float64(u1.maxRSS)/(1<<20))

	const exporter = "/usr/bin/prometheus-blackbox-exporter"
	if _, err := os.Stat(exporter); err != nil {
		b.Logf("blackbox_exporter: not installed (%s); no comparison", exporter)
		return
	}
	dir := b.TempDir()
	cfg := filepath.Join(dir, "blackbox.yml")
	os.WriteFile(cfg, []byte("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n    http:\n      preferred_ip_protocol: ip4\n"), 0o600)
	port := freePort(b)
	cmd := exec.Command(exporter, "--config.file="+cfg, fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--log.level=warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(base + "/metrics"); err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			b.Fatal("blackbox_exporter did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The scrape loop: what Prometheus does for a blackbox job, each
	// target at its own offset in the interval, over kept-alive
	// connections. Its cost is this process's, measured apart.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var good, bad atomic.Int64
	e0, err := procUsage(cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	s0 := selfUsage()
	t0 = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), dur)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := fmt.Sprintf("http://%s/t/%d", addr, i)
			u := base + "/probe?module=http_2xx&target=" + url.QueryEscape(target)
			next := NextDue(ps[i], time.Now())
			for {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(interval)
				resp, err := client.Get(u)
				if err != nil {
					bad.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if strings.Contains(string(body), "\nprobe_success 1") {
					good.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	cancel()
	wall = time.Since(t0)
	e1, _ := procUsage(cmd.Process.Pid)
	s1 := selfUsage()
	eshare := float64(e1.cpu-e0.cpu) / float64(wall)
	sshare := float64(s1.cpu-s0.cpu) / float64(wall)
	b.ReportMetric(eshare*100, "%core-blackbox")
	b.ReportMetric(float64(e1.maxRSS)/(1<<20), "MiB-maxRSS-blackbox")
	b.Logf("blackbox_exporter: the same targets for %s: %d probes good, %d failed; exporter CPU %s = %.2f %% of a core (%.0f %% in the kernel), peak RSS %.1f MiB; the scrape loop (Prometheus' share) %.2f %% of a core",
		wall.Round(time.Second), good.Load(), bad.Load(), (e1.cpu - e0.cpu).Round(time.Millisecond), eshare*100, 100*float64(e1.sys-e0.sys)/float64(max(e1.cpu-e0.cpu, 1)), float64(e1.maxRSS)/(1<<20), sshare*100)
}

// BenchmarkBareConnectFloor is the floor under BenchmarkThousandHTTPProbes:
// the same hundred requests a second written by hand on raw connections
// (connect, write, read, close), with nothing measured or judged.
func BenchmarkBareConnectFloor(b *testing.B) {
	addr := startBenchTarget(b)
	dur := benchSeconds()
	req := []byte("GET /t/0 HTTP/1.1\r\nHost: " + addr + "\r\nConnection: close\r\n\r\n")
	u0 := selfUsage()
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	buf := make([]byte, 4096)
	n := 0
	for time.Since(t0) < dur {
		<-tick.C
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			b.Fatal(err)
		}
		c.Write(req)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
		n++
	}
	wall := time.Since(t0)
	u1 := selfUsage()
	share := float64(u1.cpu-u0.cpu) / float64(wall)
	b.ReportMetric(share*100, "%core")
	b.Logf("bare: %d requests in %s: CPU %s = %.2f %% of a core (%.0f %% in the kernel)", n, wall.Round(time.Second), (u1.cpu - u0.cpu).Round(time.Millisecond), share*100, 100*float64(u1.sys-u0.sys)/float64(u1.cpu-u0.cpu))
}

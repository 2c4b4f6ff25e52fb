package tcp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// TestThroughputAgainstToxiproxy measures bytes per second through this
// proxy and through a Toxiproxy server built from its Go module, no toxic
// on either, the same payloads, alternating in one run. It builds
// Toxiproxy (about 30 s), so it runs only when asked:
//
//	NINES_TOXIPROXY_COMPARE=1 go test -run ThroughputAgainstToxiproxy -v ./chaos/tcp/
func TestThroughputAgainstToxiproxy(t *testing.T) {
	if os.Getenv("NINES_TOXIPROXY_COMPARE") == "" {
		t.Skip("set NINES_TOXIPROXY_COMPARE=1 to build Toxiproxy and compare throughput")
	}
	bin := buildToxiproxy(t)
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-host", "127.0.0.1", "-port", port)
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start Toxiproxy: %v", err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	theirs := toxiproxy.NewClient("127.0.0.1:" + port)
	for i := 0; ; i++ {
		if _, err := theirs.Proxies(); err == nil {
			break
		} else if i > 100 {
			t.Fatalf("Toxiproxy did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := NewServer()
	hs := httptest.NewServer(Handler(s))
	defer func() { hs.Close(); s.Close() }()
	ours := toxiproxy.NewClient(hs.URL)

	source := tcpServer(t, func(c net.Conn) { // sends 64 MiB, then closes
		buf := make([]byte, 32<<10)
		for range 2048 {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	sinkDone := make(chan int64, 16)
	sink := tcpServer(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		sinkDone <- n
	})
	echo := echoServer(t)

	type target struct {
		name    string
		proxies map[string]string // upstream name → listen address
	}
	mk := func(name string, c *toxiproxy.Client) target {
		tg := target{name: name, proxies: map[string]string{}}
		for up, addr := range map[string]string{"source": source, "sink": sink, "echo": echo} {
			p, err := c.CreateProxy(up, "127.0.0.1:0", addr)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			tg.proxies[up] = p.Listen
		}
		return tg
	}
	targets := []target{mk("nines", ours), mk("toxiproxy", theirs)}

	type load struct {
		name string
		run  func(t *testing.T, tg target) float64 // MB/s
	}
	loads := []load{
		{"downstream 64 MiB stream", func(t *testing.T, tg target) float64 {
			c, err := net.Dial("tcp", tg.proxies["source"])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			n, _ := io.Copy(io.Discard, c)
			return float64(n) / time.Since(start).Seconds() / 1e6
		}},
		{"upstream 64 MiB stream", func(t *testing.T, tg target) float64 {
			c, err := net.Dial("tcp", tg.proxies["sink"])
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 32<<10)
			start := time.Now()
			for range 2048 {
				if _, err := c.Write(buf); err != nil {
					t.Fatal(err)
				}
			}
			_ = c.(*net.TCPConn).CloseWrite()
			n := <-sinkDone
			d := time.Since(start)
			c.Close()
			return float64(n) / d.Seconds() / 1e6
		}},
		{"1 KiB echo round trips", func(t *testing.T, tg target) float64 {
			c, err := net.Dial("tcp", tg.proxies["echo"])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			msg, got := make([]byte, 1024), make([]byte, 1024)
			start := time.Now()
			const n = 5000
			for range n {
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
			}
			return float64(2*n*len(msg)) / time.Since(start).Seconds() / 1e6
		}},
	}
	const rounds = 5
	for _, l := range loads {
		results := map[string][]float64{}
		for range rounds {
			for _, tg := range targets {
				results[tg.name] = append(results[tg.name], l.run(t, tg))
			}
		}
		ourMed, theirMed := median(results["nines"]), median(results["toxiproxy"])
		t.Logf("%-26s nines %8.1f MB/s  toxiproxy %8.1f MB/s  ratio %.2f× (median of %d alternating rounds)", l.name, ourMed, theirMed, ourMed/theirMed, rounds)
		if ourMed < 0.8*theirMed {
			t.Errorf("%s: %.1f MB/s is under 0.8× Toxiproxy's %.1f MB/s", l.name, ourMed, theirMed)
		}
	}
}

func median(xs []float64) float64 {
	s := append([]float64{}, xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// buildToxiproxy builds Toxiproxy's server from the module version this
// module's tests use, in a scratch module, and skips when it cannot.
func buildToxiproxy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mod := "module toxiproxybuild\n\ngo 1.26.0\n\nrequire github.com/Shopify/toxiproxy/v2 v2.5.0\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "toxiproxy-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/Shopify/toxiproxy/v2/cmd/server")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot build Toxiproxy: %v\n%s", err, out)
	}
	return bin
}

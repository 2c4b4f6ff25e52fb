package tcp

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

// echoServer answers every connection with what it reads.
func echoServer(t *testing.T) string {
	t.Helper()
	return tcpServer(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// tcpServer runs handle for every connection on a loopback port.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// apiServer starts the Toxiproxy API over a fresh Server and returns a
// Toxiproxy client pointed at it.
func apiServer(t *testing.T) (*toxiproxy.Client, *Server) {
	t.Helper()
	s := NewServer()
	hs := httptest.NewServer(Handler(s))
	t.Cleanup(func() { hs.Close(); s.Close() })
	return toxiproxy.NewClient(hs.URL), s
}

func createProxy(t *testing.T, c *toxiproxy.Client, upstream string) *toxiproxy.Proxy {
	t.Helper()
	p, err := c.CreateProxy("db", "127.0.0.1:0", upstream)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func dial(t *testing.T, p *toxiproxy.Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg and reads it back, returning how long that took.
func roundTrip(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo differs: got %d bytes %q…", len(got), got[:min(len(got), 16)])
	}
	return time.Since(start)
}

func TestToxicsThroughToxiproxyClient(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 5000) // 50 kB
	tests := []struct {
		name, typ, stream string
		toxicity          float32
		attrs             toxiproxy.Attributes
		check             func(t *testing.T, c net.Conn)
	}{
		{"Latency delays the answer by the latency asked", "latency", "downstream", 1,
			toxiproxy.Attributes{"latency": 150}, func(t *testing.T, c net.Conn) {
				if d := roundTrip(t, c, []byte("ping")); d < 150*time.Millisecond || d > 1500*time.Millisecond {
					t.Errorf("round trip took %v, want about 150ms", d)
				}
			}},
		{"Latency with toxicity 0 leaves the connection alone", "latency", "downstream", 0,
			toxiproxy.Attributes{"latency": 1000}, func(t *testing.T, c net.Conn) {
				if d := roundTrip(t, c, []byte("ping")); d > 500*time.Millisecond {
					t.Errorf("round trip took %v with toxicity 0", d)
				}
			}},
		{"Bandwidth holds the byte rate to the rate asked", "bandwidth", "downstream", 1,
			toxiproxy.Attributes{"rate": 100}, func(t *testing.T, c net.Conn) {
				d := roundTrip(t, c, payload)
				rate := float64(len(payload)) / d.Seconds() / 1000
				if rate > 115 || rate < 50 {
					t.Errorf("%.0f KB/s through a 100 KB/s toxic (%v for %d bytes)", rate, d, len(payload))
				}
			}},
		{"Slicer cuts data into pieces with a pause between them", "slicer", "downstream", 1,
			toxiproxy.Attributes{"average_size": 10, "size_variation": 0, "delay": 10000}, func(t *testing.T, c net.Conn) {
				// 100 bytes in pieces of at most 10, 10 ms apart: at least 90 ms.
				if d := roundTrip(t, c, []byte(strings.Repeat("x", 100))); d < 90*time.Millisecond {
					t.Errorf("100 bytes came back in %v; the slicer should take 100ms", d)
				}
			}},
		{"Limit data passes the bytes asked then closes", "limit_data", "downstream", 1,
			toxiproxy.Attributes{"bytes": 10}, func(t *testing.T, c net.Conn) {
				_, _ = c.Write([]byte(strings.Repeat("y", 100)))
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil || len(got) != 10 {
					t.Errorf("read %d bytes (%v), want exactly 10 then EOF", len(got), err)
				}
			}},
		{"Timeout 0 swallows data and holds the connection open", "timeout", "downstream", 1,
			toxiproxy.Attributes{"timeout": 0}, func(t *testing.T, c net.Conn) {
				_, _ = c.Write([]byte("ping"))
				_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				n, err := c.Read(make([]byte, 10))
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("read %d bytes, err %v; want no data until the deadline", n, err)
				}
			}},
		{"Timeout closes the connection once no data came for that long", "timeout", "downstream", 1,
			toxiproxy.Attributes{"timeout": 100}, func(t *testing.T, c net.Conn) {
				start := time.Now()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(make([]byte, 10))
				d := time.Since(start)
				if err == nil || n != 0 || d < 90*time.Millisecond || d > 2*time.Second {
					t.Errorf("read %d bytes, err %v after %v; want a close after 100ms", n, err, d)
				}
			}},
		{"Reset peer resets the connection once data flows", "reset_peer", "upstream", 1,
			toxiproxy.Attributes{"timeout": 50}, func(t *testing.T, c net.Conn) {
				start := time.Now()
				_, _ = c.Write([]byte("ping"))
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, err := c.Read(make([]byte, 10))
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Errorf("read error %v, want connection reset by peer", err)
				}
				if d := time.Since(start); d < 45*time.Millisecond {
					t.Errorf("reset after %v, want after 50ms", d)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client, _ := apiServer(t)
			p := createProxy(t, client, echoServer(t))
			if _, err := p.AddToxic("", tc.typ, tc.stream, tc.toxicity, tc.attrs); err != nil {
				t.Fatal(err)
			}
			tc.check(t, dial(t, p))
		})
	}
}

func TestSlowCloseDelaysTheClose(t *testing.T) {
	client, _ := apiServer(t)
	up := tcpServer(t, func(c net.Conn) { _, _ = c.Write([]byte("bye")) })
	p := createProxy(t, client, up)
	if _, err := p.AddToxic("", "slow_close", "downstream", 1, toxiproxy.Attributes{"delay": 200}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 3)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Read(buf); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if d := time.Since(start); d < 180*time.Millisecond {
		t.Errorf("closed after %v, want after 200ms", d)
	}
}

func TestToxicsAddedToALiveConnection(t *testing.T) {
	client, _ := apiServer(t)
	p := createProxy(t, client, echoServer(t))
	c := dial(t, p)
	if d := roundTrip(t, c, []byte("before")); d > 500*time.Millisecond {
		t.Fatalf("round trip without toxics took %v", d)
	}
	if _, err := p.AddToxic("slow", "latency", "upstream", 1, toxiproxy.Attributes{"latency": 200}); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, []byte("during")); d < 200*time.Millisecond {
		t.Errorf("round trip with a 200ms toxic took %v", d)
	}
	if _, err := p.UpdateToxic("slow", -1, toxiproxy.Attributes{"latency": 0}); err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveToxic("slow"); err != nil {
		t.Fatal(err)
	}
	if d := roundTrip(t, c, []byte("after")); d > 150*time.Millisecond {
		t.Errorf("round trip after removing the toxic took %v", d)
	}
}

func TestProxyLifecycleThroughToxiproxyClient(t *testing.T) {
	client, _ := apiServer(t)
	up := echoServer(t)
	p := createProxy(t, client, up)
	if _, err := client.CreateProxy("db", "127.0.0.1:0", up); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("a second proxy named db: %v, want HTTP 409", err)
	}
	if _, err := client.Proxy("nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a missing proxy: %v, want HTTP 404", err)
	}
	if _, err := p.AddToxic("", "latency", "sideways", 1, nil); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a bad stream: %v, want HTTP 400", err)
	}
	if _, err := p.AddToxic("", "latency", "", 1, toxiproxy.Attributes{"latency": -5}); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("a negative latency: %v, want HTTP 400", err)
	}
	if _, err := p.AddToxic("", "latency", "", 1, toxiproxy.Attributes{"latency": 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AddToxic("", "latency", "", 1, nil); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("a second latency_downstream: %v, want HTTP 409", err)
	}
	got, err := client.Proxy("db")
	if err != nil || len(got.ActiveToxics) != 1 || got.ActiveToxics[0].Name != "latency_downstream" || got.ActiveToxics[0].Attributes["latency"] != float64(10) {
		t.Fatalf("proxy read back as %+v (%v)", got, err)
	}
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", p.Listen, time.Second); err == nil {
		c.Close()
		t.Error("a disabled proxy still accepts connections")
	}
	if err := client.ResetState(); err != nil {
		t.Fatal(err)
	}
	got, err = client.Proxy("db")
	if err != nil || !got.Enabled || len(got.ActiveToxics) != 0 {
		t.Fatalf("after reset the proxy is %+v (%v), want enabled without toxics", got, err)
	}
	roundTrip(t, dial(t, got), []byte("hello"))
	ps, err := client.Populate([]toxiproxy.Proxy{{Name: "cache", Listen: "127.0.0.1:0", Upstream: up, Enabled: true}})
	if err != nil || len(ps) != 1 || ps[0].Name != "cache" {
		t.Fatalf("populate gave %+v (%v)", ps, err)
	}
	all, err := client.Proxies()
	if err != nil || len(all) != 2 {
		t.Fatalf("proxies: %v (%v)", all, err)
	}
	if err := p.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Proxy("db"); err == nil {
		t.Error("a deleted proxy is still listed")
	}
}

func TestRemovingATimeoutClosesTheConnectionsItHeld(t *testing.T) {
	client, _ := apiServer(t)
	p := createProxy(t, client, echoServer(t))
	if _, err := p.AddToxic("hold", "timeout", "downstream", 1, toxiproxy.Attributes{"timeout": 0}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, p)
	_, _ = c.Write([]byte("ping"))
	time.Sleep(50 * time.Millisecond)
	if err := p.RemoveToxic("hold"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 10)); err == nil {
		t.Errorf("read %d bytes after the timeout was removed; Toxiproxy closes such connections", n)
	}
}

func TestDisablingAProxyClosesItsConnections(t *testing.T) {
	client, _ := apiServer(t)
	p := createProxy(t, client, echoServer(t))
	c := dial(t, p)
	roundTrip(t, c, []byte("ping"))
	if err := p.Disable(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 10)); err == nil {
		t.Error("a connection outlived its disabled proxy")
	}
}

func TestUpstreamDownClosesTheClient(t *testing.T) {
	client, _ := apiServer(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	p := createProxy(t, client, dead)
	c := dial(t, p)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 10)); err == nil {
		t.Error("the client stayed connected to a proxy whose upstream is down")
	}
}

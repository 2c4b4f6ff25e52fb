package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2/client"
)

func TestChaosTCPServesToxiproxyAPIWithPreloadedProxies(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	cfg := filepath.Join(t.TempDir(), "proxies.json")
	if err := os.WriteFile(cfg, []byte(`[{"name":"redis","listen":"127.0.0.1:0","upstream":"`+up.Addr().String()+`"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runChaosTCP(ctx, &env{stdout: pw, stderr: &stderr}, []string{"--tcp", "--api", "127.0.0.1:0", "--config", cfg})
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no address printed: %v (stderr %s)", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr := strings.TrimSpace(line[strings.LastIndex(line, " ")+1:])
	p, err := toxiproxy.NewClient(addr).Proxy("redis")
	if err != nil {
		t.Fatalf("the preloaded proxy: %v", err)
	}
	if _, err := p.AddToxic("", "latency", "", 1, toxiproxy.Attributes{"latency": 100}); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, _ = c.Write([]byte("ping"))
	if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answer after %v through a 100ms latency toxic", d)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("stopping: %v", err)
	}
}

func TestChaosTCPRefusesABadConfig(t *testing.T) {
	tests := []struct{ name, body, says string }{
		{"A file that is not JSON says line and column", "[\n  {\"name\": }\n]", "proxies.json:2:12"},
		{"A proxy without an upstream says which proxy", `[{"name":"a","listen":"127.0.0.1:0"}]`, "missing required field: upstream at proxy 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "proxies.json")
			if err := os.WriteFile(cfg, []byte(tc.body), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := runChaosTCP(context.Background(), &env{stdout: &out, stderr: &out}, []string{"--tcp", "--api", "127.0.0.1:0", "--config", cfg})
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("got %v, want an error saying %q", err, tc.says)
			}
		})
	}
}

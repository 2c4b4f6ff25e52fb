package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nines-sre/nines/chaos/tcp"
)

const chaosTCPAbout = `Run the TCP fault proxy for everything that is not HTTP (databases,
caches, queues), driven through Toxiproxy's REST API so existing Toxiproxy
clients and scripts work unchanged. Faults ("toxics") apply per connection:
latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data.

  nines chaos proxy --tcp --api 127.0.0.1:8474 --config proxies.json

--config preloads proxies in Toxiproxy's populate format: a JSON list of
{"name", "listen", "upstream", "enabled"}.`

// runChaosTCP serves the Toxiproxy API until ctx ends. It takes the
// arguments after "nines chaos proxy", --tcp among them.
func runChaosTCP(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "chaos proxy", "--tcp [--api ADDR] [--config FILE]", chaosTCPAbout)
	tcpMode := fs.Bool("tcp", false, "TCP mode with Toxiproxy's API (required here)")
	apiAddr := fs.String("api", "127.0.0.1:8474", "`address` of the Toxiproxy API (8474 is Toxiproxy's port)")
	config := fs.String("config", "", "`file` of proxies to create at start, in Toxiproxy's populate format")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if !*tcpMode {
		return usageError("chaos proxy: this mode needs --tcp (the HTTP proxy takes --listen and --upstream)")
	}
	s := tcp.NewServer()
	defer s.Close()
	if *config != "" {
		n, err := preloadProxies(s, *config)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("chaos proxy: %w", err)}
		}
		fmt.Fprintf(e.stderr, "chaos proxy: %d proxies from %s\n", n, *config)
	}
	ln, err := net.Listen("tcp", *apiAddr)
	if err != nil {
		return usageError("chaos proxy: --api %s: %v", *apiAddr, err)
	}
	hs := &http.Server{Handler: tcp.Handler(s), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: time.Minute}
	fmt.Fprintf(e.stdout, "chaos proxy: Toxiproxy API on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("chaos proxy: serving the API: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("chaos proxy: stopping the API: %w", err)
	}
	return nil
}

// preloadProxies creates the proxies of a populate file, refusing the
// whole file on the first problem with where it is.
func preloadProxies(s *tcp.Server, path string) (int, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("--config: %w", err)
	}
	cs, err := tcp.ParsePopulate(body)
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset counts the offending byte too.
			line, col := lineCol(body, se.Offset-1)
			return 0, fmt.Errorf("%s:%d:%d: %v", path, line, col, se)
		}
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := s.Populate(cs); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return len(cs), nil
}

// lineCol turns the 0-based offset of a byte into a 1-based line and column.
func lineCol(body []byte, off int64) (int, int) {
	off = min(max(off, 0), int64(len(body)))
	before := string(body[:off])
	return strings.Count(before, "\n") + 1, int(off) - strings.LastIndex(before, "\n")
}

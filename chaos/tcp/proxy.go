package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds the connect to the upstream, so a dead upstream shows
// as a closed client connection rather than one that hangs.
const dialTimeout = 10 * time.Second

// Proxy listens on one address and forwards each connection to one
// upstream through the proxy's toxics.
type Proxy struct {
	mu       sync.Mutex // guards the fields below and start/stop
	name     string
	listen   string
	upstream string
	enabled  bool
	accepted sync.WaitGroup

	// connMu guards ln and conns apart from mu, so connections come and go
	// while the API holds mu.
	connMu sync.Mutex
	ln     net.Listener
	conns  map[*conn]struct{}

	chain atomic.Pointer[chain]
}

func newProxy(name, listen, upstream string) *Proxy {
	p := &Proxy{name: name, listen: listen, upstream: upstream, conns: map[*conn]struct{}{}}
	p.chain.Store(&chain{replaced: make(chan struct{})})
	return p
}

// checkAddr refuses an address that is not host:port with a port in range.
func checkAddr(what, addr string, zeroPort bool) error {
	if addr == "" {
		return missingField(what)
	}
	if len(addr) > MaxAddrBytes {
		return apiErrorf(errBadRequestBody, "%s is %d bytes long; the limit is %d", what, len(addr), MaxAddrBytes)
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return apiErrorf(errBadRequestBody, "%s %q is not host:port (%v)", what, clip(addr), err)
	}
	n, err := strconv.Atoi(port)
	low := 1
	if zeroPort {
		low = 0
	}
	if err != nil || n < low || n > 65535 {
		return apiErrorf(errBadRequestBody, "%s %q has port %q; it must be a number from %d to 65535", what, clip(addr), clip(port), low)
	}
	return nil
}

// start listens and accepts; the caller holds p.mu.
func (p *Proxy) start() error {
	if p.enabled {
		return nil
	}
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		return apiErrorf(errListen, "proxy %s: %v", p.name, err)
	}
	p.connsLocked(func(map[*conn]struct{}) { p.ln = ln })
	// Toxiproxy reports the address actually bound, so port 0 becomes real.
	p.listen = ln.Addr().String()
	p.enabled = true
	p.accepted.Add(1)
	go p.accept(ln)
	return nil
}

// stop closes the listener and every connection; the caller holds p.mu.
func (p *Proxy) stop() {
	if !p.enabled {
		return
	}
	p.enabled = false
	var all []*conn
	p.connsLocked(func(m map[*conn]struct{}) {
		_ = p.ln.Close()
		p.ln = nil
		for c := range m {
			all = append(all, c)
		}
	})
	p.accepted.Wait()
	for _, c := range all {
		c.stop()
	}
}

func (p *Proxy) connsLocked(f func(map[*conn]struct{})) {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	f(p.conns)
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.accepted.Done()
	for {
		client, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of file descriptors and the like pass; a proxy that
			// stopped accepting while it says enabled would mislead.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go p.serve(ln, client)
	}
}

// serve connects one client to the upstream. A proxy stopped meanwhile
// (its listener is no longer ln) gets the connection closed at once.
func (p *Proxy) serve(ln net.Listener, client net.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", p.upstreamAddr())
	if err != nil {
		// Toxiproxy closes the client when the upstream is down; so do we.
		_ = client.Close()
		return
	}
	c := &conn{client: client, server: server, quit: make(chan struct{})}
	accepted := false
	p.connsLocked(func(m map[*conn]struct{}) {
		if p.ln == ln {
			m[c] = struct{}{}
			accepted = true
		}
	})
	if !accepted {
		c.stop()
		return
	}
	startLink(p, c, Upstream, client, server)
	startLink(p, c, Downstream, server, client)
	go func() {
		c.links.Wait()
		_ = client.Close()
		_ = server.Close()
		p.connsLocked(func(m map[*conn]struct{}) { delete(m, c) })
	}()
}

func (p *Proxy) upstreamAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.upstream
}

// stop ends a connection at once, for a proxy that is disabled or deleted.
func (c *conn) stop() {
	c.stopOnce.Do(func() {
		close(c.quit)
		_ = c.client.Close()
		_ = c.server.Close()
	})
}

// setToxics stores a new snapshot and wakes the links of the old one; the
// caller holds p.mu.
func (p *Proxy) setToxics(ts [numDirections][]*Toxic) {
	old := p.chain.Load()
	p.chain.Store(&chain{toxics: ts, replaced: make(chan struct{})})
	close(old.replaced)
}

func (p *Proxy) toxics() [numDirections][]*Toxic { return p.chain.Load().toxics }

// findToxic returns the toxic named name and where it is.
func (p *Proxy) findToxic(name string) (*Toxic, Direction, int) {
	ts := p.toxics()
	for d := range ts {
		for i, t := range ts[d] {
			if t.Name == name {
				return t, Direction(d), i
			}
		}
	}
	return nil, 0, -1
}

func (p *Proxy) toxicCount() int {
	ts := p.toxics()
	return len(ts[Upstream]) + len(ts[Downstream])
}

func (p *Proxy) String() string {
	return fmt.Sprintf("proxy %s (%s → %s)", p.name, p.listen, p.upstream)
}

package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"strings"
	"time"
)

// httpRun is one check's HTTP client. It speaks HTTP/1.1 over a new
// connection per request, in the calling goroutine, and times each phase
// itself: name lookup, connect, TLS handshake, first byte and transfer.
//
// net/http's Transport would do the same work with three goroutines per
// connection (dial, read loop, write loop), each starting with a small
// stack that grows: a visible share of a prober's own CPU at a thousand
// probes (docs/performance.md). A probe needs none of what the Transport adds: connections are
// never reused (a probe measures what a new visitor meets: lookup,
// connect, handshake), HTTP/2 is not negotiated, no proxy from the
// environment is used (the probe measures the path from its location)
// and no compression is asked for.
type httpRun struct {
	c   *Checker
	h   *HTTP
	t   *tracker
	jar http.CookieJar // nil for one request without redirects
}

func newHTTPRun(c *Checker, h *HTTP, t *tracker) *httpRun {
	r := &httpRun{c: c, h: h, t: t}
	if len(h.Steps) > 1 || h.Redirects > 0 {
		// Cookies set by one step (a log-in) or hop go with the next.
		r.jar, _ = cookiejar.New(nil) // never fails without options
	}
	return r
}

// do sends req and follows up to h.Redirects redirects; body is req's
// body, for a 307 or 308 that sends it again.
func (r *httpRun) do(ctx context.Context, req *http.Request, body string) (*http.Response, error) {
	for hop := 0; ; hop++ {
		if r.jar != nil {
			for _, c := range r.jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
		}
		resp, err := r.roundTrip(ctx, req)
		if err != nil {
			return nil, err
		}
		if r.jar != nil {
			if cs := resp.Cookies(); len(cs) > 0 {
				r.jar.SetCookies(req.URL, cs)
			}
		}
		loc := resp.Header.Get("Location")
		switch resp.StatusCode {
		case 301, 302, 303, 307, 308:
		default:
			return resp, nil
		}
		if loc == "" || hop >= r.h.Redirects {
			return resp, nil
		}
		next, err := req.URL.Parse(loc)
		if err != nil || (next.Scheme != "http" && next.Scheme != "https") {
			resp.Body.Close()
			return nil, fmt.Errorf("redirect to %q: not an http(s) URL", loc)
		}
		resp.Body.Close()
		method, nbody := req.Method, body
		if resp.StatusCode == 303 || (resp.StatusCode <= 302 && req.Method == http.MethodPost) {
			method, nbody = http.MethodGet, "" // as browsers do
		}
		var rd io.Reader
		if nbody != "" {
			rd = strings.NewReader(nbody)
		}
		nreq, err := http.NewRequestWithContext(ctx, method, next.String(), rd)
		if err != nil {
			return nil, err
		}
		for k, vs := range req.Header {
			// Credentials stay with the host they were meant for.
			// Cookies come from the jar again.
			if k == "Cookie" || k == "Authorization" && next.Host != req.URL.Host {
				continue
			}
			nreq.Header[k] = vs
		}
		if req.Host != req.URL.Host && next.Host == req.URL.Host {
			nreq.Host = req.Host
		}
		req, body = nreq, nbody
	}
}

func lookupNetwork(ip int) string {
	switch ip {
	case 4:
		return "ip4"
	case 6:
		return "ip6"
	}
	return "ip"
}

// roundTrip sends one request on a new connection; the answer's body
// closes the connection.
func (r *httpRun) roundTrip(ctx context.Context, req *http.Request) (*http.Response, error) {
	u := req.URL
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		if r.h.IP == 4 && !a.Unmap().Is4() || r.h.IP == 6 && a.Unmap().Is4() {
			return nil, fmt.Errorf("%s is not an IPv%d address (ip: %d)", host, r.h.IP, r.h.IP)
		}
		addrs = []netip.Addr{a}
	} else {
		r.t.start("dns")
		addrs, err = r.c.resolver.LookupNetIP(ctx, lookupNetwork(r.h.IP), host)
		r.t.end("dns")
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("dns: no address for %s", host)
		}
	}
	// Addresses are tried in turn within the connect phase.
	r.t.start("connect")
	var conn net.Conn
	var err error
	for _, a := range addrs {
		conn, err = r.c.dialer.DialContext(ctx, network(r.h.IP), net.JoinHostPort(a.Unmap().String(), port))
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	r.t.end("connect")
	if err != nil {
		return nil, err
	}
	// The connection does not watch ctx: its deadline is the check's, and
	// a phase timeout (which cancels ctx) pulls it in.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.Close()
		return nil, err
	}
	if u.Scheme == "https" {
		tc, err := r.handshake(ctx, conn, host)
		if err != nil {
			return fail(err)
		}
		conn = tc
	}
	req.Close = true // Connection: close; the server need not wait for more
	bw := bufio.NewWriterSize(conn, 2048)
	if err := req.Write(bw); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	r.t.start("firstByte")
	br := bufio.NewReaderSize(conn, 4096)
	_, err = br.Peek(1)
	r.t.end("firstByte")
	if err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return fail(err)
	}
	resp.Body = &connBody{ReadCloser: resp.Body, conn: conn, stop: stop}
	return resp, nil
}

// connBody closes the connection with the body.
type connBody struct {
	io.ReadCloser
	conn net.Conn
	stop func() bool
}

func (b *connBody) Close() error {
	b.stop()
	b.ReadCloser.Close()
	return b.conn.Close()
}

// handshake runs the TLS handshake itself, so that the certificate's
// expiry is recorded even when verification fails.
func (r *httpRun) handshake(ctx context.Context, conn net.Conn, host string) (net.Conn, error) {
	if r.h.ServerName != "" {
		host = r.h.ServerName
	}
	cfg := r.h.tlsConfig().Clone()
	cfg.ServerName = host
	verify := !cfg.InsecureSkipVerify
	cfg.InsecureSkipVerify = true // verified below, after the expiry is read
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		r.t.cert(cs.PeerCertificates)
		if !verify {
			return nil
		}
		return verifyChain(cs, host, cfg.RootCAs)
	}
	tc := tls.Client(conn, cfg)
	r.t.start("tls")
	err := tc.HandshakeContext(ctx)
	r.t.end("tls")
	if err != nil {
		return nil, err
	}
	return tc, nil
}

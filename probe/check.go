package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"
)

// Checker runs checks. It holds what checks share: one HTTP transport
// for every HTTP probe, so a thousand probes cost one set of buffers
// and settings, not a thousand. Its zero value is not ready; use
// NewChecker. A Checker is safe for concurrent use.
type Checker struct {
	transport *http.Transport
	dialer    net.Dialer
	// ResolvConf is where a DNS probe without a server finds one.
	ResolvConf string
}

// NewChecker returns a Checker.
//
// Its transport keeps no connection alive: a probe measures what a new
// visitor meets (name lookup, connect, TLS handshake) every time, and a
// reused connection would hide exactly the phases that fail most (DNS,
// SYN queues, certificates). It uses no proxy from the environment, so
// the probe measures the path from its location, and HTTP/1.1, whose
// phases are a request's own.
func NewChecker() *Checker {
	c := &Checker{ResolvConf: "/etc/resolv.conf"}
	c.transport = &http.Transport{
		DisableKeepAlives:      true,
		DialContext:            c.dial,
		DialTLSContext:         c.dialTLS,
		MaxResponseHeaderBytes: 64 << 10,
		WriteBufferSize:        4 << 10,
		ReadBufferSize:         4 << 10,
	}
	return c
}

// Check runs p once from location.
func (p *Probe) Check(ctx context.Context, location string, now func() time.Time) Result {
	return NewChecker().Check(ctx, p, location, now)
}

// Check runs p once from location, within p.Timeout whatever the target
// does. now stamps the result's start.
func (c *Checker) Check(ctx context.Context, p *Probe, location string, now func() time.Time) Result {
	res := Result{Probe: p.Name, Location: location, Start: now(), CertMinDays: p.CertMinDays}
	ctx, cancel := context.WithTimeoutCause(ctx, p.Timeout, errTotal)
	defer cancel()
	t0 := time.Now()
	switch p.Kind {
	case KindHTTP:
		c.checkHTTP(ctx, p, location, &res)
	case KindTCP:
		c.checkTCP(ctx, p.TCP, &res)
	case KindDNS:
		c.checkDNS(ctx, p.DNS, &res)
	case KindGRPC:
		c.checkGRPC(ctx, p.GRPC, &res)
	default:
		res.Reason = fmt.Sprintf("probe kind %q is not known", p.Kind)
	}
	res.Latency = time.Since(t0)
	if res.OK {
		res.Reason = ""
	} else if res.Reason == "" {
		res.Reason = "failed"
	}
	return res
}

// errTotal is the cause of a check's end at its timeout.
var errTotal = errors.New("timeout")

// PhaseTimeout is the cause of a check's end at a phase's own timeout.
type PhaseTimeout struct{ Phase string }

func (e *PhaseTimeout) Error() string { return "timeout in " + e.Phase }

// tracker times the phases of one check and ends the check when a phase
// outlives its own timeout.
type tracker struct {
	mu      sync.Mutex
	cancel  context.CancelCauseFunc
	limits  map[string]time.Duration
	started map[string]time.Time
	timers  map[string]*time.Timer
	current string
	res     *Result
	// certSeen is set by the first TLS handshake; later ones (a
	// redirect, another step) leave the expiry alone.
	certSeen bool
}

func newTracker(cancel context.CancelCauseFunc, limits map[string]time.Duration, res *Result) *tracker {
	return &tracker{cancel: cancel, limits: limits, started: map[string]time.Time{}, timers: map[string]*time.Timer{}, res: res}
}

func (t *tracker) start(phase string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, on := t.started[phase]; on {
		return
	}
	t.started[phase] = time.Now()
	t.current = phase
	if d := t.limits[phase]; d > 0 && t.cancel != nil {
		t.timers[phase] = time.AfterFunc(d, func() { t.cancel(&PhaseTimeout{phase}) })
	}
}

func (t *tracker) end(phase string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, on := t.started[phase]
	if !on {
		return
	}
	delete(t.started, phase)
	if tm := t.timers[phase]; tm != nil {
		tm.Stop()
		delete(t.timers, phase)
	}
	t.res.addPhase(phase, time.Since(s))
}

// stop ends every phase still open, as it stands.
func (t *tracker) stop() {
	t.mu.Lock()
	open := make([]string, 0, len(t.started))
	for p := range t.started {
		open = append(open, p)
	}
	t.mu.Unlock()
	for _, p := range open {
		t.end(p)
	}
}

func (t *tracker) phase() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.current
}

func (t *tracker) cert(cs []*x509.Certificate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.certSeen || len(cs) == 0 {
		return
	}
	t.certSeen = true
	exp := cs[0].NotAfter
	for _, c := range cs[1:] {
		if c.NotAfter.Before(exp) {
			exp = c.NotAfter
		}
	}
	t.res.CertExpiry = exp
}

// reason words why a check ended with err: the phase that outlived its
// timeout, or the error without the layers that repeat the address.
func reason(ctx context.Context, t *tracker, err error) string {
	cause := context.Cause(ctx)
	var pt *PhaseTimeout
	switch {
	case errors.As(cause, &pt):
		return pt.Error()
	case errors.Is(cause, errTotal):
		if ph := t.phase(); ph != "" {
			return "timeout in " + ph
		}
		return "timeout"
	case cause != nil && errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		// A connection's deadline (the check's) struck before ctx's timer.
		if ph := t.phase(); ph != "" {
			return "timeout in " + ph
		}
		return "timeout"
	}
	return shortError(err)
}

// shortError keeps the innermost useful words of err.
func shortError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		err = oe.Err
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "dns: " + dnsErr.Err
	}
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		err = ce.Err
	}
	s := err.Error()
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// dialKey carries a check's dial settings through the shared transport.
type dialKey struct{}

type dialSettings struct {
	ip         int
	tls        *tls.Config // with RootCAs and InsecureSkipVerify as the probe says
	serverName string
	t          *tracker
	deadline   time.Time
}

func network(ip int) string {
	switch ip {
	case 4:
		return "tcp4"
	case 6:
		return "tcp6"
	}
	return "tcp"
}

// dial connects as the check's settings say. The transport may go on
// dialing after the request ended; the deadline bounds that too.
func (c *Checker) dial(ctx context.Context, _, addr string) (net.Conn, error) {
	s, _ := ctx.Value(dialKey{}).(*dialSettings)
	if s == nil {
		return nil, errors.New("probe: dial outside a check")
	}
	ctx, cancel := context.WithDeadline(ctx, s.deadline)
	defer cancel()
	return c.dialer.DialContext(ctx, network(s.ip), addr)
}

// dialTLS connects and shakes hands itself, so that the certificate's
// expiry is recorded even when it fails verification, and the handshake
// is timed as its own phase.
func (c *Checker) dialTLS(ctx context.Context, nw, addr string) (net.Conn, error) {
	s, _ := ctx.Value(dialKey{}).(*dialSettings)
	if s == nil {
		return nil, errors.New("probe: dial outside a check")
	}
	conn, err := c.dial(ctx, nw, addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	if s.serverName != "" {
		host = s.serverName
	}
	cfg := s.tls.Clone()
	cfg.ServerName = host
	verify := !cfg.InsecureSkipVerify
	cfg.InsecureSkipVerify = true // verified below, after the expiry is read
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		s.t.cert(cs.PeerCertificates)
		if !verify {
			return nil
		}
		return verifyChain(cs, host, cfg.RootCAs)
	}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithDeadline(ctx, s.deadline)
	defer cancel()
	s.t.start("tls")
	err = tc.HandshakeContext(hctx)
	s.t.end("tls")
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

func verifyChain(cs tls.ConnectionState, host string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: roots, Intermediates: inter})
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: cs.PeerCertificates, Err: err}
	}
	return nil
}

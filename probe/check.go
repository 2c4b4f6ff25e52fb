package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sync"
	"time"
)

// Checker runs checks. It holds what checks share (a dialer and a
// resolver) and no state of its own between checks; it is safe for
// concurrent use.
type Checker struct {
	dialer   net.Dialer
	resolver *net.Resolver
	// ResolvConf is where a DNS probe without a server finds one.
	ResolvConf string
}

// NewChecker returns a Checker.
func NewChecker() *Checker {
	// No TCP keep-alive probes: a connection lives for one check, and
	// setting them costs three system calls per connect.
	return &Checker{ResolvConf: "/etc/resolv.conf", dialer: net.Dialer{KeepAlive: -1}, resolver: net.DefaultResolver}
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

func network(ip int) string {
	switch ip {
	case 4:
		return "tcp4"
	case 6:
		return "tcp6"
	}
	return "tcp"
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

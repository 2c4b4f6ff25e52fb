// Package probe runs synthetic probes: HTTP(S) requests and multi-step
// transactions, TCP connects, DNS queries and gRPC health checks, each
// from one or more named locations. A probe's result is an event of the
// probe's per-location SLO (LocationSLO), and an HTTPS probe's certificate
// expiry is an event of its own SLO (CertSLO); both reach nines serve
// through the ordinary events API, so a probe is measured, budgeted and
// alerted on like any other SLI.
//
// Probes are read from probes.yaml (Parse, Load) or one at a time from a
// node of another file (ParseProbe); Scheduler runs many of them from one
// process; Agent pushes their results to nines serve.
package probe

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Kind is what a probe checks.
type Kind string

const (
	KindHTTP Kind = "http"
	KindTCP  Kind = "tcp"
	KindDNS  Kind = "dns"
	KindGRPC Kind = "grpc"
)

// Pos is where a probe was defined, for errors found after load.
type Pos struct {
	File         string
	Line, Column int
}

// Probe is one probe as loaded: every value checked and every default
// filled in. Exactly one of HTTP, TCP, DNS and GRPC is set, as Kind says.
type Probe struct {
	Name string
	Kind Kind
	// Interval is the time between two checks from one location;
	// Timeout bounds one check, whatever the target does (≤ Interval).
	Interval, Timeout time.Duration
	// Locations are the names of the places the probe runs from.
	Locations []string
	Consensus Consensus
	// CertMinDays is how many days before its expiry a TLS certificate
	// turns the certificate SLI bad (HTTPS only).
	CertMinDays int

	HTTP *HTTP
	TCP  *TCP
	DNS  *DNS
	GRPC *GRPC

	Pos Pos
}

// Consensus says when the locations agree a probe failed: at least K
// of them had a failure within the last Window.
type Consensus struct {
	K      int
	Window time.Duration
}

// HTTP is an HTTP(S) probe: one request, or a transaction of steps.
type HTTP struct {
	Steps []*Step
	// Timeouts per phase; zero leaves a phase bounded by the probe's
	// timeout only.
	DNSTimeout, ConnectTimeout, TLSTimeout, FirstByteTimeout time.Duration
	// Redirects is how many redirects are followed; 0 judges the
	// redirect answer itself.
	Redirects int
	// IP is 4, 6 or 0 for either.
	IP int
	// CacheBust adds CacheBustParam=<unique> to each URL and asks every
	// cache on the way not to answer from its store.
	CacheBust      bool
	CacheBustParam string
	// TLSInsecure skips certificate verification (expiry is still
	// recorded); CAFile adds roots; ServerName overrides SNI.
	TLSInsecure bool
	CAFile      string
	ServerName  string

	roots   *x509.CertPool
	tlsOnce sync.Once
	tls     *tls.Config
}

// Step is one request of an HTTP probe. URL, header values and Body may
// use ${var} for a value captured by an earlier step.
type Step struct {
	Name    string
	Method  string
	URL     string
	Headers [][2]string
	Body    string
	Expect  Expect
	Capture []Capture
}

// Expect is what makes an HTTP answer good.
type Expect struct {
	Status []StatusRange
	// Body must contain BodyContains and match BodyRegexp; it must not
	// contain BodyNotContains nor match BodyNotRegexp. Empty: no check.
	BodyContains, BodyNotContains string
	BodyRegexp, BodyNotRegexp     *regexp.Regexp
}

// StatusRange is an inclusive range of HTTP status codes.
type StatusRange struct{ Lo, Hi int }

// Capture takes a value from an answer into a variable: by a JSON path
// into the body, by the first group of a regular expression on the body,
// or from a header.
type Capture struct {
	Var      string
	JSONPath []string // keys and indexes, from $.a.b[0]
	Regexp   *regexp.Regexp
	Header   string
}

// TCP is a TCP connect probe, with an optional exchange.
type TCP struct {
	Address string // host:port
	IP      int
	Send    string
	// Expect must appear in what the target sends back, when set.
	Expect string
}

// DNS is a DNS query probe.
type DNS struct {
	Name string
	Type uint16
	// Server is host:port; empty uses the first nameserver of
	// /etc/resolv.conf at the time of the check.
	Server string
	// Answers are the expected answers, as text (an address, a name, "10
	// mx.example.com" for MX); Match says how they are compared.
	Answers []string
	Match   Match
	// RCode is the expected response code (NOERROR by default).
	RCode  int
	DNSSEC bool
}

// Match says how a DNS probe's answers are compared with the expected.
type Match string

const (
	MatchAllOf   Match = "allOf"   // every expected answer is present
	MatchAnyOf   Match = "anyOf"   // at least one expected answer is present
	MatchExactly Match = "exactly" // the answers are the expected ones, no more, no fewer
)

// GRPC is a gRPC health check (grpc.health.v1.Health/Check).
type GRPC struct {
	Address     string // host:port
	Service     string
	TLS         bool
	TLSInsecure bool
	CAFile      string
	ServerName  string

	roots *x509.CertPool
}

// Runs reports whether the probe runs from location.
func (p *Probe) Runs(location string) bool {
	for _, l := range p.Locations {
		if l == location {
			return true
		}
	}
	return false
}

// HasCert reports whether the probe has a certificate SLI (CertSLO): an
// HTTP probe whose first step's URL is https://. Only such a probe's
// results carry a certificate expiry.
func (p *Probe) HasCert() bool {
	return p.HTTP != nil && len(p.HTTP.Steps) > 0 && len(p.HTTP.Steps[0].URL) >= 8 && p.HTTP.Steps[0].URL[:8] == "https://"
}

// LocationSLO names the SLO of a probe's results from one location:
// probe.location. Probe names use the SLO-name characters (letters,
// digits, -, _ and .), location names no dot, so the last dot separates
// them; no location is named "cert", which CertSLO takes.
func LocationSLO(probe, location string) string { return probe + "." + location }

// CertSLO names the SLO of a probe's TLS certificate expiry.
func CertSLO(probe string) string { return probe + ".cert" }

// Target says in a few words what the probe checks: the first step's
// method and URL, the address, or the query and its server.
func (p *Probe) Target() string {
	switch {
	case p.HTTP != nil && len(p.HTTP.Steps) > 0:
		st := p.HTTP.Steps[0]
		t := st.Method + " " + st.URL
		if n := len(p.HTTP.Steps); n > 1 {
			t += fmt.Sprintf(" (+%d steps)", n-1)
		}
		return t
	case p.TCP != nil:
		return "tcp " + p.TCP.Address
	case p.DNS != nil:
		server := p.DNS.Server
		if server == "" {
			server = "the system resolver"
		}
		return fmt.Sprintf("%s %s at %s", dns.TypeToString[p.DNS.Type], p.DNS.Name, server)
	case p.GRPC != nil:
		t := "grpc health " + p.GRPC.Address
		if p.GRPC.Service != "" {
			t += " " + p.GRPC.Service
		}
		return t
	}
	return string(p.Kind)
}

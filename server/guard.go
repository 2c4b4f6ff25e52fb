package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/nines-sre/nines/server/httpx"
)

// A browser lets any page send a POST to any address, without asking the
// server first, when its Content-Type is one a form could send
// (text/plain, application/x-www-form-urlencoded, multipart/form-data);
// with no token set, such a POST from a hostile page would silence alerts
// or open incidents. Three checks keep other sites out:
//
//   - Host must be a name the server answers to (checkHost), else a page
//     whose own name an attacker points at 127.0.0.1 (DNS rebinding) would
//     be same-origin with nines and could read and write everything;
//   - a request that changes something is refused when the browser says it
//     comes from another site (Sec-Fetch-Site, else Origin against Host),
//     by net/http's CrossOriginProtection;
//   - every write endpoint takes only its own media types (accept), none of
//     which a form can send, so even a browser that sends neither header
//     must ask first (a CORS preflight), which nines never grants.

// guard refuses, before any handler runs, a request for a host name the
// server does not answer to (421) and a cross-site request that would
// change something (403). /healthz and /readyz answer any Host: probes
// address pods and load-balancer members by names of their own, and "ok"
// with a role tells nobody anything.
func (s *Server) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			if err := s.checkHost(r.Host); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		if err := s.origins.Check(r); err != nil {
			s.fail(w, r, httpx.Errorf(http.StatusForbidden,
				"%s %s from another site's page (Origin %q, Sec-Fetch-Site %q) is refused: only nines' own pages, and programs, which send neither header, may change anything",
				r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site")))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkHost accepts a Host that is an IP address, localhost (or a name
// under .localhost, which browsers resolve to the loopback address
// themselves), or one of Config.Hosts. No attacker can point those names
// at this server. An empty Host (HTTP/1.0) is no browser's.
func (s *Server) checkHost(host string) error {
	name := hostName(host)
	switch {
	case host == "":
		return nil
	case name == "localhost" || strings.HasSuffix(name, ".localhost"):
		return nil
	case slices.ContainsFunc(s.cfg.Hosts, func(h string) bool { return hostName(h) == name }):
		return nil
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return nil
	}
	known := "its IP addresses and localhost"
	if len(s.cfg.Hosts) > 0 {
		known += ", " + strings.Join(s.cfg.Hosts, ", ")
	}
	return httpx.Errorf(http.StatusMisdirectedRequest,
		"Host %q is not a name this server answers to (%s): if clients reach nines by it, start nines serve with --web.external-host %s. The check keeps pages whose names an attacker points at this server (DNS rebinding) from reading or changing it",
		host, known, name)
}

// hostName is the name of a Host header or host list entry: lower case,
// without port, brackets or a trailing dot.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// checkHostName checks an entry of Config.Hosts: a name, with a port or
// not, and nothing else.
func checkHostName(h string) error {
	u, err := url.Parse("http://" + h)
	switch {
	case h == "":
		return errors.New("empty host name")
	case err != nil || u.Host != h || u.User != nil:
		return errors.New("want a host name such as nines.example.com, with a port or not, and no scheme or path")
	}
	return nil
}

// readAuth requires the token on a read when ProtectReads.
func (s *Server) readAuth(h http.Handler) http.Handler {
	if !s.cfg.ProtectReads {
		return h
	}
	return s.writeAuth(h)
}

// writeAuth requires the token, when one is set. The scheme is matched
// without regard to case, as RFC 6750 (§2.1, by RFC 9110 §11.1) has it:
// "bearer TOKEN" is as good as "Bearer TOKEN".
func (s *Server) writeAuth(h http.Handler) http.Handler {
	if s.cfg.Token == "" {
		return h
	}
	want := []byte(s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, token, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(strings.TrimLeft(token, " ")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="nines"`)
			s.fail(w, r, httpx.Errorf(http.StatusUnauthorized, "a valid bearer token is required (Authorization: Bearer TOKEN)"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// mediaTypes are the Content-Types a write endpoint takes.
type mediaTypes struct {
	// types are the media types taken; none for an endpoint without a
	// body, which then takes a request without Content-Type.
	types []string
	// param, when set, checks the parameters of an accepted type.
	param func(mediaType string, params map[string]string) error
}

var (
	jsonBody = mediaTypes{types: []string{"application/json"}, param: utf8Only}
	// eventsBody adds the types of JSON lines: NDJSON's, as Vector and
	// Fluent Bit send it, and JSON Lines'.
	eventsBody      = mediaTypes{types: []string{"application/json", "application/x-ndjson", "application/jsonl"}, param: utf8Only}
	remoteWriteBody = mediaTypes{types: []string{"application/x-protobuf"}, param: remoteWriteProto}
	otlpBody        = mediaTypes{types: []string{"application/x-protobuf", "application/json", "application/protobuf"}, param: utf8Only}
	noBody          = mediaTypes{}
)

// accept refuses a write whose Content-Type is not one of the endpoint's
// (415) before it is read.
func (s *Server) accept(m mediaTypes, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.check(r.Header.Get("Content-Type")); err != nil {
			s.fail(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (m mediaTypes) check(ct string) error {
	if len(m.types) == 0 {
		if ct == "" {
			return nil
		}
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "application/json" {
			return nil
		}
		return httpx.Errorf(http.StatusUnsupportedMediaType,
			"Content-Type %q: this endpoint takes no body; send none, without Content-Type (one a form can send is refused, so that no other site's form can post here)", ct)
	}
	want := strings.Join(m.types, " or ")
	if ct == "" {
		return httpx.Errorf(http.StatusUnsupportedMediaType,
			"Content-Type is missing: send the body as %s (with curl: -H 'Content-Type: %s')", want, m.types[0])
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !slices.Contains(m.types, mt) {
		return httpx.Errorf(http.StatusUnsupportedMediaType,
			"Content-Type %q: want %s (with curl: -H 'Content-Type: %s'); a type a form can send is refused, so that no other site's page can post here", ct, want, m.types[0])
	}
	if m.param != nil {
		if err := m.param(mt, params); err != nil {
			return httpx.Errorf(http.StatusUnsupportedMediaType, "Content-Type %q: %v", ct, err)
		}
	}
	return nil
}

// utf8Only refuses a charset other than UTF-8: JSON is UTF-8 (RFC 8259
// §8.1), and a body said to be in another charset would be misread.
func utf8Only(mt string, params map[string]string) error {
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.HasSuffix(mt, "protobuf") {
		return fmt.Errorf("charset %s: nines reads UTF-8 only", cs)
	}
	return nil
}

// remoteWriteProto refuses remote write 2.0, which names its message in
// the proto parameter; 1.0 senders name prometheus.WriteRequest or
// nothing.
func remoteWriteProto(_ string, params map[string]string) error {
	if p, ok := params["proto"]; ok && p != "prometheus.WriteRequest" {
		return fmt.Errorf("proto %s: nines takes remote write 1.0 (prometheus.WriteRequest); set protobuf_message: prometheus.WriteRequest in Prometheus' remote_write", p)
	}
	return nil
}

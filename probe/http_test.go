package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// mustProbe reads one probe written as the YAML of a list item's fields.
func mustProbe(t testing.TB, fields string) *Probe {
	t.Helper()
	ps, err := Parse("t.yaml", []byte("probes:\n  - "+strings.ReplaceAll(strings.TrimSpace(fields), "\n", "\n    ")+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return ps[0]
}

// fill puts the test server's address into a probe's fields, when they
// want one (a case about a closed port has its own).
func fill(fields string, addr any) string {
	if strings.Contains(fields, "%s") {
		return fmt.Sprintf(fields, addr)
	}
	return fields
}

func check(t testing.TB, p *Probe) Result {
	t.Helper()
	return NewChecker().Check(context.Background(), p, "here", time.Now)
}

func phase(r Result, name string) (time.Duration, bool) {
	for _, ph := range r.Phases {
		if ph.Name == name {
			return ph.Duration, true
		}
	}
	return 0, false
}

func TestHTTPProbeJudgesStatusAndBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(503)
		case "/gone":
			w.WriteHeader(410)
		default:
			io.WriteString(w, "all systems operational, build 1234")
		}
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	cases := []struct{ name, http, reason string }{
		{"A 200 answer with the expected body is good.", `{url: '%s/', expect: {bodyContains: operational, bodyRegexp: 'build \d+'}}`, ""},
		{"A 503 answer is bad with its status.", `{url: '%s/down'}`, "status 503"},
		{"A status in the expected set is good.", `{url: '%s/gone', expect: {status: [2xx, 400-410]}}`, ""},
		{"A body without the expected text is bad.", `{url: '%s/', expect: {bodyContains: maintenance}}`, `body did not contain "maintenance"`},
		{"A body that does not match the expression is bad.", `{url: '%s/', expect: {bodyRegexp: '^ok$'}}`, "body did not match ^ok$"},
		{"A body with forbidden text is bad.", `{url: '%s/', expect: {bodyNotContains: operational}}`, `body contained "operational"`},
		{"A body matching a forbidden expression is bad.", `{url: '%s/', expect: {bodyNotRegexp: 'build \d+'}}`, `body matched build \d+`},
		{"A refused connection is bad with the error.", fmt.Sprintf(`{url: 'http://127.0.0.1:%d/'}`, freePort(t)), "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := fill(c.http, srv.URL)
			p := mustProbe(t, "name: p\nlocations: [here]\nhttp: "+h)
			r := check(t, p)
			if r.OK != (c.reason == "") || !strings.Contains(r.Reason, c.reason) {
				t.Fatalf("got ok=%v reason %q; want reason %q", r.OK, r.Reason, c.reason)
			}
		})
	}
	t.Run("A good answer records its phases and status.", func(t *testing.T) {
		p := mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: 'http://localhost:%d/', ip: 4}", port))
		r := check(t, p)
		if !r.OK || r.Status != 200 {
			t.Fatalf("got %+v", r)
		}
		for _, name := range []string{"dns", "connect", "firstByte", "transfer"} {
			if _, ok := phase(r, name); !ok {
				t.Errorf("no %s phase in %v", name, r.Phases)
			}
		}
		if _, ok := phase(r, "tls"); ok {
			t.Errorf("a tls phase without TLS: %v", r.Phases)
		}
	})
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testCA writes a CA to dir and returns a server certificate for
// 127.0.0.1 and localhost signed by it, valid until notAfter.
func testCA(t testing.TB, dir string, notAfter time.Time) (caFile string, cert tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "nines test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}

func TestHTTPSProbeRecordsCertificateExpiry(t *testing.T) {
	dir := t.TempDir()
	expiry := time.Now().Add(3 * 24 * time.Hour).Truncate(time.Second)
	caFile, cert := testCA(t, dir, expiry)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the unknown-issuer case's handshake error
	srv.StartTLS()
	defer srv.Close()

	t.Run("A certificate that expires in 3 days makes the certificate SLI bad at 14 days.", func(t *testing.T) {
		p := mustProbe(t, fmt.Sprintf("name: site\nlocations: [here]\nhttp: {url: '%s/', caFile: '%s'}", srv.URL, caFile))
		r := check(t, p)
		if !r.OK {
			t.Fatalf("the request failed: %s", r.Reason)
		}
		if !r.CertExpiry.Equal(expiry) {
			t.Errorf("expiry %s, want %s", r.CertExpiry, expiry)
		}
		if d, ok := phase(r, "tls"); !ok || d <= 0 {
			t.Errorf("no tls phase: %v", r.Phases)
		}
		if got := string(r.CertLine(nil)); !strings.HasSuffix(got, `"ok":false}`) {
			t.Errorf("cert line %s; want ok false", got)
		}
		if r.CertDaysLeft() != 2 {
			t.Errorf("%d days left, want 2 (whole days under 3)", r.CertDaysLeft())
		}
	})
	t.Run("The same certificate is good at certMinDays 2.", func(t *testing.T) {
		p := mustProbe(t, fmt.Sprintf("name: site\nlocations: [here]\ncertMinDays: 2\nhttp: {url: '%s/', caFile: '%s'}", srv.URL, caFile))
		r := check(t, p)
		if got := string(r.CertLine(nil)); !r.OK || !strings.HasSuffix(got, `"ok":true}`) {
			t.Errorf("ok %v %s, cert line %s; want ok true", r.OK, r.Reason, got)
		}
	})
	t.Run("An unknown issuer fails the check and still records the expiry.", func(t *testing.T) {
		p := mustProbe(t, fmt.Sprintf("name: site\nlocations: [here]\nhttp: {url: '%s/'}", srv.URL))
		r := check(t, p)
		if r.OK || !strings.Contains(r.Reason, "unknown authority") || r.CertExpiry.IsZero() {
			t.Errorf("got ok %v reason %q expiry %s", r.OK, r.Reason, r.CertExpiry)
		}
	})
	t.Run("tlsInsecure skips verification and still records the expiry.", func(t *testing.T) {
		p := mustProbe(t, fmt.Sprintf("name: site\nlocations: [here]\nhttp: {url: '%s/', tlsInsecure: true}", srv.URL))
		r := check(t, p)
		if !r.OK || !r.CertExpiry.Equal(expiry) {
			t.Errorf("got ok %v reason %q expiry %s", r.OK, r.Reason, r.CertExpiry)
		}
	})
}

func TestAHangingTargetIsBoundedByTheTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	// A listener that accepts and never speaks: a TLS handshake hangs.
	silent, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	cases := []struct {
		name, fields, reason string
		most                 time.Duration
	}{
		{"A server that never answers ends at the probe's timeout, waiting for the first byte.", fmt.Sprintf("timeout: 300ms\nhttp: {url: '%s/'}", srv.URL), "timeout in firstByte", 2 * time.Second},
		{"A first-byte timeout ends the check before the probe's timeout.", fmt.Sprintf("timeout: 5s\nhttp: {url: '%s/', timeouts: {firstByte: 200ms}}", srv.URL), "timeout in firstByte", 2 * time.Second},
		{"A TLS handshake that never ends is bounded by its own timeout.", fmt.Sprintf("timeout: 5s\nhttp: {url: 'https://%s/', timeouts: {tls: 200ms}}", silent.Addr()), "timeout in tls", 2 * time.Second},
		{"A TCP exchange that never answers ends at the timeout.", fmt.Sprintf("timeout: 300ms\ntcp: {address: '%s', send: 'PING', expect: PONG}", silent.Addr()), "timeout in expect", 2 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustProbe(t, "name: p\nlocations: [here]\n"+c.fields)
			t0 := time.Now()
			r := check(t, p)
			took := time.Since(t0)
			if r.OK || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got ok %v reason %q; want %q", r.OK, r.Reason, c.reason)
			}
			if took > c.most || r.Latency > c.most {
				t.Errorf("took %s (latency %s); want under %s", took, r.Latency, c.most)
			}
		})
	}
}

func TestHTTPProbeFollowsRedirectsAsConfigured(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/b", http.StatusFound) })
	mux.HandleFunc("/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/c", http.StatusFound) })
	mux.HandleFunc("/c", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "landed") })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cases := []struct {
		name, redirects string
		ok              bool
		status          int
	}{
		{"With no redirects followed the 302 itself is judged.", "0", false, 302},
		{"With one redirect followed the second 302 is judged.", "1", false, 302},
		{"With two redirects followed the final page is judged.", "2", true, 200},
		{"By default redirects are followed.", "", true, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			extra := ""
			if c.redirects != "" {
				extra = ", redirects: " + c.redirects
			}
			p := mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: '%s/a'%s}", srv.URL, extra))
			r := check(t, p)
			if r.OK != c.ok || r.Status != c.status {
				t.Errorf("got ok %v status %d (%s); want %v %d", r.OK, r.Status, r.Reason, c.ok, c.status)
			}
		})
	}
	t.Run("A redirect's hops add to the phases they repeat.", func(t *testing.T) {
		p := mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: '%s/a'}", srv.URL))
		r := check(t, p)
		n := 0
		for _, ph := range r.Phases {
			if ph.Name == "connect" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("connect listed %d times in %v; want once, summed", n, r.Phases)
		}
	})
}

func TestHTTPProbeDialsTheChosenIPVersion(t *testing.T) {
	srv4 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv4.Close()
	port := srv4.Listener.Addr().(*net.TCPAddr).Port
	t.Run("ip 4 reaches a server on 127.0.0.1 by name.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: 'http://localhost:%d/', ip: 4}", port)))
		if !r.OK {
			t.Errorf("got %s", r.Reason)
		}
	})
	t.Run("ip 6 does not reach a server on 127.0.0.1.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: 'http://127.0.0.1:%d/', ip: 6}", port)))
		if r.OK {
			t.Errorf("an IPv6 probe reached an IPv4 address")
		}
	})
	l6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	srv6 := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv6.Listener.Close()
	srv6.Listener = l6
	srv6.Start()
	defer srv6.Close()
	t.Run("ip 6 reaches a server on ::1.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: '%s/', ip: 6}", srv6.URL)))
		if !r.OK {
			t.Errorf("got %s", r.Reason)
		}
	})
	t.Run("ip 4 does not reach a server on ::1.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: '%s/', ip: 4}", srv6.URL)))
		if r.OK {
			t.Errorf("an IPv4 probe reached an IPv6 address")
		}
	})
}

func TestCacheBustMakesEveryRequestUnique(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var cc []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Query().Get("_cb"))
		cc = append(cc, r.Header.Get("Cache-Control"))
		mu.Unlock()
	}))
	defer srv.Close()
	p := mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: '%s/static/app.js?v=3', cacheBust: true, cacheBustParam: _cb}", srv.URL))
	check(t, p)
	check(t, p)
	if len(seen) != 2 || seen[0] == "" || seen[0] == seen[1] || !strings.Contains(seen[0], "-here-") {
		t.Errorf("cache-busting values %q; want two different ones naming the location", seen)
	}
	if cc[0] != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache", cc[0])
	}
}

func TestMultiStepProbeCarriesCapturedValues(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if string(body) != `{"user":"probe"}` {
			w.WriteHeader(400)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s1"})
		w.Header().Set("X-Cart", "c-77")
		io.WriteString(w, `{"data":{"token":"t-42","items":[{"sku":"A1"}]}}`)
	})
	mux.HandleFunc("POST /cart/{id}", func(w http.ResponseWriter, r *http.Request) {
		ck, _ := r.Cookie("session")
		if r.Header.Get("Authorization") != "Bearer t-42" || ck == nil || ck.Value != "s1" || r.PathValue("id") != "c-77" {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, "order=o-9;")
	})
	mux.HandleFunc("POST /checkout", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("order") != "o-9" {
			w.WriteHeader(500)
			return
		}
		io.WriteString(w, "thank you")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	steps := `name: shop
locations: [here]
http:
  steps:
    - name: login
      method: POST
      url: '%[1]s/login'
      body: '{"user":"probe"}'
      capture: {token: {jsonPath: $.data.token}, sku: {jsonPath: '$.data.items[0].sku'}, cart: {header: X-Cart}}
    - name: cart
      method: POST
      url: '%[1]s/cart/${cart}'
      headers: {Authorization: 'Bearer ${token}'}
      capture: {order: {regexp: 'order=([a-z0-9-]+)'}}
    - name: checkout
      method: POST
      url: '%[1]s/checkout?order=%[2]s'
      expect: {bodyContains: thank}`
	t.Run("A transaction whose steps all pass is good, with each step timed.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf(steps, srv.URL, "${order}")))
		if !r.OK || len(r.Steps) != 3 {
			t.Fatalf("got ok %v reason %q steps %+v", r.OK, r.Reason, r.Steps)
		}
		var sum time.Duration
		for _, s := range r.Steps {
			if !s.OK || s.Status != 200 || s.Latency <= 0 {
				t.Errorf("step %+v", s)
			}
			sum += s.Latency
		}
		if r.Latency < sum {
			t.Errorf("latency %s below the steps' sum %s", r.Latency, sum)
		}
	})
	t.Run("A failing step names itself and ends the transaction.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf(steps, srv.URL, "wrong")))
		if r.OK || r.Reason != "step checkout: status 500" || r.Status != 500 {
			t.Errorf("got ok %v reason %q status %d", r.OK, r.Reason, r.Status)
		}
	})
	t.Run("A capture that finds nothing fails its step.", func(t *testing.T) {
		r := check(t, mustProbe(t, fmt.Sprintf(strings.Replace(steps, "$.data.token", "$.data.nope", 1), srv.URL, "${order}")))
		if r.OK || r.Reason != "step login: capture token: no nope in the answer" || len(r.Steps) != 1 {
			t.Errorf("got ok %v reason %q steps %d", r.OK, r.Reason, len(r.Steps))
		}
	})
}

func TestOnlyAProbeStartingOverTLSHasACertificateSLI(t *testing.T) {
	dir := t.TempDir()
	caFile, cert := testCA(t, dir, time.Now().Add(30*24*time.Hour))
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, tlsSrv.URL+"/", http.StatusFound)
	}))
	defer plain.Close()
	p := mustProbe(t, fmt.Sprintf("name: p\nlocations: [here]\nhttp: {url: '%s/', caFile: '%s'}", plain.URL, caFile))
	r := check(t, p)
	if !r.OK || p.HasCert() || !r.CertExpiry.IsZero() || len(r.CertLine(nil)) != 0 {
		t.Errorf("ok %v (%s), HasCert %v, expiry %s; want a good check without a certificate event", r.OK, r.Reason, p.HasCert(), r.CertExpiry)
	}
}

package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestTCPProbeConnectsSendsAndExpects(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				if line == "PING\n" {
					fmt.Fprint(c, "+PONG\r\n")
				} else {
					fmt.Fprint(c, "-ERR unknown\r\n")
				}
			}()
		}
	}()
	cases := []struct{ name, tcp, reason string }{
		{"A connect alone is good.", `{address: '%s'}`, ""},
		{"An exchange that answers as expected is good.", `{address: '%s', send: "PING\n", expect: PONG}`, ""},
		{"An exchange that answers otherwise is bad.", `{address: '%s', send: "HELLO\n", expect: PONG}`, `answer did not contain "PONG"`},
		{"A closed port is bad.", fmt.Sprintf(`{address: '127.0.0.1:%d'}`, freePort(t)), "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := fill(c.tcp, l.Addr())
			r := check(t, mustProbe(t, "name: p\nlocations: [here]\ntcp: "+f))
			if r.OK != (c.reason == "") || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got ok %v reason %q; want %q", r.OK, r.Reason, c.reason)
			}
			if _, ok := phase(r, "connect"); !ok {
				t.Errorf("no connect phase: %v", r.Phases)
			}
		})
	}
}

// dnsServer answers on 127.0.0.1 over UDP and TCP from a fixed zone.
// Names under big. have more A records than fit a 512-byte datagram;
// names under signed. carry the AD flag.
func dnsServer(t *testing.T) string {
	t.Helper()
	zone := map[string][]string{
		"www.example.com. A":       {"www.example.com. 60 IN A 10.0.0.1", "www.example.com. 60 IN A 10.0.0.2"},
		"example.com. MX":          {"example.com. 60 IN MX 10 Mail.Example.com."},
		"alias.example.com. CNAME": {"alias.example.com. 60 IN CNAME www.example.com."},
		"example.com. TXT":         {`example.com. 60 IN TXT "v=spf1 -all"`},
		"signed.example.com. A":    {"signed.example.com. 60 IN A 10.0.0.5"},
	}
	for i := range 60 {
		zone["big.example.com. A"] = append(zone["big.example.com. A"], fmt.Sprintf("big.example.com. 60 IN A 10.1.0.%d", i+1))
	}
	h := func(udp bool) dns.HandlerFunc {
		return func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			qq := q.Question[0]
			rrs, ok := zone[qq.Name+" "+dns.TypeToString[qq.Qtype]]
			if !ok {
				m.Rcode = dns.RcodeNameError
			}
			for _, s := range rrs {
				rr, err := dns.NewRR(s)
				if err != nil {
					t.Error(err)
				}
				m.Answer = append(m.Answer, rr)
			}
			if strings.HasPrefix(qq.Name, "signed.") && q.IsEdns0() != nil && q.IsEdns0().Do() {
				m.AuthenticatedData = true
			}
			if udp {
				m.Truncate(512)
			}
			w.WriteMsg(m)
		}
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp4", pc.LocalAddr().String())
	if err != nil {
		t.Skipf("the UDP port is taken over TCP: %v", err)
	}
	us := &dns.Server{PacketConn: pc, Handler: h(true)}
	ts := &dns.Server{Listener: l, Handler: h(false)}
	go us.ActivateAndServe()
	go ts.ActivateAndServe()
	t.Cleanup(func() { us.Shutdown(); ts.Shutdown() })
	return pc.LocalAddr().String()
}

func TestDNSProbeAgainstATestServer(t *testing.T) {
	addr := dnsServer(t)
	cases := []struct{ name, dns, reason string }{
		{"The expected addresses are good.", `{name: www.example.com, answers: [10.0.0.1, 10.0.0.2]}`, ""},
		{"A missing expected address is bad.", `{name: www.example.com, answers: [10.0.0.1, 10.0.0.9]}`, "answer 10.0.0.9 missing; got 10.0.0.1, 10.0.0.2"},
		{"Any of the expected addresses is enough with anyOf.", `{name: www.example.com, answers: [10.0.0.2, 10.0.0.9], match: anyOf}`, ""},
		{"None of the expected addresses is bad with anyOf.", `{name: www.example.com, answers: [10.0.0.8, 10.0.0.9], match: anyOf}`, "none of the expected answers"},
		{"An extra address is bad with exactly.", `{name: www.example.com, answers: [10.0.0.1], match: exactly}`, "answer 10.0.0.2 not expected"},
		{"An MX answer is compared without case or final dot.", `{name: example.com, type: MX, answers: ['10 mail.example.com.']}`, ""},
		{"A CNAME answer is compared by name.", `{name: alias.example.com, type: CNAME, answers: [www.example.com]}`, ""},
		{"A TXT answer is compared as text.", `{name: example.com, type: TXT, answers: ['v=spf1 -all']}`, ""},
		{"A name that does not exist is bad.", `{name: nope.example.com}`, "rcode NXDOMAIN, want NOERROR"},
		{"A name expected not to exist is good.", `{name: nope.example.com, rcode: NXDOMAIN}`, ""},
		{"A truncated answer is asked again over TCP.", `{name: big.example.com, answers: [10.1.0.60]}`, ""},
		{"An authenticated answer is good with dnssec.", `{name: signed.example.com, dnssec: true}`, ""},
		{"An answer without the AD flag is bad with dnssec.", `{name: www.example.com, dnssec: true}`, "answer not authenticated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := strings.TrimSuffix(c.dns, "}") + ", server: '" + addr + "'}"
			r := check(t, mustProbe(t, "name: p\nlocations: [here]\ndns: "+f))
			if r.OK != (c.reason == "") || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got ok %v reason %q; want %q", r.OK, r.Reason, c.reason)
			}
		})
	}
	t.Run("A server that never answers is bounded by the timeout.", func(t *testing.T) {
		pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		t0 := time.Now()
		r := check(t, mustProbe(t, "name: p\nlocations: [here]\ntimeout: 300ms\ndns: {name: e.com, server: '"+pc.LocalAddr().String()+"'}"))
		if r.OK || !strings.Contains(r.Reason, "timeout") || time.Since(t0) > 2*time.Second {
			t.Errorf("got ok %v reason %q after %s", r.OK, r.Reason, time.Since(t0))
		}
	})
	t.Run("Without a server, one from resolv.conf is needed.", func(t *testing.T) {
		rc := filepath.Join(t.TempDir(), "resolv.conf")
		os.WriteFile(rc, []byte("search example.com\n"), 0o600)
		c := NewChecker()
		c.ResolvConf = rc
		r := c.Check(context.Background(), mustProbe(t, "name: p\nlocations: [here]\ndns: {name: www.example.com}"), "here", time.Now)
		if r.OK || r.Reason != "no server given and none in "+rc {
			t.Errorf("got ok %v reason %q", r.OK, r.Reason)
		}
	})
}

func TestDNSProbeAgainstDnsmasq(t *testing.T) {
	bin := "/usr/sbin/dnsmasq"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("dnsmasq is not installed (.ci/run installs it): %v", err)
		}
		t.Skip("dnsmasq is not installed")
	}
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(hosts, []byte("10.9.8.7 shop.probe.test\n10.9.8.8 shop.probe.test\n"), 0o600)
	port := freeUDPPort(t)
	cmd := exec.Command(bin, "--no-daemon", "--no-resolv", "--no-hosts", "--addn-hosts="+hosts,
		fmt.Sprintf("--port=%d", port), "--listen-address=127.0.0.1", "--bind-interfaces", "--pid-file="+filepath.Join(dir, "pid"), "--user="+currentUser())
	out := &strings.Builder{}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	server := fmt.Sprintf("127.0.0.1:%d", port)
	probe := mustProbe(t, "name: p\nlocations: [here]\ndns: {name: shop.probe.test, answers: [10.9.8.7, 10.9.8.8], match: exactly, server: '"+server+"'}")
	var r Result
	for range 50 { // dnsmasq takes a moment to listen
		if r = check(t, probe); r.OK || !strings.Contains(r.Reason, "refused") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !r.OK {
		t.Fatalf("got %q; dnsmasq said %s", r.Reason, out)
	}
	r = check(t, mustProbe(t, "name: p\nlocations: [here]\ndns: {name: shop.probe.test, answers: [10.9.8.7], match: exactly, server: '"+server+"'}"))
	if r.OK || !strings.Contains(r.Reason, "answer 10.9.8.8 not expected") {
		t.Errorf("got ok %v reason %q", r.OK, r.Reason)
	}
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

func freeUDPPort(t *testing.T) int {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

func TestGRPCHealthProbe(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("checkout", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("search", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	defer srv.Stop()
	cases := []struct{ name, grpc, reason string }{
		{"A serving service is good.", `{address: '%s', service: checkout}`, ""},
		{"The server as a whole is good when serving.", `{address: '%s'}`, ""},
		{"A service not serving is bad.", `{address: '%s', service: search}`, "status NOT_SERVING"},
		{"An unknown service is bad.", `{address: '%s', service: cart}`, "NotFound"},
		{"A closed port is bad.", fmt.Sprintf(`{address: '127.0.0.1:%d'}`, freePort(t)), "Unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := fill(c.grpc, l.Addr())
			r := check(t, mustProbe(t, "name: p\nlocations: [here]\ntimeout: 2s\ngrpc: "+f))
			if r.OK != (c.reason == "") || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got ok %v reason %q; want %q", r.OK, r.Reason, c.reason)
			}
		})
	}
}

func TestGRPCHealthProbeOverTLS(t *testing.T) {
	caFile, cert := testCA(t, t.TempDir(), time.Now().Add(24*time.Hour))
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}})))
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go srv.Serve(l)
	defer srv.Stop()
	for _, c := range []struct{ name, grpc, reason string }{
		{"A server whose certificate the CA file vouches for is good.", "{address: '%s', tls: true, caFile: '" + caFile + "'}", ""},
		{"A server whose certificate no known root vouches for is bad.", "{address: '%s', tls: true}", "Unavailable"},
		{"Plaintext to a TLS server is bad.", "{address: '%s'}", "Unavailable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := check(t, mustProbe(t, "name: p\nlocations: [here]\ntimeout: 2s\ngrpc: "+fill(c.grpc, l.Addr())))
			if r.OK != (c.reason == "") || !strings.Contains(r.Reason, c.reason) {
				t.Errorf("got ok %v reason %q; want %q", r.OK, r.Reason, c.reason)
			}
		})
	}
}

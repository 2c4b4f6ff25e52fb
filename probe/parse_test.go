package probe

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const goodFile = `probes:
  - name: home
    locations: [eu-west, us-east, ap-south]
    http:
      url: https://example.com/
      cacheBust: true
  - name: login-flow
    interval: 10s
    locations: [eu-west]
    consensus: {k: 1, window: 1m}
    http:
      redirects: 0
      timeouts: {connect: 2s, firstByte: 3s}
      steps:
        - name: login
          method: POST
          url: https://example.com/login
          body: '{"user":"probe"}'
          expect: {status: [2xx, 302], bodyContains: token}
          capture: {token: {jsonPath: $.token}}
        - name: cart
          url: https://example.com/cart?t=${token}
          headers: {Authorization: "Bearer ${token}"}
  - name: db
    locations: [eu-west]
    tcp: {address: "db.example.com:5432"}
  - name: mx
    interval: 1m
    timeout: 5s
    locations: [eu-west]
    dns: {name: example.com, type: MX, server: "9.9.9.9:53", answers: ["10 mail.example.com."], match: exactly, dnssec: true}
  - name: api-health
    locations: [eu-west]
    grpc: {address: "api:443", service: checkout, tls: true}
`

func TestParseFillsDefaults(t *testing.T) {
	ps, err := Parse("probes.yaml", []byte(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 5 {
		t.Fatalf("got %d probes, want 5", len(ps))
	}
	home := ps[0]
	if home.Interval != 30*time.Second || home.Timeout != 10*time.Second || home.Consensus.K != 2 || home.Consensus.Window != 90*time.Second || home.CertMinDays != 14 {
		t.Errorf("home defaults: interval %s timeout %s k %d window %s certMinDays %d", home.Interval, home.Timeout, home.Consensus.K, home.Consensus.Window, home.CertMinDays)
	}
	if home.Pos.Line != 2 || home.Pos.Column != 5 {
		t.Errorf("home at %d:%d, want 2:5", home.Pos.Line, home.Pos.Column)
	}
	if !home.HasCert() || !home.HTTP.CacheBust || home.HTTP.Redirects != 5 || home.HTTP.Steps[0].Expect.Status[0] != (StatusRange{200, 299}) {
		t.Errorf("home http: %+v", home.HTTP)
	}
	lf := ps[1]
	if lf.Timeout != 10*time.Second || lf.Consensus.K != 1 || lf.Consensus.Window != time.Minute || len(lf.HTTP.Steps) != 2 {
		t.Errorf("login-flow: %+v", lf)
	}
	if got := lf.HTTP.Steps[0].Expect.Status; len(got) != 2 || got[1] != (StatusRange{302, 302}) {
		t.Errorf("login status set %v", got)
	}
	if ps[3].DNS.Answers[0] != "10 mail.example.com" || ps[3].DNS.Match != MatchExactly {
		t.Errorf("mx: %+v", ps[3].DNS)
	}
	if ps[4].Kind != KindGRPC || !ps[4].GRPC.TLS {
		t.Errorf("grpc: %+v", ps[4].GRPC)
	}
}

func TestParseRefusesBadInputAtItsPosition(t *testing.T) {
	one := func(body string) string {
		return "probes:\n  - name: p\n    locations: [a, b, c]\n" + body
	}
	cases := []struct{ name, file, want string }{
		{"An invalid URL is refused at its value.", one("    http: {url: 'https://exa mple.com/'}\n"), "probes.yaml:4:17: probes[0].http.url: \"https://exa mple.com/\": not a URL"},
		{"A URL without http or https is refused.", one("    http: {url: 'ftp://example.com/'}\n"), "probes.yaml:4:17: probes[0].http.url: \"ftp://example.com/\": not an http:// or https:// URL"},
		{"A consensus k larger than the locations is refused.", one("    consensus: {k: 4}\n    tcp: {address: 'h:1'}\n"), "probes.yaml:4:20: probes[0].consensus.k: 4 is more than the probe's 3 locations; want from 1 to 3"},
		{"A consensus k of zero is refused.", one("    consensus: {k: 0}\n    tcp: {address: 'h:1'}\n"), "probes.yaml:4:20: probes[0].consensus.k: 0 is below 1"},
		{"A timeout longer than the interval is refused.", one("    interval: 5s\n    timeout: 6s\n    tcp: {address: 'h:1'}\n"), "probes.yaml:5:14: probes[0].timeout: 6s is longer than the interval 5s"},
		{"An interval under a second is refused.", one("    interval: 500ms\n    tcp: {address: 'h:1'}\n"), "probes.yaml:4:15: probes[0].interval: \"500ms\" is not a duration from 1s to 1d"},
		{"An unknown field is refused with the nearest known one.", one("    intervall: 5s\n    tcp: {address: 'h:1'}\n"), "probes.yaml:4:5: probes[0].intervall: unknown field; did you mean interval?"},
		{"Two checks in one probe are refused.", one("    tcp: {address: 'h:1'}\n    grpc: {address: 'h:1'}\n"), "probes.yaml:2:5: probes[0]: tcp, grpc given together"},
		{"A location with a dot is refused.", "probes:\n  - name: p\n    locations: [eu.west]\n    tcp: {address: 'h:1'}\n", "probes.yaml:3:17: probes[0].locations[0]: \"eu.west\" is not a location name"},
		{"A location named cert is refused.", "probes:\n  - name: p\n    locations: [cert]\n    tcp: {address: 'h:1'}\n", "probes.yaml:3:17: probes[0].locations[0]: \"cert\" is not a location name"},
		{"A variable no earlier step captures is refused.", one("    http:\n      steps:\n        - url: 'https://e.com/${tok}'\n"), "probes.yaml:6:16: probes[0].http.steps[0].url: ${tok} is not captured by an earlier step"},
		{"A status that is no status is refused.", one("    http: {url: 'https://e.com/', expect: {status: [2xx, 700]}}\n"), "probes.yaml:4:58: probes[0].http.expect.status[1]: \"700\" is not a status"},
		{"An unknown DNS type is refused.", one("    dns: {name: e.com, type: AAAAA}\n"), "probes.yaml:4:30: probes[0].dns.type: \"AAAAA\" is not a record type"},
		{"A TCP address without a port is refused.", one("    tcp: {address: 'db'}\n"), "probes.yaml:4:20: probes[0].tcp.address: \"db\" is not host:port"},
		{"A probe without locations is refused.", "probes:\n  - name: p\n    tcp: {address: 'h:1'}\n", "probes.yaml:2:5: probes[0].locations: missing"},
		{"A probe defined twice is refused.", "probes:\n  - {name: p, locations: [a], tcp: {address: 'h:1'}}\n  - {name: p, locations: [a], tcp: {address: 'h:1'}}\n", "probes.yaml:3:5: probes[1].name: probe p is defined twice"},
		{"A capture regexp without a group is refused.", one("    http:\n      steps:\n        - url: 'https://e.com/'\n          capture: {t: {regexp: 'tok'}}\n"), "probes.yaml:7:33: probes[0].http.steps[0].capture.t.regexp: has no group"},
		{"A window shorter than the interval is refused.", one("    interval: 1m\n    consensus: {window: 30s}\n    tcp: {address: 'h:1'}\n"), "probes.yaml:5:25: probes[0].consensus.window: 30s is shorter than the interval 1m"},
		{"A kind without its block is refused.", one("    kind: dns\n    tcp: {address: 'h:1'}\n"), "probes.yaml:2:5: probes[0].dns: missing; a probe of kind dns wants its dns: block"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("probes.yaml", []byte(c.file))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got\n%v\nwant it to contain\n%s", err, c.want)
			}
		})
	}
}

func TestParseCollectsEveryProblem(t *testing.T) {
	file := "probes:\n  - {name: a, locations: [x], consensus: {k: 2}, tcp: {address: 'h:1'}}\n  - {name: b, locations: [x], http: {url: 'https://'}}\n"
	_, err := Parse("p.yaml", []byte(file))
	if err == nil || !strings.Contains(err.Error(), "p.yaml:2:") || !strings.Contains(err.Error(), "p.yaml:3:") {
		t.Fatalf("want both problems, got %v", err)
	}
}

func TestParseProbeReadsOneEmbeddedProbe(t *testing.T) {
	var doc yaml.Node
	src := "sli:\n  probes:\n    name: home\n    locations: [a]\n    http: {url: 'https://e.com/', timeouts: {tls: 2s}}\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	node := doc.Content[0].Content[1].Content[1]
	p, err := ParseProbe("spec.yaml", "", node)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "home" || p.HTTP.TLSTimeout != 2*time.Second || p.Pos.Line != 3 {
		t.Errorf("got %+v at %+v", p, p.Pos)
	}
	bad := doc.Content[0].Content[1] // the mapping under sli: has no probe fields
	if _, err := ParseProbe("spec.yaml", "", bad); err == nil || !strings.Contains(err.Error(), "spec.yaml:2:3") {
		t.Errorf("got %v; want an error at spec.yaml:2:3", err)
	}
}

func TestLoadReadsADirectoryAndRefusesANameTwice(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("probes:\n  - {name: p, locations: [x], tcp: {address: 'h:1'}}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "b.yml"), []byte("probes:\n  - {name: q, locations: [x], tcp: {address: 'h:1'}}\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not probes"), 0o600)
	ps, err := Load(dir)
	if err != nil || len(ps) != 2 {
		t.Fatalf("got %d probes, %v", len(ps), err)
	}
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("probes:\n  - {name: p, locations: [x], tcp: {address: 'h:1'}}\n"), 0o600)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "c.yaml:2:5: name: probe p is also defined at") {
		t.Errorf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("probes:\n  - {name: p, locations: [x], consensus: {k: 9}, dns: {name: e.com}}\n"))
	f.Add([]byte("probes: [{http: {steps: [{url: '${a}', capture: {a: {jsonPath: '$.[0'}}}]}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("f.yaml", data)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Timeout > p.Interval || p.Interval < MinInterval || p.Consensus.K < 1 || p.Consensus.K > len(p.Locations) {
				t.Fatalf("accepted an out-of-range probe: %+v", p)
			}
			if (p.HTTP != nil) == (p.TCP != nil) && (p.DNS != nil) == (p.GRPC != nil) && p.HTTP != nil {
				t.Fatalf("a probe with two checks: %+v", p)
			}
		}
	})
}

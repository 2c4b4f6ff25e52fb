package ingest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// presetSeeds adds the lines of the preset's sample in testdata as seeds.
func presetSeeds(f *testing.F, names ...string) {
	for _, name := range names {
		file, err := os.Open(filepath.Join("testdata", "formats", "presets", name+".log"))
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(file)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.Add(append([]byte(nil), sc.Bytes()...))
		}
		file.Close()
	}
}

// fuzzParser parses line with p and with a fresh clone of it: whatever
// either reads must be a valid event, and the two must agree (the
// clone's caches of the last timestamp are empty, p's are not).
func fuzzParser(t *testing.T, p *Parser, line []byte) {
	e, err := p.Parse(line)
	if err != nil {
		if pe, ok := err.(*ParseError); ok && (pe.Reason == "" || pe.Msg == "") {
			t.Fatalf("%q: a ParseError without reason or message: %#v", line, pe)
		}
		return
	}
	checkEvent(t, line, &e)
	e2, err := p.Clone().Parse(line)
	if err != nil || e2.Time != e.Time || e2.Status != e.Status || e2.OK != e.OK ||
		(e2.Latency != e.Latency && !(e2.Latency != e2.Latency && e.Latency != e.Latency)) {
		t.Fatalf("%q: read as %+v, then by a fresh parser as %+v (%v)", line, e, e2, err)
	}
}

func fuzzPreset(f *testing.F, c Config) {
	p, err := NewParser(c)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		// Parse twice with the same parser too, so that its cache is warm.
		fuzzParser(t, p, line)
		fuzzParser(t, p, line)
	})
}

func FuzzLTSV(f *testing.F) {
	presetSeeds(f, "ltsv")
	fuzzPreset(f, Config{Format: "ltsv"})
}

func FuzzHAProxy(f *testing.F) {
	presetSeeds(f, "haproxy")
	fuzzPreset(f, Config{Format: "haproxy", Timezone: time.UTC})
}

func FuzzALB(f *testing.F) {
	presetSeeds(f, "aws-alb")
	fuzzPreset(f, Config{Format: "aws-alb"})
}

// FuzzJSONFields reads JSON with named fields: nested paths (gcp-lb),
// Unix seconds (caddy), nanoseconds (traefik), all with units.
func FuzzJSONFields(f *testing.F) {
	presetSeeds(f, "caddy", "traefik", "gcp-lb", "envoy-json")
	var ps []*Parser
	for _, c := range []Config{
		{Format: "caddy"}, {Format: "traefik"}, {Format: "gcp-lb"},
		{Format: "json", Fields: []string{"time=ts:unix_ms", "status=a.b.c", "latency=d.e:us", "ok=ok", "count=n"}},
	} {
		p, err := NewParser(c)
		if err != nil {
			f.Fatal(err)
		}
		ps = append(ps, p)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, p := range ps {
			fuzzParser(t, p, line)
		}
	})
}

// FuzzCompile compiles any format string, nginx or Apache. It is either
// refused with a message (a column for a syntax error) or compiles into a
// parser that reads any line without a panic and with valid events.
func FuzzCompile(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "formats", "strings.txt"))
	if err != nil {
		f.Fatal(err)
	}
	line := []byte(`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "-" "curl" 0.004`)
	for _, l := range strings.Split(string(data), "\n") {
		if format, ok := strings.CutPrefix(l, "format: "); ok {
			f.Add(format, line)
		}
	}
	errs, err := os.ReadFile(filepath.Join("testdata", "formats", "errors.txt"))
	if err != nil {
		f.Fatal(err)
	}
	for _, l := range strings.Split(string(errs), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			f.Add(l, line)
		}
	}
	f.Fuzz(func(t *testing.T, format string, line []byte) {
		p, err := NewParser(Config{Format: format, Timezone: time.UTC})
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: an empty message", format)
			}
			return
		}
		fuzzParser(t, p, line)
	})
}

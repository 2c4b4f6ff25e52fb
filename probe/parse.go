package probe

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/internal/yamlfield"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// Defaults and bounds of probes.yaml, as docs/probes.md gives them.
const (
	DefaultInterval    = 30 * time.Second
	MinInterval        = time.Second
	MaxInterval        = 24 * time.Hour
	MaxDefaultTimeout  = 10 * time.Second
	MinTimeout         = 10 * time.Millisecond
	DefaultCertMinDays = 14
	DefaultRedirects   = 5
	MaxRedirects       = 20
	DefaultCacheBust   = "_nines"
	maxLocations       = 100
	maxSteps           = 20
	maxNameLen         = 128
)

var probeFields = []string{"name", "kind", "interval", "timeout", "locations", "consensus", "certMinDays", "http", "tcp", "dns", "grpc"}

// Parse reads a probes.yaml file: a mapping with a list under probes:.
// Every problem is reported, each with FILE:LINE:COL.
func Parse(file string, data []byte) ([]*Probe, error) {
	docs, err := spec.Decode(file, data)
	if err != nil {
		return nil, err
	}
	r := &yamlfield.Reader{File: file}
	var out []*Probe
	seen := map[string]bool{}
	for _, doc := range docs {
		fs := r.Fields(doc, "", "probes")
		list, ok := r.Require(doc, fs, "", "probes", "a list of probes")
		if !ok {
			continue
		}
		r.List(list, "probes", "probes", func(item *yaml.Node, path string) {
			p := readProbe(r, item, path)
			if p == nil {
				return
			}
			if seen[p.Name] {
				r.Errorf(item, path+".name", "probe %s is defined twice; give each probe its own name", p.Name)
				return
			}
			seen[p.Name] = true
			out = append(out, p)
		})
	}
	if len(docs) == 0 {
		r.Errorf(nil, "", "no probes: want a mapping with a list under probes:")
	}
	if r.Failed() {
		return nil, r.Err()
	}
	return out, nil
}

// ParseProbe reads one probe from node, a mapping with the fields of an
// item of probes.yaml's list, for files that embed a probe (an SLI's
// probes:). Errors name file, node's positions and path, the field path of
// node in its file.
func ParseProbe(file, path string, node *yaml.Node) (*Probe, error) {
	r := &yamlfield.Reader{File: file}
	p := readProbe(r, node, path)
	if r.Failed() {
		return nil, r.Err()
	}
	return p, nil
}

// Load reads a probes file, or every .yaml and .yml file of a directory
// (not below it); a probe name must be unique across them.
func Load(path string) ([]*Probe, error) {
	files, err := files(path)
	if err != nil {
		return nil, err
	}
	var out []*Probe
	var errs []error
	where := map[string]Pos{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("probes: %w", err))
			continue
		}
		ps, err := Parse(f, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, p := range ps {
			if w, ok := where[p.Name]; ok {
				errs = append(errs, fmt.Errorf("%s:%d:%d: name: probe %s is also defined at %s:%d:%d; give each probe its own name", p.Pos.File, p.Pos.Line, p.Pos.Column, p.Name, w.File, w.Line, w.Column))
				continue
			}
			where[p.Name] = p.Pos
			out = append(out, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func readProbe(r *yamlfield.Reader, n *yaml.Node, path string) *Probe {
	fails := len(errsOf(r))
	n = spec.Resolve(n)
	fs := r.Fields(n, path, probeFields...)
	if fs == nil {
		return nil
	}
	p := &Probe{Pos: Pos{File: r.File, Line: n.Line, Column: n.Column}, Interval: DefaultInterval, CertMinDays: DefaultCertMinDays}
	if v, ok := r.Require(n, fs, path, "name", "the probe's name (letters, digits, -, _ and .)"); ok {
		p.Name, _ = r.Name(v, yamlfield.Join(path, "name"), "the probe's name")
		if len(p.Name)+len(".cert") > maxNameLen {
			r.Errorf(v, yamlfield.Join(path, "name"), "%d characters is too long; want at most %d, so that its SLOs' names fit", len(p.Name), maxNameLen-len(".cert"))
		}
	}
	if v, ok := fs["interval"]; ok {
		p.Interval, _ = r.Duration(v, yamlfield.Join(path, "interval"), MinInterval, MaxInterval)
	}
	if p.Interval == 0 {
		p.Interval = DefaultInterval // already refused; keeps the checks below quiet
	}
	p.Timeout = min(p.Interval, MaxDefaultTimeout)
	if v, ok := fs["timeout"]; ok {
		if d, ok := r.Duration(v, yamlfield.Join(path, "timeout"), MinTimeout, MaxInterval); ok {
			if d > p.Interval {
				r.Errorf(v, yamlfield.Join(path, "timeout"), "%s is longer than the interval %s; a check must end before the next starts: shorten the timeout or lengthen the interval", slo.FormatDuration(d), slo.FormatDuration(p.Interval))
			}
			p.Timeout = d
		}
	}
	if v, ok := r.Require(n, fs, path, "locations", "a list of the locations the probe runs from, such as [eu-west, us-east]"); ok {
		p.Locations = readLocations(r, v, yamlfield.Join(path, "locations"), len(p.Name))
	}
	p.Consensus = Consensus{K: len(p.Locations)/2 + 1, Window: 3 * p.Interval}
	if v, ok := fs["consensus"]; ok {
		cpath := yamlfield.Join(path, "consensus")
		cf := r.Fields(v, cpath, "k", "window")
		if kv, ok := cf["k"]; ok {
			if k, ok := r.Int(kv, yamlfield.Join(cpath, "k"), -1<<31, 1<<31, "how many locations must fail"); ok {
				switch {
				case k < 1:
					r.Errorf(kv, yamlfield.Join(cpath, "k"), "%d is below 1; want at least one location's failure", k)
				case k > int64(len(p.Locations)) && len(p.Locations) > 0:
					r.Errorf(kv, yamlfield.Join(cpath, "k"), "%d is more than the probe's %d locations; want from 1 to %d", k, len(p.Locations), len(p.Locations))
				default:
					p.Consensus.K = int(k)
				}
			}
		}
		if wv, ok := cf["window"]; ok {
			if d, ok := r.Duration(wv, yamlfield.Join(cpath, "window"), MinInterval, MaxInterval); ok {
				if d < p.Interval {
					r.Errorf(wv, yamlfield.Join(cpath, "window"), "%s is shorter than the interval %s: a window must hold at least one check from each location", slo.FormatDuration(d), slo.FormatDuration(p.Interval))
				}
				p.Consensus.Window = d
			}
		}
	}
	if v, ok := fs["certMinDays"]; ok {
		if d, ok := r.Int(v, yamlfield.Join(path, "certMinDays"), 0, 3650, "days before expiry"); ok {
			p.CertMinDays = int(d)
		}
	}
	var blocks []string
	for _, k := range []Kind{KindHTTP, KindTCP, KindDNS, KindGRPC} {
		if _, ok := fs[string(k)]; ok {
			blocks = append(blocks, string(k))
		}
	}
	if v, ok := fs["kind"]; ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "kind")); ok {
			switch Kind(s) {
			case KindHTTP, KindTCP, KindDNS, KindGRPC:
				p.Kind = Kind(s)
				if _, ok := fs[s]; !ok {
					r.Errorf(n, yamlfield.Join(path, s), "missing; a probe of kind %s wants its %s: block", s, s)
				}
			default:
				r.Errorf(v, yamlfield.Join(path, "kind"), "%s is not a kind; want http, tcp, dns or grpc", spec.Quote(s))
			}
		}
	}
	switch {
	case len(blocks) == 0:
		r.Errorf(n, path, "no check: want one of http:, tcp:, dns: or grpc:")
	case len(blocks) > 1:
		r.Errorf(n, path, "%s given together; a probe checks one thing: split it into %d probes", strings.Join(blocks, ", "), len(blocks))
	case p.Kind != "" && string(p.Kind) != blocks[0]:
		// Refused above: the kind's block is missing.
	default:
		p.Kind = Kind(blocks[0])
		bpath := yamlfield.Join(path, blocks[0])
		switch p.Kind {
		case KindHTTP:
			p.HTTP = readHTTP(r, fs["http"], bpath)
		case KindTCP:
			p.TCP = readTCP(r, fs["tcp"], bpath)
		case KindDNS:
			p.DNS = readDNS(r, fs["dns"], bpath)
		case KindGRPC:
			p.GRPC = readGRPC(r, fs["grpc"], bpath)
		}
	}
	if len(errsOf(r)) > fails {
		return nil
	}
	return p
}

// errsOf counts the reader's problems through its joined error.
func errsOf(r *yamlfield.Reader) []error {
	if err := r.Err(); err != nil {
		if u, ok := err.(interface{ Unwrap() []error }); ok {
			return u.Unwrap()
		}
		return []error{err}
	}
	return nil
}

var locationRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// files are the probes files of path: itself, or the .yaml and .yml
// files of a directory.
func files(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("probes: %w", err)
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("probes: %w", err)
	}
	var out []string
	for _, e := range ents {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			out = append(out, filepath.Join(path, e.Name()))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("probes: directory %s has no .yaml or .yml file", path)
	}
	return out, nil
}

// MaxFileSize bounds the probes text an agent reads from nines serve.
const MaxFileSize = 4 << 20

// Text is the probes of path as one text, the files of a directory
// joined as YAML documents: what nines serve gives agents that read their
// probes from it (Parse reads it back).
func Text(path string) ([]byte, error) {
	fs, err := files(path)
	if err != nil {
		return nil, err
	}
	var out []byte
	for i, f := range fs {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("probes: %w", err)
		}
		if i > 0 {
			out = append(out, "\n---\n"...)
		}
		out = append(out, data...)
	}
	if len(out) > MaxFileSize {
		return nil, fmt.Errorf("probes: %s holds %d bytes, more than the %d an agent reads", path, len(out), MaxFileSize)
	}
	return out, nil
}

// ValidLocation reports whether s may name a location: letters, digits,
// - and _ (no dot, which separates it from the probe's name in its SLO),
// and not "cert".
func ValidLocation(s string) bool { return locationRE.MatchString(s) && s != "cert" && len(s) <= 64 }

func readLocations(r *yamlfield.Reader, n *yaml.Node, path string, nameLen int) []string {
	var out []string
	r.List(n, path, "location names", func(item *yaml.Node, ipath string) {
		s, ok := r.Text(item, ipath)
		switch {
		case !ok:
		case !ValidLocation(s):
			r.Errorf(item, ipath, "%s is not a location name; want letters, digits, - and _ only (at most 64, not \"cert\")", spec.Quote(s))
		case slices.Contains(out, s):
			r.Errorf(item, ipath, "location %s is listed twice", s)
		case nameLen+1+len(s) > maxNameLen:
			r.Errorf(item, ipath, "probe name and location together are %d characters; want at most %d", nameLen+1+len(s), maxNameLen)
		default:
			out = append(out, s)
		}
	})
	if len(out) > maxLocations {
		r.Errorf(n, path, "%d locations; want at most %d", len(out), maxLocations)
	}
	if len(out) == 0 && n.Kind == yaml.SequenceNode {
		r.Errorf(n, path, "empty; want at least one location the probe runs from")
	}
	return out
}

// rawText reads a scalar as written, spaces and line ends included: a
// body or a protocol line means them.
func rawText(r *yamlfield.Reader, n *yaml.Node, field string) string {
	if _, ok := r.Text(n, field); !ok {
		return ""
	}
	return n.Value
}

func readBool(r *yamlfield.Reader, n *yaml.Node, field string) bool {
	s, ok := r.Text(n, field)
	if !ok {
		return false
	}
	switch s {
	case "true":
		return true
	case "false":
		return false
	}
	r.Errorf(n, field, "%s is not true or false", spec.Quote(s))
	return false
}

func readIP(r *yamlfield.Reader, n *yaml.Node, field string) int {
	s, ok := r.Text(n, field)
	if !ok {
		return 0
	}
	switch s {
	case "4":
		return 4
	case "6":
		return 6
	case "any":
		return 0
	}
	r.Errorf(n, field, "%s is not an IP version; want 4, 6 or any", spec.Quote(s))
	return 0
}

func readCA(r *yamlfield.Reader, n *yaml.Node, field string) (string, *x509.CertPool) {
	s, ok := r.Text(n, field)
	if !ok {
		return "", nil
	}
	path := s
	if !filepath.IsAbs(path) && r.File != "" {
		path = filepath.Join(filepath.Dir(r.File), path)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		r.Errorf(n, field, "%v", err)
		return "", nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		r.Errorf(n, field, "%s holds no PEM certificate", path)
		return "", nil
	}
	return path, pool
}

var httpFields = []string{"url", "method", "headers", "body", "expect", "steps", "timeouts", "redirects", "ip", "cacheBust", "cacheBustParam", "tlsInsecure", "caFile", "serverName"}

func readHTTP(r *yamlfield.Reader, n *yaml.Node, path string) *HTTP {
	fs := r.Fields(n, path, httpFields...)
	if fs == nil {
		return nil
	}
	h := &HTTP{Redirects: DefaultRedirects, CacheBustParam: DefaultCacheBust}
	if v, ok := fs["timeouts"]; ok {
		tpath := yamlfield.Join(path, "timeouts")
		tf := r.Fields(v, tpath, "dns", "connect", "tls", "firstByte")
		for key, dst := range map[string]*time.Duration{"dns": &h.DNSTimeout, "connect": &h.ConnectTimeout, "tls": &h.TLSTimeout, "firstByte": &h.FirstByteTimeout} {
			if tv, ok := tf[key]; ok {
				*dst, _ = r.Duration(tv, yamlfield.Join(tpath, key), time.Millisecond, MaxInterval)
			}
		}
	}
	if v, ok := fs["redirects"]; ok {
		if d, ok := r.Int(v, yamlfield.Join(path, "redirects"), 0, MaxRedirects, "how many redirects to follow (0: none)"); ok {
			h.Redirects = int(d)
		}
	}
	if v, ok := fs["ip"]; ok {
		h.IP = readIP(r, v, yamlfield.Join(path, "ip"))
	}
	if v, ok := fs["cacheBust"]; ok {
		h.CacheBust = readBool(r, v, yamlfield.Join(path, "cacheBust"))
	}
	if v, ok := fs["cacheBustParam"]; ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "cacheBustParam")); ok {
			if !varRE.MatchString(s) {
				r.Errorf(v, yamlfield.Join(path, "cacheBustParam"), "%s is not a query parameter name; want letters, digits and _", spec.Quote(s))
			}
			h.CacheBustParam = s
		}
	}
	if v, ok := fs["tlsInsecure"]; ok {
		h.TLSInsecure = readBool(r, v, yamlfield.Join(path, "tlsInsecure"))
	}
	if v, ok := fs["caFile"]; ok {
		h.CAFile, h.roots = readCA(r, v, yamlfield.Join(path, "caFile"))
	}
	if v, ok := fs["serverName"]; ok {
		h.ServerName, _ = r.Text(v, yamlfield.Join(path, "serverName"))
	}
	stepv, hasSteps := fs["steps"]
	_, hasURL := fs["url"]
	switch {
	case hasSteps && hasURL:
		r.Errorf(stepv, yamlfield.Join(path, "steps"), "given with url:; a probe is one request (url:) or a transaction (steps:), so move the request into steps:")
	case hasSteps:
		for _, k := range []string{"method", "headers", "body", "expect"} {
			if v, ok := fs[k]; ok {
				r.Errorf(v, yamlfield.Join(path, k), "given with steps:; give it in the step it belongs to")
			}
		}
		vars := map[string]bool{}
		names := map[string]bool{}
		r.List(stepv, yamlfield.Join(path, "steps"), "steps", func(item *yaml.Node, spath string) {
			sf := r.Fields(item, spath, "name", "method", "url", "headers", "body", "expect", "capture")
			if sf == nil {
				return
			}
			s := readStep(r, item, sf, spath, vars)
			if s.Name == "" {
				s.Name = strconv.Itoa(len(h.Steps) + 1)
			}
			if names[s.Name] {
				r.Errorf(item, spath+".name", "step %s is named twice", s.Name)
			}
			names[s.Name] = true
			h.Steps = append(h.Steps, s)
		})
		if len(h.Steps) > maxSteps {
			r.Errorf(stepv, yamlfield.Join(path, "steps"), "%d steps; want at most %d", len(h.Steps), maxSteps)
		}
		if len(h.Steps) == 0 && stepv.Kind == yaml.SequenceNode {
			r.Errorf(stepv, yamlfield.Join(path, "steps"), "empty; want at least one step")
		}
	default:
		s := readStep(r, n, fs, path, map[string]bool{})
		s.Name = "request"
		h.Steps = []*Step{s}
	}
	return h
}

var varRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var refRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkRefs refuses ${var} of a variable no earlier step captures.
func checkRefs(r *yamlfield.Reader, n *yaml.Node, field, s string, vars map[string]bool) {
	for _, m := range refRE.FindAllStringSubmatch(s, -1) {
		if !vars[m[1]] {
			r.Errorf(n, field, "${%s} is not captured by an earlier step; capture it first (capture: {%s: {jsonPath: $.field}})", m[1], m[1])
		}
	}
}

func readStep(r *yamlfield.Reader, n *yaml.Node, fs map[string]*yaml.Node, path string, vars map[string]bool) *Step {
	s := &Step{Method: "GET", Expect: Expect{Status: []StatusRange{{200, 299}}}}
	if v, ok := fs["name"]; ok {
		s.Name, _ = r.Name(v, yamlfield.Join(path, "name"), "the step's name")
	}
	if v, ok := fs["method"]; ok {
		if m, ok := r.Text(v, yamlfield.Join(path, "method")); ok {
			if !regexp.MustCompile(`^[A-Z]+$`).MatchString(m) {
				r.Errorf(v, yamlfield.Join(path, "method"), "%s is not an HTTP method; want one such as GET, HEAD or POST, in capitals", spec.Quote(m))
			}
			s.Method = m
		}
	}
	if v, ok := r.Require(n, fs, path, "url", "the URL to request, such as https://example.com/health"); ok {
		if u, ok := r.Text(v, yamlfield.Join(path, "url")); ok {
			checkRefs(r, v, yamlfield.Join(path, "url"), u, vars)
			if err := checkURL(refRE.ReplaceAllString(u, "x")); err != nil {
				r.Errorf(v, yamlfield.Join(path, "url"), "%s: %v", spec.Quote(u), err)
			}
			s.URL = u
		}
	}
	if v, ok := fs["headers"]; ok {
		hpath := yamlfield.Join(path, "headers")
		v = spec.Resolve(v)
		if v.Kind != yaml.MappingNode {
			r.Errorf(v, hpath, "got %s; want a mapping of header names to values", spec.Describe(v))
		} else {
			for i := 0; i+1 < len(v.Content); i += 2 {
				k := v.Content[i].Value
				if !headerRE.MatchString(k) {
					r.Errorf(v.Content[i], yamlfield.Join(hpath, k), "not a header name")
					continue
				}
				val, ok := r.Text(v.Content[i+1], yamlfield.Join(hpath, k))
				if ok && strings.ContainsAny(val, "\r\n") {
					r.Errorf(v.Content[i+1], yamlfield.Join(hpath, k), "a header value cannot hold a line break")
					continue
				}
				checkRefs(r, v.Content[i+1], yamlfield.Join(hpath, k), val, vars)
				s.Headers = append(s.Headers, [2]string{k, val})
			}
		}
	}
	if v, ok := fs["body"]; ok {
		s.Body = rawText(r, v, yamlfield.Join(path, "body"))
		checkRefs(r, v, yamlfield.Join(path, "body"), s.Body, vars)
	}
	if v, ok := fs["expect"]; ok {
		s.Expect = readExpect(r, v, yamlfield.Join(path, "expect"))
	}
	if v, ok := fs["capture"]; ok {
		s.Capture = readCaptures(r, v, yamlfield.Join(path, "capture"), vars)
	}
	return s
}

var headerRE = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")

func checkURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("not a URL (%v)", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("not an http:// or https:// URL")
	case u.Hostname() == "":
		return errors.New("no host; want one such as https://example.com/")
	case u.Port() != "":
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fmt.Errorf("port %s is not from 1 to 65535", u.Port())
		}
	}
	return nil
}

func readExpect(r *yamlfield.Reader, n *yaml.Node, path string) Expect {
	e := Expect{Status: []StatusRange{{200, 299}}}
	fs := r.Fields(n, path, "status", "bodyContains", "bodyNotContains", "bodyRegexp", "bodyNotRegexp")
	if v, ok := fs["status"]; ok {
		e.Status = nil
		items := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		}
		for i, it := range items {
			field := yamlfield.Join(path, "status")
			if v.Kind == yaml.SequenceNode {
				field = fmt.Sprintf("%s[%d]", field, i)
			}
			s, ok := r.Text(it, field)
			if !ok {
				continue
			}
			sr, err := parseStatus(s)
			if err != nil {
				r.Errorf(it, field, "%s %v", spec.Quote(s), err)
				continue
			}
			e.Status = append(e.Status, sr)
		}
		if len(e.Status) == 0 && !r.Failed() {
			r.Errorf(v, yamlfield.Join(path, "status"), "empty; want the statuses that are good, such as [2xx, 304]")
		}
	}
	if v, ok := fs["bodyContains"]; ok {
		e.BodyContains, _ = r.Text(v, yamlfield.Join(path, "bodyContains"))
	}
	if v, ok := fs["bodyNotContains"]; ok {
		e.BodyNotContains, _ = r.Text(v, yamlfield.Join(path, "bodyNotContains"))
	}
	for key, dst := range map[string]**regexp.Regexp{"bodyRegexp": &e.BodyRegexp, "bodyNotRegexp": &e.BodyNotRegexp} {
		if v, ok := fs[key]; ok {
			*dst = readRegexp(r, v, yamlfield.Join(path, key))
		}
	}
	return e
}

func readRegexp(r *yamlfield.Reader, n *yaml.Node, field string) *regexp.Regexp {
	s, ok := r.Text(n, field)
	if !ok {
		return nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		r.Errorf(n, field, "%v", err)
		return nil
	}
	return re
}

// parseStatus reads 200, 2xx or 200-299.
func parseStatus(s string) (StatusRange, error) {
	const want = "is not a status; want a code (200), a class (2xx) or a range (200-299), from 100 to 599"
	code := func(t string) (int, bool) {
		v, err := strconv.Atoi(t)
		return v, err == nil && v >= 100 && v <= 599 && len(t) == 3
	}
	if len(s) == 3 && strings.HasSuffix(strings.ToLower(s), "xx") && s[0] >= '1' && s[0] <= '5' {
		c := int(s[0]-'0') * 100
		return StatusRange{c, c + 99}, nil
	}
	if lo, hi, ok := strings.Cut(s, "-"); ok {
		l, ok1 := code(strings.TrimSpace(lo))
		h, ok2 := code(strings.TrimSpace(hi))
		if !ok1 || !ok2 || l > h {
			return StatusRange{}, errors.New(want)
		}
		return StatusRange{l, h}, nil
	}
	c, ok := code(s)
	if !ok {
		return StatusRange{}, errors.New(want)
	}
	return StatusRange{c, c}, nil
}

func readCaptures(r *yamlfield.Reader, n *yaml.Node, path string, vars map[string]bool) []Capture {
	n = spec.Resolve(n)
	if n.Kind != yaml.MappingNode {
		r.Errorf(n, path, "got %s; want a mapping of variable names to {jsonPath:}, {regexp:} or {header:}", spec.Describe(n))
		return nil
	}
	var out []Capture
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := yamlfield.Join(path, k.Value)
		if !varRE.MatchString(k.Value) {
			r.Errorf(k, field, "not a variable name; want letters, digits and _, not starting with a digit")
			continue
		}
		cf := r.Fields(v, field, "jsonPath", "regexp", "header")
		if cf == nil {
			continue
		}
		if len(cf) != 1 {
			r.Errorf(v, field, "want exactly one of jsonPath, regexp and header")
			continue
		}
		c := Capture{Var: k.Value}
		switch {
		case cf["jsonPath"] != nil:
			if s, ok := r.Text(cf["jsonPath"], field+".jsonPath"); ok {
				p, err := parseJSONPath(s)
				if err != nil {
					r.Errorf(cf["jsonPath"], field+".jsonPath", "%s %v", spec.Quote(s), err)
				}
				c.JSONPath = p
			}
		case cf["regexp"] != nil:
			c.Regexp = readRegexp(r, cf["regexp"], field+".regexp")
			if c.Regexp != nil && c.Regexp.NumSubexp() < 1 {
				r.Errorf(cf["regexp"], field+".regexp", "has no group; put the value to capture in parentheses, such as token=(\\w+)")
			}
		default:
			c.Header, _ = r.Text(cf["header"], field+".header")
		}
		vars[c.Var] = true
		out = append(out, c)
	}
	return out
}

// parseJSONPath reads the subset of JSONPath a capture needs: $.a.b[0].c
// (the $. may be left out).
func parseJSONPath(s string) ([]string, error) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "$"), ".")
	if s == "" {
		return nil, errors.New("is empty; want a path such as $.data.token")
	}
	var out []string
	for _, part := range strings.Split(s, ".") {
		key, idx, _ := strings.Cut(part, "[")
		if key == "" && idx == "" {
			return nil, errors.New("has an empty key; want a path such as $.items[0].id")
		}
		if key != "" {
			out = append(out, key)
		}
		for idx != "" {
			i, rest, ok := strings.Cut(idx, "]")
			if _, err := strconv.Atoi(i); !ok || err != nil {
				return nil, errors.New("has an index that is not a number in brackets; want $.items[0]")
			}
			out = append(out, "["+i)
			idx = strings.TrimPrefix(rest, "[")
			if rest != "" && !strings.HasPrefix(rest, "[") {
				return nil, errors.New("has text after an index; want $.items[0].id")
			}
		}
	}
	return out, nil
}

func readHostPort(r *yamlfield.Reader, n *yaml.Node, field string) string {
	s, ok := r.Text(n, field)
	if !ok {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	p, perr := strconv.Atoi(port)
	if err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		r.Errorf(n, field, "%s is not host:port; want one such as db.example.com:5432 or [::1]:53", spec.Quote(s))
		return ""
	}
	return s
}

func readTCP(r *yamlfield.Reader, n *yaml.Node, path string) *TCP {
	fs := r.Fields(n, path, "address", "ip", "send", "expect")
	if fs == nil {
		return nil
	}
	t := &TCP{}
	if v, ok := r.Require(n, fs, path, "address", "host:port"); ok {
		t.Address = readHostPort(r, v, yamlfield.Join(path, "address"))
	}
	if v, ok := fs["ip"]; ok {
		t.IP = readIP(r, v, yamlfield.Join(path, "ip"))
	}
	if v, ok := fs["send"]; ok {
		t.Send = rawText(r, v, yamlfield.Join(path, "send"))
	}
	if v, ok := fs["expect"]; ok {
		t.Expect = rawText(r, v, yamlfield.Join(path, "expect"))
	}
	return t
}

func readDNS(r *yamlfield.Reader, n *yaml.Node, path string) *DNS {
	fs := r.Fields(n, path, "name", "type", "server", "answers", "match", "rcode", "dnssec")
	if fs == nil {
		return nil
	}
	d := &DNS{Type: dns.TypeA, Match: MatchAllOf, RCode: dns.RcodeSuccess}
	if v, ok := r.Require(n, fs, path, "name", "the name to look up, such as example.com"); ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "name")); ok {
			if _, ok := dns.IsDomainName(s); !ok || s == "" {
				r.Errorf(v, yamlfield.Join(path, "name"), "%s is not a domain name", spec.Quote(s))
			}
			d.Name = dns.Fqdn(s)
		}
	}
	if v, ok := fs["type"]; ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "type")); ok {
			t, known := dns.StringToType[strings.ToUpper(s)]
			if !known {
				r.Errorf(v, yamlfield.Join(path, "type"), "%s is not a record type; want one such as A, AAAA, CNAME, MX, TXT, NS or SOA", spec.Quote(s))
			}
			d.Type = t
		}
	}
	if v, ok := fs["server"]; ok {
		d.Server = readHostPort(r, v, yamlfield.Join(path, "server"))
	}
	if v, ok := fs["answers"]; ok {
		r.List(v, yamlfield.Join(path, "answers"), "expected answers", func(item *yaml.Node, ipath string) {
			if s, ok := r.Text(item, ipath); ok {
				d.Answers = append(d.Answers, normAnswer(s))
			}
		})
	}
	if v, ok := fs["match"]; ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "match")); ok {
			switch Match(s) {
			case MatchAllOf, MatchAnyOf, MatchExactly:
				d.Match = Match(s)
			default:
				r.Errorf(v, yamlfield.Join(path, "match"), "%s is not a match; want allOf, anyOf or exactly", spec.Quote(s))
			}
		}
	}
	if v, ok := fs["rcode"]; ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "rcode")); ok {
			c, known := dns.StringToRcode[strings.ToUpper(s)]
			if !known {
				r.Errorf(v, yamlfield.Join(path, "rcode"), "%s is not a response code; want one such as NOERROR or NXDOMAIN", spec.Quote(s))
			}
			d.RCode = c
		}
	}
	if v, ok := fs["dnssec"]; ok {
		d.DNSSEC = readBool(r, v, yamlfield.Join(path, "dnssec"))
	}
	return d
}

func readGRPC(r *yamlfield.Reader, n *yaml.Node, path string) *GRPC {
	fs := r.Fields(n, path, "address", "service", "tls", "tlsInsecure", "caFile", "serverName")
	if fs == nil {
		return nil
	}
	g := &GRPC{}
	if v, ok := r.Require(n, fs, path, "address", "host:port"); ok {
		g.Address = readHostPort(r, v, yamlfield.Join(path, "address"))
	}
	if v, ok := fs["service"]; ok {
		g.Service, _ = r.Text(v, yamlfield.Join(path, "service"))
	}
	if v, ok := fs["tls"]; ok {
		g.TLS = readBool(r, v, yamlfield.Join(path, "tls"))
	}
	if v, ok := fs["tlsInsecure"]; ok {
		g.TLSInsecure = readBool(r, v, yamlfield.Join(path, "tlsInsecure"))
	}
	if v, ok := fs["caFile"]; ok {
		g.CAFile, g.roots = readCA(r, v, yamlfield.Join(path, "caFile"))
	}
	if v, ok := fs["serverName"]; ok {
		g.ServerName, _ = r.Text(v, yamlfield.Join(path, "serverName"))
	}
	if !g.TLS && (g.TLSInsecure || g.CAFile != "" || g.ServerName != "") {
		r.Errorf(n, path, "tlsInsecure, caFile and serverName need tls: true")
	}
	return g
}

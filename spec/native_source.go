package spec

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

var (
	// promFields are those of sli.source.prometheus: the selectors of a
	// source, and the API that serves them.
	promFields      = append(slices.DeleteFunc(slices.Clone(sourceFields), func(s string) bool { return s == "prometheus" || s == "edge" }), "url", "headers", "bearerTokenFile", "basicAuth")
	edgeFields      = []string{"from", "to"}
	basicAuthFields = []string{"username", "passwordFile"}
	// connectionFields are those of an OpenSLO DataSource's
	// connectionDetails: the API without the selectors.
	connectionFields = []string{"url", "headers", "bearerTokenFile", "basicAuth"}
)

const (
	wantProm       = "a mapping with url: http://prometheus:9090 and the selectors (histogram: SELECTOR, or good (or bad) and total: SELECTOR)"
	wantURL        = "an http or https URL of a Prometheus-compatible API without /api/v1, such as http://prometheus:9090"
	wantHeaders    = "a mapping of HTTP header names to values such as X-Scope-OrgID: team-a"
	wantBasicAuth  = "a mapping with username: NAME and passwordFile: PATH"
	wantFile       = "a file path"
	wantConnection = "a mapping with url: http://prometheus:9090, and headers, bearerTokenFile or basicAuth when the API needs them"
	wantEdge       = "a mapping with from: SERVICE and to: SERVICE, the service.name of the caller and of the called service in traces"
	wantEdgeEnd    = "a service.name such as checkout"
	wantProbe      = "the name of a probe defined in the probes file (nines serve --probes), such as checkout-home, or a probe's definition in place (docs/probes.md)"
)

// source reads sli.source: the metric series nines serve reads the SLI
// from, received (remote write, OTLP) or, under prometheus:, read from a
// query API. Each selector is parsed here so that a typo is reported with
// its line, not when the first sample arrives.
func (d *doc) source(f field) {
	r := d.r
	fs := d.fields(f.val, f.path, sourceFields, nil)
	if ef, ok := fs["edge"]; ok {
		d.edge(fs, ef)
		return
	}
	pf, pull := fs["prometheus"]
	if !pull {
		d.slo.SLI.Source = d.selectors(f, fs)
		return
	}
	for name, other := range fs {
		if name != "prometheus" {
			r.errorf(other.key, other.path, "is beside prometheus; a source read from a query API has its selectors under prometheus, so move %s there", name)
		}
	}
	if !r.mapping(pf, wantProm) {
		return
	}
	pfs := d.fields(pf.val, pf.path, promFields, nil)
	m := d.selectors(pf, pfs)
	m.Prometheus = promAPI(r, pf, pfs)
	d.slo.SLI.Source = m
}

// edge reads sli.source.edge: the SLI is fed by the calls traced along
// one edge of the observed call graph. A call carries its own verdict
// (package callgraph), so the SLI judges it by its ok flag.
func (d *doc) edge(fs map[string]field, ef field) {
	r := d.r
	for name, other := range fs {
		if name != "edge" {
			r.errorf(other.key, other.path, "is beside edge; an SLI fed by traced calls names no series, so remove %s", name)
		}
	}
	if !d.slo.SLI.Status.IsZero() {
		r.errorf(ef.key, ef.path, "is judged by each call's own verdict (span status ERROR, HTTP 5xx, gRPC server errors); replace sli.good.status with ok: true")
	}
	if !r.mapping(ef, wantEdge) {
		return
	}
	efs := d.fields(ef.val, ef.path, edgeFields, nil)
	var e slo.EdgeSource
	for name, dst := range map[string]*string{"from": &e.From, "to": &e.To} {
		if sf, ok := r.require(ef.val, efs, ef.path, name, wantEdgeEnd); ok {
			if v, ok := r.scalar(sf, wantEdgeEnd); ok {
				*dst = v
			}
		}
	}
	if e.From != "" && e.From == e.To {
		r.errorf(ef.val, ef.path, "from and to are both %s; an edge joins two services (calls within one service are not traced as edges)", quote(e.From))
	}
	d.slo.SLI.Edge = &e
}

// selectors reads the series selectors of a source mapping f.
func (d *doc) selectors(f field, fs map[string]field) *slo.MetricSource {
	r := d.r
	errsBefore := len(r.errs)
	var m slo.MetricSource
	for name, dst := range map[string]*string{"good": &m.Good, "bad": &m.Bad, "total": &m.Total, "histogram": &m.Histogram, "errors": &m.Errors} {
		sf, ok := fs[name]
		if !ok {
			continue
		}
		v, ok := r.scalar(sf, wantSelector)
		if !ok {
			continue
		}
		sel, err := metrics.ParseSelector(v)
		switch {
		case err != nil:
			r.errorf(sf.val, sf.path, "%w; want %s", err, wantSelector)
		case name == "errors" && sel.Name != "":
			r.errorf(sf.val, sf.path, "%s names a metric; want label matchers alone such as {code=~\"5..\"}", quote(v))
		case name != "errors" && sel.Name == "":
			r.errorf(sf.val, sf.path, "%s names no metric; want %s", quote(v), wantSelector)
		default:
			*dst = v
		}
	}
	if sf, ok := fs["statusLabel"]; ok {
		if v, ok := r.scalar(sf, wantText); ok {
			m.StatusLabel = v
		}
	}
	if sf, ok := fs["unit"]; ok {
		if v, ok := d.enum(sf, "unit", []string{"s", "ms", "us", "ns"}); ok {
			m.Unit = v
		}
	}
	_, g := fs["good"]
	_, b := fs["bad"]
	_, t := fs["total"]
	_, h := fs["histogram"]
	counters := g || b || t
	switch {
	case len(r.errs) > errsBefore:
		// A selector that did not parse already said what is wrong.
	case counters && h:
		r.errorf(f.val, f.path, "give counters (good or bad, with total) or a histogram, not both")
	case counters && (!t || g == b):
		r.errorf(f.val, f.path, "counters need total and exactly one of good and bad")
	case counters && d.slo.SLI.Latency != nil:
		r.errorf(f.val, f.path, "a latency threshold needs a histogram source: counters cannot say how long requests took")
	case !counters && !h:
		r.errorf(f.val, f.path, "selects nothing; want good or bad with total (counters), or histogram")
	case m.StatusLabel != "" && d.slo.SLI.Status.IsZero():
		r.errorf(f.val, f.path, "statusLabel needs a status rule in sli.good.status to judge it")
	}
	return &m
}

// promAPI reads the fields fs of a mapping f that names a query API:
// sli.source.prometheus, or an OpenSLO DataSource's connectionDetails.
func promAPI(r *report, f field, fs map[string]field) *slo.PromAPI {
	var api slo.PromAPI
	if uf, ok := r.require(f.val, fs, f.path, "url", wantURL); ok {
		if v, ok := r.scalar(uf, wantURL); ok {
			if u, err := CheckPromURL(v); err != nil {
				r.errorf(uf.val, uf.path, "%s: %s; want %s", quote(v), err, wantURL)
			} else {
				api.URL = u
			}
		}
	}
	if hf, ok := fs["headers"]; ok && r.mapping(hf, wantHeaders) {
		for i := 0; i+1 < len(hf.val.Content); i += 2 {
			k, v := resolve(hf.val.Content[i]), resolve(hf.val.Content[i+1])
			if k.Kind != yaml.ScalarNode || isNull(k) || !validHeaderName(k.Value) {
				r.errorf(k, hf.path, "%s is not an HTTP header name; want %s", quote(k.Value), wantHeaders)
				continue
			}
			p := join(hf.path, k.Value)
			name := k.Value
			switch http.CanonicalHeaderKey(name) {
			case "Authorization":
				r.errorf(k, p, "would put a secret in the spec; give bearerTokenFile or basicAuth instead, which read it from a file")
				continue
			case "Host", "Content-Length", "Content-Type", "Accept-Encoding":
				r.errorf(k, p, "is set by nines for each query; leave it out")
				continue
			}
			if slices.ContainsFunc(slices.Collect(maps.Keys(api.Headers)), func(h string) bool { return strings.EqualFold(h, name) }) {
				r.errorf(k, p, "repeated (header names are case-insensitive)")
				continue
			}
			hv, ok := r.scalar(field{path: p, key: k, val: v}, "a header value")
			if !ok {
				continue
			}
			if strings.ContainsAny(hv, "\r\n\x00") {
				r.errorf(v, p, "holds a line break or NUL, which no HTTP header may")
				continue
			}
			if api.Headers == nil {
				api.Headers = map[string]string{}
			}
			api.Headers[name] = hv
		}
	}
	if tf, ok := fs["bearerTokenFile"]; ok {
		if v, ok := r.scalar(tf, wantFile); ok {
			api.BearerTokenFile = v
		}
	}
	if bf, ok := fs["basicAuth"]; ok && r.mapping(bf, wantBasicAuth) {
		bfs := r.fields(bf.val, bf.path, basicAuthFields, nil)
		if uf, ok := r.require(bf.val, bfs, bf.path, "username", "a user name"); ok {
			if v, ok := r.scalar(uf, "a user name"); ok {
				if strings.Contains(v, ":") {
					r.errorf(uf.val, uf.path, "%s holds ':', which basic auth cannot send in a user name", quote(v))
				} else {
					api.BasicAuthUser = v
				}
			}
		}
		if pf, ok := r.require(bf.val, bfs, bf.path, "passwordFile", wantFile); ok {
			if v, ok := r.scalar(pf, wantFile); ok {
				api.BasicAuthPasswordFile = v
			}
		}
		if _, ok := fs["bearerTokenFile"]; ok {
			r.errorf(bf.key, bf.path, "is beside bearerTokenFile; a query carries one Authorization header, so give one of them")
		}
	}
	return &api
}

// CheckPromURL checks the base URL of a Prometheus-compatible API and
// returns it without a trailing slash.
func CheckPromURL(v string) (string, error) {
	u, err := url.Parse(v)
	switch {
	case err != nil:
		return "", errors.New("not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("the scheme is not http or https")
	case u.Host == "":
		return "", errors.New("no host")
	case u.User != nil:
		return "", errors.New("holds credentials, which would put a secret in the spec (give basicAuth with a passwordFile)")
	case u.RawQuery != "" || u.Fragment != "":
		return "", errors.New("has a query or fragment")
	case strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/api/v1"):
		return "", errors.New("ends in /api/v1, which nines adds to each query")
	}
	return strings.TrimSuffix(v, "/"), nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 field name).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// promNode writes api as a mapping: its url, then the selectors of its
// source (the fields of sm), then its headers and credentials.
func promNode(api *slo.PromAPI, selectors *yaml.Node) *yaml.Node {
	sm := mapping("url", api.URL)
	sm.Content = append(sm.Content, selectors.Content...)
	if len(api.Headers) > 0 {
		h := mapping()
		for _, k := range slices.Sorted(maps.Keys(api.Headers)) {
			put(h, k, api.Headers[k])
		}
		put(sm, "headers", h)
	}
	if api.BearerTokenFile != "" {
		put(sm, "bearerTokenFile", api.BearerTokenFile)
	}
	if api.BasicAuthUser != "" || api.BasicAuthPasswordFile != "" {
		put(sm, "basicAuth", mapping("username", api.BasicAuthUser, "passwordFile", api.BasicAuthPasswordFile))
	}
	return sm
}

// probes reads sli.probes: the SLI is fed by the consensus of a synthetic
// probe across its locations. The spec names a probe of the probes file,
// or defines one in place; nines serve checks the definition's fields
// (package probe, which this package cannot import) and hands it to the
// agents that read their probes from it.
// A probe judges each run itself (expected status, body, answers, and
// its timeout, which is its latency limit), and the consensus SLO counts
// locations, not requests: a good rule would have nothing to judge.
func (d *doc) probes(fs map[string]field, pf field) {
	r := d.r
	for _, name := range []string{"source", "log"} {
		if other, ok := fs[name]; ok {
			r.errorf(other.key, other.path, "is beside probes; an SLI fed by a probe reads no metrics or logs, so remove %s", name)
		}
	}
	if g, ok := fs["good"]; ok {
		r.errorf(g.key, g.path, "is beside probes; a probe judges each run itself (its expected status, body or answers), and its timeout is its latency limit: remove good, and set the probe's timeout in the probes file")
	}
	if pf.val.Kind == yaml.MappingNode {
		// A probe defined in place: nines serve reads its fields from the
		// spec's text (package probe); its name defaults to the SLO's.
		name := d.slo.Name
		for i := 0; i+1 < len(pf.val.Content); i += 2 {
			if k, v := pf.val.Content[i], pf.val.Content[i+1]; k.Value == "name" {
				if v.Kind != yaml.ScalarNode || !ValidName(v.Value) {
					r.errorf(v, pf.path+".name", "%s is not a probe name; want letters, digits, -, _ and . only", quote(v.Value))
					return
				}
				name = v.Value
			}
		}
		d.slo.SLI.Probe = &slo.ProbeSource{Name: name, Inline: true}
		return
	}
	v, ok := r.scalar(pf, wantProbe)
	if !ok {
		return
	}
	if !ValidName(v) {
		r.errorf(pf.val, pf.path, "%s is not a probe name; want %s", quote(v), wantProbe)
		return
	}
	d.slo.SLI.Probe = &slo.ProbeSource{Name: v}
}

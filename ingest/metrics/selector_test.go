package metrics

import (
	"strings"
	"testing"
)

func TestParseSelector(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		s, err := ParseSelector(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			return
		}
		if got := s.String(); got != want {
			t.Errorf("%s: String() = %s, want %s", in, got, want)
		}
	}
	f(`http_request_duration_seconds{service="checkout",code!~"5.."}`, `http_request_duration_seconds{service="checkout", code!~"5.."}`)
	f(`  up  `, `up`)
	f(`up{}`, `up`)
	f(`up{job="a",}`, `up{job="a"}`)
	f(`{__name__="up", job=~'a|b'}`, `up{job=~"a|b"}`)
	f("{code=~`5..`}", `{code=~"5.."}`)
	f(`{"http.server.request.duration", "service.name"="checkout"}`, `{"http.server.request.duration", "service.name"="checkout"}`)
	f(`http.server.request.duration{service="x"}`, `{"http.server.request.duration", service="x"}`)
	f(`a:b_c{x="\"q\"\n", y='it\'s "so"'}`, `a:b_c{x="\"q\"\n", y="it's \"so\""}`)
	f(`{__name__=~"http_.*_total"}`, `{__name__=~"http_.*_total"}`)
	f(`x{a!="",b="é"}`, `x{a!="", b="é"}`)
}

func TestParseSelectorErrors(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		_, err := ParseSelector(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to contain %q", in, err, want)
		}
	}
	f(``, "empty selector")
	f(`{}`, "matches everything")
	f(`up{job="a"`, "missing '}'")
	f(`up{job}`, "want =, !=, =~ or !~")
	f(`up{job=a}`, "want a quoted value")
	f(`up{job=="a"}`, "'==' is not a label matcher")
	f(`up{job="a" x="b"}`, "want ',' or '}'")
	f(`up{code=~"5(.."}`, "missing closing )")
	f(`up{job="a}`, "unterminated string")
	f(`up{"a"}`, "metric name given twice")
	f(`up{__name__="down"}`, "metric name given twice")
	f(`up[5m]`, `unexpected "[5m]"`)
	f(`5xx`, "want a metric name")
	f(`up{job="\q"}`, "bad string")
	f("up{job=\"a\nb\"}", "newline in string")
	f(`{""}`, "empty metric name")
	f(`up{job="a"}}`, `unexpected "}"`)
}

func TestMatchers(t *testing.T) {
	ls := Labels{{"__name__", "http_requests_total"}, {"code", "503"}, {"job", "api"}}
	f := func(sel string, want bool) {
		t.Helper()
		s := MustParseSelector(sel)
		if got := s.Matches(ls); got != want {
			t.Errorf("%s matches %v = %v, want %v", sel, ls, got, want)
		}
	}
	f(`http_requests_total`, true)
	f(`http_requests`, false)
	f(`http_requests_total{code=~"5.."}`, true)
	f(`http_requests_total{code=~"5"}`, false) // anchored: "5" does not match "503"
	f(`http_requests_total{code=~"50|503"}`, true)
	f(`http_requests_total{code!~"5.."}`, false)
	f(`http_requests_total{code!="503"}`, false)
	f(`http_requests_total{env=""}`, true) // a missing label is ""
	f(`http_requests_total{env!=""}`, false)
	f(`http_requests_total{env=~".*"}`, true)
	f(`http_requests_total{env=~".+"}`, false)
	f(`{__name__=~"http_.*"}`, true)
	f(`{job="api", code=~"5.*"}`, true)
	// A Matcher built by hand compiles its expression on use.
	m := Matcher{Name: "code", Type: MatchRegexp, Value: "5.."}
	if !m.Matches("503") || m.Matches("200") {
		t.Error("hand-built regexp matcher")
	}
	bad := Matcher{Name: "code", Type: MatchRegexp, Value: "("}
	if bad.Matches("(") {
		t.Error("uncompilable matcher matched")
	}
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{
		`http_request_duration_seconds{service="checkout",code!~"5.."}`,
		`{"http.server.request.duration", "service.name"="checkout"}`,
		"{code=~`5..`}", `up{job='a\'b'}`, `a.b{c="\u00e9\x41"}`, `{__name__=~"x"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSelector(in)
		if err != nil {
			return
		}
		out := s.String()
		s2, err := ParseSelector(out)
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", in, out, err)
		}
		if s2.String() != out || s2.Name != s.Name || len(s2.Matchers) != len(s.Matchers) {
			t.Fatalf("%q: round trip %q -> %q", in, out, s2.String())
		}
		for i := range s.Matchers {
			a, b := s.Matchers[i], s2.Matchers[i]
			if a.Name != b.Name || a.Type != b.Type || a.Value != b.Value {
				t.Fatalf("%q: matcher %d %v became %v", in, i, a.String(), b.String())
			}
		}
	})
}

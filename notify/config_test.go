package notify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	cfg, err := LoadConfig("testdata/notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ExternalURL != "http://nines.example.com:9797" || cfg.Timeout != 5*time.Second || cfg.MaxAge != 12*time.Hour {
		t.Errorf("top level: %+v", cfg)
	}
	pd := cfg.Receiver("oncall")
	if pd == nil || pd.Kind != KindPagerDuty || pd.URL != DefaultPagerDutyURL || pd.RoutingKey != "abcdefabcdefabcdefabcdefabcdef12" {
		t.Errorf("oncall: %+v", pd)
	}
	if r := cfg.Receiver("am"); r == nil || r.URL != "http://127.0.0.1:9093" {
		t.Errorf("am: %+v", r)
	}
	if r := cfg.Receiver("hooks"); r == nil || r.Headers["Authorization"] != "Bearer abc" {
		t.Errorf("hooks: %+v", r)
	}
	root := cfg.Route
	if root.Receiver != "log" || root.GroupWait != 10*time.Second || root.GroupInterval != DefaultGroupInterval || len(root.Routes) != 3 {
		t.Fatalf("root: %+v", root)
	}
	slack := root.Routes[2]
	if slack.GroupWait != 10*time.Second || slack.GroupInterval != 10*time.Minute || slack.Routes[0].GroupInterval != 10*time.Minute || slack.Routes[0].ID != "0.2.0" {
		t.Errorf("inheritance: %+v %+v", slack, slack.Routes[0])
	}

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"page goes to the Alertmanager and PagerDuty", map[string]string{"severity": "page", "slo": "a"}, []string{"am", "oncall"}},
		{"checkout ticket of another team goes to the webhook", map[string]string{"severity": "ticket", "service": "checkout", "team": "web"}, []string{"am", "hooks"}},
		{"payments ticket stops at Slack", map[string]string{"severity": "ticket", "service": "cart", "team": "payments-eu"}, []string{"am", "team-slack"}},
		{"other ticket falls back to the root", map[string]string{"severity": "ticket", "service": "search"}, []string{"am"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range root.Match(c.labels) {
				got = append(got, r.Receiver)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("routes %v, want %v", got, c.want)
			}
		})
	}
}

// TestConfigErrors checks that every problem of a bad file is reported at
// once, each at its line.
func TestConfigErrors(t *testing.T) {
	_, err := LoadConfig("testdata/invalid.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`testdata/invalid.yaml:1:15: external_url: URL "ftp://nines": scheme "ftp": want http or https`,
		`testdata/invalid.yaml:2:10: timeout: `,
		`testdata/invalid.yaml:6:20: receivers[0].pagerduty.routing_key: a PagerDuty integration key has 32 characters, this one 5`,
		`testdata/invalid.yaml:7:11: receivers[1].name: receiver "oncall" is defined twice (first at line 4)`,
		`receivers[1].slack.webhook_url: URL (secret): missing ']' in host`,
		`testdata/invalid.yaml:12:12: receivers[2].webhook.url: URL "http://": no host`,
		`testdata/invalid.yaml:13:5: receivers[2].log: a receiver has one kind; this one is already webhook`,
		`testdata/invalid.yaml:14:5: receivers[3]: no kind`,
		`testdata/invalid.yaml:17:12: receivers[4].alertmanager.url: URL "http://127.0.0.1:99999": port "99999" out of range`,
		`testdata/invalid.yaml:18:7: receivers[4].alertmanager.colour: unknown field`,
		`testdata/invalid.yaml:20:13: route.receiver: no receiver is named "nobody"`,
		`testdata/invalid.yaml:21:15: route.group_wait: duration "-1s" is negative`,
		`testdata/invalid.yaml:23:18: route.routes[0].matchers[0]: matcher service=~"(unclosed": missing closing ): "(unclosed"`,
		`route.routes[0].matchers[1]: matcher label "bad label": want a label name`,
		`route.routes[0].matchers[2]: matcher "severity": want name=value`,
		`testdata/invalid.yaml:24:17: route.routes[0].receiver: no receiver is named "pager"`,
		`route.routes[0].group_by[1]: "not-a-label": want a label name or ...`,
		`testdata/invalid.yaml:26:17: route.routes[0].continue: "maybe": want true or false`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors do not include\n  %s\ngot:\n%s", want, msg)
		}
	}
}

func TestConfigSmallErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "empty-key"), []byte("\n"), 0o600)
	for _, c := range []struct{ name, text, want string }{
		{"empty file", "", "notify.yaml: empty file"},
		{"not a mapping", "- a\n", "notify.yaml:1:1: want a mapping"},
		{"broken YAML", "route: [\n", "notify.yaml: yaml:"},
		{"no route", "receivers: [{name: log, log: {}}]\n", "route: missing"},
		{"no receivers", "route: {receiver: log}\n", "receivers: missing"},
		{"root without receiver", "receivers: [{name: log, log: {}}]\nroute: {group_wait: 1s}\n", "notify.yaml:2:8: route.receiver: missing"},
		{"matchers on the root", "receivers: [{name: log, log: {}}]\nroute: {receiver: log, matchers: [a=b]}\n", "the root route matches every alert"},
		{"missing key file", "receivers: [{name: pd, pagerduty: {routing_key_file: nope}}]\nroute: {receiver: pd}\n", "notify.yaml:1:54: receivers[0].pagerduty.routing_key_file: open "},
		{"empty key file", "receivers: [{name: pd, pagerduty: {routing_key_file: empty-key}}]\nroute: {receiver: pd}\n", "empty-key is empty"},
		{"key and key file", "receivers: [{name: pd, pagerduty: {routing_key: x, routing_key_file: y}}]\nroute: {receiver: pd}\n", "give receivers[0].pagerduty.routing_key or receivers[0].pagerduty.routing_key_file, not both"},
		{"slack without URL", "receivers: [{name: s, slack: {channel: x}}]\nroute: {receiver: s}\n", "receivers[0].slack.webhook_url: missing"},
		{"webhook without URL", "receivers: [{name: w, webhook: {}}]\nroute: {receiver: w}\n", "receivers[0].webhook.url: missing"},
		{"header with newline", "receivers: [{name: w, webhook: {url: 'http://a', headers: {X: \"a\\nb\"}}}]\nroute: {receiver: w}\n", "cannot hold a line break"},
		{"group_by ... with others", "receivers: [{name: log, log: {}}]\nroute: {receiver: log, group_by: [..., slo]}\n", "give it alone"},
		{"bad receiver name", "receivers: [{name: 'a b', log: {}}]\nroute: {receiver: 'a b'}\n", `"a b": want letters`},
		{"duplicate key", "receivers: [{name: log, log: {}}]\nroute: {receiver: log}\nroute: {receiver: log}\n", "notify.yaml:3:1: route: given twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig(filepath.Join(dir, "notify.yaml"), []byte(c.text), func(name string) ([]byte, error) {
				return os.ReadFile(filepath.Join(dir, name))
			})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestMatchers(t *testing.T) {
	labels := map[string]string{"slo": "checkout-availability", "severity": "page"}
	f := func(text string, want bool) {
		t.Helper()
		m, err := ParseMatcher(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got := m.Matches(labels); got != want {
			t.Errorf("%s matches %v, want %v", text, got, want)
		}
	}
	f("slo=checkout-availability", true)
	f(`slo="checkout-availability"`, true)
	f("slo = checkout-availability", true)
	f("slo!=checkout-availability", false)
	f(`slo=~"checkout.*"`, true)
	f(`slo=~"checkout"`, false) // anchored
	f(`slo!~"cart.*"`, true)
	f(`team=""`, true) // a missing label is empty
	f(`team!=""`, false)
	f(`severity=~page|ticket`, true)
	for _, bad := range []string{"", "slo", "=x", "9a=b", `slo=~"("`, `slo="unterminated`, strings.Repeat("a", 5000) + "=b"} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"testdata/notify.yaml", "testdata/invalid.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("receivers: [{name: log, log: {}}]\nroute: {receiver: log, routes: [{matchers: [a=~b], receiver: log}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data, func(string) ([]byte, error) { return []byte("abcdefabcdefabcdefabcdefabcdef12"), nil })
		if err != nil {
			return
		}
		if cfg.Route == nil || cfg.Receiver(cfg.Route.Receiver) == nil {
			t.Fatalf("loaded without a usable root route: %+v", cfg.Route)
		}
		cfg.Route.Match(map[string]string{"slo": "x", "severity": "page"})
	})
}

func FuzzParseMatcher(f *testing.F) {
	for _, s := range []string{"slo=a", `a!~"b|c"`, `x=~"(a"`, "a!=", `a="\u00e9"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMatcher(s)
		if err != nil {
			return
		}
		m2, err := ParseMatcher(m.String())
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", s, m.String(), err)
		}
		if m2.Name != m.Name || m2.Op != m.Op || m2.Value != m.Value {
			t.Fatalf("round trip %q: %+v != %+v", s, m, m2)
		}
	})
}

// TestExampleConfig keeps examples/notify.yaml loadable.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../examples/notify.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"/etc/nines/pagerduty-routing-key": "0123456789abcdef0123456789abcdef\n",
		"/etc/nines/slack-checkout-webhook": "https://hooks.slack.com/services/T0/B0/x\n"}
	cfg, err := ParseConfig("examples/notify.yaml", data, func(name string) ([]byte, error) {
		if s, ok := secrets[name]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range cfg.Route.Match(map[string]string{"slo": "checkout-availability", "service": "checkout", "severity": "page"}) {
		got = append(got, r.Receiver)
	}
	if strings.Join(got, ",") != "alertmanager,incidents,oncall" {
		t.Errorf("a checkout page goes to %v", got)
	}
	got = nil
	for _, r := range cfg.Route.Match(map[string]string{"slo": "cart-latency", "service": "cart", "severity": "ticket"}) {
		got = append(got, r.Receiver)
	}
	if strings.Join(got, ",") != "alertmanager,checkout-team" {
		t.Errorf("a cart ticket goes to %v", got)
	}
}

// FuzzSilenceJSON feeds API bodies to the silence decoder and validator:
// never a panic, and a silence that validates mutes what its matchers
// select.
func FuzzSilenceJSON(f *testing.F) {
	f.Add([]byte(`{"matchers": ["slo=a", {"name": "service", "op": "=~", "value": "c.*"}], "endsAt": "2026-11-25T12:00:00Z", "createdBy": "a"}`))
	f.Add([]byte(`{"matchers": [{"name": "x"}], "startsAt": "2026-11-25T11:00:00Z", "endsAt": "2026-11-25T10:00:00Z"}`))
	f.Add([]byte(`{"matchers": "slo=a"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Silence
		if json.Unmarshal(data, &s) != nil {
			return
		}
		if s.StartsAt.IsZero() {
			s.StartsAt = t0
		}
		if s.Validate(t0) != nil {
			return
		}
		// Labels that satisfy every matcher when all are name=value with
		// distinct names.
		labels := map[string]string{}
		selectable := true
		for _, m := range s.Matchers {
			if _, dup := labels[m.Name]; dup || m.Op != MatchEqual {
				selectable = false
			}
			labels[m.Name] = m.Value
		}
		if selectable && !s.Mutes(labels, s.StartsAt) {
			t.Fatalf("silence %+v does not mute %v at its start", s, labels)
		}
		if s.Mutes(labels, s.EndsAt) {
			t.Fatalf("silence %+v still mutes at its end", s)
		}
	})
}

// TestDefaultConfigOpensIncidentsForPages: without notify.yaml a page goes
// to the incidents receiver and the log, a ticket to the log only, and the
// incidents receiver renders the webhook payload once nines serve says
// where its own endpoint is.
func TestDefaultConfigOpensIncidentsForPages(t *testing.T) {
	cfg := DefaultConfig()
	route := func(labels map[string]string) string {
		var got []string
		for _, r := range cfg.Route.Match(labels) {
			got = append(got, r.Receiver)
		}
		return strings.Join(got, ",")
	}
	if got := route(map[string]string{"slo": "checkout-availability", "service": "checkout", "severity": "page"}); got != "incidents,log" {
		t.Errorf("a page goes to %s", got)
	}
	if got := route(map[string]string{"slo": "checkout-availability", "service": "checkout", "severity": "ticket"}); got != "log" {
		t.Errorf("a ticket goes to %s", got)
	}
	inc := cfg.Receiver("incidents")
	n := &Notification{Receiver: "incidents", GroupKey: "k", Alerts: []Alert{{Labels: map[string]string{"service": "checkout", "severity": "page"}}}}
	if _, err := Render(inc, n, "http://nines", time.Now()); err == nil || !strings.Contains(err.Error(), "no URL") {
		t.Errorf("rendering before ResolveIncidents: %v", err)
	}
	cfg.ResolveIncidents("http://127.0.0.1:9797/api/v1/alertmanager", map[string]string{"Authorization": "Bearer t"})
	reqs, err := Render(inc, n, "http://nines", time.Now())
	if err != nil || len(reqs) != 1 || reqs[0].URL != "http://127.0.0.1:9797/api/v1/alertmanager" || reqs[0].Headers["Authorization"] != "Bearer t" {
		t.Fatalf("Render = %+v, %v", reqs, err)
	}
	parsed, err := ParseConfig("notify.yaml", []byte("receivers: [{name: inc, incidents: {}}, {name: inc2, incidents: }]\nroute: {receiver: inc}\n"), nil)
	if err != nil || parsed.Receiver("inc").Kind != KindIncidents || parsed.Receiver("inc2").Kind != KindIncidents {
		t.Errorf("incidents receivers: %v", err)
	}
}

// TestMatcherLimitHoldsForJSONObjects: the API's {"name", "op", "value"}
// form is bounded like the text form.
func TestMatcherLimitHoldsForJSONObjects(t *testing.T) {
	big := strings.Repeat("a", maxMatcherLen+1)
	for _, body := range []string{
		`{"name": "slo", "op": "=~", "value": "` + big + `"}`,
		`{"name": "slo", "value": "` + big + `"}`,
	} {
		var m Matcher
		if err := json.Unmarshal([]byte(body), &m); err == nil || !strings.Contains(err.Error(), "at most") {
			t.Errorf("a matcher of %d bytes: %v", len(body), err)
		}
	}
}

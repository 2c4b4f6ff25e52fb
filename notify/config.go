package notify

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"gopkg.in/yaml.v3"
)

// Receiver kinds.
const (
	KindPagerDuty    = "pagerduty"
	KindSlack        = "slack"
	KindWebhook      = "webhook"
	KindAlertmanager = "alertmanager"
	KindLog          = "log"
	// KindIncidents opens incidents in nines itself: the notification is
	// the Alertmanager v4 webhook, posted to nines serve's own
	// /api/v1/alertmanager (see Config.ResolveIncidents), so it is kept in
	// the outbox and retried like any other.
	KindIncidents = "incidents"
)

// DefaultPagerDutyURL is the Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Defaults of notify.yaml, those of Alertmanager's route.
const (
	DefaultGroupWait      = 30 * time.Second
	DefaultGroupInterval  = 5 * time.Minute
	DefaultRepeatInterval = 4 * time.Hour
	DefaultTimeout        = 10 * time.Second
	DefaultMaxAge         = 24 * time.Hour
)

// Config is a loaded notify.yaml.
type Config struct {
	// ExternalURL is nines' own base URL as the people alerted reach it;
	// alerts link to ExternalURL/api/v1/slos/NAME.
	ExternalURL string
	// Timeout bounds one delivery attempt; MaxAge is how long a
	// notification is retried before it becomes a dead letter.
	Timeout, MaxAge time.Duration
	Receivers       []*Receiver
	Route           *Route
	// InhibitRules mute alerts while others fire, as Alertmanager's do.
	InhibitRules []InhibitRule
}

// InhibitRule mutes the alerts matching Target while an alert matching
// Source fires that has the same value (or absence) of every Equal label:
// a page for an SLO makes its tickets noise.
type InhibitRule struct {
	Source, Target Matchers
	Equal          []string
}

// Receiver is where a route's notifications go. Exactly one kind is set.
type Receiver struct {
	Name string
	Kind string
	// URL is the endpoint: the PagerDuty events URL, the Slack webhook,
	// the webhook, or the Alertmanager base URL. Empty for log.
	URL     string
	Headers map[string]string
	// RoutingKey is the PagerDuty integration key.
	RoutingKey string
	// Channel overrides a Slack webhook's default channel.
	Channel string
	// Email is the relay and addresses of an e-mail receiver (email.go).
	Email *Email
}

// Route is a node of the routing tree, with everything inherited from its
// parent already filled in.
type Route struct {
	Receiver       string
	Matchers       Matchers
	GroupBy        []string // "..." groups by every label
	GroupWait      time.Duration
	GroupInterval  time.Duration
	RepeatInterval time.Duration
	Continue       bool
	Routes         []*Route
	// ID names the node by its position ("0", "0.1", …), for group keys.
	ID string
}

// groupAll is the group_by entry that groups by every label.
const groupAll = "..."

// DefaultConfig sends everything to the log, one group per SLO and alert,
// without waiting, and opens an incident for every page, one per service;
// a page mutes the tickets of its SLO: what nines serve does without
// --notify.
func DefaultConfig() *Config {
	root := &Route{Receiver: "log", GroupBy: []string{"slo", "alert"}, GroupWait: 0,
		GroupInterval: DefaultGroupInterval, RepeatInterval: DefaultRepeatInterval, ID: "0"}
	pages := *root
	pages.Receiver, pages.GroupBy, pages.Continue, pages.ID = "incidents", []string{"service"}, true, "0.0"
	pages.Matchers = Matchers{{Name: "severity", Op: MatchEqual, Value: "page"}}
	all := *root
	all.ID = "0.1"
	root.Routes = []*Route{&pages, &all}
	return &Config{
		Timeout: DefaultTimeout, MaxAge: DefaultMaxAge,
		Receivers: []*Receiver{{Name: "log", Kind: KindLog}, {Name: "incidents", Kind: KindIncidents}},
		Route:     root,
		InhibitRules: []InhibitRule{{
			Source: Matchers{{Name: "severity", Op: MatchEqual, Value: "page"}},
			Target: Matchers{{Name: "severity", Op: MatchEqual, Value: "ticket"}},
			Equal:  []string{"slo"},
		}},
	}
}

// ResolveIncidents points the incidents receivers at nines serve's own
// Alertmanager webhook endpoint (url), with headers (the bearer token).
func (c *Config) ResolveIncidents(url string, headers map[string]string) {
	for _, r := range c.Receivers {
		if r.Kind == KindIncidents {
			r.URL, r.Headers = url, maps.Clone(headers)
		}
	}
}

// Receiver returns the receiver of that name, or nil.
func (c *Config) Receiver(name string) *Receiver {
	for _, r := range c.Receivers {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// ConfigError is one problem of a notify.yaml, where it is.
type ConfigError struct {
	File         string
	Line, Column int
	Field        string
	Err          error
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads notify.yaml at path. Secret files it names are read
// relative to its directory.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	dir := filepath.Dir(path)
	return ParseConfig(path, data, func(name string) ([]byte, error) {
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		return os.ReadFile(name)
	})
}

// maxConfigErrors bounds the errors reported for one file.
const maxConfigErrors = 50

// parser collects every problem of one file, so that one load shows them
// all.
type parser struct {
	file     string
	errs     []error
	readFile func(string) ([]byte, error)
}

func (p *parser) errorf(n *yaml.Node, field, format string, args ...any) {
	if len(p.errs) >= maxConfigErrors {
		return
	}
	e := &ConfigError{File: p.file, Field: field, Err: fmt.Errorf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// ParseConfig reads a notify.yaml from data; file names it in errors and
// readFile reads the secret files it names (nil refuses them). Every
// problem is reported, each with file:line:column.
func ParseConfig(file string, data []byte, readFile func(string) ([]byte, error)) (*Config, error) {
	p := &parser{file: file, readFile: readFile}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ConfigError{File: file, Err: err}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &ConfigError{File: file, Err: errors.New("empty file: want receivers: and route:")}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &ConfigError{File: file, Line: root.Line, Column: root.Column, Err: errors.New("want a mapping with receivers: and route:")}
	}
	cfg := &Config{Timeout: DefaultTimeout, MaxAge: DefaultMaxAge}
	var routeNode, receiversNode *yaml.Node
	p.fields(root, "", func(key string, k, v *yaml.Node) bool {
		switch key {
		case "external_url":
			if u := p.url(v, key, false); u != "" {
				cfg.ExternalURL = strings.TrimRight(u, "/")
			}
		case "timeout":
			cfg.Timeout = p.duration(v, key, cfg.Timeout, true)
		case "max_age":
			cfg.MaxAge = p.duration(v, key, cfg.MaxAge, true)
		case "receivers":
			receiversNode = v
		case "route":
			routeNode = v
		case "inhibit_rules":
			cfg.InhibitRules = p.inhibitRules(v)
		default:
			return false
		}
		return true
	})
	if receiversNode == nil {
		p.errorf(root, "receivers", "missing: name at least one receiver")
	} else {
		cfg.Receivers = p.receivers(receiversNode)
	}
	if routeNode == nil {
		p.errorf(root, "route", "missing: the root route names the default receiver")
	} else {
		parent := &Route{GroupBy: []string{"slo"}, GroupWait: DefaultGroupWait, GroupInterval: DefaultGroupInterval, RepeatInterval: DefaultRepeatInterval}
		cfg.Route = p.route(routeNode, "route", parent, "0", cfg, true)
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return cfg, nil
}

// fields walks a mapping; fn returns false for a key it does not know.
func (p *parser) fields(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node) bool) {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping, got %s", nodeKind(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := k.Value
		if path != "" {
			field = path + "." + k.Value
		}
		if seen[k.Value] {
			p.errorf(k, field, "given twice")
			continue
		}
		seen[k.Value] = true
		if !fn(k.Value, k, v) {
			p.errorf(k, field, "unknown field")
		}
	}
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}

func (p *parser) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, field, "want a text value, got %s", nodeKind(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) duration(n *yaml.Node, field string, def time.Duration, positive bool) time.Duration {
	s, ok := p.scalar(n, field)
	if !ok {
		return def
	}
	d, err := slo.ParseDuration(s)
	if err != nil {
		p.errorf(n, field, "%v: want a duration such as 30s, 5m or 4h", err)
		return def
	}
	if d < 0 || positive && d == 0 {
		p.errorf(n, field, "%s: want a positive duration", s)
		return def
	}
	return d
}

func (p *parser) boolean(n *yaml.Node, field string) bool {
	s, ok := p.scalar(n, field)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		p.errorf(n, field, "%q: want true or false", s)
	}
	return b
}

// url checks an endpoint: http or https, with a host. Reachability can
// only be known when sending; that is reported by delivery.
func (p *parser) url(n *yaml.Node, field string, secret bool) string {
	s, ok := p.scalar(n, field)
	if !ok {
		return ""
	}
	return p.checkURL(n, field, s, secret)
}

func (p *parser) checkURL(n *yaml.Node, field, s string, secret bool) string {
	shown := strconv.Quote(s)
	if secret {
		shown = "(secret)"
	}
	u, err := url.Parse(strings.TrimSpace(s))
	switch {
	case err != nil:
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		p.errorf(n, field, "URL %s: %v", shown, err)
	case u.Scheme != "http" && u.Scheme != "https":
		p.errorf(n, field, "URL %s: scheme %q: want http or https", shown, u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		p.errorf(n, field, "URL %s: no host", shown)
	default:
		if port := u.Port(); port != "" {
			if v, err := strconv.Atoi(port); err != nil || v < 1 || v > 65535 {
				p.errorf(n, field, "URL %s: port %q out of range", shown, port)
				return ""
			}
		}
		return u.String()
	}
	return ""
}

// secret reads a value given inline (field) or from a file (field_file).
func (p *parser) secret(n *yaml.Node, field string, inline, fromFile *yaml.Node) (string, *yaml.Node) {
	switch {
	case inline != nil && fromFile != nil:
		p.errorf(fromFile, field+"_file", "give %s or %s_file, not both", field, field)
	case inline != nil:
		s, _ := p.scalar(inline, field)
		if strings.TrimSpace(s) == "" {
			p.errorf(inline, field, "is empty")
		}
		return strings.TrimSpace(s), inline
	case fromFile != nil:
		name, ok := p.scalar(fromFile, field+"_file")
		if !ok {
			return "", fromFile
		}
		if p.readFile == nil {
			p.errorf(fromFile, field+"_file", "files cannot be read here")
			return "", fromFile
		}
		b, err := p.readFile(name)
		if err != nil {
			p.errorf(fromFile, field+"_file", "%v", err)
			return "", fromFile
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			p.errorf(fromFile, field+"_file", "%s is empty", name)
		}
		return s, fromFile
	default:
		p.errorf(n, field, "missing: give %s or %s_file", field, field)
	}
	return "", nil
}

func (p *parser) receivers(n *yaml.Node) []*Receiver {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "receivers", "want a list, got %s", nodeKind(n))
		return nil
	}
	var out []*Receiver
	names := map[string]*yaml.Node{}
	for i, rn := range n.Content {
		path := fmt.Sprintf("receivers[%d]", i)
		r := &Receiver{}
		var nameNode, kindNode *yaml.Node
		p.fields(rn, path, func(key string, k, v *yaml.Node) bool {
			switch key {
			case "name":
				nameNode = v
				r.Name, _ = p.scalar(v, path+".name")
			case KindPagerDuty, KindSlack, KindWebhook, KindAlertmanager, KindLog, KindIncidents, KindEmail:
				if kindNode != nil {
					p.errorf(k, path+"."+key, "a receiver has one kind; this one is already %s (add another receiver and route to both with continue: true)", r.Kind)
					return true
				}
				kindNode, r.Kind = v, key
				p.receiverKind(r, v, path+"."+key)
			default:
				return false
			}
			return true
		})
		if rn.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case nameNode == nil:
			p.errorf(rn, path+".name", "missing")
		case !validReceiverName(r.Name):
			p.errorf(nameNode, path+".name", "%q: want letters, digits, '-', '_' or '.'", r.Name)
		case names[r.Name] != nil:
			p.errorf(nameNode, path+".name", "receiver %q is defined twice (first at line %d)", r.Name, names[r.Name].Line)
		default:
			names[r.Name] = nameNode
		}
		if kindNode == nil {
			p.errorf(rn, path, "no kind: give one of pagerduty, slack, webhook, email, alertmanager, incidents or log")
		}
		out = append(out, r)
	}
	return out
}

func validReceiverName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (p *parser) receiverKind(r *Receiver, n *yaml.Node, path string) {
	if r.Kind == KindEmail {
		p.emailReceiver(r, n, path)
		return
	}
	if (r.Kind == KindLog || r.Kind == KindIncidents) && (n.Kind == yaml.ScalarNode && (n.Tag == "!!null" || n.Value == "")) {
		return // log: or incidents: with nothing after it
	}
	var urlNode, keyNode, keyFileNode, hookNode, hookFileNode *yaml.Node
	p.fields(n, path, func(key string, k, v *yaml.Node) bool {
		switch {
		case key == "url" && (r.Kind == KindPagerDuty || r.Kind == KindWebhook || r.Kind == KindAlertmanager):
			urlNode = v
		case key == "routing_key" && r.Kind == KindPagerDuty:
			keyNode = v
		case key == "routing_key_file" && r.Kind == KindPagerDuty:
			keyFileNode = v
		case key == "webhook_url" && r.Kind == KindSlack:
			hookNode = v
		case key == "webhook_url_file" && r.Kind == KindSlack:
			hookFileNode = v
		case key == "channel" && r.Kind == KindSlack:
			r.Channel, _ = p.scalar(v, path+".channel")
		case key == "headers" && (r.Kind == KindWebhook || r.Kind == KindAlertmanager):
			r.Headers = map[string]string{}
			p.fields(v, path+".headers", func(hk string, _, hv *yaml.Node) bool {
				if hk == "" || strings.ContainsAny(hk, " :\r\n") {
					p.errorf(hv, path+".headers", "header name %q is not valid", hk)
					return true
				}
				val, _ := p.scalar(hv, path+".headers."+hk)
				if strings.ContainsAny(val, "\r\n") {
					p.errorf(hv, path+".headers."+hk, "a header value cannot hold a line break")
				}
				r.Headers[hk] = val
				return true
			})
		default:
			return false
		}
		return true
	})
	switch r.Kind {
	case KindPagerDuty:
		r.URL = DefaultPagerDutyURL
		if urlNode != nil {
			r.URL = p.url(urlNode, path+".url", false)
		}
		r.RoutingKey, _ = p.secret(n, path+".routing_key", keyNode, keyFileNode)
		if len(r.RoutingKey) > 0 && len(r.RoutingKey) != 32 {
			// PagerDuty integration keys are 32 characters; anything else
			// would only fail at 3 a.m. with a 400.
			at := keyNode
			if at == nil {
				at = keyFileNode
			}
			p.errorf(at, path+".routing_key", "a PagerDuty integration key has 32 characters, this one %d", len(r.RoutingKey))
		}
	case KindSlack:
		hook, at := p.secret(n, path+".webhook_url", hookNode, hookFileNode)
		if hook != "" {
			r.URL = p.checkURL(at, path+".webhook_url", hook, true)
		}
	case KindWebhook, KindAlertmanager:
		if urlNode == nil {
			p.errorf(n, path+".url", "missing")
		} else {
			r.URL = p.url(urlNode, path+".url", false)
		}
		if r.Kind == KindAlertmanager {
			r.URL = strings.TrimRight(r.URL, "/")
		}
	}
}

func (p *parser) route(n *yaml.Node, path string, parent *Route, id string, cfg *Config, root bool) *Route {
	r := &Route{GroupBy: parent.GroupBy, GroupWait: parent.GroupWait, GroupInterval: parent.GroupInterval,
		RepeatInterval: parent.RepeatInterval, Receiver: parent.Receiver, ID: id}
	var receiverNode, routesNode *yaml.Node
	p.fields(n, path, func(key string, k, v *yaml.Node) bool {
		switch key {
		case "receiver":
			receiverNode = v
			r.Receiver, _ = p.scalar(v, path+".receiver")
		case "matchers":
			if root {
				p.errorf(k, path+".matchers", "the root route matches every alert; put matchers on child routes")
				return true
			}
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, path+".matchers", "want a list such as [severity=page, service=~\"checkout|cart\"], got %s", nodeKind(v))
				return true
			}
			r.Matchers = p.matchers(v, path+".matchers")
		case "group_by":
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, path+".group_by", "want a list of label names, got %s", nodeKind(v))
				return true
			}
			r.GroupBy = []string{}
			for i, ln := range v.Content {
				s, ok := p.scalar(ln, fmt.Sprintf("%s.group_by[%d]", path, i))
				if !ok {
					continue
				}
				if s != groupAll && !validLabelName(s) {
					p.errorf(ln, fmt.Sprintf("%s.group_by[%d]", path, i), "%q: want a label name or ...", s)
					continue
				}
				r.GroupBy = append(r.GroupBy, s)
			}
			if slices.Contains(r.GroupBy, groupAll) && len(r.GroupBy) > 1 {
				p.errorf(v, path+".group_by", "... groups by every label; give it alone")
			}
		case "group_wait":
			r.GroupWait = p.duration(v, path+".group_wait", r.GroupWait, false)
		case "group_interval":
			r.GroupInterval = p.duration(v, path+".group_interval", r.GroupInterval, true)
		case "repeat_interval":
			r.RepeatInterval = p.duration(v, path+".repeat_interval", r.RepeatInterval, true)
		case "continue":
			if root {
				p.errorf(k, path+".continue", "has no meaning on the root route")
				return true
			}
			r.Continue = p.boolean(v, path+".continue")
		case "routes":
			routesNode = v
		default:
			return false
		}
		return true
	})
	if n.Kind != yaml.MappingNode {
		return r
	}
	switch {
	case r.Receiver == "" && root:
		p.errorf(n, path+".receiver", "missing: the root route needs a default receiver")
	case receiverNode != nil && r.Receiver != "" && cfg.Receiver(r.Receiver) == nil:
		p.errorf(receiverNode, path+".receiver", "no receiver is named %q (receivers: %s)", r.Receiver, receiverNames(cfg))
	}
	if routesNode != nil {
		if routesNode.Kind != yaml.SequenceNode {
			p.errorf(routesNode, path+".routes", "want a list of routes, got %s", nodeKind(routesNode))
		} else {
			for i, cn := range routesNode.Content {
				r.Routes = append(r.Routes, p.route(cn, fmt.Sprintf("%s.routes[%d]", path, i), r, fmt.Sprintf("%s.%d", id, i), cfg, false))
			}
		}
	}
	return r
}

func receiverNames(cfg *Config) string {
	var names []string
	for _, r := range cfg.Receivers {
		names = append(names, r.Name)
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Match returns the routes an alert with labels goes to: the deepest
// matching node of each branch taken, as Alertmanager routes (a child
// that matches stops its siblings unless it has continue: true).
func (r *Route) Match(labels map[string]string) []*Route {
	if !r.Matchers.Matches(labels) {
		return nil
	}
	var out []*Route
	for _, c := range r.Routes {
		m := c.Match(labels)
		out = append(out, m...)
		if len(m) > 0 && !c.Continue {
			break
		}
	}
	if len(out) == 0 {
		out = []*Route{r}
	}
	return out
}

// matchers reads a list of matchers such as [severity="page", slo=~"x.*"].
func (p *parser) matchers(v *yaml.Node, path string) Matchers {
	if v.Kind != yaml.SequenceNode {
		p.errorf(v, path, "want a list such as [severity=page, service=~\"checkout|cart\"], got %s", nodeKind(v))
		return nil
	}
	var out Matchers
	for i, mn := range v.Content {
		s, ok := p.scalar(mn, fmt.Sprintf("%s[%d]", path, i))
		if !ok {
			continue
		}
		m, err := ParseMatcher(s)
		if err != nil {
			p.errorf(mn, fmt.Sprintf("%s[%d]", path, i), "%v", err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// inhibitRules reads inhibit_rules: a list of {source_matchers,
// target_matchers, equal}, as Alertmanager writes them.
func (p *parser) inhibitRules(n *yaml.Node) []InhibitRule {
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "inhibit_rules", "want a list of rules such as - {source_matchers: [severity=page], target_matchers: [severity=ticket], equal: [slo]}, got %s", nodeKind(n))
		return nil
	}
	var out []InhibitRule
	for i, rn := range n.Content {
		path := fmt.Sprintf("inhibit_rules[%d]", i)
		var r InhibitRule
		var src, dst bool
		p.fields(rn, path, func(key string, k, v *yaml.Node) bool {
			switch key {
			case "source_matchers":
				r.Source, src = p.matchers(v, path+".source_matchers"), true
			case "target_matchers":
				r.Target, dst = p.matchers(v, path+".target_matchers"), true
			case "equal":
				if v.Kind != yaml.SequenceNode {
					p.errorf(v, path+".equal", "want a list of label names such as [slo], got %s", nodeKind(v))
					return true
				}
				for j, ln := range v.Content {
					if l, ok := p.scalar(ln, fmt.Sprintf("%s.equal[%d]", path, j)); ok {
						if !validLabelName(l) {
							p.errorf(ln, fmt.Sprintf("%s.equal[%d]", path, j), "%q is not a label name", l)
							continue
						}
						r.Equal = append(r.Equal, l)
					}
				}
			default:
				return false
			}
			return true
		})
		if rn.Kind != yaml.MappingNode {
			continue
		}
		if !src || !dst || len(r.Source) == 0 || len(r.Target) == 0 {
			// Without both, a rule would mute everything, itself included.
			p.errorf(rn, path, "needs source_matchers and target_matchers, each with at least one matcher")
		}
		out = append(out, r)
	}
	return out
}

package catalog

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"gopkg.in/yaml.v3"
)

// MaxFileSize bounds a catalog file. A catalog of 2,000 services with
// 10,000 dependencies is about 1 MiB; the bound leaves room and keeps a
// hostile file from costing more than a moment of parsing.
const MaxFileSize = 16 << 20

// maxErrors bounds the errors reported for one load: past it a catalog
// is not worth reading on.
const maxErrors = 100

// Field lists, as the catalog reference (docs/catalog.md) shows them.
var (
	topFields        = []string{"services", "rotations"}
	serviceFields    = []string{"name", "description", "owner", "tier", "oncall", "playbook", "lifecycle", "goal", "slos", "ownWork", "capacity", "dependencies"}
	dependencyFields = []string{"service", "strength", "call", "slos", "latency", "mitigated"}
	capacityFields   = []string{"forecastPeakRPS", "testedRPS", "hosts", "zones"}
	mitigatedFields  = []string{"by", "reason"}
	// serviceElsewhere points at the mapping a misplaced field belongs in.
	serviceElsewhere = map[string]string{
		"forecastPeakRPS": "capacity", "testedRPS": "capacity", "hosts": "capacity", "zones": "capacity",
		"dependsOn": "dependencies", "rotation": "oncall (a rotation name)", "runbook": "playbook",
	}
	dependencyElsewhere = map[string]string{"by": "mitigated", "reason": "mitigated", "hard": "strength", "soft": "strength", "sync": "call", "async": "call"}
)

// Limits of the values a catalog may hold.
const (
	maxTier     = 5
	maxDuration = time.Hour
	maxRPS      = 1e9
	maxHosts    = 1_000_000
	maxZones    = 1_000
	maxText     = 1024
)

// Load reads one catalog file; name is how messages refer to it. The
// error joins a *spec.Error with file, line and column for every problem
// found; when it is not nil the catalog is nil.
func Load(name string, data []byte) (*Catalog, error) {
	l := newLoader()
	l.file(name, data)
	return l.finish()
}

// LoadFiles loads several catalog files as one catalog: names are unique
// across them and dependencies resolve across them. A nil fsys reads
// names as operating-system paths.
func LoadFiles(fsys fs.FS, names ...string) (*Catalog, error) {
	l := newLoader()
	for _, name := range names {
		data, err := spec.ReadFile(fsys, name, MaxFileSize)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			l.add(nil, &spec.Error{File: name, Err: err})
			continue
		}
		l.file(name, data)
	}
	return l.finish()
}

// LoadPath loads a catalog file, or every *.yaml and *.yml file directly
// inside a directory (names starting with a dot left out), from the
// operating system.
func LoadPath(p string) (*Catalog, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if !st.IsDir() {
		return LoadFiles(nil, p)
	}
	names, err := yamlFiles(nil, p)
	if err != nil {
		return nil, err
	}
	return LoadFiles(nil, names...)
}

// yamlFiles lists the catalog files of dir.
func yamlFiles(fsys fs.FS, dir string) ([]string, error) {
	names, err := spec.YAMLFiles(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	if len(names) == 0 {
		return nil, &spec.Error{File: dir, Err: errors.New("no catalog files (*.yaml, *.yml) in directory")}
	}
	return names, nil
}

// loader gathers the services of one or more files; references between
// them (dependencies, on-call rotations) are checked once all are in.
type loader struct {
	cat     *Catalog
	errs    []error
	dropped int
	first   map[string]Pos
	oncalls []ref
}

// ref is a name written somewhere, checked once every file is read.
type ref struct {
	name  string
	at    Pos
	field string
}

func newLoader() *loader {
	return &loader{cat: &Catalog{rotNames: map[string]bool{}}, first: map[string]Pos{}}
}

func (l *loader) fail(e *spec.Error) {
	if len(l.errs) >= maxErrors {
		l.dropped++
		return
	}
	l.errs = append(l.errs, e)
}

// add takes a service in, or records e when it is not nil.
func (l *loader) add(s *Service, e *spec.Error) {
	if e != nil {
		l.fail(e)
		return
	}
	if first, dup := l.first[s.Name]; dup {
		field := s.field
		if field == "" {
			field = "name"
		}
		l.fail(errAt(s.Pos, field, "%s is already the name of the service at %s; service names must be unique", spec.Quote(s.Name), first))
		return
	}
	l.first[s.Name] = s.Pos
	l.cat.Services = append(l.cat.Services, s)
}

func errAt(p Pos, field, format string, args ...any) *spec.Error {
	return &spec.Error{File: p.File, Line: p.Line, Column: p.Column, Field: field, Err: fmt.Errorf(format, args...)}
}

// finish resolves references and returns the catalog, or every error.
func (l *loader) finish() (*Catalog, error) {
	c := l.cat
	c.index()
	for _, s := range c.Services {
		seen := map[string]Pos{}
		for i, d := range s.Dependencies {
			field := d.field
			if field == "" {
				field = fmt.Sprintf("dependencies[%d].service", i)
			}
			if first, dup := seen[d.Service]; dup {
				l.fail(errAt(d.Pos, field, "%s is already a dependency of %s at %s; list each dependency once", spec.Quote(d.Service), s.Name, first))
				continue
			}
			seen[d.Service] = d.Pos
			if c.byName[d.Service] == nil {
				msg := "%s is not a service in the catalog; declare it under services: or fix the name"
				if near := spec.Suggest(d.Service, slices.Collect(keys(c.byName))); near != "" {
					msg = "%s is not a service in the catalog; did you mean " + spec.Quote(near) + "?"
				}
				l.fail(errAt(d.Pos, field, msg, spec.Quote(d.Service)))
			}
		}
	}
	for _, r := range l.oncalls {
		if !c.rotNames[r.name] {
			l.fail(errAt(r.at, r.field, "rotation %s is not declared; declare it under rotations: with name: %s, or fix the name", spec.Quote(r.name), r.name))
		}
	}
	if len(l.errs) > 0 {
		slices.SortStableFunc(l.errs, func(a, b error) int {
			ea, eb := a.(*spec.Error), b.(*spec.Error)
			if ea.File != eb.File {
				return strings.Compare(ea.File, eb.File)
			}
			if ea.Line != eb.Line {
				return ea.Line - eb.Line
			}
			return ea.Column - eb.Column
		})
		if l.dropped > 0 {
			l.errs = append(l.errs, fmt.Errorf("catalog: %d more errors not shown", l.dropped))
		}
		return nil, errors.Join(l.errs...)
	}
	return c, nil
}

func keys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// file reads one catalog file: native documents (services:, rotations:)
// or Backstage entities, told apart by apiVersion.
func (l *loader) file(name string, data []byte) {
	if len(data) > MaxFileSize {
		l.fail(&spec.Error{File: name, Err: fmt.Errorf("file is larger than %d MiB, the limit for a catalog file", MaxFileSize>>20)})
		return
	}
	docs, err := spec.Decode(name, data)
	if err != nil {
		var se *spec.Error
		if errors.As(err, &se) {
			l.fail(se)
		} else {
			l.fail(&spec.Error{File: name, Err: err})
		}
		return
	}
	if len(docs) == 0 {
		l.fail(&spec.Error{File: name, Err: errors.New("the file holds no YAML document; want services: with a list of services")})
		return
	}
	r := &reader{l: l, file: name}
	for _, doc := range docs {
		if doc.Kind == yaml.MappingNode {
			if v := r.lookup(doc, "apiVersion"); v != nil {
				r.backstage(doc, v)
				continue
			}
		}
		r.native(doc)
	}
}

// reader reads the nodes of one file.
type reader struct {
	l    *loader
	file string
}

func (r *reader) pos(n *yaml.Node) Pos { return Pos{File: r.file, Line: n.Line, Column: n.Column} }

func (r *reader) errorf(n *yaml.Node, field, format string, args ...any) {
	r.l.fail(errAt(r.pos(n), field, format, args...))
}

// lookup returns the value of key in mapping m, or nil.
func (r *reader) lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := spec.Resolve(m.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return spec.Resolve(m.Content[i+1])
		}
	}
	return nil
}

// fields checks the keys of mapping m against allowed and returns their
// values by name; repeated and unknown keys are errors.
func (r *reader) fields(m *yaml.Node, path string, allowed []string, elsewhere map[string]string) map[string]*yaml.Node {
	out := make(map[string]*yaml.Node, len(allowed))
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := spec.Resolve(m.Content[i]), spec.Resolve(m.Content[i+1])
		if k.Kind != yaml.ScalarNode || k.Tag == "!!null" || k.Tag == "!!merge" {
			r.errorf(k, path, "a key is %s; want a field name", spec.Describe(k))
			continue
		}
		p := join(path, k.Value)
		if first, dup := out[k.Value]; dup {
			r.errorf(k, p, "repeated; first set at line %d", first.Line)
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			msg := "unknown field"
			if where, ok := elsewhere[k.Value]; ok {
				msg += "; it belongs under " + where
			} else if s := spec.Suggest(k.Value, allowed); s != "" {
				msg += "; did you mean " + s + "?"
			}
			r.errorf(k, p, "%s (allowed here: %s)", msg, strings.Join(allowed, ", "))
			continue
		}
		out[k.Value] = v
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// native reads a document of the native format.
func (r *reader) native(doc *yaml.Node) {
	if doc.Kind != yaml.MappingNode {
		r.errorf(doc, "", "the document is %s; want a mapping with services: (and rotations:)", spec.Describe(doc))
		return
	}
	fs := r.fields(doc, "", topFields, map[string]string{"name": "services: - name:", "dependencies": "a service under services:"})
	if rot, ok := fs["rotations"]; ok {
		r.rotations(rot)
	}
	svcs, ok := fs["services"]
	if !ok {
		if _, rot := fs["rotations"]; !rot {
			r.errorf(doc, "services", "missing; want a list of services, each with name:, owner: and dependencies:")
		}
		return
	}
	if svcs.Kind != yaml.SequenceNode {
		r.errorf(svcs, "services", "got %s; want a list of services", spec.Describe(svcs))
		return
	}
	for i, n := range svcs.Content {
		r.service(spec.Resolve(n), fmt.Sprintf("services[%d]", i))
	}
}

// rotations keeps the rotations: section for the on-call package and
// collects the names it declares.
func (r *reader) rotations(n *yaml.Node) {
	r.l.cat.Rotations = append(r.l.cat.Rotations, RawSection{File: r.file, Node: n})
	if n.Kind != yaml.SequenceNode {
		r.errorf(n, "rotations", "got %s; want a list of rotations, each with name:", spec.Describe(n))
		return
	}
	for i, item := range n.Content {
		item = spec.Resolve(item)
		field := fmt.Sprintf("rotations[%d].name", i)
		if item.Kind != yaml.MappingNode {
			r.errorf(item, field, "the rotation is %s; want a mapping with name:", spec.Describe(item))
			continue
		}
		v := r.lookup(item, "name")
		if v == nil {
			r.errorf(item, field, "missing; want the rotation's name, which services name in oncall:")
			continue
		}
		if v.Kind != yaml.ScalarNode || !spec.ValidName(v.Value) {
			r.errorf(v, field, "%s is not a rotation name; want letters, digits, - _ or . such as checkout-primary", spec.Describe(v))
			continue
		}
		r.l.cat.rotNames[v.Value] = true
	}
}

// service reads one entry of services:.
func (r *reader) service(n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		r.errorf(n, path, "the service is %s; want a mapping with name:, owner: and dependencies:", spec.Describe(n))
		return
	}
	fs := r.fields(n, path, serviceFields, serviceElsewhere)
	nameNode, ok := fs["name"]
	if !ok {
		r.errorf(n, join(path, "name"), "missing; want the service's name such as checkout")
		return
	}
	name, ok := r.name(nameNode, join(path, "name"), "a service name such as checkout")
	if !ok {
		return
	}
	s := &Service{Name: name, Pos: r.pos(nameNode), field: join(path, "name")}
	for _, f := range []struct {
		key string
		dst *string
	}{{"description", &s.Description}, {"owner", &s.Owner}, {"lifecycle", &s.Lifecycle}} {
		if v, ok := fs[f.key]; ok {
			*f.dst, _ = r.text(v, join(path, f.key))
		}
	}
	if v, ok := fs["oncall"]; ok {
		if rot, ok := r.name(v, join(path, "oncall"), "the name of a rotation declared under rotations:"); ok {
			s.OnCall = rot
			r.l.oncalls = append(r.l.oncalls, ref{name: rot, at: r.pos(v), field: join(path, "oncall")})
		}
	}
	if v, ok := fs["playbook"]; ok {
		s.Playbook, _ = r.url(v, join(path, "playbook"))
	}
	if v, ok := fs["tier"]; ok {
		t, _ := r.integer(v, join(path, "tier"), 1, maxTier, "a tier from 1 (most critical) to 5")
		s.Tier = t
	}
	if v, ok := fs["goal"]; ok {
		s.Goal, _ = r.goal(v, join(path, "goal"))
	}
	if v, ok := fs["slos"]; ok {
		s.SLOs, _, _ = r.sloList(v, join(path, "slos"), name)
	}
	if v, ok := fs["ownWork"]; ok {
		s.OwnWork, _ = r.duration(v, join(path, "ownWork"))
	}
	if v, ok := fs["capacity"]; ok {
		s.Capacity = r.capacity(v, join(path, "capacity"))
	}
	if v, ok := fs["dependencies"]; ok {
		if v.Kind != yaml.SequenceNode {
			r.errorf(v, join(path, "dependencies"), "got %s; want a list of dependencies, each with service:", spec.Describe(v))
		} else {
			for i, d := range v.Content {
				if dep, ok := r.dependency(spec.Resolve(d), fmt.Sprintf("%s.dependencies[%d]", path, i)); ok {
					s.Dependencies = append(s.Dependencies, dep)
				}
			}
		}
	}
	r.l.add(s, nil)
}

func (r *reader) dependency(n *yaml.Node, path string) (Dependency, bool) {
	var d Dependency
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		r.errorf(n, path, "got %s; want a mapping such as {service: %s, strength: hard, call: sync}", spec.Describe(n), n.Value)
		return d, false
	}
	if n.Kind != yaml.MappingNode {
		r.errorf(n, path, "the dependency is %s; want a mapping with service:", spec.Describe(n))
		return d, false
	}
	fs := r.fields(n, path, dependencyFields, dependencyElsewhere)
	v, ok := fs["service"]
	if !ok {
		r.errorf(n, join(path, "service"), "missing; want the name of the service depended on")
		return d, false
	}
	name, ok := r.name(v, join(path, "service"), "a service name such as payments")
	if !ok {
		return d, false
	}
	d.Service, d.Pos, d.field = name, r.pos(v), join(path, "service")
	good := true
	if v, ok := fs["strength"]; ok {
		switch s, _ := r.text(v, join(path, "strength")); s {
		case "hard":
			d.Strength = Hard
		case "soft":
			d.Strength = Soft
		default:
			r.errorf(v, join(path, "strength"), "%s is not a strength; want hard (the caller fails with it) or soft (the caller degrades)", spec.Describe(v))
			good = false
		}
	}
	if v, ok := fs["call"]; ok {
		switch s, _ := r.text(v, join(path, "call")); s {
		case "sync":
			d.Call = Sync
		case "async":
			d.Call = Async
		default:
			r.errorf(v, join(path, "call"), "%s is not a call mode; want sync (the caller waits) or async (queued)", spec.Describe(v))
			good = false
		}
	}
	if v, ok := fs["slos"]; ok {
		var sloOK bool
		d.SLOs, d.sloPos, sloOK = r.sloList(v, join(path, "slos"), name)
		good = good && sloOK
	}
	if v, ok := fs["latency"]; ok {
		d.Latency, ok = r.duration(v, join(path, "latency"))
		good = good && ok
	}
	if v, ok := fs["mitigated"]; ok {
		d.Mitigated = r.mitigation(v, join(path, "mitigated"))
		good = good && d.Mitigated != nil
	}
	return d, good
}

// sloList reads a list of SLO names of service owner, with where each
// is written.
func (r *reader) sloList(v *yaml.Node, path, owner string) ([]string, []Pos, bool) {
	if v.Kind != yaml.SequenceNode {
		r.errorf(v, path, "got %s; want a list of SLO names of %s", spec.Describe(v), owner)
		return nil, nil, false
	}
	var names []string
	var at []Pos
	good := true
	for i, s := range v.Content {
		if sn, ok := r.name(spec.Resolve(s), fmt.Sprintf("%s[%d]", path, i), "an SLO name"); ok {
			names = append(names, sn)
			at = append(at, r.pos(s))
		} else {
			good = false
		}
	}
	return names, at, good
}

// goal reads a service's availability goal, a percentage as SLO
// objectives are written (99.95, or "99.95%"), into a share.
func (r *reader) goal(n *yaml.Node, field string) (float64, bool) {
	text := strings.TrimSuffix(strings.TrimSpace(n.Value), "%")
	v, err := strconv.ParseFloat(text, 64)
	switch {
	case n.Kind != yaml.ScalarNode || err != nil || math.IsNaN(v) || v <= 0 || v > 100:
		r.errorf(n, field, "%s is not a goal; want a percentage of calls that succeed, above 0 and at most 100, such as 99.95", spec.Describe(n))
		return 0, false
	case v <= 1 && !strings.HasSuffix(strings.TrimSpace(n.Value), "%"):
		r.errorf(n, field, "%s looks like a ratio; goals are percentages, as SLO objectives are: write %g for %g %%, or %q to mean %s %%", spec.Describe(n), v*100, v*100, n.Value+"%", n.Value)
		return 0, false
	}
	return v / 100, true
}

func (r *reader) mitigation(n *yaml.Node, path string) *Mitigation {
	if n.Kind != yaml.MappingNode {
		r.errorf(n, path, "got %s; want a mapping with by: (%s) and reason:", spec.Describe(n), strings.Join(mitigations, ", "))
		return nil
	}
	fs := r.fields(n, path, mitigatedFields, nil)
	var m Mitigation
	by, ok := fs["by"]
	if !ok {
		r.errorf(n, join(path, "by"), "missing; want how the caller gets around the dependency: %s", strings.Join(mitigations, ", "))
		return nil
	}
	m.By, _ = r.text(by, join(path, "by"))
	if !slices.Contains(mitigations, m.By) {
		r.errorf(by, join(path, "by"), "%s is not a mitigation; want %s", spec.Describe(by), strings.Join(mitigations, ", "))
		return nil
	}
	reason, ok := fs["reason"]
	if !ok {
		r.errorf(n, join(path, "reason"), "missing; a mitigation needs a reason a reviewer can check, such as \"prices are cached for 10 minutes\"")
		return nil
	}
	if m.Reason, ok = r.text(reason, join(path, "reason")); !ok || strings.TrimSpace(m.Reason) == "" {
		if ok {
			r.errorf(reason, join(path, "reason"), "is empty; a mitigation needs a reason a reviewer can check")
		}
		return nil
	}
	return &m
}

func (r *reader) capacity(n *yaml.Node, path string) *Capacity {
	if n.Kind != yaml.MappingNode {
		r.errorf(n, path, "got %s; want a mapping with forecastPeakRPS: and testedRPS:", spec.Describe(n))
		return nil
	}
	fs := r.fields(n, path, capacityFields, nil)
	var c Capacity
	good := true
	for _, f := range []struct {
		key string
		dst *float64
	}{{"forecastPeakRPS", &c.ForecastPeakRPS}, {"testedRPS", &c.TestedRPS}} {
		v, ok := fs[f.key]
		if !ok {
			r.errorf(n, join(path, f.key), "missing; the capacity checks need both forecastPeakRPS and testedRPS (requests per second)")
			good = false
			continue
		}
		*f.dst, ok = r.rate(v, join(path, f.key))
		good = good && ok
	}
	if v, ok := fs["hosts"]; ok {
		c.Hosts, ok = r.integer(v, join(path, "hosts"), 1, maxHosts, "the number of hosts that carried testedRPS")
		good = good && ok
	}
	if v, ok := fs["zones"]; ok {
		c.Zones, ok = r.integer(v, join(path, "zones"), 1, maxZones, "the number of zones (data centres) the hosts are spread over")
		good = good && ok
	}
	if good && (c.Hosts == 0) != (c.Zones == 0) {
		r.errorf(n, path, "hosts and zones go together: the zone-loss check needs both; set the missing one")
		good = false
	}
	if good && c.Zones > c.Hosts {
		r.errorf(fs["zones"], join(path, "zones"), "%d zones cannot hold %d hosts; each zone needs at least one", c.Zones, c.Hosts)
		good = false
	}
	if !good {
		return nil
	}
	return &c
}

// text returns a scalar's text, bounded in length.
func (r *reader) text(n *yaml.Node, field string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		r.errorf(n, field, "got %s; want text", spec.Describe(n))
		return "", false
	}
	if len(n.Value) > maxText {
		r.errorf(n, field, "is %d bytes long; the limit is %d", len(n.Value), maxText)
		return "", false
	}
	return n.Value, true
}

func (r *reader) name(n *yaml.Node, field, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || !spec.ValidName(n.Value) {
		r.errorf(n, field, "%s is not a name; want %s (letters, digits, - _ or .)", spec.Describe(n), want)
		return "", false
	}
	return n.Value, true
}

func (r *reader) url(n *yaml.Node, field string) (string, bool) {
	s, ok := r.text(n, field)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.errorf(n, field, "%s is not an http or https URL; want the playbook's base URL such as https://wiki.example.com/playbooks/checkout", spec.Quote(s))
		return "", false
	}
	return s, true
}

func (r *reader) integer(n *yaml.Node, field string, lo, hi int, want string) (int, bool) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" {
		if v, err := strconv.Atoi(n.Value); err == nil && v >= lo && v <= hi {
			return v, true
		}
	}
	r.errorf(n, field, "%s is out of range; want %s, a whole number from %d to %d", spec.Describe(n), want, lo, hi)
	return 0, false
}

func (r *reader) rate(n *yaml.Node, field string) (float64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
		if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v > 0 && v <= maxRPS && !math.IsInf(v, 0) {
			return v, true
		}
	}
	r.errorf(n, field, "%s is not a rate; want requests per second, a number above 0 and at most %g", spec.Describe(n), float64(maxRPS))
	return 0, false
}

func (r *reader) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := r.text(n, field)
	if !ok {
		return 0, false
	}
	d, err := slo.ParseDuration(s)
	if err != nil {
		r.errorf(n, field, "%s is not a duration: %v; want one such as 20ms", spec.Quote(s), err)
		return 0, false
	}
	if d <= 0 || d > maxDuration {
		r.errorf(n, field, "%s is out of range; want a duration above 0 and at most 1h", spec.Quote(s))
		return 0, false
	}
	return d, true
}

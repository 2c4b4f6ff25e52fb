// Package catalog is the service catalog: services with their owners,
// tiers, on-call rotations, playbooks, capacity and dependencies, read
// from services.yaml files or Backstage catalog-info.yaml, and the checks
// that judge a dependency graph: the availability ceiling its hard
// dependencies set, latency budgets along call paths, cycles, the
// capacity bottleneck and the hosts needed to survive the loss of a zone.
//
// Loading reads files; everything else is pure: the checks take the
// catalog, the SLOs and the observed edges as values and do no I/O.
package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Catalog is a loaded set of services, sorted by name. It is read-only
// once loaded and safe for concurrent readers.
type Catalog struct {
	Services []*Service
	// Rotations holds the value of every top-level rotations: key, one per
	// file that has one, for the package that reads rotations. The catalog
	// itself only collects the names they declare (RotationDeclared).
	Rotations []RawSection
	// Ignored counts Backstage entities of kinds other than Component
	// (System, Group, API, Resource, ...), which carry no service.
	Ignored int
	// IgnoredRefs counts Backstage dependsOn references to entities
	// other than components (resource:, api:), which are not services.
	IgnoredRefs int
	byName      map[string]*Service
	rotNames    map[string]bool
}

// RawSection is a top-level section of a catalog file that another
// package reads, kept as the YAML node so that its errors can name
// file, line and column.
type RawSection struct {
	File string
	Node *yaml.Node
}

// Service is one entry of the catalog.
type Service struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Owner       string `json:"owner,omitempty"`
	// Tier ranks how critical the service is: 1 is the most critical, 5
	// the least; 0 is not set.
	Tier int `json:"tier,omitempty"`
	// OnCall names the rotation that answers the service's pages.
	OnCall string `json:"oncall,omitempty"`
	// Playbook is the base URL of the service's playbook (runbook); an
	// alert's entry is an anchor under it.
	Playbook string `json:"playbook,omitempty"`
	// Lifecycle is Backstage's spec.lifecycle (production, experimental,
	// deprecated), or the native lifecycle field.
	Lifecycle string `json:"lifecycle,omitempty"`
	// Goal is the share of its clients' calls the service's owners agreed
	// should succeed (0.9995), for its scorecard; 0 is not set: the
	// strictest objective of its SLOs then stands in.
	Goal float64 `json:"goal,omitempty"`
	// SLOs are the SLOs the service is judged by, when the catalog lists
	// them; else those whose spec names the service.
	SLOs []string `json:"slos,omitempty"`
	// OwnWork is the time the service spends on a request besides waiting
	// for its synchronous dependencies; zero is not declared.
	OwnWork      time.Duration `json:"ownWork,omitempty"`
	Capacity     *Capacity     `json:"capacity,omitempty"`
	Dependencies []Dependency  `json:"dependencies,omitempty"`
	// Pos is where the service's name is written; field is its path.
	Pos   Pos `json:"-"`
	field string
}

// Capacity is what capacity planning knows of a service.
type Capacity struct {
	// ForecastPeakRPS is the expected peak load, requests per second.
	ForecastPeakRPS float64 `json:"forecastPeakRPS"`
	// TestedRPS is the load the service has been load-tested to carry
	// with its Hosts, requests per second.
	TestedRPS float64 `json:"testedRPS"`
	// Hosts is how many hosts (instances) carried TestedRPS and serve
	// now; Zones is how many zones (data centres) they are spread over.
	// Zero is not declared: the zone-loss check needs both.
	Hosts int `json:"hosts,omitempty"`
	Zones int `json:"zones,omitempty"`
}

// Strength says whether the caller fails when the dependency does.
type Strength uint8

// Strengths.
const (
	Hard Strength = iota // the caller fails with it
	Soft                 // the caller degrades but answers
)

func (s Strength) String() string { return [...]string{"hard", "soft"}[s] }

// MarshalText writes the strength as the catalog does.
func (s Strength) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Call says whether the caller waits for the dependency's answer.
type Call uint8

// Calls.
const (
	Sync  Call = iota // the caller waits: it adds latency and failures
	Async             // queued or fire-and-forget
)

func (c Call) String() string { return [...]string{"sync", "async"}[c] }

// MarshalText writes the call mode as the catalog does.
func (c Call) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// Dependency is one declared edge from a service to one it calls.
type Dependency struct {
	Service  string   `json:"service"`
	Strength Strength `json:"strength"`
	Call     Call     `json:"call"`
	// SLOs names the SLOs of the dependency that judge it for this
	// caller; empty takes all of the dependency's SLOs.
	SLOs []string `json:"slos,omitempty"`
	// Latency is the latency budget the caller gives the dependency;
	// zero is not declared.
	Latency   time.Duration `json:"latency,omitempty"`
	Mitigated *Mitigation   `json:"mitigated,omitempty"`
	Pos       Pos           `json:"-"`
	// field is the dotted path of the service name and sloPos where each
	// of SLOs is written, for messages.
	field  string
	sloPos []Pos
}

// Mitigation is how a caller keeps answering when a hard dependency
// fails: a cache, a fallback, a replica. Reason is required: it is the
// claim a reviewer checks.
type Mitigation struct {
	By     string `json:"by"`
	Reason string `json:"reason"`
}

// Mitigations are the accepted values of Mitigation.By.
var mitigations = []string{"cache", "fallback", "replica", "queue", "degrade"}

// Pos is a place in a catalog file.
type Pos struct {
	File         string
	Line, Column int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Service returns the service of that name, or nil.
func (c *Catalog) Service(name string) *Service { return c.byName[name] }

// Edges returns every declared dependency as an edge, in service order.
func (c *Catalog) Edges() []Edge {
	n := 0
	for _, s := range c.Services {
		n += len(s.Dependencies)
	}
	out := make([]Edge, 0, n)
	for _, s := range c.Services {
		for _, d := range s.Dependencies {
			out = append(out, Edge{From: s.Name, To: d.Service})
		}
	}
	return out
}

// Callers returns the services that declare a dependency on name, sorted.
func (c *Catalog) Callers(name string) []string {
	var out []string
	for _, s := range c.Services {
		for _, d := range s.Dependencies {
			if d.Service == name {
				out = append(out, s.Name)
				break
			}
		}
	}
	return out
}

// RotationDeclared reports whether some rotations: section declares a
// rotation of that name.
func (c *Catalog) RotationDeclared(name string) bool { return c.rotNames[name] }

// index builds the lookups of a catalog whose Services are final.
func (c *Catalog) index() {
	slices.SortFunc(c.Services, func(a, b *Service) int { return strings.Compare(a.Name, b.Name) })
	c.byName = make(map[string]*Service, len(c.Services))
	for _, s := range c.Services {
		c.byName[s.Name] = s
	}
}

// New builds a catalog from services made in code, such as one read from
// another system, checking them as a loaded file is checked: unique names,
// known dependencies, and every OnCall among the rotation names given.
// Field values are taken as they are: range checks are the loader's.
func New(services []*Service, rotations ...string) (*Catalog, error) {
	l := newLoader()
	for _, r := range rotations {
		l.cat.rotNames[r] = true
	}
	for i, s := range services {
		if s.OnCall != "" {
			l.oncalls = append(l.oncalls, ref{name: s.OnCall, at: s.Pos, field: fmt.Sprintf("services[%d].oncall", i)})
		}
		l.add(s, nil)
	}
	return l.finish()
}

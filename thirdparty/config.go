// Package thirdparty tracks the vendors a service depends on (a CDN, a
// DNS provider, a payment API) through a handful of actionable states,
// judged from the SLOs that watch each vendor's data plane, telemetry
// feed and configuration API, and keeps the vendor's SLA figures: what
// it promised per month against what nines measured, with the credit
// owed when it missed (docs/thirdparties.md).
//
// The package does no I/O but reading its file: SLO figures come in
// through Reader, and every function takes the time it judges at.
package thirdparty

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/internal/yamlfield"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// Config is the thirdParties: section of a thirdparties.yaml file.
type Config struct {
	Vendors []*Vendor
	// refs are where each SLO is named, for CheckSLOs.
	refs []sloRef
}

// Vendor is one third party and what watches it.
type Vendor struct {
	Name string
	// Regions are the vendor's regions nines tells apart; none for a
	// vendor judged as one.
	Regions []string
	// DataPlane, Telemetry and ConfigAPI name the SLOs that watch each
	// part of the vendor: its service itself, the logs or metrics it
	// delivers, and the API or portal that changes its configuration.
	DataPlane, Telemetry, ConfigAPI Component
	// Degraded are the conditions under which a data plane that still
	// answers is held to be degraded.
	Degraded []Condition
	// Stale is how old an SLO's latest quantum may be and still count:
	// past it the SLO says nothing (missing time is not bad time).
	Stale time.Duration
	// SLA is what the vendor promised; nil when no SLA is kept.
	SLA *SLA
}

// Component is the SLOs of one part of a vendor: those that judge every
// region, and those of each region alone.
type Component struct {
	SLOs    []string            `json:"slos,omitempty"`
	Regions map[string][]string `json:"regions,omitempty"`
}

// For returns the SLOs that judge the component in region ("" for a
// vendor without regions): the vendor-wide ones, then the region's.
func (c Component) For(region string) []string {
	return append(slices.Clip(c.SLOs), c.Regions[region]...)
}

// Condition is one reason a data plane that answers is degraded.
type Condition struct {
	SLO string `json:"slo"`
	// Region limits the condition to one region; "" applies everywhere.
	Region string `json:"region,omitempty"`
	// ErrorShareAbove, when above 0, makes the condition hold when more
	// than this share (0–1) of the latest quantum's events failed; at 0 it
	// holds when the latest quantum is bad by the SLO's own judgement (a
	// latency SLO whose quantum missed its threshold).
	ErrorShareAbove float64 `json:"error_share_above,omitempty"`
}

// SLA is a vendor's promise and what it owes when it misses.
type SLA struct {
	// Objective is the promised share of good time per calendar month.
	Objective slo.Ratio
	// SLO is the SLO whose monthly availability is held against it.
	SLO string
	// Credits are the tiers, sorted by Below descending: a month below a
	// tier's Below earns its Percent, the lowest tier it is below winning.
	Credits []Credit
	// Zone is the time zone of the vendor's calendar months.
	Zone *time.Location
}

// Credit is one tier of a credit table.
type Credit struct {
	Below   slo.Ratio
	Percent float64 // of the month's fee, 0–100
}

type sloRef struct {
	name  string
	node  *yaml.Node
	field string
	file  string
}

// Bounds of what a file may hold.
const (
	maxFileSize   = 4 << 20
	maxVendors    = 1000
	maxRegions    = 100
	maxSLOs       = 100
	maxCredits    = 20
	defaultStale  = 10 * time.Minute // a probe's consensus is written the lateness limit (5m) after its quantum
	maxStale      = 24 * time.Hour
	minStale      = time.Second
	componentWant = "a list of SLO names, or {slos: [...], regions: {REGION: [...]}}"
)

var (
	topFields       = []string{"thirdParties"}
	vendorFields    = []string{"vendor", "regions", "dataPlane", "telemetry", "configAPI", "degraded", "stale", "sla"}
	componentFields = []string{"slos", "regions"}
	conditionFields = []string{"slo", "region", "errorShareAbove"}
	slaFields       = []string{"objective", "slo", "credits", "timeZone"}
	creditFields    = []string{"below", "credit"}
)

// LoadFile reads a thirdparties.yaml file.
func LoadFile(path string) (*Config, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("third parties: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("third parties %s: %d bytes; a file holds at most %d", path, st.Size(), maxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("third parties: %w", err)
	}
	return Parse(path, data)
}

// Parse reads the thirdParties: section of a file; file names it in
// errors. Every problem is reported, each as a *yamlfield.Error with
// file:line:column and field; when the error is not nil the Config is nil.
func Parse(file string, data []byte) (*Config, error) {
	r := &yamlfield.Reader{File: file}
	if len(data) > maxFileSize {
		r.Errorf(nil, "", "%d bytes; a third-party file holds at most %d", len(data), maxFileSize)
		return nil, r.Err()
	}
	docs, err := spec.Decode(file, data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		r.Errorf(nil, "", "%d YAML documents; want one with a thirdParties: list", len(docs))
		return nil, r.Err()
	}
	root := docs[0]
	fs := r.Fields(root, "", topFields...)
	if fs == nil {
		return nil, r.Err()
	}
	p := &parser{r: r, cfg: &Config{}}
	if v, ok := r.Require(root, fs, "", "thirdParties", "a list of vendors, each with vendor: and dataPlane:"); ok {
		seen := map[string]*yaml.Node{}
		r.List(v, "thirdParties", "vendors", func(it *yaml.Node, path string) {
			vd, name := p.vendor(it, path)
			if vd == nil {
				return
			}
			if first := seen[vd.Name]; first != nil {
				r.Errorf(name, path+".vendor", "vendor %s is given twice (first at line %d); merge them or name each apart", vd.Name, first.Line)
				return
			}
			seen[vd.Name] = name
			p.cfg.Vendors = append(p.cfg.Vendors, vd)
		})
		if len(p.cfg.Vendors) > maxVendors {
			r.Errorf(v, "thirdParties", "%d vendors; a file holds at most %d", len(p.cfg.Vendors), maxVendors)
		}
	}
	if r.Failed() {
		return nil, r.Err()
	}
	return p.cfg, nil
}

type parser struct {
	r   *yamlfield.Reader
	cfg *Config
}

// problems counts the problems recorded so far.
func (p *parser) problems() int {
	if j, ok := p.r.Err().(interface{ Unwrap() []error }); ok {
		return len(j.Unwrap())
	}
	return 0
}

// sloName reads one SLO name and remembers where it was named.
func (p *parser) sloName(n *yaml.Node, field string) (string, bool) {
	s, ok := p.r.Name(n, field, "an SLO name")
	if ok {
		p.cfg.refs = append(p.cfg.refs, sloRef{name: s, node: n, field: field, file: p.r.File})
	}
	return s, ok
}

func (p *parser) vendor(n *yaml.Node, path string) (*Vendor, *yaml.Node) {
	r := p.r
	fs := r.Fields(n, path, vendorFields...)
	if fs == nil {
		return nil, nil
	}
	v := &Vendor{Stale: defaultStale}
	nameNode, ok := r.Require(n, fs, path, "vendor", "the vendor's name, such as edgecdn")
	if ok {
		v.Name, ok = r.Name(nameNode, yamlfield.Join(path, "vendor"), "a vendor name")
	}
	if !ok {
		nameNode = nil
	}
	regions := map[string]bool{}
	if rn, ok := fs["regions"]; ok {
		r.List(rn, yamlfield.Join(path, "regions"), "region names", func(it *yaml.Node, ip string) {
			name, ok := r.Name(it, ip, "a region name such as eu-west")
			switch {
			case !ok:
			case regions[name]:
				r.Errorf(it, ip, "region %s is given twice", name)
			default:
				regions[name] = true
				v.Regions = append(v.Regions, name)
			}
		})
		if len(v.Regions) > maxRegions {
			r.Errorf(rn, yamlfield.Join(path, "regions"), "%d regions; a vendor has at most %d", len(v.Regions), maxRegions)
		}
	}
	if dn, ok := r.Require(n, fs, path, "dataPlane", componentWant+": the SLOs that say whether the vendor serves"); ok {
		before := p.problems()
		v.DataPlane = p.component(dn, yamlfield.Join(path, "dataPlane"), regions)
		switch {
		case p.problems() > before:
			// Its own problems say what is wrong with it.
		case len(v.DataPlane.SLOs) == 0 && len(v.DataPlane.Regions) == 0:
			r.Errorf(dn, yamlfield.Join(path, "dataPlane"), "names no SLO; want at least one, or nines cannot tell the vendor is down")
		case len(v.DataPlane.SLOs) == 0:
			for _, region := range v.Regions {
				if len(v.DataPlane.Regions[region]) == 0 {
					r.Errorf(dn, yamlfield.Join(path, "dataPlane"), "region %s has no SLO; give it one under regions:, or list a vendor-wide one under slos:", region)
				}
			}
		}
	}
	if tn, ok := fs["telemetry"]; ok {
		v.Telemetry = p.component(tn, yamlfield.Join(path, "telemetry"), regions)
	}
	if cn, ok := fs["configAPI"]; ok {
		v.ConfigAPI = p.component(cn, yamlfield.Join(path, "configAPI"), regions)
	}
	if dn, ok := fs["degraded"]; ok {
		r.List(dn, yamlfield.Join(path, "degraded"), "conditions {slo, region, errorShareAbove}", func(it *yaml.Node, ip string) {
			if c, ok := p.condition(it, ip, regions); ok {
				v.Degraded = append(v.Degraded, c)
			}
		})
	}
	if sn, ok := fs["stale"]; ok {
		v.Stale, _ = r.Duration(sn, yamlfield.Join(path, "stale"), minStale, maxStale)
	}
	if sn, ok := fs["sla"]; ok {
		v.SLA = p.sla(sn, yamlfield.Join(path, "sla"))
	}
	return v, nameNode
}

// component reads a list of SLO names (vendor-wide) or a mapping with
// slos: and regions:.
func (p *parser) component(n *yaml.Node, path string, regions map[string]bool) Component {
	r := p.r
	var c Component
	list := func(ln *yaml.Node, lp string) []string {
		var out []string
		r.List(ln, lp, "SLO names", func(it *yaml.Node, ip string) {
			if s, ok := p.sloName(it, ip); ok {
				if slices.Contains(out, s) {
					r.Errorf(it, ip, "SLO %s is given twice", s)
					return
				}
				out = append(out, s)
			}
		})
		if len(out) > maxSLOs {
			r.Errorf(ln, lp, "%d SLOs; a list holds at most %d", len(out), maxSLOs)
		}
		return out
	}
	if n.Kind == yaml.SequenceNode {
		c.SLOs = list(n, path)
		return c
	}
	fs := r.Fields(n, path, componentFields...)
	if fs == nil {
		return c
	}
	if sn, ok := fs["slos"]; ok {
		c.SLOs = list(sn, yamlfield.Join(path, "slos"))
	}
	if rn, ok := fs["regions"]; ok {
		rp := yamlfield.Join(path, "regions")
		rn = spec.Resolve(rn)
		if rn.Kind != yaml.MappingNode {
			r.Errorf(rn, rp, "got %s; want a mapping of region names to SLO lists", spec.Describe(rn))
			return c
		}
		c.Regions = map[string][]string{}
		for i := 0; i+1 < len(rn.Content); i += 2 {
			k, val := rn.Content[i], rn.Content[i+1]
			kp := yamlfield.Join(rp, k.Value)
			switch {
			case !regions[k.Value]:
				r.Errorf(k, kp, "region %s is not among the vendor's regions (%s); add it to regions: or correct the name", spec.Quote(k.Value), listOr(keys(regions), "none given"))
			case c.Regions[k.Value] != nil:
				r.Errorf(k, kp, "given twice")
			default:
				c.Regions[k.Value] = list(val, kp)
			}
		}
	}
	return c
}

func (p *parser) condition(n *yaml.Node, path string, regions map[string]bool) (Condition, bool) {
	r := p.r
	var c Condition
	if n.Kind == yaml.ScalarNode {
		s, ok := p.sloName(n, path)
		c.SLO = s
		return c, ok
	}
	fs := r.Fields(n, path, conditionFields...)
	if fs == nil {
		return c, false
	}
	ok := true
	if sn, found := r.Require(n, fs, path, "slo", "the SLO whose bad quantum, or error share, means degraded"); found {
		c.SLO, ok = p.sloName(sn, yamlfield.Join(path, "slo"))
	} else {
		ok = false
	}
	if rn, found := fs["region"]; found {
		name, nameOK := r.Name(rn, yamlfield.Join(path, "region"), "a region name")
		if nameOK && !regions[name] {
			r.Errorf(rn, yamlfield.Join(path, "region"), "region %s is not among the vendor's regions (%s)", name, listOr(keys(regions), "none given"))
			nameOK = false
		}
		c.Region, ok = name, ok && nameOK
	}
	if en, found := fs["errorShareAbove"]; found {
		share, shareOK := r.Percent(en, yamlfield.Join(path, "errorShareAbove"), 0.99)
		c.ErrorShareAbove, ok = share, ok && shareOK
	}
	return c, ok
}

func (p *parser) sla(n *yaml.Node, path string) *SLA {
	r := p.r
	fs := r.Fields(n, path, slaFields...)
	if fs == nil {
		return nil
	}
	s := &SLA{Zone: time.UTC}
	if on, ok := r.Require(n, fs, path, "objective", "the promised monthly availability as a percentage, such as 99.9"); ok {
		s.Objective, _ = p.percent(on, yamlfield.Join(path, "objective"))
	}
	if sn, ok := r.Require(n, fs, path, "slo", "the SLO whose monthly availability is held against the promise"); ok {
		s.SLO, _ = p.sloName(sn, yamlfield.Join(path, "slo"))
	}
	if zn, ok := fs["timeZone"]; ok {
		zp := yamlfield.Join(path, "timeZone")
		if name, ok := r.Text(zn, zp); ok {
			loc, err := time.LoadLocation(name)
			if err != nil || name == "" || name == "Local" {
				r.Errorf(zn, zp, "%s is not a time zone; want an IANA name such as UTC or Europe/Berlin, the zone of the vendor's billing months", spec.Quote(name))
			} else {
				s.Zone = loc
			}
		}
	}
	if cn, ok := fs["credits"]; ok {
		cp := yamlfield.Join(path, "credits")
		r.List(cn, cp, "tiers {below: 99.9, credit: 10%}", func(it *yaml.Node, ip string) {
			tfs := r.Fields(it, ip, creditFields...)
			if tfs == nil {
				return
			}
			var c Credit
			ok := true
			if bn, found := r.Require(it, tfs, ip, "below", "the monthly availability under which the credit is owed, such as 99.9"); found {
				c.Below, ok = p.percent(bn, yamlfield.Join(ip, "below"))
				if ok && !s.Objective.IsZero() && less(s.Objective, c.Below) {
					r.Errorf(bn, yamlfield.Join(ip, "below"), "%s %% is above the objective %s %%: a month that met the promise owes no credit; want at most %s", c.Below, s.Objective, s.Objective)
					ok = false
				}
			} else {
				ok = false
			}
			if pn, found := r.Require(it, tfs, ip, "credit", "the share of the month's fee credited, such as 10%"); found {
				var pct float64
				pct, found = r.Percent(pn, yamlfield.Join(ip, "credit"), 1)
				c.Percent, ok = math.Round(pct*1e6)/1e4, ok && found
			} else {
				ok = false
			}
			if !ok {
				return
			}
			for _, o := range s.Credits {
				if !less(o.Below, c.Below) && !less(c.Below, o.Below) {
					r.Errorf(it, ip, "a tier below %s %% is given twice", c.Below)
					return
				}
			}
			s.Credits = append(s.Credits, c)
		})
		if len(s.Credits) > maxCredits {
			r.Errorf(cn, cp, "%d tiers; a credit table holds at most %d", len(s.Credits), maxCredits)
		}
		// Highest threshold first; a lower threshold must owe at least as
		// much, or a worse month would earn less.
		slices.SortFunc(s.Credits, func(a, b Credit) int {
			switch {
			case less(b.Below, a.Below):
				return -1
			case less(a.Below, b.Below):
				return 1
			}
			return 0
		})
		for i := 1; i < len(s.Credits); i++ {
			if s.Credits[i].Percent < s.Credits[i-1].Percent {
				r.Errorf(cn, cp, "below %s %% credits %g %%, less than the %g %% below %s %%: a worse month must not earn a smaller credit", s.Credits[i].Below, s.Credits[i].Percent, s.Credits[i-1].Percent, s.Credits[i-1].Below)
			}
		}
	}
	return s
}

// percent reads a percentage as objectives are written elsewhere in
// nines (spec): 99.9 or 99.9%, and a value of 1 or less only with its %
// sign, since 0.999 may be a ratio meant as 99.9 %.
func (p *parser) percent(n *yaml.Node, field string) (slo.Ratio, bool) {
	s, ok := p.r.Text(n, field)
	if !ok {
		return slo.Ratio{}, false
	}
	ratio, err := slo.ParsePercent(s)
	if err != nil {
		p.r.Errorf(n, field, "%v; write a percentage such as 99.9", err)
		return slo.Ratio{}, false
	}
	if ratio.Num*100 <= ratio.Den && !strings.HasSuffix(s, "%") {
		p.r.Errorf(n, field, "%s looks like a ratio; write it as a percentage such as 99.9 (or %s%% to mean %s %%)", spec.Quote(s), s, s)
		return slo.Ratio{}, false
	}
	return ratio, true
}

// less reports whether a < b, exactly.
func less(a, b slo.Ratio) bool {
	// Both denominators are powers of ten up to 10^9: the products fit.
	return a.Num*b.Den < b.Num*a.Den
}

// SLOs returns every SLO the configuration names, sorted, each once: the
// SLOs nines serve must have loaded.
func (c *Config) SLOs() []string {
	var out []string
	for _, ref := range c.refs {
		out = append(out, ref.name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// CheckSLOs reports, with file:line:column, every SLO the configuration
// names that known does not know (nines serve passes the SLOs it loaded).
func (c *Config) CheckSLOs(known func(name string) bool) error {
	var errs []error
	for _, ref := range c.refs {
		if known(ref.name) {
			continue
		}
		errs = append(errs, &yamlfield.Error{File: ref.file, Line: ref.node.Line, Column: ref.node.Column, Field: ref.field,
			Err: fmt.Errorf("no SLO %s is loaded; define it (a probe's consensus SLO is named after the probe) or correct the name", spec.Quote(ref.name))})
		if len(errs) >= yamlfield.MaxErrors {
			break
		}
	}
	return errors.Join(errs...)
}

// Vendor returns the vendor called name, or nil.
func (c *Config) Vendor(name string) *Vendor {
	for _, v := range c.Vendors {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func listOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

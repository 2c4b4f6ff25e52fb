package incident

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/slo"
)

// Goals are the times agreed with a service's owners. A zero goal is no
// goal: nothing misses it.
type Goals struct {
	TTD, TTE, TTF, TTM time.Duration
}

// Get returns the goal for m.
func (g Goals) Get(m Metric) time.Duration {
	switch m {
	case TTD:
		return g.TTD
	case TTE:
		return g.TTE
	case TTF:
		return g.TTF
	case TTM:
		return g.TTM
	}
	return 0
}

// Severity is one level of the severity scale; a lower level is worse.
type Severity struct {
	Level       int    `json:"level"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// ServiceConfig is what the configuration says of one service.
type ServiceConfig struct {
	Owner string
	Goals Goals
}

// Config is the incidents configuration (examples/incidents.yaml): the
// severity scale, per-service owners and goals, and defaults. The zero
// Config is usable: severities 1–5, no goals, UTC.
type Config struct {
	Severities []Severity
	// Goals apply to services without goals of their own.
	Goals    Goals
	Services map[string]ServiceConfig
	// Location buckets weeks, months and quarters; UTC by default.
	Location *time.Location
	// ShortTermDue is when a short-term repair item is due after it is
	// created (7 days by default).
	ShortTermDue time.Duration
	// AlertSeverity is the severity of incidents opened by alerts (2 by
	// default).
	AlertSeverity int
}

// DefaultSeverities is the scale when none is configured.
var DefaultSeverities = []Severity{
	{1, "SEV1", "critical: many users cannot use the service"},
	{2, "SEV2", "major: a core function is broken or badly degraded"},
	{3, "SEV3", "minor: a part of the service is degraded"},
	{4, "SEV4", "low: little user impact"},
	{5, "SEV5", "cosmetic or internal"},
}

func (c *Config) withDefaults() *Config {
	out := *c
	if len(out.Severities) == 0 {
		out.Severities = DefaultSeverities
	}
	if out.Location == nil {
		out.Location = time.UTC
	}
	if out.ShortTermDue <= 0 {
		out.ShortTermDue = 7 * 24 * time.Hour
	}
	if out.AlertSeverity == 0 {
		out.AlertSeverity = 2
	}
	if out.Services == nil {
		out.Services = map[string]ServiceConfig{}
	}
	return &out
}

// GoalsFor returns a service's goals: its own where set, else the defaults.
func (c *Config) GoalsFor(service string) Goals {
	g := c.Goals
	if sc, ok := c.Services[service]; ok {
		own := sc.Goals
		if own.TTD > 0 {
			g.TTD = own.TTD
		}
		if own.TTE > 0 {
			g.TTE = own.TTE
		}
		if own.TTF > 0 {
			g.TTF = own.TTF
		}
		if own.TTM > 0 {
			g.TTM = own.TTM
		}
	}
	return g
}

// OwnerOf returns the owner of an incident for the per-owner figures: the
// incident's own, else its primary service's, else "(none)".
func (c *Config) OwnerOf(f *Facts) string {
	if f.Owner != "" {
		return f.Owner
	}
	if len(f.Services) > 0 {
		if o := c.Services[f.Services[0]].Owner; o != "" {
			return o
		}
	}
	return NoOwner
}

// NoOwner groups incidents and items nobody owns.
const NoOwner = "(none)"

// checkSeverity refuses a level not on the scale, listing the valid ones.
func (c *Config) checkSeverity(level int) error {
	for _, s := range c.Severities {
		if s.Level == level {
			return nil
		}
	}
	valid := make([]string, len(c.Severities))
	for i, s := range c.Severities {
		valid[i] = fmt.Sprintf("%d (%s)", s.Level, s.Name)
	}
	return fmt.Errorf("%w: unknown severity %d: the scale is %s", ErrInvalid, level, strings.Join(valid, ", "))
}

// ParseSeverity reads a level number or a level's name (SEV2).
func (c *Config) ParseSeverity(v string) (int, error) {
	v = strings.TrimSpace(v)
	for _, s := range c.Severities {
		if strings.EqualFold(s.Name, v) {
			return s.Level, nil
		}
	}
	n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(v), "sev"))
	if err != nil {
		return 0, c.checkSeverity(-1)
	}
	return n, c.checkSeverity(n)
}

type yamlGoals struct {
	TTD string `yaml:"ttd"`
	TTE string `yaml:"tte"`
	TTF string `yaml:"ttf"`
	TTM string `yaml:"ttm"`
}

type yamlConfig struct {
	Severities []struct {
		Level       int    `yaml:"level"`
		Name        string `yaml:"name"`
		Description string `yaml:"description"`
	} `yaml:"severities"`
	Goals    yamlGoals `yaml:"goals"`
	Services map[string]struct {
		Owner string    `yaml:"owner"`
		Goals yamlGoals `yaml:"goals"`
	} `yaml:"services"`
	TimeZone      string `yaml:"time_zone"`
	ShortTermDue  string `yaml:"short_term_due"`
	AlertSeverity int    `yaml:"alert_severity"`
}

func (g yamlGoals) parse(where string) (Goals, error) {
	var out Goals
	for _, f := range []struct {
		name string
		v    string
		dst  *time.Duration
	}{{"ttd", g.TTD, &out.TTD}, {"tte", g.TTE, &out.TTE}, {"ttf", g.TTF, &out.TTF}, {"ttm", g.TTM, &out.TTM}} {
		if f.v == "" {
			continue
		}
		d, err := slo.ParseDuration(f.v)
		if err != nil || d <= 0 {
			return out, fmt.Errorf("%s.%s: %q is not a positive duration such as 15m", where, f.name, f.v)
		}
		*f.dst = d
	}
	return out, nil
}

// ParseConfig reads the incidents configuration (see
// examples/incidents.yaml). name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	var y yamlConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&y); err != nil && err.Error() != "EOF" {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	c := &Config{Services: map[string]ServiceConfig{}, AlertSeverity: y.AlertSeverity}
	seen := map[int]bool{}
	for i, s := range y.Severities {
		if s.Name == "" {
			s.Name = fmt.Sprintf("SEV%d", s.Level)
		}
		if seen[s.Level] {
			return nil, fmt.Errorf("%s: severities[%d]: level %d appears twice", name, i, s.Level)
		}
		seen[s.Level] = true
		c.Severities = append(c.Severities, Severity{s.Level, s.Name, s.Description})
	}
	slices.SortFunc(c.Severities, func(a, b Severity) int { return a.Level - b.Level })
	var err error
	if c.Goals, err = y.Goals.parse(name + ": goals"); err != nil {
		return nil, err
	}
	for _, svc := range slices.Sorted(maps.Keys(y.Services)) {
		s := y.Services[svc]
		g, err := s.Goals.parse(name + ": services." + svc + ".goals")
		if err != nil {
			return nil, err
		}
		c.Services[svc] = ServiceConfig{Owner: s.Owner, Goals: g}
	}
	if y.TimeZone != "" {
		if c.Location, err = time.LoadLocation(y.TimeZone); err != nil {
			return nil, fmt.Errorf("%s: time_zone: %w", name, err)
		}
	}
	if y.ShortTermDue != "" {
		if c.ShortTermDue, err = slo.ParseDuration(y.ShortTermDue); err != nil || c.ShortTermDue <= 0 {
			return nil, fmt.Errorf("%s: short_term_due: %q is not a positive duration such as 7d", name, y.ShortTermDue)
		}
	}
	if c.AlertSeverity != 0 {
		if err := c.withDefaults().checkSeverity(c.AlertSeverity); err != nil {
			return nil, fmt.Errorf("%s: alert_severity: %w", name, err)
		}
	}
	return c, nil
}

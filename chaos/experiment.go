package chaos

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/chaos/verdict"
	"github.com/nines-sre/nines/internal/yamlfield"
	"github.com/nines-sre/nines/spec"
)

// Definition is an experiment as its experiments/*.yaml file defines it:
// what steady state is judged, on whom, with which faults, and when it
// must stop (docs/chaos.md).
type Definition struct {
	Name string
	// SLO names the SLO whose SLI is the steady state: each cohort is
	// measured by its good rule, latency threshold and quantum.
	SLO string
	// Proxy names the proxy the experiment runs in.
	Proxy  string
	Cohort Assigner // Salt is set per run
	Faults []*Fault
	Plan   verdict.Plan
	// MaxDuration ends a run that decided nothing: inconclusive.
	MaxDuration time.Duration
	Abort       AbortRules
	// Schedule, when set, starts runs by itself.
	Schedule *Schedule
	// HalfLife is how fast confidence in a held result decays: after
	// one half-life since the last run that held, it is one half.
	HalfLife time.Duration
	File     string
}

// AbortRules stop a run at once, whatever the verdict says so far. Zero
// fields are not checked.
type AbortRules struct {
	// ExperimentBadShare stops the run when the experiment cohort's bad
	// share over the last minute passes it (0.05: 5 %).
	ExperimentBadShare float64
	// ExperimentBurnRate stops it when the experiment cohort burns the
	// SLO's error budget faster than this over the last minute.
	ExperimentBurnRate float64
	// BudgetRemaining stops it (and refuses to start it) when the SLO's
	// remaining error budget falls below this share of the whole.
	BudgetRemaining float64
}

// Schedule starts a run every Every, at the first time of day At in Zone
// on one of Days.
type Schedule struct {
	Every time.Duration
	At    string // HH:MM
	Zone  *time.Location
	Days  []time.Weekday
}

// DefaultHalfLife is the confidence half-life of an experiment that
// names none: a result a week old counts half.
const DefaultHalfLife = 7 * 24 * time.Hour

// Limits of an experiment file.
const (
	maxCohortShare = 0.5
	maxFaults      = 32
	maxRunLength   = 7 * 24 * time.Hour
	maxFileSize    = 1 << 20
)

var (
	experimentFields = []string{"name", "slo", "proxy", "cohort", "faults", "minEffect", "alpha", "power", "maxDuration", "abort", "schedule", "halfLife"}
	cohortFields     = []string{"key", "share"}
	keyFields        = []string{"header", "cookie", "client"}
	faultFields      = []string{"name", "percentage", "match", "delay", "abort", "responseRateLimit", "upstream", "maxActive"}
	matchFields      = []string{"routes", "methods", "headers"}
	headerFields     = []string{"name", "exact"}
	delayFields      = []string{"fixed", "min", "max", "mean"}
	faultAbortFields = []string{"status", "reset", "timeout", "hold"}
	abortFields      = []string{"experimentBadShare", "experimentBurnRate", "budgetRemaining"}
	scheduleFields   = []string{"every", "at", "zone", "days"}
)

// LoadExperiments reads every *.yaml and *.yml file of dir (or the one
// file dir names), refusing names given twice.
func LoadExperiments(dir string) ([]*Definition, error) {
	files := []string{dir}
	if st, err := os.Stat(dir); err != nil {
		return nil, err
	} else if st.IsDir() {
		files = nil
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			files = append(files, m...)
		}
		sort.Strings(files)
	}
	var out []*Definition
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		x, err := ParseExperiment(f, data)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[x.Name]; ok {
			return nil, fmt.Errorf("%s: experiment %s is also defined in %s; give each a name of its own", f, x.Name, prev)
		}
		seen[x.Name] = f
		out = append(out, x)
	}
	return out, nil
}

// ParseExperiment reads one experiment file; every problem is reported,
// each with file:line:column and field.
func ParseExperiment(file string, data []byte) (*Definition, error) {
	r := &yamlfield.Reader{File: file}
	if len(data) > maxFileSize {
		r.Errorf(nil, "", "%d bytes; an experiment file has at most %d", len(data), maxFileSize)
		return nil, r.Err()
	}
	docs, err := spec.Decode(file, data)
	if err != nil {
		return nil, err
	}
	if len(docs) != 1 {
		r.Errorf(nil, "", "%d YAML documents; want one experiment per file", len(docs))
		return nil, r.Err()
	}
	root := docs[0]
	fs := r.Fields(root, "", experimentFields...)
	if fs == nil {
		return nil, r.Err()
	}
	x := &Definition{File: file, Plan: verdict.Plan{Alpha: verdict.DefaultAlpha, Power: verdict.DefaultPower}}
	if v, ok := r.Require(root, fs, "", "name", "the experiment's name, such as checkout-slow-payments"); ok {
		x.Name, _ = r.Name(v, "name", "an experiment name")
	}
	if v, ok := fs["slo"]; ok {
		x.SLO, _ = r.Name(v, "slo", "the name of the SLO whose SLI is the steady state")
	} else {
		what := "missing; want the SLO whose SLI is the steady state"
		if fs["schedule"] != nil {
			what = "missing; a scheduled experiment runs unattended and must name the SLO that judges it"
		}
		r.Errorf(root, "slo", "%s", what)
	}
	if v, ok := r.Require(root, fs, "", "proxy", "the name of the proxy that runs it"); ok {
		x.Proxy, _ = r.Name(v, "proxy", "a proxy name")
	}
	if v, ok := r.Require(root, fs, "", "cohort", "the cohorts' key and share, such as {key: {header: X-User-Id}, share: 1%}"); ok {
		x.Cohort = parseCohort(r, v)
	}
	if v, ok := r.Require(root, fs, "", "faults", "a list of the faults the experiment cohort gets"); ok {
		r.List(v, "faults", "faults", func(it *yaml.Node, path string) {
			if f := parseFault(r, it, path); f != nil {
				x.Faults = append(x.Faults, f)
			}
		})
		if len(x.Faults) > maxFaults {
			r.Errorf(v, "faults", "%d faults; an experiment has at most %d", len(x.Faults), maxFaults)
		}
	}
	if v, ok := r.Require(root, fs, "", "minEffect", "the smallest rise of the bad share worth detecting, such as 1%"); ok {
		x.Plan.MinEffect, _ = r.Percent(v, "minEffect", 0.99)
	}
	if v, ok := fs["alpha"]; ok {
		x.Plan.Alpha, _ = r.Float(v, "alpha", 0, 0.5, "the false-verdict bound, such as 0.05")
	}
	if v, ok := fs["power"]; ok {
		x.Plan.Power, _ = r.Float(v, "power", 0.5, 1, "the chance of detecting the minimum effect, such as 0.8")
	}
	if v, ok := r.Require(root, fs, "", "maxDuration", "how long a run may last before it is called inconclusive, such as 1h"); ok {
		x.MaxDuration, _ = r.Duration(v, "maxDuration", time.Minute, maxRunLength)
	}
	if v, ok := fs["abort"]; ok {
		x.Abort = parseAbort(r, v)
	}
	x.HalfLife = DefaultHalfLife
	if v, ok := fs["halfLife"]; ok {
		x.HalfLife, _ = r.Duration(v, "halfLife", time.Hour, 365*24*time.Hour)
	}
	if v, ok := fs["schedule"]; ok {
		x.Schedule = parseSchedule(r, v)
	}
	if r.Failed() {
		return nil, r.Err()
	}
	return x, nil
}

func parseCohort(r *yamlfield.Reader, n *yaml.Node) Assigner {
	var a Assigner
	fs := r.Fields(n, "cohort", cohortFields...)
	if fs == nil {
		return a
	}
	if v, ok := r.Require(n, fs, "cohort", "key", "what makes a request's sticky key: {header: NAME}, {cookie: NAME} or {client: true}"); ok {
		kf := r.Fields(v, "cohort.key", keyFields...)
		if h, ok := kf["header"]; ok {
			a.Key.Header, _ = r.Text(h, "cohort.key.header")
		}
		if c, ok := kf["cookie"]; ok {
			a.Key.Cookie, _ = r.Text(c, "cohort.key.cookie")
		}
		if c, ok := kf["client"]; ok {
			a.Key.Client = c.Value == "true"
		}
		if kf != nil {
			if err := a.Key.Check(); err != nil {
				r.Errorf(v, "cohort.key", "name exactly one of header, cookie or client: true")
			}
		}
	}
	if v, ok := r.Require(n, fs, "cohort", "share", "each cohort's share of the keys, such as 1% (control and experiment get that much each)"); ok {
		a.Share, _ = r.Percent(v, "cohort.share", maxCohortShare)
	}
	return a
}

func parseFault(r *yamlfield.Reader, n *yaml.Node, path string) *Fault {
	fs := r.Fields(n, path, faultFields...)
	if fs == nil {
		return nil
	}
	f := &Fault{Percentage: 100}
	if v, ok := r.Require(n, fs, path, "name", "the fault's name, such as slow-payments"); ok {
		f.Name, _ = r.Name(v, yamlfield.Join(path, "name"), "a fault name")
	}
	if v, ok := fs["percentage"]; ok {
		p, ok := r.Percent(v, yamlfield.Join(path, "percentage"), 1)
		if ok {
			f.Percentage = p * 100
		}
	}
	if v, ok := r.Require(n, fs, path, "maxActive", "how many requests may be inside the fault at once (Envoy's max_active_faults): the limit that keeps a fault from taking the experiment cohort's whole load"); ok {
		f.MaxActive, _ = r.Int(v, yamlfield.Join(path, "maxActive"), 1, 1_000_000, "the most requests inside the fault at once")
	}
	if v, ok := fs["match"]; ok {
		mp := yamlfield.Join(path, "match")
		mf := r.Fields(v, mp, matchFields...)
		if rv, ok := mf["routes"]; ok {
			r.List(rv, yamlfield.Join(mp, "routes"), "path prefixes", func(it *yaml.Node, p string) {
				if s, ok := r.Text(it, p); ok {
					if !strings.HasPrefix(s, "/") {
						r.Errorf(it, p, "%s: want a path prefix starting with /", spec.Quote(s))
					}
					f.Match.Routes = append(f.Match.Routes, s)
				}
			})
		}
		if mv, ok := mf["methods"]; ok {
			r.List(mv, yamlfield.Join(mp, "methods"), "HTTP methods", func(it *yaml.Node, p string) {
				if s, ok := r.Text(it, p); ok {
					f.Match.Methods = append(f.Match.Methods, strings.ToUpper(s))
				}
			})
		}
		if hv, ok := mf["headers"]; ok {
			r.List(hv, yamlfield.Join(mp, "headers"), "header matches {name, exact}", func(it *yaml.Node, p string) {
				hf := r.Fields(it, p, headerFields...)
				var h HeaderMatch
				if nv, ok := r.Require(it, hf, p, "name", "the header's name"); ok {
					h.Name, _ = r.Text(nv, yamlfield.Join(p, "name"))
				}
				if ev, ok := hf["exact"]; ok {
					h.Exact, _ = r.Text(ev, yamlfield.Join(p, "exact"))
				}
				f.Match.Headers = append(f.Match.Headers, h)
			})
		}
	}
	if v, ok := fs["delay"]; ok {
		dp := yamlfield.Join(path, "delay")
		df := r.Fields(v, dp, delayFields...)
		d := &Delay{}
		for key, dst := range map[string]*time.Duration{"fixed": &d.Fixed, "min": &d.Min, "max": &d.Max, "mean": &d.Mean} {
			if dv, ok := df[key]; ok {
				lo := time.Millisecond
				if key == "min" {
					lo = 0
				}
				*dst, _ = r.Duration(dv, yamlfield.Join(dp, key), lo, time.Hour)
			}
		}
		f.Delay = d
	}
	if v, ok := fs["abort"]; ok {
		ap := yamlfield.Join(path, "abort")
		af := r.Fields(v, ap, faultAbortFields...)
		a := &Abort{}
		if sv, ok := af["status"]; ok {
			st, _ := r.Int(sv, yamlfield.Join(ap, "status"), 200, 599, "the HTTP status to answer with")
			a.Status = int(st)
		}
		a.Reset = af["reset"] != nil && af["reset"].Value == "true"
		a.Timeout = af["timeout"] != nil && af["timeout"].Value == "true"
		if hv, ok := af["hold"]; ok {
			a.Hold, _ = r.Duration(hv, yamlfield.Join(ap, "hold"), time.Millisecond, time.Hour)
		}
		f.Abort = a
	}
	if v, ok := fs["responseRateLimit"]; ok {
		f.RateLimit, _ = r.Int(v, yamlfield.Join(path, "responseRateLimit"), 1, 1<<40, "response body bytes per second")
	}
	if v, ok := fs["upstream"]; ok {
		if s, ok := r.Text(v, yamlfield.Join(path, "upstream")); ok {
			u, err := url.Parse(s)
			if err != nil {
				r.Errorf(v, yamlfield.Join(path, "upstream"), "%s: %v", spec.Quote(s), err)
			} else {
				f.Upstream = u
			}
		}
	}
	if !r.Failed() {
		if err := f.Check(); err != nil {
			r.Errorf(n, path, "%v", err)
		}
	}
	return f
}

func parseAbort(r *yamlfield.Reader, n *yaml.Node) AbortRules {
	var a AbortRules
	fs := r.Fields(n, "abort", abortFields...)
	if v, ok := fs["experimentBadShare"]; ok {
		a.ExperimentBadShare, _ = r.Percent(v, "abort.experimentBadShare", 1)
	}
	if v, ok := fs["experimentBurnRate"]; ok {
		a.ExperimentBurnRate, _ = r.Float(v, "abort.experimentBurnRate", 0, 1e6, "a burn rate such as 10")
	}
	if v, ok := fs["budgetRemaining"]; ok {
		a.BudgetRemaining, _ = r.Percent(v, "abort.budgetRemaining", 1)
	}
	return a
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

func parseSchedule(r *yamlfield.Reader, n *yaml.Node) *Schedule {
	s := &Schedule{Zone: time.UTC}
	fs := r.Fields(n, "schedule", scheduleFields...)
	if v, ok := r.Require(n, fs, "schedule", "every", "how often a run starts, such as 24h or 7d"); ok {
		s.Every, _ = r.Duration(v, "schedule.every", time.Hour, 90*24*time.Hour)
	}
	if v, ok := fs["at"]; ok {
		if t, ok := r.Text(v, "schedule.at"); ok {
			if _, err := time.Parse("15:04", t); err != nil {
				r.Errorf(v, "schedule.at", "%s: want a time of day such as 10:00", spec.Quote(t))
			}
			s.At = t
		}
	}
	if v, ok := fs["zone"]; ok {
		if z, ok := r.Text(v, "schedule.zone"); ok {
			loc, err := time.LoadLocation(z)
			if err != nil {
				r.Errorf(v, "schedule.zone", "%s: want an IANA time zone such as Europe/Berlin", spec.Quote(z))
			} else {
				s.Zone = loc
			}
		}
	}
	if v, ok := fs["days"]; ok {
		r.List(v, "schedule.days", "weekdays such as mon", func(it *yaml.Node, p string) {
			d, ok := weekdays[strings.ToLower(it.Value)]
			if !ok {
				r.Errorf(it, p, "%s: want a weekday: %s", spec.Quote(it.Value), "sun, mon, tue, wed, thu, fri, sat")
				return
			}
			if !slices.Contains(s.Days, d) {
				s.Days = append(s.Days, d)
			}
		})
	}
	return s
}

// Due reports whether a scheduled run should start at now, given when
// the experiment's last run started (zero: never): today (in the
// schedule's zone) is one of its days, its time of day has come, no run
// started since then, and Every has passed since the last (less an hour,
// so that a daily run at 10:00 does not drift later each day).
func (s *Schedule) Due(lastStart, now time.Time) bool {
	local := now.In(s.Zone)
	if len(s.Days) > 0 && !slices.Contains(s.Days, local.Weekday()) {
		return false
	}
	h, m := 0, 0
	if s.At != "" {
		if t, err := time.Parse("15:04", s.At); err == nil {
			h, m = t.Hour(), t.Minute()
		}
	}
	slot := time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, s.Zone)
	switch {
	case local.Before(slot):
		return false
	case lastStart.IsZero():
		return true
	case !lastStart.Before(slot):
		return false
	}
	return slot.Sub(lastStart) >= s.Every-time.Hour
}

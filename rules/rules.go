// Package rules writes Prometheus recording and alerting rules for SLOs
// whose SLI names its series (sli.source), for teams that alert in their
// own Prometheus: the same multi-window, multi-burn-rate tiers as nines
// serve evaluates. Rules are traffic-weighted: numerator and denominator
// are recorded apart and divided at the end, never averaged as ratios.
package rules

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
)

// Histograms says how latency histograms are stored in the Prometheus
// the rules run in.
type Histograms uint8

// Classic histograms have _bucket series with an le label; native ones are
// read with histogram_fraction, which takes any threshold.
const (
	Classic Histograms = iota
	Native
)

type ruleFile struct {
	Groups []group `yaml:"groups"`
}

type group struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Generate returns a rule file with one group per SLO that has a metric
// source. SLOs without one are reported, as are sources the rules cannot
// express; nothing is left out silently.
func Generate(slos []*slo.SLO, h Histograms) ([]byte, error) {
	var f ruleFile
	var errs []error
	for _, s := range slos {
		g, err := sloGroup(s, h)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", s.Name, err))
			continue
		}
		f.Groups = append(f.Groups, g)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(f.Groups) == 0 {
		return nil, errors.New("no SLO to write rules for")
	}
	return yaml.Marshal(&f)
}

// counts returns PromQL for the good and total events of s over a range.
func counts(s *slo.SLO, h Histograms) (bad, total func(rng string) string, err error) {
	src := s.SLI.Source
	if src == nil {
		return nil, nil, errors.New("its SLI names no series (sli.source); nines serve reads it from events, Prometheus cannot")
	}
	sum := func(sel, rng string) string { return "sum(increase(" + sel + "[" + rng + "]))" }
	switch {
	case src.Total != "" && src.Bad != "":
		return func(r string) string { return sum(src.Bad, r) }, func(r string) string { return sum(src.Total, r) }, nil
	case src.Total != "" && src.Good != "":
		return func(r string) string { return sum(src.Total, r) + " - " + sum(src.Good, r) },
			func(r string) string { return sum(src.Total, r) }, nil
	case src.Histogram != "":
		if src.Errors != "" || src.StatusLabel != "" {
			return nil, nil, errors.New("a histogram source that also judges status (errors, statusLabel) is not written as rules yet; use counters for errors and a histogram SLO for latency")
		}
		l := s.SLI.Latency
		if l == nil {
			return nil, nil, errors.New("a histogram source needs a latency threshold")
		}
		sel, err := metrics.ParseSelector(src.Histogram)
		if err != nil {
			return nil, nil, err
		}
		threshold := l.Threshold
		if exp, ok := unitExp(src.Unit); ok {
			threshold = slo.ShiftDecimal(threshold, -exp)
		}
		le := strconv.FormatFloat(threshold, 'g', -1, 64)
		if h == Native {
			// histogram_fraction counts at or under the bound, interpolated
			// inside the bucket that straddles it.
			hist := func(r string) string { return "sum(increase(" + sel.String() + "[" + r + "]))" }
			return func(r string) string {
					return "histogram_count(" + hist(r) + ") * (1 - histogram_fraction(0, " + le + ", " + hist(r) + "))"
				},
				func(r string) string { return "histogram_count(" + hist(r) + ")" }, nil
		}
		bucket := withLabel(sel, sel.Name+"_bucket", "le", le)
		count := withLabel(sel, sel.Name+"_count", "", "")
		return func(r string) string { return sum(count, r) + " - " + sum(bucket, r) },
			func(r string) string { return sum(count, r) }, nil
	}
	return nil, nil, errors.New("its source selects no counters and no histogram")
}

// withLabel writes sel under another metric name, with one more equality
// matcher when name is set: a classic histogram's bucket at the threshold
// (le="0.25"), whose bound the spec's threshold must equal exactly.
func withLabel(sel metrics.Selector, metric, name, value string) string {
	s := sel
	s.Name = metric
	if name != "" {
		m, err := metrics.NewMatcher(metrics.MatchEqual, name, value)
		if err == nil {
			s.Matchers = append(slices.Clone(s.Matchers), m)
		}
	}
	return s.String()
}

func unitExp(u string) (int, bool) {
	switch u {
	case "", "s":
		return 0, true
	case "ms":
		return -3, true
	case "us":
		return -6, true
	case "ns":
		return -9, true
	}
	return 0, false
}

// promDuration writes d as Prometheus does (5m, 1h, 3d).
func promDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

func sloGroup(s *slo.SLO, h Histograms) (group, error) {
	bad, total, err := counts(s, h)
	if err != nil {
		return group{}, err
	}
	p, err := alert.PolicyFor(s).Complete()
	if err != nil {
		return group{}, err
	}
	spans := map[time.Duration]bool{}
	for _, t := range p.Tiers {
		if !t.Disabled {
			spans[t.Long], spans[t.Short] = true, true
		}
	}
	labels := map[string]string{"slo": s.Name, "service": s.Service}
	g := group{Name: "nines-slo-" + s.Name}
	for _, d := range slices.Sorted(maps.Keys(spans)) {
		r := promDuration(d)
		g.Rules = append(g.Rules,
			rule{Record: "nines:slo_requests:increase" + r, Expr: total(r), Labels: labels},
			rule{Record: "nines:slo_errors:increase" + r, Expr: bad(r), Labels: labels})
	}
	budget := s.Objective.Complement()
	ratio := func(r string) string {
		sel := `{slo="` + s.Name + `"}`
		return "nines:slo_errors:increase" + r + sel + " / nines:slo_requests:increase" + r + sel
	}
	window := alert.NominalWindow(s.Window)
	for _, t := range p.Tiers {
		if t.Disabled {
			continue
		}
		factor := t.FactorFor(window)
		threshold := strconv.FormatFloat(factor*budget, 'g', 6, 64)
		long, short := promDuration(t.Long), promDuration(t.Short)
		g.Rules = append(g.Rules, rule{
			Alert:  "SLOBurnRate",
			Expr:   "(" + ratio(long) + ") > " + threshold + "\nand\n(" + ratio(short) + ") > " + threshold,
			Labels: map[string]string{"slo": s.Name, "service": s.Service, "severity": string(t.Severity), "tier": t.Name},
			Annotations: map[string]string{
				"summary": fmt.Sprintf("%s is burning its error budget %.4g× over %s and %s", s.Name, factor, long, short),
				"description": fmt.Sprintf("Objective %s %% over %s; at %.4g× the budget lasts %s.", s.Objective, s.Window,
					factor, strings.TrimSuffix(slo.FormatDuration(time.Duration(float64(window)/factor).Round(time.Minute)), "0s")),
			},
		})
	}
	return g, nil
}

package metrics

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nines-sre/nines/slo"
)

// SLISource says which series measure one SLI and how to read them. It
// takes one of two shapes:
//
//   - Counters: Total with Good or Bad, each a counter of requests. Good
//     (or Total − Bad) is the good count; Bad is counted as errors.
//   - Histogram: a latency histogram (classic _bucket/_count series with
//     "le", a Prometheus native histogram, or an OTLP explicit-bucket or
//     exponential histogram), judged against SLI.Latency, with Errors or
//     StatusLabel saying which of its series count failed requests.
type SLISource struct {
	// Name identifies the SLI in the Collector's output.
	Name string
	// SLI holds the latency threshold and, with StatusLabel, the status
	// rule. Counter sources take neither: the counters already decide.
	SLI slo.SLI

	// Good, Bad and Total select counter series; their increases are
	// summed over every selected series.
	Good, Bad, Total *Selector

	// Histogram selects the histogram by its base name: for
	// http_request_duration_seconds the Collector reads the series
	// http_request_duration_seconds_bucket (classic) and
	// http_request_duration_seconds (native or OTLP).
	Histogram *Selector
	// Errors, if set, is matchers alone ({code=~"5.."}): the requests of a
	// histogram series it matches count as failed (errors), whatever their
	// latency.
	Errors *Selector
	// StatusLabel, if set, names the label holding the HTTP status of a
	// histogram series ("code", "http.response.status_code"); the status is
	// judged by SLI.Status, and a series without a numeric status fails
	// whenever SLI.Status is set.
	StatusLabel string
	// Unit is the unit of the histogram's values: "s" (the default for
	// Prometheus series), "ms", "us" or "ns". Empty means the unit an OTLP
	// series declares, or seconds when it declares none.
	Unit string
}

// kind is the shape of a source.
type sourceKind uint8

const (
	kindGoodTotal sourceKind = iota
	kindBadTotal
	kindHistogram
)

// check validates s and returns its kind, plus warnings about readings that
// cannot be exact.
func (s *SLISource) check() (sourceKind, []string, error) {
	var warn []string
	if strings.TrimSpace(s.Name) == "" {
		return 0, nil, errors.New("SLI source without a name")
	}
	if _, ok := unitExp(s.Unit); s.Unit != "" && !ok {
		return 0, nil, fmt.Errorf("unit %q: want s, ms, us or ns", s.Unit)
	}
	counters := s.Good != nil || s.Bad != nil || s.Total != nil
	switch {
	case counters && s.Histogram != nil:
		return 0, nil, errors.New("give either counters (good/bad with total) or a histogram, not both")
	case s.Histogram != nil:
		if s.Histogram.Name == "" {
			return 0, nil, fmt.Errorf("histogram selector %s has no metric name: the bucket series are found by name", s.Histogram.String())
		}
		if s.Errors != nil && s.Errors.Name != "" {
			return 0, nil, fmt.Errorf("errors selector %s must be label matchers alone, like {code=~\"5..\"}", s.Errors.String())
		}
		if s.StatusLabel != "" && s.SLI.Status.IsZero() {
			return 0, nil, fmt.Errorf("status label %q given without a status rule to judge it", s.StatusLabel)
		}
		if l := s.SLI.Latency; l != nil && !l.Inclusive {
			warn = append(warn, fmt.Sprintf("latency rule %s: histogram buckets include their upper bound, so requests of exactly %s are read as good; use \"<=\" for an exact reading",
				l.String(), slo.FormatSeconds(l.Threshold)))
		}
		return kindHistogram, warn, nil
	case counters:
		if s.SLI.Latency != nil {
			return 0, nil, errors.New("a latency threshold needs a histogram source: counters cannot say how long requests took")
		}
		if s.Errors != nil || s.StatusLabel != "" {
			return 0, nil, errors.New("errors and status_label apply to histogram sources; counter sources count bad requests with bad")
		}
		if s.Total == nil {
			return 0, nil, errors.New("counter source without a total selector")
		}
		if (s.Good == nil) == (s.Bad == nil) {
			return 0, nil, errors.New("counter source needs exactly one of good and bad with total")
		}
		for _, sel := range []*Selector{s.Good, s.Bad, s.Total} {
			if sel != nil && sel.IsZero() {
				return 0, nil, errors.New("empty counter selector")
			}
		}
		if s.Good != nil {
			return kindGoodTotal, nil, nil
		}
		return kindBadTotal, nil, nil
	}
	return 0, nil, errors.New("SLI source selects nothing: give good/bad with total, or a histogram")
}

// unitExp returns the power of ten that turns a value in unit u into
// seconds. "" is seconds.
func unitExp(u string) (int, bool) {
	switch u {
	case "", "s":
		return 0, true
	case "ms":
		return -3, true
	case "us", "µs":
		return -6, true
	case "ns":
		return -9, true
	}
	return 0, false
}

// SourceOf is the SLISource of an SLI that names its series (sli.source),
// called name: the one reading of a spec's source for every path that
// turns series into rollups (remote write and OTLP in nines serve, and
// series read from a query API by package pull).
func SourceOf(name string, sli slo.SLI) (SLISource, error) {
	src := sli.Source
	if src == nil {
		return SLISource{}, fmt.Errorf("SLO %s names no series (sli.source)", name)
	}
	ms := SLISource{Name: name, SLI: sli, StatusLabel: src.StatusLabel, Unit: src.Unit}
	ms.SLI.Source = nil
	var errs []error
	for _, p := range []struct {
		text string
		dst  **Selector
	}{{src.Good, &ms.Good}, {src.Bad, &ms.Bad}, {src.Total, &ms.Total}, {src.Histogram, &ms.Histogram}, {src.Errors, &ms.Errors}} {
		if p.text == "" {
			continue
		}
		sel, err := ParseSelector(p.text)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
			continue
		}
		*p.dst = &sel
	}
	return ms, errors.Join(errs...)
}

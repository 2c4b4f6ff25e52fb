package pull

import (
	"maps"
	"slices"
	"strings"

	"github.com/nines-sre/nines/ingest/metrics"
)

// queries returns the selectors to ask an API for so that every source
// gets its series: one query per metric name, whatever the number of SLOs
// reading it. Where several selectors name one metric, the query keeps
// the matchers they share and the Collector applies the rest, so 1,000
// SLOs on http_requests_total{service="…"} cost one query a step, not
// 2,000. A histogram is read by its classic buckets, name_bucket.
func queries(srcs []metrics.SLISource) []string {
	byName := map[string][]metrics.Selector{}
	add := func(s *metrics.Selector, suffix string) {
		if s == nil {
			return
		}
		c := metrics.Selector{Name: s.Name + suffix, Matchers: s.Matchers}
		byName[c.Name] = append(byName[c.Name], c)
	}
	for i := range srcs {
		s := &srcs[i]
		add(s.Good, "")
		add(s.Bad, "")
		add(s.Total, "")
		add(s.Histogram, "_bucket")
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		sels := byName[name]
		common := metrics.Selector{Name: name}
		for _, m := range sels[0].Matchers {
			if m.Name == "le" {
				continue // a bucket selector must keep every bucket
			}
			text := m.String()
			if !slices.ContainsFunc(sels[1:], func(s metrics.Selector) bool {
				return !slices.ContainsFunc(s.Matchers, func(o metrics.Matcher) bool { return o.String() == text })
			}) {
				common.Matchers = append(common.Matchers, m)
			}
		}
		slices.SortFunc(common.Matchers, func(a, b metrics.Matcher) int { return strings.Compare(a.String(), b.String()) })
		out = append(out, common.String())
	}
	return out
}

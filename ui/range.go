package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/slo"
)

// timeRange is the span a page shows, [From, To), on quantum boundaries.
type timeRange struct {
	From, To time.Time
	// Query is the range as the page's URL carries it ("range=7d" or
	// "from=…&to=…"), empty for the default, so links keep it.
	Query string
	// Label says it in words for the page ("last 7d", "2026-11-01 … ").
	Label string
}

// rangeHints say what a page accepts, for the 400 page.
var rangeHints = []string{
	"?range=7d shows the last 7 days (any duration from one quantum to 400d: 30m, 12h, 30d).",
	"?from=2026-11-01T00:00:00Z&to=2026-11-08T00:00:00Z shows a fixed span (RFC 3339 times; to defaults to now).",
	"Without either, the page shows the SLO's current window.",
}

func badRange(format string, args ...any) error {
	return &pageError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...), hints: rangeHints}
}

// parseRange reads ?range= or ?from=&to= for an SLO evaluated at at (the
// end of its last settled quantum). Without either the range is the SLO's
// window in force at at, up to at. Edges are floored to quanta, so the
// range a link names is exactly the one evaluated. The label writes a
// fixed span in zone, the page's.
func parseRange(q url.Values, s *slo.SLO, at time.Time, zone *time.Location) (timeRange, error) {
	rng, from, to := strings.TrimSpace(q.Get("range")), strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	var tr timeRange
	switch {
	case rng != "" && (from != "" || to != ""):
		return tr, badRange("Give either range= or from= and to=, not both.")
	case rng != "":
		d, err := slo.ParseDuration(rng)
		if err != nil || d <= 0 {
			return tr, badRange("range=%q is not a duration.", rng)
		}
		if d > httpx.MaxRange {
			return tr, badRange("range=%s is longer than the 400 days a page shows.", rng)
		}
		tr.To, tr.From = at, at.Add(-d)
		tr.Query = "range=" + url.QueryEscape(rng)
		tr.Label = "last " + slo.FormatDuration(d)
	case from != "" || to != "":
		if from == "" {
			return tr, badRange("to= needs a from= as well.")
		}
		f, err := time.Parse(time.RFC3339, from)
		if err != nil {
			return tr, badRange("from=%q is not an RFC 3339 time.", from)
		}
		t := at
		if to != "" {
			if t, err = time.Parse(time.RFC3339, to); err != nil {
				return tr, badRange("to=%q is not an RFC 3339 time.", to)
			}
		}
		for _, e := range []time.Time{f, t} {
			if err := httpx.CheckTime("The time", e); err != nil {
				return tr, badRange("%v.", err)
			}
		}
		if !f.Before(t) {
			return tr, badRange("from=%s is not before to=%s.", from, t.UTC().Format(time.RFC3339))
		}
		if t.Sub(f) > httpx.MaxRange {
			return tr, badRange("from=%s to %s is longer than the 400 days a page shows.", from, t.UTC().Format(time.RFC3339))
		}
		tr.From, tr.To = f, t
		// RFC3339Nano keeps a fraction of a second: without it the page's
		// own links could name an empty range.
		v := url.Values{"from": {f.UTC().Format(time.RFC3339Nano)}}
		if to != "" {
			v.Set("to", t.UTC().Format(time.RFC3339Nano))
		}
		tr.Query = v.Encode()
	default:
		w := s.Window.Containing(at)
		tr.From, tr.To = w.Start, at
		tr.Label = "current window (" + s.Window.String() + ")"
	}
	q0 := int64(s.Quantum)
	tr.From = time.Unix(0, slo.QuantumStart(tr.From.UnixNano(), s.Quantum)).UTC()
	end := slo.QuantumStart(tr.To.UnixNano(), s.Quantum)
	if end < tr.To.UnixNano() {
		end += q0
	}
	tr.To = time.Unix(0, end).UTC()
	if !tr.From.Before(tr.To) {
		return tr, badRange("The range is shorter than one %s quantum.", slo.FormatDuration(s.Quantum))
	}
	if tr.Label == "" {
		tr.Label = tr.From.In(zone).Format("2006-01-02 15:04") + " – " + tr.To.In(zone).Format("2006-01-02 15:04 MST")
	}
	return tr, nil
}

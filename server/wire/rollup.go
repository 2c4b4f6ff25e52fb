// Package wire holds the JSON bodies of nines serve's write API that
// nines' own programs send too (nines ship sends rollups), so that the
// sender and the server read one definition of each field.
package wire

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Rollups is the body of POST /api/v1/rollups (docs/api.md).
type Rollups struct {
	SLO     string   `json:"slo"`
	Rollups []Rollup `json:"rollups"`
	// IdempotencyKey does what the Idempotency-Key header does, for
	// senders that cannot set headers.
	IdempotencyKey *string `json:"idempotency_key,omitempty"`
}

// Rollup is one quantum of an SLI, counted by the sender.
type Rollup struct {
	Start         time.Time `json:"start"`
	Attempted     uint64    `json:"attempted"`
	Good          uint64    `json:"good"`
	Errors        uint64    `json:"errors"`
	Slow          uint64    `json:"slow"`
	OverThreshold uint64    `json:"over_threshold"`
	// Histogram is the latency histogram in seconds, libcircllhist-encoded
	// (base64 in JSON).
	Histogram []byte `json:"histogram,omitempty"`
	// Measured defaults to true: a rollup that is sent was measured.
	Measured *bool `json:"measured,omitempty"`
	// Statuses optionally split the events by status, which lets nines
	// judge them again when the SLI is edited.
	Statuses []Status `json:"statuses,omitempty"`
}

// Status is the events of one status: a code, an explicit ok flag, or
// neither (events without a status).
type Status struct {
	Code      *int   `json:"code,omitempty"`
	OK        *bool  `json:"ok,omitempty"`
	Count     uint64 `json:"count"`
	Timed     uint64 `json:"timed"`
	Over      uint64 `json:"over"`
	Histogram []byte `json:"histogram,omitempty"`
}

// FromRollup is r as a sender writes it.
func FromRollup(r *slo.Rollup) Rollup {
	out := Rollup{Start: time.Unix(0, r.Start).UTC(), Attempted: r.Attempted, Good: r.Good, Errors: r.Errors,
		Slow: r.Slow, OverThreshold: r.OverThreshold}
	if !r.Measured {
		out.Measured = new(bool)
	}
	if r.Latency.Count() > 0 {
		out.Histogram = r.Latency.AppendBinary(nil)
	}
	for j := range r.Statuses {
		s := &r.Statuses[j]
		so := Status{Count: s.Count, Timed: s.Timed, Over: s.Over}
		switch s.Code {
		case slo.StatusOKTrue, slo.StatusOKFalse:
			ok := s.Code == slo.StatusOKTrue
			so.OK = &ok
		case slo.NoStatus:
		default:
			code := s.Code
			so.Code = &code
		}
		if s.Latency.Count() > 0 {
			so.Histogram = s.Latency.AppendBinary(nil)
		}
		out.Statuses = append(out.Statuses, so)
	}
	return out
}

// Decode checks ri against the SLI it is for, whose quanta last quantum,
// and returns it as a rollup: the start on a quantum boundary within the
// times nines stores, counts that add up, and statuses (when sent) that
// describe the rollup exactly.
func (ri *Rollup) Decode(sli *slo.SLI, quantum time.Duration) (*slo.Rollup, error) {
	if ri.Start.IsZero() {
		return nil, errors.New("start is missing")
	}
	if err := store.CheckTime("start", ri.Start); err != nil {
		return nil, err
	}
	start := ri.Start.UnixNano()
	switch {
	case slo.QuantumStart(start, quantum) != start:
		return nil, fmt.Errorf("start %s is not on a %s quantum boundary", ri.Start.Format(time.RFC3339Nano), slo.FormatDuration(quantum))
	case ri.Good > ri.Attempted:
		return nil, fmt.Errorf("good %d exceeds attempted %d", ri.Good, ri.Attempted)
	case ri.Errors > ri.Attempted-ri.Good || ri.Slow > ri.Attempted-ri.Good-ri.Errors:
		return nil, fmt.Errorf("errors %d and slow %d exceed the %d failed", ri.Errors, ri.Slow, ri.Attempted-ri.Good)
	}
	ro := &slo.Rollup{Start: start, Attempted: ri.Attempted, Good: ri.Good, Errors: ri.Errors, Slow: ri.Slow,
		OverThreshold: ri.OverThreshold, Measured: ri.Measured == nil || *ri.Measured}
	if len(ri.Histogram) > 0 {
		if err := ro.Latency.UnmarshalBinary(ri.Histogram); err != nil {
			return nil, fmt.Errorf("histogram: %w", err)
		}
	}
	if ro.OverThreshold > ro.Latency.Count() && ro.Latency.Count() > 0 {
		return nil, fmt.Errorf("over_threshold %d exceeds the %d latencies of the histogram", ro.OverThreshold, ro.Latency.Count())
	}
	if err := ri.statuses(ro, sli); err != nil {
		return nil, err
	}
	return ro, nil
}

// statuses sets ro.Statuses from ri's and checks that they describe ro:
// every event, every latency of its histogram, and, judged by the SLO's
// SLI, its good, errors, slow and over_threshold. Statuses that disagree
// with the rollup would change it the first time the SLI is re-judged.
func (ri *Rollup) statuses(ro *slo.Rollup, sli *slo.SLI) error {

	if len(ri.Statuses) == 0 {
		return nil
	}
	var sum hist.Histogram
	for i, si := range ri.Statuses {
		st := slo.StatusCount{Count: si.Count, Timed: si.Timed, Over: si.Over}
		switch {
		case si.Code != nil && si.OK != nil:
			return fmt.Errorf("statuses[%d]: both code and ok: an explicit ok decides alone, send it without the code", i)
		case si.OK != nil && *si.OK:
			st.Code = slo.StatusOKTrue
		case si.OK != nil:
			st.Code = slo.StatusOKFalse
		case si.Code == nil:
			st.Code = slo.NoStatus
		case *si.Code < 0 || *si.Code > 999:
			return fmt.Errorf("statuses[%d]: code %d is not a status code (0-999); leave it out for events without one", i, *si.Code)
		default:
			st.Code = *si.Code
		}
		if len(si.Histogram) > 0 {
			if err := st.Latency.UnmarshalBinary(si.Histogram); err != nil {
				return fmt.Errorf("statuses[%d]: histogram: %w", i, err)
			}
		}
		switch {
		case st.Timed > st.Count || st.Over > st.Timed:
			return fmt.Errorf("statuses[%d]: want over (%d) ≤ timed (%d) ≤ count (%d)", i, st.Over, st.Timed, st.Count)
		case st.Latency.Count() != st.Timed:
			return fmt.Errorf("statuses[%d]: the histogram holds %d latencies, timed says %d", i, st.Latency.Count(), st.Timed)
		}
		sum.Merge(&st.Latency)
		ro.Statuses = append(ro.Statuses, st)
	}
	slices.SortFunc(ro.Statuses, func(a, b slo.StatusCount) int { return cmp.Compare(a.Code, b.Code) })
	for i := 1; i < len(ro.Statuses); i++ {
		if c := ro.Statuses[i].Code; c == ro.Statuses[i-1].Code {
			return fmt.Errorf("statuses: %s twice; send each status once", slo.StatusName(c))
		}
	}
	if !sum.Equal(&ro.Latency) {
		return fmt.Errorf("statuses: their histograms hold %d latencies, not bin for bin the rollup's %d", sum.Count(), ro.Latency.Count())
	}
	judged := *ro
	if err := sli.RejudgeStatus(&judged); err != nil {
		return fmt.Errorf("statuses: %w", err)
	}
	if judged.Good != ro.Good || judged.Errors != ro.Errors || judged.Slow != ro.Slow || judged.OverThreshold != ro.OverThreshold {
		return fmt.Errorf("statuses: judged by the SLI they give good %d, errors %d, slow %d, over_threshold %d; the rollup says %d, %d, %d, %d",
			judged.Good, judged.Errors, judged.Slow, judged.OverThreshold, ro.Good, ro.Errors, ro.Slow, ro.OverThreshold)
	}
	return nil
}

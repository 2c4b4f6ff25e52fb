package verify

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"time"
)

// Status is what a verifier says of itself (GET /api/v1/verifiers).
type Status struct {
	Name   string `json:"name"`
	Mode   string `json:"mode"`
	Target string `json:"target"`
	// SLOs are the names of its durability and heartbeat SLIs.
	DurabilitySLO string `json:"durability_slo"`
	HeartbeatSLO  string `json:"heartbeat_slo"`
	// LastHeartbeat is when it last sent a heartbeat; Stale is set when
	// that is more than two heartbeat intervals ago (or it never sent
	// one): the verifier is not running, whatever else it says.
	LastHeartbeat *time.Time `json:"last_heartbeat,omitempty"`
	LastStep      *time.Time `json:"last_step,omitempty"`
	Stale         bool       `json:"stale"`
	// Failing is set while its last canary was missed or read as good.
	Failing       bool       `json:"failing"`
	FailingReason string     `json:"failing_reason,omitempty"`
	FailingSince  *time.Time `json:"failing_since,omitempty"`
	Canary        Canary     `json:"canary"`
	// Ages are the reads done and pending per read age.
	Ages []AgeStatus `json:"ages"`
	// Deleting are objects of its own read for the last time and not yet
	// deleted.
	Deleting int64 `json:"deleting"`
	Pending  int64 `json:"pending"`
	// Unreachable counts reads that could not reach the target (retried,
	// not counted in the durability SLI).
	Unreachable int64 `json:"unreachable"`
	// TooLarge counts reported objects without a size found larger
	// than maxObjectSize: never verified, never counted bad.
	TooLarge    int64      `json:"too_large"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Written     int64      `json:"written"`
	Reported    int64      `json:"reported"`
	Sampled     int64      `json:"sampled"`
}

// Canary is the state of a verifier's canaries.
type Canary struct {
	Every       string     `json:"every"`
	LastPlanted *time.Time `json:"last_planted,omitempty"`
	Open        int        `json:"open"`
	// NextDeadline is the earliest deadline of an open canary.
	NextDeadline *time.Time `json:"next_deadline,omitempty"`
	// LastVerdict is passed, canary-missed or canary-undetected.
	LastVerdict   string     `json:"last_verdict,omitempty"`
	LastVerdictAt *time.Time `json:"last_verdict_at,omitempty"`
	Passed        int64      `json:"passed"`
	Failed        int64      `json:"failed"`
}

// AgeStatus counts the reads of one age.
type AgeStatus struct {
	Age     string `json:"age"`
	Pending int64  `json:"pending"`
	Good    int64  `json:"good"`
	Missing int64  `json:"missing"`
	Corrupt int64  `json:"corrupt"`
}

func ts(ns int64) *time.Time {
	if ns == 0 {
		return nil
	}
	t := time.Unix(0, ns).UTC()
	return &t
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Status reports the verifier's state at Clock(). It loads the state
// first if no step has.
func (v *Verifier) Status(ctx context.Context) (Status, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if err := v.load(ctx); err != nil {
		return Status{}, err
	}
	now := v.now()
	d := v.def
	s := Status{Name: d.Name, Mode: d.Mode.String(), Target: describeTarget(d.Target),
		DurabilitySLO: DurabilitySLO(d.Name), HeartbeatSLO: HeartbeatSLO(d.Name),
		LastHeartbeat: ts(v.st.LastBeat), LastStep: tp(v.lastStep),
		Failing: v.st.Failing, FailingReason: v.st.FailingReason, FailingSince: ts(v.st.FailingSince),
		Deleting: v.pending[len(v.pending)-1], Pending: v.pendingTotal(),
		Unreachable: v.st.Unreachable, TooLarge: v.st.TooLarge, LastError: v.lastErr, LastErrorAt: tp(v.lastErrAt),
		Written: v.st.Written, Reported: v.st.Reported, Sampled: v.st.Sampled}
	s.Stale = v.st.LastBeat == 0 || now.Sub(time.Unix(0, v.st.LastBeat)) > 2*d.Heartbeat
	s.Canary = Canary{Every: d.CanaryEvery.String(), LastPlanted: ts(v.st.LastCanary), Open: len(v.canaries),
		LastVerdict: v.st.CanaryVerdict, LastVerdictAt: ts(v.st.CanaryAt), Passed: v.st.CanaryPassed, Failed: v.st.CanaryFailed}
	for _, dl := range v.canaries {
		if s.Canary.NextDeadline == nil || dl.Before(*s.Canary.NextDeadline) {
			s.Canary.NextDeadline = tp(dl)
		}
	}
	for i, a := range d.ReadAfter {
		s.Ages = append(s.Ages, AgeStatus{Age: formatAge(a), Pending: v.pending[i], Good: v.st.Done[i][0], Missing: v.st.Done[i][1], Corrupt: v.st.Done[i][2]})
	}
	return s, nil
}

// formatAge writes an age in the largest whole unit: 1m, 1h, 1d, 1w, 30d.
func formatAge(d time.Duration) string {
	switch day := 24 * time.Hour; {
	case d%(7*day) == 0:
		return fmt.Sprintf("%dw", d/(7*day))
	case d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// describeTarget names a target without its headers or keys.
func describeTarget(t TargetSpec) string {
	if t.Kind == KindS3 {
		u, err := url.Parse(t.Endpoint)
		host := t.Endpoint
		if err == nil {
			host = u.Host
		}
		return fmt.Sprintf("s3://%s (%s, %s)", t.Bucket, host, t.Region)
	}
	if u, err := url.Parse(t.BaseURL); err == nil {
		u.User = nil
		return u.String()
	}
	return t.BaseURL
}

// Set is the verifiers of nines serve, by name.
type Set struct {
	list   []*Verifier
	byName map[string]*Verifier
}

// ErrUnknown is returned for a verifier name that is not defined.
var ErrUnknown = errors.New("verify: no such verifier")

// NewSet gathers verifiers, refusing a name given twice.
func NewSet(vs ...*Verifier) (*Set, error) {
	s := &Set{byName: map[string]*Verifier{}}
	for _, v := range vs {
		if _, dup := s.byName[v.def.Name]; dup {
			return nil, fmt.Errorf("verify: verifier %s is defined twice", v.def.Name)
		}
		s.byName[v.def.Name] = v
		s.list = append(s.list, v)
	}
	sort.Slice(s.list, func(i, j int) bool { return s.list[i].def.Name < s.list[j].def.Name })
	return s, nil
}

// Run runs every verifier until ctx ends, each stepping every tick.
func (s *Set) Run(ctx context.Context, tick time.Duration) {
	done := make(chan struct{}, len(s.list))
	for _, v := range s.list {
		go func() { v.Run(ctx, tick); done <- struct{}{} }()
	}
	for range s.list {
		<-done
	}
}

// Verifier returns the verifier called name.
func (s *Set) Verifier(name string) (*Verifier, error) {
	v, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknown, name)
	}
	return v, nil
}

// Report hands reported objects to the verifier called name.
func (s *Set) Report(ctx context.Context, name string, objs []Reported) (ReportResult, error) {
	v, err := s.Verifier(name)
	if err != nil {
		return ReportResult{}, err
	}
	return v.Report(ctx, objs)
}

// Statuses reports every verifier, by name.
func (s *Set) Statuses(ctx context.Context) ([]Status, error) {
	out := make([]Status, 0, len(s.list))
	for _, v := range s.list {
		st, err := v.Status(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

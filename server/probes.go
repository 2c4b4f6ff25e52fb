package server

import (
	"context"
	"net/http"
	"time"

	"github.com/nines-sre/nines/server/httpx"
)

// Probes answers what the synthetic probes see: each probe, its
// consensus, and every location's latest quantum (docs/probes.md).
type Probes interface {
	Probes(ctx context.Context, now time.Time) ([]ProbeView, error)
}

// ProbeView is one probe as GET /api/v1/probes shows it.
type ProbeView struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Target   string `json:"target"`
	Interval string `json:"interval"`
	Timeout  string `json:"timeout"`
	// SLO is the SLO its consensus feeds.
	SLO       string         `json:"slo"`
	Consensus ConsensusView  `json:"consensus"`
	Locations []LocationView `json:"locations"`
	Cert      *ProbeCertView `json:"certificate,omitempty"`
}

// ConsensusView is a probe's rule and the verdict of its latest written
// quantum.
type ConsensusView struct {
	K      int    `json:"k"`
	N      int    `json:"n"`
	Window string `json:"window"`
	// Latest is the consensus SLO's latest quantum; nil before one.
	Latest *ProbeQuantum `json:"latest,omitempty"`
	// Failing, Reporting and Silent are the locations as the latest
	// verdict counted them, and Reason its words.
	Failing   []string `json:"failing,omitempty"`
	Reporting []string `json:"reporting,omitempty"`
	Silent    []string `json:"silent,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// LocationView is one location of a probe: its SLO's latest quantum and,
// for the location this server probes from, its last check in detail.
type LocationView struct {
	Name      string        `json:"name"`
	SLO       string        `json:"slo"`
	Latest    *ProbeQuantum `json:"latest,omitempty"`
	LastCheck *CheckView    `json:"last_check,omitempty"`
}

// ProbeQuantum is a quantum of a probe's SLO.
type ProbeQuantum struct {
	Start     time.Time `json:"start"`
	Attempted uint64    `json:"attempted"`
	Good      uint64    `json:"good"`
}

// CheckView is one check as this server ran it.
type CheckView struct {
	Start     time.Time          `json:"start"`
	OK        bool               `json:"ok"`
	LatencyMS float64            `json:"latency_ms"`
	Status    int                `json:"status,omitempty"`
	Reason    string             `json:"reason,omitempty"`
	PhasesMS  map[string]float64 `json:"phases_ms,omitempty"`
}

// ProbeCertView is the certificate SLI of an HTTPS probe.
type ProbeCertView struct {
	SLO       string    `json:"slo"`
	MinDays   int       `json:"min_days"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func (s *Server) probes(r *http.Request) (any, error) {
	if s.cfg.Probes == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "no probes in this nines serve: give --probes FILE and an SLO with sli.probes: NAME (docs/probes.md)")
	}
	ps, err := s.cfg.Probes.Probes(r.Context(), s.cfg.SLOs.Now())
	if err != nil {
		return nil, err
	}
	return map[string]any{"probes": ps}, nil
}

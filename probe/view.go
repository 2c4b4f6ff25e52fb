package probe

import "time"

// View is one probe as GET /api/v1/probes and the probes page show it:
// what it checks, its consensus and the verdict of the latest quantum
// written, and each location's latest quantum.
type View struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Target   string `json:"target"`
	Interval string `json:"interval"`
	Timeout  string `json:"timeout"`
	// SLO is the SLO its consensus feeds.
	SLO       string         `json:"slo"`
	Consensus ConsensusView  `json:"consensus"`
	Locations []LocationView `json:"locations"`
	Cert      *CertView      `json:"certificate,omitempty"`
}

// ConsensusView is a probe's rule and the verdict of its latest written
// quantum.
type ConsensusView struct {
	K      int    `json:"k"`
	N      int    `json:"n"`
	Window string `json:"window"`
	// Latest is the consensus SLO's latest quantum; nil before one.
	Latest *Quantum `json:"latest,omitempty"`
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
	Name      string     `json:"name"`
	SLO       string     `json:"slo"`
	Latest    *Quantum   `json:"latest,omitempty"`
	LastCheck *CheckView `json:"last_check,omitempty"`
}

// Quantum is a quantum of a probe's SLO.
type Quantum struct {
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

// CertView is the certificate SLI of an HTTPS probe.
type CertView struct {
	SLO       string    `json:"slo"`
	MinDays   int       `json:"min_days"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

package probe

import (
	"strconv"
	"time"
)

// Result is one check of one probe from one location.
type Result struct {
	Probe, Location string
	Start           time.Time
	Latency         time.Duration
	OK              bool
	// Status is the HTTP status of the last answer (0 without one, and
	// for other kinds).
	Status int
	// Reason says briefly why a check failed ("status 503", "timeout in
	// connect", "step login: body did not match"); empty when OK.
	Reason string
	// Phases are the times spent in each phase, in the order first met;
	// a phase met again (a redirect, a second step) adds to its time.
	Phases []Phase
	// Steps are the requests of an HTTP probe, each with its outcome.
	Steps []StepResult
	// CertExpiry is the earliest NotAfter of the certificates the
	// server presented in the probe's first TLS handshake (zero without
	// one); CertMinDays is the probe's threshold, kept for CertLine.
	CertExpiry  time.Time
	CertMinDays int
}

// Phase is the time one phase of a check took.
type Phase struct {
	Name     string
	Duration time.Duration
}

// StepResult is the outcome of one step of an HTTP probe.
type StepResult struct {
	Name    string
	Status  int
	Latency time.Duration
	OK      bool
	Reason  string
}

// EventLine appends the result as one line of the events API (without
// its newline) for the probe's LocationSLO: the check's start, latency
// and outcome, and the HTTP status when there was one. ok is always
// written, so an answer of an expected status outside 2xx, or a 200
// whose body did not match, is judged as the probe judged it. The reason
// is not sent: the events API keeps counts, not words.
func (r *Result) EventLine(dst []byte) []byte {
	dst = append(dst, `{"time":"`...)
	dst = r.Start.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","latency_ms":`...)
	dst = strconv.AppendFloat(dst, float64(r.Latency)/float64(time.Millisecond), 'f', -1, 64)
	dst = append(dst, `,"ok":`...)
	dst = strconv.AppendBool(dst, r.OK)
	if r.Status > 0 {
		dst = append(dst, `,"status":`...)
		dst = strconv.AppendInt(dst, int64(r.Status), 10)
	}
	return append(dst, '}')
}

// CertDaysLeft is how many whole days the certificate has left at the
// check's start (negative once expired).
func (r *Result) CertDaysLeft() int {
	return int(r.CertExpiry.Sub(r.Start).Hours() / 24)
}

// CertLine appends the event line of the certificate SLI (CertSLO):
// good while the earliest expiry is at least CertMinDays away. It
// appends nothing when the check saw no certificate (no TLS, or no
// connection), which the result's own SLI already counts as bad.
func (r *Result) CertLine(dst []byte) []byte {
	if r.CertExpiry.IsZero() {
		return dst
	}
	dst = append(dst, `{"time":"`...)
	dst = r.Start.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, `","ok":`...)
	dst = strconv.AppendBool(dst, r.CertExpiry.Sub(r.Start) >= time.Duration(r.CertMinDays)*24*time.Hour)
	return append(dst, '}')
}

func (r *Result) addPhase(name string, d time.Duration) {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			r.Phases[i].Duration += d
			return
		}
	}
	r.Phases = append(r.Phases, Phase{name, d})
}

package verdict

import (
	"errors"
	"fmt"
	"math"
)

// Counts are one cohort's requests and how many of them were bad by the
// SLI's rule (failed, or slower than its threshold).
type Counts struct {
	Requests uint64 `json:"requests"`
	Bad      uint64 `json:"bad"`
}

// Plan is what an experiment asks of its verdict.
type Plan struct {
	// MinEffect is the smallest increase of the bad share worth
	// detecting, as a fraction (0.01: one percentage point).
	MinEffect float64
	// Alpha bounds the chance of "disproved" when the experiment cohort
	// is not worse, and of "held" when it is worse by MinEffect or more.
	Alpha float64
	// Power is the chance of reaching "disproved" within the planned
	// requests when the experiment cohort is worse by MinEffect.
	Power float64
}

// Defaults of a Plan.
const (
	DefaultAlpha = 0.05
	DefaultPower = 0.8
)

// Check refuses a plan that cannot be judged, saying how to fix it.
func (p Plan) Check() error {
	switch {
	case !(p.MinEffect > 0 && p.MinEffect < 1):
		return fmt.Errorf("minimum effect %g: want an increase of the bad share between 0 and 1, such as 0.01 for one percentage point", p.MinEffect)
	case !(p.Alpha > 0 && p.Alpha < 0.5):
		return fmt.Errorf("alpha %g: want a false-verdict bound between 0 and 0.5, such as 0.05", p.Alpha)
	case !(p.Power > 0.5 && p.Power < 1):
		return fmt.Errorf("power %g: want a chance between 0.5 and 1, such as 0.8", p.Power)
	}
	return nil
}

// Outcome is a verdict's answer.
type Outcome string

// The outcomes. Running is a look before the run's end that decided
// nothing yet: the run goes on.
const (
	Held         Outcome = "held"
	Disproved    Outcome = "disproved"
	Inconclusive Outcome = "inconclusive"
	Running      Outcome = "running"
)

// Verdict is one look at the two cohorts.
type Verdict struct {
	Outcome Outcome `json:"outcome"`
	// Method names the sequential test, for the record of the run.
	Method     string `json:"method"`
	Control    Counts `json:"control"`
	Experiment Counts `json:"experiment"`
	// Effect is the experiment cohort's bad share minus the control's,
	// observed; Low and High the always-valid (1−α) confidence interval
	// of the true difference.
	Effect float64 `json:"effect"`
	Low    float64 `json:"effect_low"`
	High   float64 `json:"effect_high"`
	// Evidence is the mixture likelihood ratio that the experiment cohort
	// is worse; the run is disproved when it reaches 1/α. PValue is the
	// always-valid p-value: 1 over the largest evidence seen so far.
	Evidence float64 `json:"evidence"`
	PValue   float64 `json:"p_value"`
	// Fixed is the fixed-horizon test of the same counts, for reading.
	Fixed FixedTest `json:"fixed_horizon"`
	// MoreRequests, for an inconclusive verdict, is how many more
	// requests each cohort would need to decide if the shares stayed as
	// observed; 0 when no number of requests would (the difference sits
	// right at the minimum effect).
	MoreRequests uint64 `json:"more_requests,omitempty"`
	// Reason says in words why the outcome is what it is.
	Reason string `json:"reason"`
}

// Sequential judges an experiment look after look. The zero value is not
// usable; call New.
type Sequential struct {
	plan Plan
	// best is the largest evidence seen: the always-valid p-value is its
	// inverse, and once it reached 1/α the run stays disproved.
	best float64
}

// New starts the verdict of one run.
func New(p Plan) (*Sequential, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &Sequential{plan: p}, nil
}

// Resume continues the verdict of a run after a restart: best is the
// largest evidence its looks had seen (Best), so that a run disproved
// stays disproved and its p-value never rises.
func Resume(p Plan, best float64) (*Sequential, error) {
	s, err := New(p)
	if err != nil {
		return nil, err
	}
	if best > 0 && !math.IsNaN(best) {
		s.best = best
	}
	return s, nil
}

// Best is the largest evidence seen so far, for Resume.
func (s *Sequential) Best() float64 { return s.best }

// ErrCounts is a look whose counts cannot be: more bad than requests, or
// fewer requests than at the last look.
var ErrCounts = errors.New("verdict: impossible counts")

// Look judges the cohorts' counts so far; last says the run ends now
// (its maximum duration passed), so that an undecided run is
// inconclusive rather than running. Counts are cumulative since the
// run's start.
func (s *Sequential) Look(control, experiment Counts, last bool) (Verdict, error) {
	for _, c := range []Counts{control, experiment} {
		if c.Bad > c.Requests {
			return Verdict{}, fmt.Errorf("%w: %d bad of %d requests", ErrCounts, c.Bad, c.Requests)
		}
	}
	p := s.plan
	v := Verdict{Control: control, Experiment: experiment,
		Method: fmt.Sprintf("mSPRT, always valid (Johari et al. 2022): one-sided at α=%g, normal mixture of scale τ=%g", p.Alpha, p.MinEffect)}
	v.Fixed = fixedTest(control, experiment)
	if control.Requests == 0 || experiment.Requests == 0 {
		v.Outcome, v.PValue, v.Evidence, v.Low, v.High = Running, 1, 1, -1, 1
		v.Reason = "a cohort has no request yet"
		if last {
			v.Outcome = Inconclusive
			v.Reason = "a cohort had no request: the cohorts' key may be missing from the requests"
		}
		return v, nil
	}
	st := estimate(control, experiment)
	v.Effect = st.raw
	v.Evidence = st.evidence(p)
	s.best = max(s.best, v.Evidence)
	v.PValue = min(1, 1/max(s.best, 1))
	v.Low, v.High = st.interval(p)
	switch {
	case s.best >= 1/p.Alpha && v.Low > 0:
		// The evidence passed 1/α and the interval lies above no
		// difference: a verdict that shows its own support.
		v.Outcome = Disproved
		v.Reason = fmt.Sprintf("the experiment cohort's bad share is higher than the control's by %s (%s to %s), beyond chance at α=%g", pct(v.Effect), pct(v.Low), pct(v.High), p.Alpha)
	case v.High < p.MinEffect:
		v.Outcome = Held
		v.Reason = fmt.Sprintf("the experiment cohort's bad share is at most %s above the control's, less than the minimum effect of %s", pct(max(v.High, 0)), pct(p.MinEffect))
	case last:
		v.Outcome = Inconclusive
		v.MoreRequests = moreRequests(control, experiment, p)
		if v.MoreRequests > 0 {
			v.Reason = fmt.Sprintf("neither a difference nor its absence is clear yet: about %d more requests in each cohort would decide, if the shares stay as observed", v.MoreRequests)
		} else {
			v.Reason = "the observed difference sits at the minimum effect: no number of requests would decide it"
		}
	default:
		v.Outcome = Running
		v.Reason = "not decided yet"
	}
	return v, nil
}

// shares are the estimates a look works from.
type shares struct {
	raw       float64 // observed difference of bad shares
	diff      float64 // difference of the adjusted shares
	var_      float64 // its variance, each cohort its own share
	pooledVar float64 // its variance if both cohorts shared one share
}

// estimate adds one bad and one good request to each cohort (Agresti and
// Caffo) and returns the difference and its variances.
func estimate(c, e Counts) shares {
	nc, ne := float64(c.Requests), float64(e.Requests)
	pc := (float64(c.Bad) + 1) / (nc + 2)
	pe := (float64(e.Bad) + 1) / (ne + 2)
	pp := (float64(c.Bad+e.Bad) + 1) / (nc + ne + 2)
	return shares{
		raw:       float64(e.Bad)/ne - float64(c.Bad)/nc,
		diff:      pe - pc,
		var_:      pc*(1-pc)/(nc+2) + pe*(1-pe)/(ne+2),
		pooledVar: pp * (1 - pp) * (1/(nc+1) + 1/(ne+1)),
	}
}

// evidence is the look's evidence that the experiment cohort is worse.
func (st shares) evidence(p Plan) float64 {
	return evidenceWorse(st.diff, st.pooledVar, p.MinEffect)
}

// interval is the always-valid (1−α) confidence interval of the
// difference.
func (st shares) interval(p Plan) (low, high float64) {
	w := halfWidth(st.var_, p.MinEffect, p.Alpha)
	return max(-1, st.diff-w), min(1, st.diff+w)
}

// decided is what one look at st alone decides: Disproved, Held, or
// Running.
func decided(st shares, p Plan) Outcome {
	if low, _ := st.interval(p); st.evidence(p) >= 1/p.Alpha && low > 0 {
		return Disproved
	}
	if _, high := st.interval(p); high < p.MinEffect {
		return Held
	}
	return Running
}

// evidenceWorse is the mixture likelihood ratio of "the experiment
// cohort is worse" (a half-normal prior of scale tau over the
// difference) against "no difference", for an observed difference d
// of variance v:
//
//	Λ = 2 Φ(d τ / (σ √(σ²+τ²))) √(σ²/(σ²+τ²)) exp(d² τ² / (2σ²(σ²+τ²)))
//
// computed in logarithms so that a large difference does not overflow.
func evidenceWorse(d, v, tau float64) float64 {
	if v <= 0 {
		return 1
	}
	t2 := tau * tau
	logL := math.Log(2) + logPhi(d*tau/math.Sqrt(v*(v+t2))) + 0.5*math.Log(v/(v+t2)) + d*d*t2/(2*v*(v+t2))
	return math.Exp(min(logL, 700))
}

// halfWidth is the half-width of the always-valid (1−α) confidence
// interval of the two-sided normal mixture of scale tau:
//
//	w² = σ²(σ²+τ²)/τ² · (2 ln(1/α) + ln((σ²+τ²)/σ²))
func halfWidth(v, tau, alpha float64) float64 {
	if v <= 0 {
		return 0
	}
	t2 := tau * tau
	return math.Sqrt(v * (v + t2) / t2 * (2*math.Log(1/alpha) + math.Log((v+t2)/v)))
}

// logPhi is the logarithm of the standard normal distribution function,
// accurate far into the lower tail.
func logPhi(z float64) float64 {
	if z > -30 {
		return math.Log(0.5 * math.Erfc(-z/math.Sqrt2))
	}
	// Mills' ratio: Φ(z) ≈ φ(z)/|z| for large negative z.
	return -z*z/2 - math.Log(-z) - 0.5*math.Log(2*math.Pi)
}

// zQuantile is the standard normal quantile of p.
func zQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// pct writes a share as a percentage with enough digits for small ones.
func pct(x float64) string {
	return fmt.Sprintf("%.3g %%", 100*x)
}

// Package verdict judges a chaos experiment: it compares the steady state
// (an SLI's share of bad requests) of a control cohort and an experiment
// cohort that received faults, and says whether the hypothesis that the
// steady state holds in the experiment cohort was disproved, held, or
// cannot be decided yet. It is pure: counts in, a verdict out, no clock
// and no I/O.
//
// The experiment is watched as it runs, so the test is sequential: a
// fixed-horizon test looked at again and again would find a difference
// that is not there far more often than its α says. nines uses the
// mixture sequential probability ratio test (mSPRT) of Johari, Koomen,
// Pekelis and Walsh, "Always Valid Inference: Continuous Monitoring of
// A/B Tests" (Operations Research 70(3), 2022), on the difference of the
// two cohorts' bad shares with its normal approximation:
//
//   - the evidence that the experiment cohort is worse is a likelihood
//     ratio mixed over a half-normal prior of scale τ (the minimum
//     effect): a non-negative supermartingale under "not worse", so by
//     Ville's inequality it passes 1/α at any look, ever, with
//     probability at most α. Crossing it, with the confidence interval
//     below lying wholly above zero, is "disproved": a verdict whose
//     reported effect supports it.
//   - the always-valid (1−α) confidence interval of the difference (the
//     two-sided mixture's) holds the true difference at every look with
//     probability at least 1−α. Its upper end below the minimum effect
//     is "held": no difference as large as the minimum effect.
//   - anything else at the run's end is "inconclusive", with how many
//     more requests per cohort would decide if the shares stayed as
//     observed.
//
// Shares are estimated with one bad and one good request added to each
// cohort (Agresti and Caffo, "Simple and Effective Confidence Intervals
// for Proportions and Differences of Proportions Result from Adding Two
// Successes and Two Failures", The American Statistician 54(4), 2000),
// so that a cohort with no bad request yet does not look certain.
//
// Beside the sequential verdict, each look reports the fixed-horizon test
// of the same counts, chosen by count: Fisher's exact test when a cell
// of the 2×2 table expects fewer than 5 requests, else the
// two-proportion z test; and for latency, a Mann–Whitney rank test of the
// two cohorts' latency histograms. Those p-values are for reading, not
// for stopping: they are valid once, at a horizon fixed in advance.
package verdict

package forecast

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// The anomaly detector judges an SLI's error ratio in buckets of
// AnomalyBucket against its seasonal band: the median of the same bucket
// of the week in the AnomalyWeeks weeks before, ± AnomalyK times the
// spread of the residuals (1.4826 × their median absolute deviation over
// the week before the span judged) combined with the binomial noise of
// the bucket's traffic, so that a bucket of few requests needs more than
// one failure to stand out.
const (
	AnomalyBucket = 10 * time.Minute
	AnomalyWeeks  = 4
	AnomalyK      = 4.0
	// AnomalyKind is the kind of the annotations anomalies become.
	AnomalyKind = "anomaly"
)

// Anomaly is a run of consecutive buckets whose error ratio left its
// seasonal band on the same side.
type Anomaly struct {
	SLO   string    `json:"slo"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Above is true when the error ratio was above the band (worse than
	// usual), false when below it (better than usual).
	Above bool `json:"above"`
	// Observed, Expected and Bound are the error ratios of the run's
	// furthest bucket: what it was, the seasonal median and the edge of
	// the band it crossed.
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Bound    float64 `json:"bound"`
}

// Side is "above" or "below" the band.
func (a Anomaly) Side() string {
	if a.Above {
		return "above"
	}
	return "below"
}

// bucketStats is one bucket's events.
type bucketStats struct{ attempted, failed float64 }

func (b bucketStats) ratio() float64 {
	if b.attempted == 0 {
		return math.NaN()
	}
	return b.failed / b.attempted
}

// DetectAnomalies returns the anomalies of the SLO called name in h in
// [from, to), oldest first.
// h should hold AnomalyWeeks weeks and a day before from: a bucket with
// fewer than two of its past weeks measured is not judged.
func DetectAnomalies(name string, h *History, from, to time.Time) ([]Anomaly, error) {
	if err := h.check(); err != nil {
		return nil, fmt.Errorf("SLO %s: %w", name, err)
	}
	return detectAnomalies(name, h, from, to)
}

// MaxAnomalySpan bounds the span one call judges.
const MaxAnomalySpan = 31 * 24 * time.Hour

// BucketOf is the bucket anomalies of a quantum are judged in: the least
// common multiple of AnomalyBucket and the quantum (10 minutes for a
// minute, 30 for 3 minutes, 2 hours for 2 hours).
func BucketOf(quantum time.Duration) time.Duration {
	g, q := AnomalyBucket, quantum
	for q != 0 {
		g, q = q, g%q
	}
	return AnomalyBucket / g * quantum
}

// detectAnomalies is DetectAnomalies of a history already checked.
func detectAnomalies(name string, h *History, from, to time.Time) ([]Anomaly, error) {
	b := BucketOf(h.Quantum)
	if !from.Equal(from.Truncate(b)) || !to.Equal(to.Truncate(b)) || to.Before(from) || to.Sub(from) > MaxAnomalySpan {
		return nil, fmt.Errorf("%w: SLO %s: anomalies are judged in %s buckets over at most %s: %s–%s is not on their boundaries or too long", ErrInvalid, name,
			slo.FormatDuration(b), slo.FormatDuration(MaxAnomalySpan), from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	per := int(b / h.Quantum)
	weekBuckets := int(week / b)
	origin := from.Add(-time.Duration(AnomalyWeeks+1) * week)
	nb := int(to.Sub(origin) / b)
	stats := make([]bucketStats, nb)
	for j := range stats {
		i0, _ := h.index(origin.Add(time.Duration(j) * b))
		for i := max(i0, 0); i < min(i0+per, len(h.Quanta)); i++ {
			if q := &h.Quanta[i]; q.Measured {
				stats[j].attempted += q.Attempted
				stats[j].failed += q.Failed
			}
		}
	}
	expected := func(j int) float64 {
		var past [AnomalyWeeks]float64
		n := 0
		for w := 1; w <= AnomalyWeeks; w++ {
			if k := j - w*weekBuckets; k >= 0 {
				if r := stats[k].ratio(); !math.IsNaN(r) {
					past[n] = r
					n++
				}
			}
		}
		if n < 2 {
			return math.NaN()
		}
		return medianInPlace(past[:n])
	}
	judged := int(from.Sub(origin) / b)
	residuals := make([]float64, 0, weekBuckets)
	for j := max(judged-weekBuckets, 0); j < judged; j++ {
		if e, r := expected(j), stats[j].ratio(); !math.IsNaN(e) && !math.IsNaN(r) {
			residuals = append(residuals, r-e)
		}
	}
	spread := 0.0
	if len(residuals) > 0 {
		m := medianInPlace(residuals)
		for i := range residuals {
			residuals[i] = math.Abs(residuals[i] - m)
		}
		spread = 1.4826 * medianInPlace(residuals)
	}
	var out []Anomaly
	var run *Anomaly
	furthest := 0.0
	for j := judged; j < nb; j++ {
		e, r := expected(j), stats[j].ratio()
		if math.IsNaN(e) || math.IsNaN(r) {
			run = nil
			continue
		}
		a := stats[j].attempted
		p := min(1, max(e, 1/a))
		half := AnomalyK * math.Sqrt(spread*spread+p*(1-p)/a)
		above, below := r > e+half, r < e-half
		if !above && !below {
			run = nil
			continue
		}
		start := origin.Add(time.Duration(j) * b).UTC()
		if run == nil || run.Above != above {
			out = append(out, Anomaly{SLO: name, Start: start, Above: above})
			run, furthest = &out[len(out)-1], 0
		}
		run.End = start.Add(b)
		if d := math.Abs(r - e); d > furthest {
			furthest = d
			run.Observed, run.Expected = r, e
			run.Bound = e + half
			if !above {
				run.Bound = max(0, e-half)
			}
		}
	}
	return out, nil
}

// medianInPlace sorts v and returns its median.
func medianInPlace(s []float64) float64 {
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Annotator keeps annotations (store.Annotations has these methods).
type Annotator interface {
	AddAnnotation(ctx context.Context, a store.Annotation) (int64, error)
	Annotations(ctx context.Context, q store.AnnotationQuery) ([]store.Annotation, error)
}

// lookback is how far before an anomaly Annotate looks for an annotation
// of the same run, which starts no earlier than a run can last.
const lookback = 7 * 24 * time.Hour

// Annotate marks each anomaly as an annotation of kind AnomalyKind on its
// SLO's charts, unless one already covers part of its span: re-running
// the detector, or finding a run that has grown since, adds nothing. An
// anomaly is never a page; its annotation explains a chart.
func Annotate(ctx context.Context, a Annotator, service string, anomalies []Anomaly) (added int, err error) {
	for _, an := range anomalies {
		have, err := a.Annotations(ctx, store.AnnotationQuery{From: an.Start.Add(-lookback), To: an.End, SLO: an.SLO})
		if err != nil {
			return added, fmt.Errorf("reading the annotations of SLO %s: %w", an.SLO, err)
		}
		if slices.ContainsFunc(have, func(x store.Annotation) bool { return covers(x, an) }) {
			continue
		}
		side := an.Side()
		note := store.Annotation{At: an.Start, SLO: an.SLO, Service: service, Kind: AnomalyKind,
			Title: fmt.Sprintf("error ratio %s its seasonal band for %s", side, an.End.Sub(an.Start)),
			Text: fmt.Sprintf("From %s to %s the error ratio reached %s where the same time of the week runs at %s (band edge %s). Marked by nines forecast; it pages no one.",
				an.Start.Format(time.RFC3339), an.End.Format(time.RFC3339), pct(an.Observed), pct(an.Expected), pct(an.Bound)),
			Labels: map[string]string{"source": "forecast", "end": an.End.Format(time.RFC3339), "side": side}}
		if _, err := a.AddAnnotation(ctx, note); err != nil {
			return added, fmt.Errorf("annotating SLO %s: %w", an.SLO, err)
		}
		added++
	}
	return added, nil
}

// covers reports whether x is an anomaly annotation of an's SLO whose
// span overlaps an's.
func covers(x store.Annotation, an Anomaly) bool {
	if x.Kind != AnomalyKind || x.SLO != an.SLO {
		return false
	}
	end, err := time.Parse(time.RFC3339, x.Labels["end"])
	if err != nil {
		end = x.At.Add(AnomalyBucket)
	}
	return x.At.Before(an.End) && an.Start.Before(end)
}

func pct(v float64) string { return fmt.Sprintf("%.3g %%", 100*v) }

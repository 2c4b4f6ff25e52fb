package forecast

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nines-sre/nines/store"
)

// noisyHistory is weeks of minutes of 100 requests with failures drawn at
// 0.2 % (seeded), ending at testAt.
func noisyHistory(weeks int, seed uint64) *History {
	h := flatHistory(weeks*7, 100)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range h.Quanta {
		var f float64
		for range 100 {
			if r.Float64() < 0.002 {
				f++
			}
		}
		h.Quanta[i].Failed = f
	}
	return h
}

// memAnnotations keeps annotations in memory, as a store would.
type memAnnotations struct{ list []store.Annotation }

func (m *memAnnotations) AddAnnotation(_ context.Context, a store.Annotation) (int64, error) {
	if err := store.CheckAnnotation(a); err != nil {
		return 0, err
	}
	a.ID = int64(len(m.list) + 1)
	m.list = append(m.list, a)
	return a.ID, nil
}

func (m *memAnnotations) Annotations(_ context.Context, q store.AnnotationQuery) ([]store.Annotation, error) {
	var out []store.Annotation
	for _, a := range m.list {
		if !a.At.Before(q.From) && a.At.Before(q.To) && (a.SLO == q.SLO || a.SLO == "") {
			out = append(out, a)
		}
	}
	return out, nil
}

func TestAnomalies(t *testing.T) {
	from, to := testAt.Add(-24*time.Hour), testAt
	t.Run("A day of ordinary noise has no anomaly.", func(t *testing.T) {
		got, err := DetectAnomalies("checkout", noisyHistory(6, 3), from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("found %+v", got)
		}
	})
	t.Run("Thirty minutes at 10 % errors are one anomaly, annotated once however often the detector runs.", func(t *testing.T) {
		h := noisyHistory(6, 3)
		spike := testAt.Add(-3 * time.Hour)
		i0, _ := h.index(spike)
		for i := i0; i < i0+30; i++ {
			h.Quanta[i].Failed = 10
		}
		got, err := DetectAnomalies("checkout", h, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || !got[0].Start.Equal(spike) || !got[0].End.Equal(spike.Add(30*time.Minute)) || !got[0].Above {
			t.Fatalf("found %+v, want one anomaly above the band from %s for 30 minutes", got, spike)
		}
		notes := &memAnnotations{}
		for run := range 3 {
			added, err := Annotate(context.Background(), notes, "shop", got)
			if err != nil {
				t.Fatal(err)
			}
			if want := max(0, 1-run); added != want {
				t.Errorf("run %d added %d annotations, want %d", run, added, want)
			}
		}
		if len(notes.list) != 1 || notes.list[0].Kind != AnomalyKind || notes.list[0].SLO != "checkout" {
			t.Errorf("annotations %+v", notes.list)
		}
		// The run grows by ten minutes: still the same annotation.
		grown := got[0]
		grown.End = grown.End.Add(10 * time.Minute)
		if added, _ := Annotate(context.Background(), notes, "shop", []Anomaly{grown}); added != 0 {
			t.Errorf("a grown run added %d annotations", added)
		}
	})
	t.Run("A span off the bucket grid is refused.", func(t *testing.T) {
		if _, err := DetectAnomalies("checkout", noisyHistory(1, 1), from.Add(time.Minute), to); err == nil {
			t.Error("no error")
		}
	})
}

func TestBucketOf(t *testing.T) {
	for _, tc := range []struct{ q, want time.Duration }{
		{time.Minute, 10 * time.Minute}, {3 * time.Minute, 30 * time.Minute}, {4 * time.Minute, 20 * time.Minute},
		{15 * time.Minute, 30 * time.Minute}, {2 * time.Hour, 2 * time.Hour}, {10 * time.Second, 10 * time.Minute},
	} {
		t.Run("A quantum of "+tc.q.String()+" is judged in buckets of "+tc.want.String()+".", func(t *testing.T) {
			if got := BucketOf(tc.q); got != tc.want {
				t.Errorf("got %s", got)
			}
		})
	}
}

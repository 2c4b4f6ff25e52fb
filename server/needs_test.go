package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// stubSLOs is an SLOReader with one SLO at a fixed status and no engine
// behind it. Its embedded interface is nil: a handler calling any other
// method panics, so the test also shows what the SLO list calls.
type stubSLOs struct {
	SLOReader
	slos []*slo.SLO
}

func (s stubSLOs) SLOs() []*slo.SLO { return s.slos }

// StaleSince is asked by every API read, to mark answers given while the
// store fails.
func (s stubSLOs) StaleSince() (time.Time, bool) { return time.Time{}, false }

func (s stubSLOs) Summary(name string) (*slo.Result, error) {
	return &slo.Result{Availability: 0.995, Met: true}, nil
}

func (s stubSLOs) BurnRates(name string, spans []time.Duration) ([]float64, error) {
	return make([]float64, len(spans)), nil
}

// TestServesAnyReader: the server answers from whatever provides its
// interfaces, not only from nines' own engine and store, which is what
// lets a backend or an engine be swapped.
func TestServesAnyReader(t *testing.T) {
	t.Parallel()
	slos, _, err := spec.Load("checkout.yaml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, "")
	s, err := New(Config{SLOs: stubSLOs{slos: slos[:1]}, Writes: f.eng, Annotations: f.db})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/slos")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		SLOs []struct {
			Name         string
			Availability float64
			Met          bool
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || len(got.SLOs) != 1 || got.SLOs[0].Name != "checkout-availability" ||
		got.SLOs[0].Availability != 99.5 || !got.SLOs[0].Met {
		t.Errorf("GET /api/v1/slos = %d %+v, want the stub's one SLO at 99.5 %%, met", resp.StatusCode, got)
	}
}

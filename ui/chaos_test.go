package ui

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/chaos"
	"github.com/nines-sre/nines/chaos/verdict"
)

// stubChaos is a chaos controller with one experiment and its runs.
type stubChaos struct {
	def     *chaos.Definition
	runs    []chaos.Run
	started int
	stopped string
}

func (s *stubChaos) Definitions() []*chaos.Definition { return []*chaos.Definition{s.def} }
func (s *stubChaos) Runs(name string) ([]chaos.Run, error) {
	return s.runs, nil
}
func (s *stubChaos) Plan(ctx context.Context, name string) (verdict.Planned, error) {
	return verdict.Planned{Requests: 4488, Duration: 37 * time.Minute}, nil
}
func (s *stubChaos) Start(ctx context.Context, name string) (*chaos.Run, error) {
	s.started++
	return &chaos.Run{ID: "2"}, nil
}
func (s *stubChaos) Stop(ctx context.Context, name, who string) (*chaos.Run, error) {
	s.stopped = who
	return &chaos.Run{ID: "1"}, nil
}

// newStubChaos is the example experiment with one run that held two
// weeks before now.
func newStubChaos(t testing.TB, now time.Time) *stubChaos {
	t.Helper()
	defs, err := chaos.LoadExperiments("../examples/experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	held := chaos.Run{ID: "1", Experiment: defs[0].Name, Outcome: verdict.Held, Started: now.Add(-15 * 24 * time.Hour), Ended: now.Add(-14 * 24 * time.Hour),
		Verdict: verdict.Verdict{Effect: 0.001, Low: -0.004, High: 0.006, PValue: 0.8,
			Control: verdict.Counts{Requests: 5000, Bad: 50}, Experiment: verdict.Counts{Requests: 5000, Bad: 55}}}
	return &stubChaos{def: defs[0], runs: []chaos.Run{held}}
}

func TestExperimentPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.get("/experiments", 404)
	st := newStubChaos(t, f.eng.Now())
	f.ui.cfg.Chaos, f.ui.cfg.Token = st, "s3cret"
	srv := f.srv

	body := f.get("/experiments", 200)
	for _, want := range []string{"checkout-slow-payments", "4488 requests per cohort, about 37m", "0.25 (stale)", "Stale or never held", "Start a run", `name="token"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/experiments lacks %q", want)
		}
	}
	if !strings.Contains(f.get("/", 200), "Chaos experiments stale or never held") {
		t.Error("the overview does not list the stale experiment")
	}
	body = f.get("/experiments/checkout-slow-payments", 200)
	for _, want := range []string{"55 / 5000", "&#43;0.1 %", "-0.4 % to 0.6 %", "held"} {
		if !strings.Contains(body, want) {
			t.Errorf("the experiment page lacks %q", want)
		}
	}
	post := func(path, token string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(url.Values{"token": {token}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/experiments/checkout-slow-payments/runs", "wrong"); code != http.StatusUnauthorized || st.started != 0 {
		t.Errorf("start with a wrong token: %d, %d started", code, st.started)
	}
	if code := post("/experiments/checkout-slow-payments/runs", "s3cret"); code != http.StatusSeeOther || st.started != 1 {
		t.Errorf("start: %d, %d started", code, st.started)
	}
	if code := post("/experiments/checkout-slow-payments/stop", "s3cret"); code != http.StatusSeeOther || !strings.Contains(st.stopped, "web UI") {
		t.Errorf("stop: %d, stopped by %q", code, st.stopped)
	}
}

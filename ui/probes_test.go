package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/probe"
)

// probeViews answers the probes page with fixed views.
type probeViews []probe.View

func (p probeViews) Probes(context.Context, time.Time) ([]probe.View, error) { return p, nil }

func TestProbesPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	f.get("/probes", 404)
	at := f.eng.Now().Add(-6 * time.Minute).Truncate(time.Minute)
	f.ui.cfg.Probes = probeViews{{
		Name: "web-home", Kind: "http", Target: "GET https://shop.example/", Interval: "30s", Timeout: "10s", SLO: "home",
		Consensus: probe.ConsensusView{K: 2, N: 3, Window: "1m30s", Latest: &probe.Quantum{Start: at, Attempted: 1, Good: 0},
			Failing: []string{"eu", "us"}, Reporting: []string{"ap", "eu", "us"}, Reason: "2 of 3 locations failed within 1m30s (eu, us)"},
		Locations: []probe.LocationView{
			{Name: "eu", SLO: "web-home.eu", Latest: &probe.Quantum{Start: at, Attempted: 2, Good: 0},
				LastCheck: &probe.CheckView{Start: at, OK: false, LatencyMS: 10000, Reason: "timeout in connect"}},
			{Name: "us", SLO: "web-home.us"},
		},
		Cert: &probe.CertView{SLO: "web-home.cert", MinDays: 14, ExpiresAt: at.Add(3 * 24 * time.Hour)},
	}}
	page := f.get("/probes", 200)
	for _, want := range []string{"GET https://shop.example/", `href="/slos/home"`, "A quantum is bad when 2 of 3 locations failed within 1m30s",
		"<strong>bad</strong>", "2 of 3 locations failed within 1m30s (eu, us)", `href="/slos/web-home.eu">eu<`, "0 of 2 good", "timeout in connect",
		"10000.0 ms", `href="/slos/web-home.cert"`, "at least 14 days ahead", `aria-current="page">Probes`} {
		if !strings.Contains(page, want) {
			t.Errorf("/probes lacks %q", want)
		}
	}
}

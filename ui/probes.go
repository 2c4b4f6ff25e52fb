package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/nines-sre/nines/probe"
)

// ProbeLister answers the probes page (nines serve's probe runtime; the
// API takes the same, server.Probes).
type ProbeLister interface {
	Probes(ctx context.Context, now time.Time) ([]probe.View, error)
}

// probesPage serves /probes: every probe that feeds an SLO, the verdict
// of its latest consensus quantum with the locations that failed, and
// each location's latest quantum and, from this server, its last check.
func (u *UI) probesPage(w http.ResponseWriter, r *http.Request) {
	if u.cfg.Probes == nil {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "No probes run here.",
			hints: []string{"Start nines serve with --probes probes.yaml and an SLO with sli.probes: NAME (docs/probes.md)."}})
		return
	}
	now := u.cfg.SLOs.Now()
	ps, err := u.cfg.Probes.Probes(r.Context(), now)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "probes", &layout{Title: "Probes", Nav: "probes", Generated: now.UTC(), Page: ps})
}

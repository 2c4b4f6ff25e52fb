package server

import (
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/nines-sre/nines/server/promtext"
	"github.com/nines-sre/nines/slo"
)

// metricsSpans are the burn-rate spans /metrics exposes, those of the
// multi-window alerts.
var metricsSpans = []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// metrics writes the Prometheus text exposition: per SLO its objective,
// availability, remaining budget and burn rates, then nines' own health,
// so an existing Grafana can chart nines.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var ex promtext.Exposition
	e := s.cfg.SLOs
	slos := e.SLOs()
	ex.Family("nines_slo_objective_ratio", "gauge", "The SLO's objective as a share (0.999 for 99.9 %).")
	ex.Family("nines_slo_availability_ratio", "gauge", "Availability so far in the SLO's current window, by its method.")
	ex.Family("nines_slo_error_budget_remaining_ratio", "gauge", "Share of the current window's error budget left; negative when overspent.")
	ex.Family("nines_slo_met", "gauge", "1 while the current window's error budget holds, else 0.")
	ex.Family("nines_slo_burn_rate", "gauge", "Error-budget burn rate over the span ending now; 1 spends exactly the budget over the window.")
	ex.Family("nines_slo_latency_inverse_quantile_ratio", "gauge", "Share of requests in the current window that met the SLI's latency threshold.")
	for _, o := range slos {
		res, err := e.Summary(o.Name)
		if vanished(err) {
			continue
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		rates, err := e.BurnRates(o.Name, metricsSpans)
		if vanished(err) {
			continue
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		l := []string{"slo", o.Name, "service", o.Service}
		ex.Sample("nines_slo_objective_ratio", l, o.Objective.Float())
		ex.Sample("nines_slo_availability_ratio", l, res.Availability)
		ex.Sample("nines_slo_error_budget_remaining_ratio", l, res.Budget.RemainingShare())
		ex.Sample("nines_slo_met", l, boolValue(res.Met))
		for i, span := range metricsSpans {
			ex.Sample("nines_slo_burn_rate", append(slices.Clone(l), "span", slo.FormatDuration(span)), rates[i])
		}
		if o.SLI.Latency != nil {
			ex.Sample("nines_slo_latency_inverse_quantile_ratio", l, res.Latency.InverseQuantile)
		}
	}

	ex.Family("nines_slo_alert_firing", "gauge", "1 for each burn-rate or no-data alert firing, with its severity.")
	for _, o := range slos {
		st, _, err := e.Alerts(o.Name)
		if vanished(err) {
			continue
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, a := range st.Alerts {
			ex.Sample("nines_slo_alert_firing", []string{"slo", o.Name, "service", o.Service, "alert", a.Name, "severity", string(a.Severity)}, 1)
		}
	}

	c := s.cfg.Writes.Counters()
	ex.Family("nines_ingest_events_total", "counter", "Events received over the HTTP events API, each counted as the requests it stands for (its count).")
	ex.Sample("nines_ingest_events_total", nil, float64(c.Events.Load()))
	ex.Family("nines_ingest_rollups_total", "counter", "Quantum rollups stored.")
	ex.Sample("nines_ingest_rollups_total", nil, float64(c.Rollups.Load()))
	ex.Family("nines_ingest_rejected_total", "counter", "Data not folded into rollups, by reason.")
	rejected := c.Rejected()
	for _, reason := range slices.Sorted(maps.Keys(rejected)) {
		ex.Sample("nines_ingest_rejected_total", []string{"reason", reason}, float64(rejected[reason]))
	}
	ex.Family("nines_slos", "gauge", "SLOs loaded.")
	ex.Sample("nines_slos", nil, float64(len(slos)))
	ex.Family("nines_evaluation_lag_seconds", "gauge", "Time since the SLO trackers were last advanced.")
	ex.Sample("nines_evaluation_lag_seconds", nil, e.Now().Sub(e.LastTick()).Seconds())
	s.writeRole(&ex)
	s.writeTraceMetrics(&ex)
	if s.cfg.Size != nil {
		if size, err := s.cfg.Size.Size(r.Context()); err == nil {
			ex.Family("nines_store_size_bytes", "gauge", "Bytes the store occupies on disk.")
			ex.Sample("nines_store_size_bytes", nil, float64(size))
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write([]byte(ex.String()))
	s.writeNotifyMetrics(w)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

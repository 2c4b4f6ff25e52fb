package server

import (
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// metricsSpans are the burn-rate spans /metrics exposes, those of the
// multi-window alerts.
var metricsSpans = []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// metrics writes the Prometheus text exposition: per SLO its objective,
// availability, remaining budget and burn rates, then nines' own health,
// so an existing Grafana can chart nines.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var ex exposition
	e := s.cfg.Engine
	slos := e.SLOs()
	ex.family("nines_slo_objective_ratio", "gauge", "The SLO's objective as a share (0.999 for 99.9 %).")
	ex.family("nines_slo_availability_ratio", "gauge", "Availability so far in the SLO's current window, by its method.")
	ex.family("nines_slo_error_budget_remaining_ratio", "gauge", "Share of the current window's error budget left; negative when overspent.")
	ex.family("nines_slo_met", "gauge", "1 while the current window's error budget holds, else 0.")
	ex.family("nines_slo_burn_rate", "gauge", "Error-budget burn rate over the span ending now; 1 spends exactly the budget over the window.")
	ex.family("nines_slo_latency_inverse_quantile_ratio", "gauge", "Share of requests in the current window that met the SLI's latency threshold.")
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
		ex.sample("nines_slo_objective_ratio", l, o.Objective.Float())
		ex.sample("nines_slo_availability_ratio", l, res.Availability)
		ex.sample("nines_slo_error_budget_remaining_ratio", l, res.Budget.RemainingShare())
		ex.sample("nines_slo_met", l, boolValue(res.Met))
		for i, span := range metricsSpans {
			ex.sample("nines_slo_burn_rate", append(slices.Clone(l), "span", slo.FormatDuration(span)), rates[i])
		}
		if o.SLI.Latency != nil {
			ex.sample("nines_slo_latency_inverse_quantile_ratio", l, res.Latency.InverseQuantile)
		}
	}

	ex.family("nines_slo_alert_firing", "gauge", "1 for each burn-rate or no-data alert firing, with its severity.")
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
			ex.sample("nines_slo_alert_firing", []string{"slo", o.Name, "service", o.Service, "alert", a.Name, "severity", string(a.Severity)}, 1)
		}
	}

	c := e.Counters()
	ex.family("nines_ingest_events_total", "counter", "Events received over the HTTP events API, each counted as the requests it stands for (its count).")
	ex.sample("nines_ingest_events_total", nil, float64(c.Events.Load()))
	ex.family("nines_ingest_rollups_total", "counter", "Quantum rollups stored.")
	ex.sample("nines_ingest_rollups_total", nil, float64(c.Rollups.Load()))
	ex.family("nines_ingest_rejected_total", "counter", "Data not folded into rollups, by reason.")
	rejected := c.Rejected()
	for _, reason := range slices.Sorted(maps.Keys(rejected)) {
		ex.sample("nines_ingest_rejected_total", []string{"reason", reason}, float64(rejected[reason]))
	}
	ex.family("nines_slos", "gauge", "SLOs loaded.")
	ex.sample("nines_slos", nil, float64(len(slos)))
	ex.family("nines_evaluation_lag_seconds", "gauge", "Time since the SLO trackers were last advanced.")
	ex.sample("nines_evaluation_lag_seconds", nil, e.Now().Sub(e.LastTick()).Seconds())
	if size, err := s.cfg.Store.Size(r.Context()); err == nil {
		ex.family("nines_store_size_bytes", "gauge", "Bytes the store occupies on disk.")
		ex.sample("nines_store_size_bytes", nil, float64(size))
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

// exposition builds the Prometheus text format. Families are written in
// the order declared, each with its samples, as the format requires.
type exposition struct {
	order   []string
	header  map[string]string
	samples map[string][]string
}

func (x *exposition) family(name, typ, help string) {
	if x.header == nil {
		x.header, x.samples = map[string]string{}, map[string][]string{}
	}
	if _, ok := x.header[name]; !ok {
		x.order = append(x.order, name)
	}
	x.header[name] = fmt.Sprintf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample adds name{labels} value; labels alternate names and values.
func (x *exposition) sample(name string, labels []string, v float64) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(v))
	b.WriteByte('\n')
	x.samples[name] = append(x.samples[name], b.String())
}

func (x *exposition) String() string {
	var b strings.Builder
	for _, name := range x.order {
		b.WriteString(x.header[name])
		for _, s := range x.samples[name] {
			b.WriteString(s)
		}
	}
	return b.String()
}

// escapeLabel escapes a label value as the text format requires.
var labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)

func escapeLabel(v string) string { return labelEscaper.Replace(v) }

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

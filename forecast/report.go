package forecast

import (
	"fmt"
	"time"

	"github.com/nines-sre/nines/slo"
)

// AnomalySpan is how far back a forecast looks for anomalies: a day, so
// that a forecaster run at least daily misses none.
const AnomalySpan = 24 * time.Hour

// SLOForecast is what nines forecasts of one SLO: its budget and the
// anomalies of its SLI over the last AnomalySpan.
type SLOForecast struct {
	Budget
	Anomalies []Anomaly `json:"anomalies"`
}

// Report is every forecast made at one time.
type Report struct {
	At       time.Time     `json:"at"`
	SLOs     []SLOForecast `json:"slos"`
	Capacity []Capacity    `json:"capacity"`
	// Problems name the SLOs and services that could not be forecast, and
	// why; the others are.
	Problems []string `json:"problems"`
}

// HistoryStart is the earliest quantum a forecast of s at at reads: the
// window containing at, the backtest's days and their windows, the
// profile's weeks and the anomaly detector's weeks before its span.
func HistoryStart(s *slo.SLO, at time.Time) time.Time {
	w := s.Window.Containing(at)
	back := time.Duration(BacktestDays) * 24 * time.Hour
	earliest := w.Start.Add(-back)
	if s.Window.Calendar != slo.NotCalendar {
		// A backtest origin in the window before reads that window.
		earliest = s.Window.Containing(at.Add(-back)).Start
	}
	earliest = minTime(earliest, at.Add(-back-ProfileWeeks*week))
	earliest = minTime(earliest, at.Add(-AnomalySpan-time.Duration(AnomalyWeeks+1)*week))
	return time.Unix(0, slo.QuantumStart(earliest.UnixNano(), s.Quantum)).UTC()
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// ForecastSLO forecasts the budget of s at at and finds the anomalies
// of the day before, from h (which should start at HistoryStart).
func ForecastSLO(s *slo.SLO, h *History, at time.Time) (*SLOForecast, error) {
	b, err := ForecastBudget(s, h, at) // checks the quanta before at, all the detector reads
	if err != nil {
		return nil, err
	}
	out := &SLOForecast{Budget: *b, Anomalies: []Anomaly{}}
	to := at.Truncate(BucketOf(s.Quantum))
	an, err := detectAnomalies(s.Name, h, to.Add(-AnomalySpan), to)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", s.Name, err)
	}
	if an != nil {
		out.Anomalies = an
	}
	return out, nil
}

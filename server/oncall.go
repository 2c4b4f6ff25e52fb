package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nines-sre/nines/oncall"
	"github.com/nines-sre/nines/server/httpx"
)

// OnCallReporter computes the on-call load of a month (oncall.Source).
type OnCallReporter interface {
	Report(ctx context.Context, month oncall.Month, now time.Time) (*oncall.Report, error)
}

var _ OnCallReporter = (*oncall.Source)(nil)

// oncallReport answers GET /api/v1/oncall?month=2026-11: the load of
// every rotation, the month before and the month-over-month view. The
// month defaults to the current one in UTC.
func (s *Server) oncallReport(r *http.Request) (any, error) {
	if s.cfg.OnCall == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "on-call load is not enabled in this nines serve: it needs a catalog with rotations (docs/oncall.md)")
	}
	now := s.cfg.SLOs.Now()
	month := oncall.MonthOf(now, time.UTC)
	if v := r.URL.Query().Get("month"); v != "" {
		m, err := oncall.ParseMonth(v)
		if err != nil {
			return nil, httpx.BadRequest("%v", err)
		}
		month = m
	}
	rep, err := s.cfg.OnCall.Report(r.Context(), month, now)
	if errors.Is(err, oncall.ErrInvalid) {
		return nil, httpx.BadRequest("%v", err)
	}
	if err != nil {
		return nil, err
	}
	return rep, nil
}

package server

import (
	"io"
	"net/http"
	"time"

	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/slo"
)

// notifier returns the dispatcher, or the error that says notifications
// are off.
func (s *Server) notifier() (Notifier, error) {
	if s.cfg.Notify == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "notifications are not enabled in this nines serve")
	}
	return s.cfg.Notify, nil
}

// silenceIn is the body of POST /api/v1/silences: matchers as text
// ("slo=checkout-availability") or {"name", "op", "value"}, and an end
// given as endsAt or as a duration from startsAt (default now).
type silenceIn struct {
	Matchers  notify.Matchers `json:"matchers"`
	StartsAt  time.Time       `json:"startsAt"`
	EndsAt    time.Time       `json:"endsAt"`
	Duration  string          `json:"duration"`
	CreatedBy string          `json:"createdBy"`
	Comment   string          `json:"comment"`
}

func (s *Server) listSilences(r *http.Request) (any, error) {
	d, err := s.notifier()
	if err != nil {
		return nil, err
	}
	return map[string]any{"silences": d.Silences()}, nil
}

func (s *Server) addSilence(r *http.Request) (any, error) {
	d, err := s.notifier()
	if err != nil {
		return nil, err
	}
	var in silenceIn
	if err := s.decodeBody(r, "silence", &in); err != nil {
		return nil, err
	}
	for _, t := range []struct {
		what string
		t    time.Time
	}{{"startsAt", in.StartsAt}, {"endsAt", in.EndsAt}} {
		if err := httpx.CheckTime(t.what, t.t); !t.t.IsZero() && err != nil {
			return nil, httpx.BadRequest("silence: %v", err)
		}
	}
	if in.Duration != "" {
		if !in.EndsAt.IsZero() {
			return nil, httpx.BadRequest("silence: give endsAt or duration, not both")
		}
		dur, err := slo.ParseDuration(in.Duration)
		if err != nil || dur <= 0 {
			return nil, httpx.BadRequest("silence: duration %q: want a duration such as 2h", in.Duration)
		}
		start := in.StartsAt
		if start.IsZero() {
			start = s.cfg.SLOs.Now()
		}
		in.StartsAt, in.EndsAt = start, start.Add(dur)
	}
	return d.AddSilence(r.Context(), notify.Silence{Matchers: in.Matchers, StartsAt: in.StartsAt, EndsAt: in.EndsAt,
		CreatedBy: in.CreatedBy, Comment: in.Comment})
}

func (s *Server) expireSilence(r *http.Request) (any, error) {
	d, err := s.notifier()
	if err != nil {
		return nil, err
	}
	return d.ExpireSilence(r.Context(), r.PathValue("id"))
}

func (s *Server) notifications(r *http.Request) (any, error) {
	d, err := s.notifier()
	if err != nil {
		return nil, err
	}
	return d.Outbox(), nil
}

// notifyRoutes registers the silence and notification endpoints.
func (s *Server) notifyRoutes(read func(http.Handler) http.Handler, write func(mediaTypes, http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/silences", read(s.api(s.listSilences)))
	s.mux.Handle("POST /api/v1/silences", write(jsonBody, s.api(s.addSilence)))
	s.mux.Handle("DELETE /api/v1/silences/{id}", write(noBody, s.api(s.expireSilence)))
	s.mux.Handle("GET /api/v1/notifications", read(s.api(s.notifications)))
}

// writeNotifyMetrics appends the dispatcher's metrics to /metrics.
func (s *Server) writeNotifyMetrics(w io.Writer) {
	if s.cfg.Notify != nil {
		s.cfg.Notify.WriteMetrics(w)
	}
}

package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/verify"
)

// Verifiers are the durability verifiers of nines serve --verifiers
// (verify.Set; docs/verifiers.md).
type Verifiers interface {
	Report(ctx context.Context, name string, objs []verify.Reported) (verify.ReportResult, error)
	Statuses(ctx context.Context) ([]verify.Status, error)
}

var _ Verifiers = (*verify.Set)(nil)

// Limits of one report: enough for a busy application's batch of a few
// seconds, small enough to be checked whole before any is taken.
const (
	maxReportObjects = 10_000
	maxReportBody    = 4 << 20
)

// verifierRoutes serves the verifiers' reports and status. Among replicas
// the verifiers run in the leader, which keeps their counters: a follower
// sends both on.
func (s *Server) verifierRoutes(readOnly func(http.Handler) http.Handler, write func(mediaTypes, http.Handler) http.Handler) {
	s.mux.Handle("GET /api/v1/verifiers", readOnly(s.atLeader(s.api(s.verifierStatuses))))
	s.mux.Handle("POST /api/v1/verifiers/{name}/objects", write(eventsBody, http.HandlerFunc(s.reportObjects)))
}

func (s *Server) verifiersOn() (Verifiers, error) {
	if s.cfg.Verifiers == nil {
		return nil, httpx.Errorf(http.StatusNotFound, "no durability verifiers in this nines serve: give --verifiers FILE (docs/verifiers.md)")
	}
	return s.cfg.Verifiers, nil
}

// verifierStatuses answers GET /api/v1/verifiers: each verifier's last
// heartbeat, reads done and pending by age, failures and canaries.
func (s *Server) verifierStatuses(r *http.Request) (any, error) {
	v, err := s.verifiersOn()
	if err != nil {
		return nil, err
	}
	st, err := v.Statuses(r.Context())
	if err != nil {
		return nil, err
	}
	return jsonList[verify.Status]{key: "verifiers", items: st}, nil
}

// reportObjects answers POST /api/v1/verifiers/{name}/objects: the
// objects an application wrote, as a JSON array or JSON lines of {key,
// sha256, size}. Every object is checked before any is taken; a report of
// a key taken before is counted as known, so a retried request is
// harmless.
func (s *Server) reportObjects(w http.ResponseWriter, r *http.Request) {
	v, err := s.verifiersOn()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.readBody(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if base, err := s.leaderURL(r); err != nil || base != "" {
		s.sendOn(w, r, base, body, err)
		return
	}
	res, err := reportBody(r.Context(), v, r.PathValue("name"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// reportAnswer is what a report is answered with.
type reportAnswer struct {
	Verifier string `json:"verifier"`
	verify.ReportResult
}

func reportBody(ctx context.Context, v Verifiers, name string, body []byte) (reportAnswer, error) {
	if len(body) > maxReportBody {
		return reportAnswer{}, httpx.Errorf(http.StatusRequestEntityTooLarge, "body of %d bytes; a report holds at most %d bytes: send smaller batches", len(body), maxReportBody)
	}
	objs, err := decodeReported(body)
	if err != nil {
		return reportAnswer{}, err
	}
	res, err := v.Report(ctx, name, objs)
	switch {
	case errors.Is(err, verify.ErrUnknown):
		return reportAnswer{}, httpx.Errorf(http.StatusNotFound, "%v", err)
	case errors.Is(err, verify.ErrNotReported):
		return reportAnswer{}, httpx.Errorf(http.StatusConflict, "verifier %s: %v", name, err)
	case errors.Is(err, verify.ErrInvalid):
		return reportAnswer{}, httpx.BadRequest("%v", err)
	case errors.Is(err, verify.ErrPendingFull):
		return reportAnswer{}, &httpx.Error{Status: http.StatusTooManyRequests, RetryAfter: time.Minute,
			Msg: fmt.Sprintf("verifier %s: %v: retry the rest once reads have finished, or raise maxPending", name, err)}
	case err != nil:
		return reportAnswer{}, err
	}
	return reportAnswer{Verifier: name, ReportResult: res}, nil
}

// decodeReported reads a JSON array of objects or JSON lines, one object
// a line; errors name the line or the item.
func decodeReported(body []byte) ([]verify.Reported, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, httpx.BadRequest("the body is empty: want objects {\"key\", \"sha256\", \"size\"} as a JSON array or JSON lines")
	}
	var objs []verify.Reported
	if trimmed[0] == '[' {
		if err := decodeJSON(trimmed, "objects", &objs); err != nil {
			return nil, err
		}
	} else {
		for i, line := range bytes.Split(trimmed, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			var o verify.Reported
			if err := decodeJSON(line, fmt.Sprintf("line %d", i+1), &o); err != nil {
				return nil, err
			}
			objs = append(objs, o)
		}
	}
	if len(objs) > maxReportObjects {
		return nil, httpx.Errorf(http.StatusRequestEntityTooLarge, "more than %d objects in one report: send smaller batches", maxReportObjects)
	}
	if len(objs) == 0 {
		return nil, httpx.BadRequest("no objects: want objects {\"key\", \"sha256\", \"size\"} as a JSON array or JSON lines")
	}
	return objs, nil
}

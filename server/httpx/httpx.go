// Package httpx is the HTTP edge that nines serve's JSON API (package
// server) and its web UI (package ui) share, so that both answer alike:
// the one classification of errors into HTTP statuses, what a client is
// told about a failure (a 5xx names a request id, never its cause), the
// request id that ties an answer to its log line, and the bounds of
// times and of a query's range.
package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/ingest/otlp"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/store"
)

// Error is an error with the status it answers with. Msg is said to the
// client, so it is written for them; Err is the cause, which is logged
// and, for a 5xx, never sent.
type Error struct {
	Status int
	Msg    string
	Err    error
	// RetryAfter, when set, is sent as the Retry-After header of a 503 or
	// a 507.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// HTTPStatus is the status Status gives e.
func (e *Error) HTTPStatus() int { return e.Status }

// Errorf is an *Error with a formatted message and no separate cause.
func Errorf(status int, format string, args ...any) error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 with a formatted message.
func BadRequest(format string, args ...any) error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// statuser is an error that knows its status: *Error, and the UI's page
// errors, which carry hints beside it.
type statuser interface {
	HTTPStatus() int
	Error() string
}

// Status classifies err into its HTTP status: the one place that knows.
// An error that says its own status wins; then the sentinel errors of the
// packages the server calls; anything else is nines' own fault, a 500.
func Status(err error) int {
	var st statuser
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &st):
		return st.HTTPStatus()
	case errors.As(err, &mbe), errors.Is(err, promrw.ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, engine.ErrUnknownSLO), errors.Is(err, store.ErrNotFound),
		errors.Is(err, incident.ErrNotFound), errors.Is(err, notify.ErrSilenceNotFound):
		return http.StatusNotFound
	case errors.Is(err, engine.ErrInvalid), errors.Is(err, store.ErrInvalid), errors.Is(err, engine.ErrUnknownService),
		errors.Is(err, incident.ErrInvalid), errors.Is(err, notify.ErrInvalidSilence),
		errors.Is(err, promrw.ErrSnappy), errors.Is(err, promrw.ErrProtobuf), errors.Is(err, otlp.ErrMalformed):
		return http.StatusBadRequest
	case errors.Is(err, incident.ErrConflict), errors.Is(err, incident.ErrClosed), errors.Is(err, incident.ErrDuplicate):
		return http.StatusConflict
	case errors.Is(err, promrw.ErrUnsupportedEncoding), errors.Is(err, otlp.ErrUnsupportedContentType):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, store.ErrFull):
		return http.StatusInsufficientStorage
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrClosed):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// The Retry-After of a 503 and a 507 that name none: long enough for a
// store that was busy to be free again, and for space to be freed.
const (
	defaultRetryAfter = 5 * time.Second
	fullRetryAfter    = 30 * time.Second
)

// Reply is what a client is told about err: its status, the message and,
// for a 503 or a 507, how long to wait before retrying. A 4xx says what was wrong
// with the request. A 5xx says what kind of failure it was and the
// request id, and never the cause's text, which names files, SQL and
// internals; the cause goes to the log (Log).
func Reply(err error, id string) (status int, msg string, retryAfter time.Duration) {
	status = Status(err)
	if status < 500 {
		return status, err.Error(), 0
	}
	var e *Error
	var st statuser
	switch {
	case errors.As(err, &e) && e.Status == status && e.Msg != "":
		msg, retryAfter = e.Msg, e.RetryAfter
	case !errors.As(err, &e) && errors.As(err, &st):
		// Another error that states its status (a UI page's) was written
		// for the client whole.
		msg = st.Error()
	default:
		switch status {
		case http.StatusInsufficientStorage:
			msg = "the disk of nines' store is full: nothing of this request was stored"
		case http.StatusServiceUnavailable:
			msg = "nines' store is unavailable for now: nothing of this request was stored; retry later"
		default:
			msg = "internal error: nines failed to serve this request"
		}
	}
	switch {
	case retryAfter > 0:
	case status == http.StatusServiceUnavailable:
		retryAfter = defaultRetryAfter
	case status == http.StatusInsufficientStorage:
		retryAfter = fullRetryAfter
	}
	if id != "" {
		msg += " (request id " + id + "; the server's log has the cause)"
	}
	return status, msg, retryAfter
}

// SetRetryAfter sets the Retry-After header in whole seconds, at least 1.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d > 0 {
		h.Set("Retry-After", fmt.Sprint(max(1, int((d+time.Second-1)/time.Second))))
	}
}

// Log records a failed request: every 5xx at error level with its cause
// and request id, so that the id a client was given finds the cause. A
// failure because the client went away is no fault of nines and is logged
// at debug level.
func Log(logger *slog.Logger, r *http.Request, status int, err error) {
	if status < 500 {
		return
	}
	level := slog.LevelError
	if r.Context().Err() != nil || errors.Is(err, engine.ErrFollower) {
		// A client gone, or a follower sending metric samples on to the
		// leader: nothing failed.
		level = slog.LevelDebug
	}
	logger.Log(r.Context(), level, "request failed", "request_id", RequestID(r.Context()),
		"method", r.Method, "path", r.URL.Path, "status", status, "err", err)
}

// RequestIDHeader carries a request's id in every answer.
const RequestIDHeader = "X-Request-Id"

type requestIDKey struct{}

// RequestID is the id WithRequestID gave the request of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID gives every request an id, in its context and in the
// answer's X-Request-Id header. The id is made here, not taken from the
// request: a client could otherwise make its failures look like another's
// in the log.
func WithRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [8]byte
		rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
		id := hex.EncodeToString(b[:])
		w.Header().Set(RequestIDHeader, id)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// MaxRange bounds the time range of a query, in the API and on a page:
// the longest window nines evaluates is a year, plus slack for calendar
// years with a DST hour. It bounds the span asked for, before its edges
// are moved out to whole quanta, so range=400d is accepted everywhere.
const MaxRange = 400 * 24 * time.Hour

// CheckTime refuses a time outside the range of times nines stores
// (store.CheckTime: 1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z), in a
// body or a query alike: one range for the whole API. A time outside it
// would be stored wrapped round (Unix nanoseconds hold 1677 to 2262 only),
// and 0001-01-01 is not read as "no time". what names the value.
func CheckTime(what string, t time.Time) error { return store.CheckTime(what, t) }

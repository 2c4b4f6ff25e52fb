package httpx

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/ingest/otlp"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/store"
)

// page is an error that states its status, as the UI's pages do.
type page struct{ status int }

func (p page) Error() string   { return "there is no such page" }
func (p page) HTTPStatus() int { return p.status }

func TestEveryErrorClassHasOneStatus(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("context: %w", err) }
	for _, c := range []struct {
		err  error
		want int
	}{
		{Errorf(http.StatusTeapot, "x"), http.StatusTeapot},
		{wrap(page{http.StatusNotFound}), http.StatusNotFound},
		{&http.MaxBytesError{Limit: 1}, 413},
		{wrap(promrw.ErrTooLarge), 413},
		{wrap(engine.ErrUnknownSLO), 404},
		{wrap(store.ErrNotFound), 404},
		{wrap(incident.ErrNotFound), 404},
		{wrap(notify.ErrSilenceNotFound), 404},
		{wrap(engine.ErrInvalid), 400},
		{wrap(store.ErrInvalid), 400},
		{wrap(engine.ErrUnknownService), 400},
		{wrap(incident.ErrInvalid), 400},
		{wrap(notify.ErrInvalidSilence), 400},
		{wrap(promrw.ErrSnappy), 400},
		{wrap(promrw.ErrProtobuf), 400},
		{wrap(otlp.ErrMalformed), 400},
		{&incident.ConflictError{ID: 1, Expected: 1, Actual: 2}, 409},
		{wrap(incident.ErrClosed), 409},
		{wrap(incident.ErrDuplicate), 409},
		{wrap(promrw.ErrUnsupportedEncoding), 415},
		{wrap(otlp.ErrUnsupportedContentType), 415},
		{wrap(store.ErrFull), 507},
		{wrap(store.ErrUnavailable), 503},
		{wrap(store.ErrClosed), 503},
		{errors.New("no such table"), 500},
		// A status an error states wins over what it wraps.
		{&Error{Status: 503, Msg: "reload failed", Err: store.ErrFull}, 503},
	} {
		if got := Status(c.err); got != c.want {
			t.Errorf("%v: %d, want %d", c.err, got, c.want)
		}
	}
}

func TestRepliesToA5xxNameTheRequestAndNotTheCause(t *testing.T) {
	cause := errors.New("open /var/lib/nines/nines.db: input/output error")
	for _, c := range []struct {
		err   error
		want  string
		retry time.Duration
	}{
		{fmt.Errorf("%w: %w", store.ErrFull, cause), "disk of nines' store is full", fullRetryAfter},
		{fmt.Errorf("%w: %w", store.ErrUnavailable, cause), "unavailable for now", defaultRetryAfter},
		{cause, "internal error", 0},
		{&Error{Status: 503, Msg: "reload failed, the previous SLOs stay in force", Err: cause, RetryAfter: time.Second}, "reload failed", time.Second},
		{page{http.StatusInsufficientStorage}, "there is no such page", fullRetryAfter},
	} {
		status, msg, retry := Reply(c.err, "abc123")
		if !strings.Contains(msg, c.want) || !strings.Contains(msg, "request id abc123") || strings.Contains(msg, "/var/lib") || retry != c.retry {
			t.Errorf("%v: %d %q, retry %s; want %q, the id, no cause, retry %s", c.err, status, msg, retry, c.want, c.retry)
		}
	}
	if _, msg, _ := Reply(BadRequest("window=%q: want a duration", "90s"), "abc123"); msg != `window="90s": want a duration` {
		t.Errorf("a 4xx says what was wrong, as it is: %q", msg)
	}
}

func TestOneRangeOfTimes(t *testing.T) {
	for _, c := range []struct {
		t  time.Time
		ok bool
	}{
		{time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{time.Date(2199, 12, 31, 23, 59, 59, 0, time.UTC), true},
		{time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), false},
		{time.Time{}, false},
		{time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), false},
	} {
		if err := CheckTime("at", c.t); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.t, err, c.ok)
		}
	}
}

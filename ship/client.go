package ship

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// outcome is how a request of a batch ended.
type outcome uint8

const (
	// stored: the server stored it now.
	stored outcome = iota
	// replayed: the server had stored it before (Idempotent-Replayed).
	replayed
	// conflict: the key was stored before with another body (422): the
	// lines were delivered, by an attempt made under other settings.
	conflict
	// refused: the server can never take this body (400, 413); retrying
	// would not help, so the batch is dropped and counted.
	refused
)

var outcomeNames = [...]string{"stored", "replayed", "conflict", "refused"}

func (o outcome) String() string { return outcomeNames[o] }

// poster sends requests to nines serve until they are answered for good:
// network errors, 5xx, 429 and 408 are retried with exponential backoff
// and jitter, waiting at least what Retry-After asks. Any other 4xx is
// final: 400 and 413 refuse the body (the batch is dropped and counted),
// 422 is a key stored under another body, and the rest (401, 403, 404,
// 415, …) come from settings a person must fix, so the shipper stops
// with a ServerRefusedError rather than retry for ever; the lines wait in
// the files and the state file until it is started again.
type poster struct {
	base      string
	tokenFile string
	hc        *http.Client
	timeout   time.Duration
	minWait   time.Duration
	maxWait   time.Duration
	log       *slog.Logger
	m         *metrics
	token     string
}

// maxRetryAfter bounds how long one Retry-After is obeyed.
const maxRetryAfter = 5 * time.Minute

// readToken (re)reads the bearer token, so that a rotated token is
// picked up after a 401.
func (p *poster) readToken() error {
	if p.tokenFile == "" {
		return nil
	}
	b, err := os.ReadFile(p.tokenFile)
	if err != nil {
		return fmt.Errorf("--token-file: %w", err)
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return fmt.Errorf("--token-file %s is empty", p.tokenFile)
	}
	p.token = t
	return nil
}

// answer is a final answer to a request.
type answer struct {
	outcome outcome
	status  int
	body    []byte
}

// ServerRefusedError is an answer no retry can change, caused by the
// shipper's or the server's settings: a wrong token (401, 403), an SLO
// the server does not have (404), a server that does not take the media
// type (415). Nothing is lost: the batch stays pending in the state file
// and is sent first when nines ship is started again.
type ServerRefusedError struct {
	URL     string
	Status  int
	Message string
}

func (e *ServerRefusedError) Error() string {
	hint := "fix the settings, then start nines ship again: it sends first the batch that was refused, under the same key"
	switch e.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		hint = "check --token-file against the server's tokens; " + hint
	case http.StatusNotFound:
		hint = "check --slo/--service and --server; " + hint
	}
	return fmt.Sprintf("the server answers %d to %s: %s; nines ship stopped, nothing was lost: %s",
		e.Status, e.URL, e.Message, hint)
}

// post sends r until it gets a final answer, or ctx ends. An answer that
// a person must act on is a *ServerRefusedError.
func (p *poster) post(ctx context.Context, r *request) (answer, error) {
	status, hdr, body, err := p.exchange(ctx, http.MethodPost, r, true)
	if err != nil {
		return answer{}, err
	}
	if status >= 400 && status != http.StatusBadRequest && status != http.StatusRequestEntityTooLarge &&
		status != http.StatusUnprocessableEntity {
		return answer{}, &ServerRefusedError{URL: p.base + r.path, Status: status, Message: errorMessage(body)}
	}
	a := answer{status: status, body: body}
	switch {
	case status >= 200 && status < 300:
		a.outcome = stored
		if strings.EqualFold(hdr.Get("Idempotent-Replayed"), "true") {
			a.outcome = replayed
		}
	case status == http.StatusUnprocessableEntity:
		a.outcome = conflict
	default:
		a.outcome = refused
	}
	return a, nil
}

// exchange makes a request until its answer is final: a 2xx or a 4xx
// but 408 and 429. Network errors, 5xx, 408 and 429 are retried with
// exponential backoff and jitter, waiting at least what Retry-After
// asks. With reauth, a 401 is tried once more after the token file is
// read again, since the token may have been rotated.
func (p *poster) exchange(ctx context.Context, method string, r *request, reauth bool) (int, http.Header, []byte, error) {
	wait := p.minWait
	for attempt := 1; ; attempt++ {
		status, hdr, body, err := p.once(ctx, method, r.path, r.contentType, r.key, r.body)
		if ctx.Err() != nil {
			return 0, nil, nil, ctx.Err()
		}
		p.m.request(status)
		var retryAfter time.Duration
		switch {
		case err != nil:
			p.log.Warn("nines ship: the server cannot be reached; retrying", "url", p.base+r.path, "attempt", attempt, "err", err)
		case status < 400, status == http.StatusBadRequest, status == http.StatusRequestEntityTooLarge,
			status == http.StatusUnprocessableEntity:
			return status, hdr, body, nil
		case retryable(status):
			retryAfter = parseRetryAfter(hdr.Get("Retry-After"), time.Now())
			p.log.Warn("nines ship: the server cannot take the request now; retrying", "url", p.base+r.path, "attempt", attempt,
				"status", status, "answer", errorMessage(body))
		case reauth && status == http.StatusUnauthorized:
			reauth = false
			old := p.token
			if err := p.readToken(); err != nil || p.token == old {
				return status, hdr, body, nil
			}
			p.log.Info("nines ship: the token file changed; trying again with the new token", "url", p.base+r.path)
			continue
		default:
			return status, hdr, body, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil, nil, ctx.Err()
		case <-time.After(max(jitter(wait), min(retryAfter, maxRetryAfter))):
		}
		wait = min(wait*2, p.maxWait)
	}
}

// retryable reports the statuses that pass by themselves.
func retryable(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// jitter spreads retries of many shippers over [d/2, d).
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// once makes one request; a status is returned only with a nil error.
func (p *poster) once(ctx context.Context, method, path, contentType, key string, body []byte) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	return resp.StatusCode, resp.Header, answer, nil
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date
// (RFC 9110 §10.2.3). Anything else is no wait.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(min(s, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// errorMessage returns the message of a nines error answer, or the
// start of the body.
func errorMessage(body []byte) string {
	var e struct {
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != nil {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// getJSON asks the server for path and decodes its 200 answer;
// transient failures are retried until ctx ends. A 404 wraps
// errNotFound.
func (p *poster) getJSON(ctx context.Context, path string, out any) error {
	status, _, body, err := p.exchange(ctx, http.MethodGet, &request{path: path}, false)
	switch {
	case err != nil:
		return err
	case status == http.StatusNotFound:
		return fmt.Errorf("%s%s: %w: %s", p.base, path, errNotFound, errorMessage(body))
	case status != http.StatusOK:
		return fmt.Errorf("%s%s: %d %s", p.base, path, status, errorMessage(body))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s%s answered %q: %w", p.base, path, errorMessage(body), err)
	}
	return nil
}

var errNotFound = errors.New("not found")

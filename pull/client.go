package pull

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
)

// Client queries one Prometheus-compatible API for raw samples. It is safe
// for concurrent use.
type Client struct {
	api  slo.PromAPI
	http *http.Client
	// Attempts is how many times a query is tried before it fails: a
	// timeout, a refused connection, 429 or a 5xx answer is tried again
	// after Backoff, doubled each time. A 4xx answer (a bad query, bad
	// credentials) fails at once: asking again would not change it.
	Attempts int
	Backoff  time.Duration
	// Timeout bounds one attempt.
	Timeout time.Duration
	// MaxBody bounds an answer's size, so a selector that matches far
	// more than meant fails with a message instead of exhausting memory.
	MaxBody int64
}

// Defaults of a Client.
const (
	DefaultAttempts = 3
	DefaultBackoff  = time.Second
	DefaultTimeout  = 30 * time.Second
	DefaultMaxBody  = 512 << 20
)

// NewClient returns a client for api; hc nil means a client of its own.
func NewClient(api slo.PromAPI, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	return &Client{api: api, http: hc, Attempts: DefaultAttempts, Backoff: DefaultBackoff, Timeout: DefaultTimeout, MaxBody: DefaultMaxBody}
}

// QueryError is a query that failed after its attempts: the selector, how
// many attempts were made and the last one's error.
type QueryError struct {
	Query    string
	Attempts int
	Err      error
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("query %s failed after %d attempt(s): %v", e.Query, e.Attempts, e.Err)
}

func (e *QueryError) Unwrap() error { return e.Err }

// errFinal marks an error that another attempt would not mend.
type errFinal struct{ error }

func (e errFinal) Unwrap() error { return e.error }

// Raw returns the raw samples of every series sel selects in the range
// (end−span, end], as nines' series model holds them. It asks for the
// range selector sel[span] evaluated at end, which Prometheus and the
// stores that share its API answer with the samples as stored: no rate,
// no step, no lookback, so nines reads counters by its own rules.
// Prometheus includes a sample at exactly end−span; the Collector reads
// it as the duplicate of the one it already has.
func (c *Client) Raw(ctx context.Context, sel string, span time.Duration, end time.Time) ([]metrics.Series, error) {
	if span < time.Millisecond {
		return nil, fmt.Errorf("range %v is under a millisecond", span)
	}
	q := fmt.Sprintf("%s[%dms]", sel, span.Milliseconds())
	// partial_response=false makes Thanos fail rather than answer without
	// a store; the others ignore it.
	form := url.Values{"query": {q}, "time": {formatTime(end)}, "partial_response": {"false"}}
	attempts := max(c.Attempts, 1)
	wait := c.Backoff
	var err error
	for i := 1; i <= attempts; i++ {
		var out []metrics.Series
		out, err = c.once(ctx, form)
		if err == nil {
			return out, nil
		}
		var final errFinal
		if errors.As(err, &final) || ctx.Err() != nil || i == attempts {
			return nil, &QueryError{Query: q, Attempts: i, Err: err}
		}
		select {
		case <-ctx.Done():
			return nil, &QueryError{Query: q, Attempts: i, Err: err}
		case <-time.After(wait):
		}
		wait *= 2
	}
	return nil, &QueryError{Query: q, Attempts: attempts, Err: err}
}

// formatTime writes t as the API takes it: Unix seconds with
// milliseconds.
func formatTime(t time.Time) string {
	ms := t.UnixMilli()
	sign := ""
	if ms < 0 {
		sign, ms = "-", -ms
	}
	return fmt.Sprintf("%s%d.%03d", sign, ms/1000, ms%1000)
}

func (c *Client) once(ctx context.Context, form url.Values) ([]metrics.Series, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.api.URL+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, errFinal{err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	for k, v := range c.api.Headers {
		req.Header.Set(k, v)
	}
	if err := c.authorize(req); err != nil {
		return nil, errFinal{err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("timed out after %v", c.Timeout)
		}
		return nil, err
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, errFinal{fmt.Errorf("the answer is over %d MiB; narrow the selector or shorten the query range", limit>>20)}
	}
	if resp.StatusCode/100 != 2 {
		msg := apiError(body)
		err := fmt.Errorf("%s: %s", resp.Status, msg)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			return nil, err
		}
		return nil, errFinal{err}
	}
	series, warnings, err := decode(body)
	if err != nil {
		return nil, errFinal{err}
	}
	if len(warnings) > 0 {
		// Thanos and Mimir warn when a store did not answer: the samples
		// are partial, and counting them would pass missing requests off
		// as an idle service. Asking again may find every store up.
		return nil, fmt.Errorf("a partial answer (warnings: %s)", strings.Join(warnings, "; "))
	}
	return series, nil
}

// authorize sets the Authorization header from the files the spec names.
// The files are read for every query, so a rotated token is used at once.
func (c *Client) authorize(req *http.Request) error {
	switch {
	case c.api.BearerTokenFile != "":
		b, err := os.ReadFile(c.api.BearerTokenFile)
		if err != nil {
			return fmt.Errorf("bearer token: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return fmt.Errorf("bearer token file %s is empty", c.api.BearerTokenFile)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	case c.api.BasicAuthUser != "":
		b, err := os.ReadFile(c.api.BasicAuthPasswordFile)
		if err != nil {
			return fmt.Errorf("basic auth password: %w", err)
		}
		req.SetBasicAuth(c.api.BasicAuthUser, strings.TrimRight(string(b), "\r\n"))
	}
	return nil
}

// apiError takes the message out of an error answer, or a short piece of
// the body when it is not the API's JSON.
func apiError(body []byte) string {
	var e struct {
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.ErrorType + ": " + e.Error
	}
	s := strings.TrimSpace(string(body))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "no body"
	}
	return strconv.Quote(s)
}

// answer is the API's envelope; the matrix's values are read by hand
// (readValues), which is several times faster than encoding/json on the
// millions of samples of a backfill.
type answer struct {
	Status   string   `json:"status"`
	Error    string   `json:"error"`
	Warnings []string `json:"warnings"`
	Data     struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric     map[string]string `json:"metric"`
			Values     json.RawMessage   `json:"values"`
			Histograms json.RawMessage   `json:"histograms"`
		} `json:"result"`
	} `json:"data"`
}

// ErrNativeHistogram is returned for a series of native histogram samples:
// the query API gives their buckets as bounds, not as the schema and spans
// that nines' counter rules read, so a pull source reads classic
// histograms (name_bucket series with an le label) only.
var ErrNativeHistogram = errors.New("the query API returned native histogram samples, which a pull source cannot read; expose the histogram's classic buckets (name_bucket with le), or send it by remote write")

func decode(body []byte) ([]metrics.Series, []string, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, nil, fmt.Errorf("not an API answer: %w", err)
	}
	if a.Status != "success" {
		return nil, nil, fmt.Errorf("status %q: %s", a.Status, a.Error)
	}
	if a.Data.ResultType != "matrix" {
		return nil, nil, fmt.Errorf("result type %q where a range selector gives a matrix", a.Data.ResultType)
	}
	out := make([]metrics.Series, 0, len(a.Data.Result))
	for _, r := range a.Data.Result {
		if len(r.Histograms) > 0 && !bytes.Equal(bytes.TrimSpace(r.Histograms), []byte("null")) {
			return nil, nil, ErrNativeHistogram
		}
		ls := make(metrics.Labels, 0, len(r.Metric))
		for k, v := range r.Metric {
			if v != "" {
				ls = append(ls, metrics.Label{Name: k, Value: v})
			}
		}
		slices.SortFunc(ls, func(a, b metrics.Label) int { return strings.Compare(a.Name, b.Name) })
		if err := ls.Validate(); err != nil {
			return nil, nil, fmt.Errorf("series %s: %w", ls.String(), err)
		}
		samples, err := readValues(r.Values)
		if err != nil {
			return nil, nil, fmt.Errorf("series %s: %w", ls.String(), err)
		}
		out = append(out, metrics.Series{Labels: ls, Samples: samples})
	}
	return out, a.Warnings, nil
}

// readValues reads [[1700000000.123,"42"],…]: a time in seconds with up to
// millisecond digits, and the value as a string (Go's float syntax, with
// "NaN", "+Inf" and "-Inf").
func readValues(b []byte) ([]metrics.Sample, error) {
	p := scanner{b: b}
	p.space()
	if p.lit("null") {
		return nil, nil
	}
	if !p.byte('[') {
		return nil, p.fail("want [ to open the values")
	}
	out := make([]metrics.Sample, 0, bytes.Count(b, []byte{']'}))
	if p.byte(']') {
		return out, nil
	}
	for {
		if !p.byte('[') {
			return nil, p.fail("want [ to open a sample")
		}
		t, err := p.millis()
		if err != nil {
			return nil, err
		}
		if !p.byte(',') || !p.byte('"') {
			return nil, p.fail(`want ,"VALUE" after a time`)
		}
		end := bytes.IndexByte(p.b[p.i:], '"')
		if end < 0 {
			return nil, p.fail("unterminated value")
		}
		v, err := strconv.ParseFloat(string(p.b[p.i:p.i+end]), 64)
		if err != nil {
			return nil, p.fail("value: " + err.Error())
		}
		p.i += end + 1
		if !p.byte(']') {
			return nil, p.fail("want ] to close a sample")
		}
		out = append(out, metrics.Sample{T: t, V: v})
		if p.byte(']') {
			break
		}
		if !p.byte(',') {
			return nil, p.fail("want , or ] after a sample")
		}
	}
	return out, nil
}

type scanner struct {
	b []byte
	i int
}

func (p *scanner) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *scanner) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

func (p *scanner) fail(msg string) error {
	return fmt.Errorf("values at byte %d: %s", p.i, msg)
}

// millis reads a time in seconds exactly as milliseconds: a float would
// round 1700000000.123 to …122.99.
func (p *scanner) millis() (int64, error) {
	p.space()
	start := p.i
	neg := p.i < len(p.b) && p.b[p.i] == '-'
	if neg {
		p.i++
	}
	var sec int64
	digits := 0
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		if sec > (math.MaxInt64/1000-9)/10 {
			return 0, p.fail("time out of range")
		}
		sec = sec*10 + int64(p.b[p.i]-'0')
		p.i++
		digits++
	}
	if digits == 0 {
		return 0, p.fail("want a time")
	}
	ms := sec * 1000
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		scale := int64(100)
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			if scale == 0 {
				if p.b[p.i] != '0' {
					return 0, fmt.Errorf("values at byte %d: time %s is finer than a millisecond", start, p.b[start:p.i+1])
				}
			} else {
				ms += int64(p.b[p.i]-'0') * scale
				scale /= 10
			}
			p.i++
		}
	}
	if neg {
		ms = -ms
	}
	return ms, nil
}

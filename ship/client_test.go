package ship

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// scripted is a server that answers each request with the next status of
// its script (the last one repeats); -1 closes the connection unanswered.
type scripted struct {
	mu      sync.Mutex
	script  []int
	header  http.Header
	times   []time.Time
	tokens  []string
	srv     *httptest.Server
	onFirst func()
}

func newScripted(t *testing.T, script ...int) *scripted {
	s := &scripted{script: script, header: http.Header{}}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.times)
		s.times = append(s.times, time.Now())
		s.tokens = append(s.tokens, r.Header.Get("Authorization"))
		status := s.script[min(n, len(s.script)-1)]
		s.mu.Unlock()
		if status < 0 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		w.Write([]byte(`{"error": {"status": 0, "message": "scripted"}}`))
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *scripted) attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.times)
}

func testPoster(url string, minWait, maxWait time.Duration) *poster {
	return &poster{base: url, hc: &http.Client{}, timeout: 5 * time.Second, minWait: minWait, maxWait: maxWait,
		log: slog.New(slog.DiscardHandler), m: newMetrics()}
}

func testRequest() *request {
	return &request{path: "/api/v1/events?slo=checkout", contentType: "application/x-ndjson", key: "k", body: []byte("{}\n")}
}

// TestPosterAnswers: which answers are retried, which are final, and
// which stop the shipper.
func TestPosterAnswers(t *testing.T) {
	cases := []struct {
		name     string
		script   []int
		outcome  outcome
		refused  int // want a ServerRefusedError with this status
		attempts int
	}{
		{"A 200 is stored at the first attempt.", []int{200}, stored, 0, 1},
		{"429, 500, 502, 503 and 504 are retried until the server takes the batch.", []int{429, 500, 502, 503, 504, 200}, stored, 0, 6},
		{"A connection closed without an answer is retried.", []int{-1, -1, 200}, stored, 0, 3},
		{"A 408 is retried.", []int{408, 200}, stored, 0, 2},
		{"A 400 refuses the body for good, without a retry.", []int{400, 200}, refused, 0, 1},
		{"A 413 refuses the body for good, without a retry.", []int{413, 200}, refused, 0, 1},
		{"A 422 is a key stored before under another body: delivered.", []int{422, 200}, conflict, 0, 1},
		{"A 401 with an unchanged token stops the shipper.", []int{401, 200}, 0, 401, 1},
		{"A 403 stops the shipper.", []int{403, 200}, 0, 403, 1},
		{"A 404 stops the shipper.", []int{404, 200}, 0, 404, 1},
		{"A 415 stops the shipper.", []int{415, 200}, 0, 415, 1},
		{"A 404 after retried 503s stops the shipper.", []int{503, 503, 404}, 0, 404, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newScripted(t, tc.script...)
			p := testPoster(s.srv.URL, time.Millisecond, 4*time.Millisecond)
			a, err := p.post(t.Context(), testRequest())
			if tc.refused != 0 {
				var re *ServerRefusedError
				if !errors.As(err, &re) || re.Status != tc.refused {
					t.Fatalf("post: %v, %v; want a ServerRefusedError with status %d", a, err, tc.refused)
				}
				if !strings.Contains(err.Error(), "nothing was lost") || !strings.Contains(err.Error(), "scripted") {
					t.Errorf("the error should say the server's message and that nothing was lost: %v", err)
				}
			} else if err != nil || a.outcome != tc.outcome {
				t.Fatalf("post: %v, %v; want outcome %v", a.outcome, err, tc.outcome)
			}
			if got := s.attempts(); got != tc.attempts {
				t.Errorf("%d attempts, want %d", got, tc.attempts)
			}
		})
	}
}

// TestPosterHonoursRetryAfter: a 503 or 429 with Retry-After is not
// tried again sooner, whatever the backoff says.
func TestPosterHonoursRetryAfter(t *testing.T) {
	for _, status := range []int{429, 503} {
		t.Run(http.StatusText(status)+" waits the second it asks for.", func(t *testing.T) {
			s := newScripted(t, status, 200)
			s.header.Set("Retry-After", "1")
			p := testPoster(s.srv.URL, time.Millisecond, 2*time.Millisecond)
			if _, err := p.post(t.Context(), testRequest()); err != nil {
				t.Fatal(err)
			}
			if gap := s.times[1].Sub(s.times[0]); gap < time.Second {
				t.Errorf("retried after %s, want at least the 1s of Retry-After", gap)
			}
		})
	}
}

// TestPosterBacksOff: the waits between retries double up to the
// longest, so a server that cannot take the load is not hammered.
func TestPosterBacksOff(t *testing.T) {
	s := newScripted(t, 503, 503, 503, 503, 503, 200)
	p := testPoster(s.srv.URL, 20*time.Millisecond, 80*time.Millisecond)
	if _, err := p.post(t.Context(), testRequest()); err != nil {
		t.Fatal(err)
	}
	// Jitter waits [d/2, d): at least 10, 20, 40, 40 and 40 ms.
	floors := []time.Duration{10, 20, 40, 40, 40}
	for i, f := range floors {
		if gap := s.times[i+1].Sub(s.times[i]); gap < f*time.Millisecond {
			t.Errorf("wait %d was %s, want at least %dms", i+1, gap, f)
		}
	}
	if total := s.times[5].Sub(s.times[0]); total > 2*time.Second {
		t.Errorf("retries took %s: the backoff should stop growing at 80ms", total)
	}
}

// TestPosterRereadsTheToken: after a 401 the token file is read again,
// and a rotated token is used at once.
func TestPosterRereadsTheToken(t *testing.T) {
	s := newScripted(t, 401, 200)
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("old\n"), 0o600)
	p := testPoster(s.srv.URL, time.Millisecond, 2*time.Millisecond)
	p.tokenFile = tok
	if err := p.readToken(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tok, []byte("new\n"), 0o600)
	a, err := p.post(t.Context(), testRequest())
	if err != nil || a.outcome != stored {
		t.Fatalf("post: %v, %v", a, err)
	}
	if want := []string{"Bearer old", "Bearer new"}; strings.Join(s.tokens, ",") != strings.Join(want, ",") {
		t.Errorf("tokens sent %v, want %v", s.tokens, want)
	}
}

// TestPosterStopsWithItsContext: a shipper told to stop does not wait
// out a retry.
func TestPosterStopsWithItsContext(t *testing.T) {
	s := newScripted(t, 503)
	s.header.Set("Retry-After", "60")
	p := testPoster(s.srv.URL, time.Millisecond, 2*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := p.post(ctx, testRequest()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("post: %v, want the context's error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("post returned after %s", d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name, v string
		want    time.Duration
	}{
		{"Seconds are read.", "3", 3 * time.Second},
		{"An HTTP date is read as the time until then.", "Mon, 07 Dec 2026 10:00:30 GMT", 30 * time.Second},
		{"A date in the past is no wait.", "Mon, 07 Dec 2026 09:00:00 GMT", 0},
		{"A negative number is no wait.", "-5", 0},
		{"Garbage is no wait.", "soon", 0},
		{"Nothing is no wait.", "", 0},
		{"A huge wait is cut to five minutes.", "86400", maxRetryAfter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseRetryAfter(tc.v, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.v, got, tc.want)
			}
		})
	}
}

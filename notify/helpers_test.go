package notify

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// clock is a settable clock for the dispatcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// receiver is an HTTP endpoint that records what it gets and answers
// with the statuses of answer in turn (the last one repeating; 200 when
// empty).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	bodies  [][]byte
	paths   []string
	headers []http.Header
	answer  []int
	retry   string // Retry-After to send with non-2xx answers
	hang    chan struct{}
}

func newReceiver(t *testing.T, answer ...int) *receiver {
	r := &receiver{answer: answer, hang: make(chan struct{})}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.paths = append(r.paths, req.URL.Path)
		r.headers = append(r.headers, req.Header.Clone())
		status := 200
		if len(r.answer) > 0 {
			status = r.answer[0]
			if len(r.answer) > 1 {
				r.answer = r.answer[1:]
			}
		}
		retry := r.retry
		r.mu.Unlock()
		if status == 0 { // hang until the client gives up
			select {
			case <-req.Context().Done():
			case <-r.hang:
			}
			return
		}
		if status >= 300 && retry != "" {
			w.Header().Set("Retry-After", retry)
		}
		w.WriteHeader(status)
		io.WriteString(w, `{"status":"x"}`)
	}))
	t.Cleanup(func() { close(r.hang); r.Close() })
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// body decodes the i-th request body into out.
func (r *receiver) body(t *testing.T, i int, out any) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if i >= len(r.bodies) {
		t.Fatalf("request %d: only %d received", i, len(r.bodies))
	}
	if err := json.Unmarshal(r.bodies[i], out); err != nil {
		t.Fatalf("request %d: %v in %s", i, err, r.bodies[i])
	}
}

var checkout = &slo.SLO{Name: "checkout-availability", Service: "checkout", Owner: "team-shop", Description: "Checkout answers",
	Labels: map[string]string{"team": "payments", "tier": "1", "severity": "ignored", "k8s.io/zone": "eu"}}

var cart = &slo.SLO{Name: "cart-latency", Service: "checkout", Labels: map[string]string{"team": "payments"}}

func fire(at time.Time) alert.Transition {
	return alert.Transition{Alert: "page-fast", Severity: alert.Page, Kind: alert.Fire, At: at, Since: at, Factor: 14.4,
		Long: time.Hour, Short: 5 * time.Minute, BurnLong: 16.7, BurnShort: 200, Attempted: 1200, BudgetRemaining: 0.8,
		TimeToExhaustion: 36 * time.Hour, Reason: "burning 16.7× the budget over 1h (14.4× pages), 200× over 5m"}
}

func resolve(at, since time.Time) alert.Transition {
	tr := fire(at)
	tr.Kind, tr.Since, tr.BudgetRemaining, tr.TimeToExhaustion = alert.Resolve, since, 0, alert.NoExhaustion
	tr.Reason = "burn back under 14.4× over 1h"
	return tr
}

// config parses a notify.yaml text; %URL% is replaced by url.
func config(t *testing.T, text, url string) *Config {
	t.Helper()
	cfg, err := ParseConfig("test.yaml", []byte(strings.ReplaceAll(text, "%URL%", url)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newDispatcher(t *testing.T, cfg *Config, c *clock, st State) *Dispatcher {
	return New(cfg, Options{State: st, Now: c.Now, Rand: rand.New(rand.NewPCG(1, 2)), MinBackoff: time.Second, MaxBackoff: time.Minute})
}

func openStore(t *testing.T, dir string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// metric returns the value of the line of WriteMetrics starting with
// prefix and a space, or "".
func metric(d *Dispatcher, prefix string) string {
	var b strings.Builder
	d.WriteMetrics(&b)
	for line := range strings.SplitSeq(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, prefix+" "); ok {
			return v
		}
	}
	return ""
}

package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestARebindingPageCannotRead: a page whose name was pointed at nines is
// same-origin with it in the browser; the Host it sends is its own name,
// which nines does not answer to, for reads as for writes. IP addresses,
// localhost and the configured names are answered; /healthz answers
// any name.
func TestARebindingPageCannotRead(t *testing.T) {
	f := newFixture(t, "")
	s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, Hosts: []string{"nines.example.com", "Ops.Example.Com:8443"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host, path string
		status     int
	}{
		{"attacker.example:9797", "/api/v1/slos", 421},
		{"attacker.example", "/metrics", 421},
		{"nines.example.com.attacker.example", "/api/v1/slos", 421},
		{"attacker.example", "/healthz", 200},
		{"127.0.0.1:9797", "/api/v1/slos", 200},
		{"[::1]:9797", "/api/v1/slos", 200},
		{"10.1.2.3", "/api/v1/slos", 200},
		{"localhost:9797", "/api/v1/slos", 200},
		{"app.localhost", "/api/v1/slos", 200},
		{"NINES.example.com:9797", "/api/v1/slos", 200},
		{"ops.example.com.", "/api/v1/slos", 200},
	} {
		req := httptest.NewRequest("GET", c.path, nil)
		req.Host = c.host
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != c.status {
			t.Errorf("GET %s with Host %s: %d, want %d: %s", c.path, c.host, rec.Code, c.status, rec.Body)
		}
		if c.status == 421 && !strings.Contains(rec.Body.String(), "--web.external-host") {
			t.Errorf("the refusal does not say how to allow a name: %s", rec.Body)
		}
	}
	if _, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, Hosts: []string{"http://nines.example.com/"}}); err == nil {
		t.Error("a URL is taken as a host name")
	}
}

// TestTheUIsOwnFormStillPosts: the freeze form of an SLO page posts as a
// form (application/x-www-form-urlencoded) from nines' own origin, and
// must keep working through the server's guard; from another site it is
// refused.
func TestTheUIsOwnFormStillPosts(t *testing.T) {
	f := newFixture(t, "")
	var posted int
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { posted++; w.WriteHeader(http.StatusSeeOther) })
	s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, UI: ui})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	post := func(header map[string]string) int {
		req, _ := http.NewRequest("POST", hs.URL+"/slos/checkout-availability/freeze?range=6h", strings.NewReader(""))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(map[string]string{"Origin": hs.URL, "Sec-Fetch-Site": "same-origin"}); got != http.StatusSeeOther || posted != 1 {
		t.Errorf("the page's own form: %d, want 303", got)
	}
	if got := post(map[string]string{"Origin": hs.URL}); got != http.StatusSeeOther || posted != 2 {
		t.Errorf("the page's own form from a browser without Sec-Fetch-Site: %d, want 303", got)
	}
	if got := post(map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); got != http.StatusForbidden || posted != 2 {
		t.Errorf("another site's form: %d, want 403", got)
	}
}

// TestBearerIsCaseInsensitive: RFC 6750 bearer tokens, with the scheme in
// any case (RFC 9110 §11.1).
func TestBearerIsCaseInsensitive(t *testing.T) {
	f := newFixture(t, "s3cret")
	for _, c := range []struct {
		auth   string
		status int
	}{
		{"Bearer s3cret", 200}, {"bearer s3cret", 200}, {"BEARER s3cret", 200}, {"Bearer  s3cret", 200},
		{"Bearer S3CRET", 401}, {"Basic s3cret", 401}, {"s3cret", 401}, {"Bearer", 401}, {"Bearer s3cret2", 401},
	} {
		status, _, body := f.roundTrip("POST", "/api/v1/annotations", `{"title": "v1"}`, map[string]string{"Authorization": c.auth})
		if status != c.status {
			t.Errorf("Authorization: %s: %d, want %d: %s", c.auth, status, c.status, body)
		}
	}
}

// failingStore fails the writes of annotations with err, as a full disk
// or a store that cannot be reached would.
type failingStore struct {
	*sqlite.DB
	err error
}

func (s failingStore) AddAnnotation(ctx context.Context, a store.Annotation) (int64, error) {
	return 0, fmt.Errorf("sqlite: insert into annotations (/var/lib/nines/nines.db): %w", s.err)
}

// TestFailuresOfTheStoreAnswer507And503: a full disk is a 507 and a store
// that cannot serve for now a 503, both with Retry-After; any other
// failure a 500. Each answer names a request id and none of the cause, which is in
// the log under that id.
func TestFailuresOfTheStoreAnswer507And503(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		msg    string
		retry  bool
	}{
		{fmt.Errorf("database or disk is full: %w", store.ErrFull), 507, "disk of nines' store is full", true},
		{fmt.Errorf("disk I/O error: %w", store.ErrUnavailable), 503, "unavailable for now", true},
		{errors.New("no such table: annotations"), 500, "internal error", false},
	} {
		t.Run(http.StatusText(c.status), func(t *testing.T) {
			f := newFixture(t, "")
			var log bytes.Buffer
			var mu sync.Mutex
			logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))
			fs := failingStore{f.db, c.err}
			eng, err := engine.New(context.Background(), engine.Config{Store: fs, Now: f.clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := eng.Load(context.Background(), map[string][]byte{"checkout.yaml": []byte(testSpec)}); err != nil {
				t.Fatal(err)
			}
			s, err := New(Config{SLOs: eng, Writes: eng, Annotations: fs, Size: fs, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			hs := httptest.NewServer(s)
			defer hs.Close()
			resp, err := http.Post(hs.URL+"/api/v1/annotations", "application/json", strings.NewReader(`{"title": "v1"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			id := resp.Header.Get("X-Request-Id")
			switch {
			case resp.StatusCode != c.status || !strings.Contains(string(b), c.msg):
				t.Errorf("answer %d %s; want %d saying %q", resp.StatusCode, b, c.status, c.msg)
			case id == "" || !strings.Contains(string(b), `"request_id": "`+id+`"`) || !strings.Contains(string(b), "request id "+id):
				t.Errorf("the answer does not name its request id %q: %s", id, b)
			case strings.Contains(string(b), "/var/lib") || strings.Contains(string(b), "sqlite"):
				t.Errorf("the answer tells the client the cause: %s", b)
			case (resp.Header.Get("Retry-After") != "") != c.retry:
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			mu.Lock()
			logged := log.String()
			mu.Unlock()
			if !strings.Contains(logged, "request_id="+id) || !strings.Contains(logged, "/var/lib/nines/nines.db") || !strings.Contains(logged, "level=ERROR") {
				t.Errorf("the log does not hold the cause under the request id %s:\n%s", id, logged)
			}
		})
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestBodiesInMemoryAreBounded: past the server-wide budget of bodies
// held at once, a write gets 503 with Retry-After, and goes through once
// the bodies before it are done.
func TestBodiesInMemoryAreBounded(t *testing.T) {
	f := newFixture(t, "")
	s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, MaxBody: 1 << 20, MaxBodyMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	// A slow sender holds most of the 1 MiB budget: what it has sent so
	// far, 700 KiB of its 768.
	body := `[` + strings.Repeat(" ", 768<<10) + `{"time": "2026-11-25T09:59:10Z", "status": 200}]`
	pr, pw := io.Pipe()
	slow, _ := http.NewRequest("POST", hs.URL+"/api/v1/events?slo=checkout-availability", pr)
	slow.ContentLength = int64(len(body))
	slow.Header.Set("Content-Type", "application/json")
	done := make(chan int)
	go func() {
		resp, err := http.DefaultClient.Do(slow)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	io.WriteString(pw, body[:700<<10])
	for deadline := time.Now().Add(5 * time.Second); s.bodies.used.Load() < 700<<10; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the slow sender's 700 KiB were not charged: %d bytes held", s.bodies.used.Load())
		}
	}
	// Another body of 512 KiB does not fit beside it.
	other := `[` + strings.Repeat(" ", 512<<10) + `{"time": "2026-11-25T09:59:20Z", "status": 200}]`
	resp, err := http.Post(hs.URL+"/api/v1/events?slo=checkout-availability", "application/json", strings.NewReader(other))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.Contains(string(answer), "--web.max-body-memory") {
		t.Errorf("a body past the budget: %d, Retry-After %q: %s", resp.StatusCode, resp.Header.Get("Retry-After"), answer)
	}
	io.WriteString(pw, body[700<<10:])
	pw.Close()
	if got := <-done; got != 200 {
		t.Errorf("the slow sender: %d", got)
	}
	// The budget is given back when a request ends.
	resp, err = http.Post(hs.URL+"/api/v1/events?slo=checkout-availability", "application/json", strings.NewReader(other))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the slow sender is done: %d", resp.StatusCode)
	}
	if _, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Size: f.db, MaxBody: 2 << 20, MaxBodyMemory: 1 << 20}); err == nil {
		t.Error("a budget smaller than one body is taken")
	}
}

// TestListsSkipSLOsAReloadRemoved: /metrics, the SLO list and the alert
// list read each SLO after listing them; one removed by a reload in
// between is left out, not a 404 of the whole list.
func TestListsSkipSLOsAReloadRemoved(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	one := testSpec[:strings.Index(testSpec, "---")]
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			spec := testSpec
			if i%2 == 0 {
				spec = one
			}
			if _, err := f.eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(spec)}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for i := range 300 {
		for _, path := range []string{"/metrics", "/api/v1/slos", "/api/v1/alerts"} {
			if status, _, body := f.roundTrip("GET", path, "", nil); status != 200 {
				t.Fatalf("GET %s during reloads (try %d): %d %s", path, i, status, body)
			}
		}
	}
}

// TestPartsLeftOut: the server refuses to start without a part every
// request needs, and a feature whose part is left out is off (404) rather
// than made up from what the store happens to implement.
func TestPartsLeftOut(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"Without an SLO reader the server does not start.", Config{Writes: f.eng, Annotations: f.db}},
		{"Without a writer the server does not start.", Config{SLOs: f.eng, Annotations: f.db}},
		{"Without an annotation store the server does not start.", Config{SLOs: f.eng, Writes: f.eng}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), "required") {
				t.Errorf("New = %v, want an error naming what is required", err)
			}
		})
	}
	s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	for _, c := range []struct{ name, method, path, body, want string }{
		{"Without an incident service incidents are not listed.", "GET", "/api/v1/incidents", "", "incidents are not enabled"},
		{"Without an incident service no incident is opened.", "POST", "/api/v1/incidents", `{"title": "x"}`, "incidents are not enabled"},
		{"Without an incident service Alertmanager opens none.", "POST", "/api/v1/alertmanager", `{}`, "incidents are not enabled"},
		{"Without a notifier silences are not listed.", "GET", "/api/v1/silences", "", "notifications are not enabled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			off := &fixture{t: t, srv: srv}
			if body := off.do(c.method, c.path, c.body, nil, http.StatusNotFound, nil); !strings.Contains(body, c.want) {
				t.Errorf("%s %s = %s, want it to say %q", c.method, c.path, body, c.want)
			}
		})
	}
	if body := (&fixture{t: t, srv: srv}).do("GET", "/metrics", "", nil, http.StatusOK, nil); strings.Contains(body, "nines_store_size_bytes") || !strings.Contains(body, "nines_slos ") {
		t.Errorf("/metrics without a sizer, want the SLO figures and no store size:\n%s", body)
	}
}

package chaos

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"
)

// arrivals is an upstream that notes the order requests reach it.
type arrivals struct {
	mu    sync.Mutex
	paths []string
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.paths = append(a.paths, r.URL.Path)
	a.mu.Unlock()
	io.WriteString(w, "ok")
}

func (a *arrivals) seen() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.paths)
}

// opsRig is a proxy with the pieces of cfg set, in front of up.
func opsRig(t *testing.T, up http.Handler, cfg Config) (*Proxy, *httptest.Server) {
	t.Helper()
	us := httptest.NewServer(up)
	t.Cleanup(us.Close)
	cfg.Upstream, _ = url.Parse(us.URL)
	cfg.Assigner = Assigner{Key: KeySource{Header: "X-User"}, Salt: "s", Share: 0.1}
	if cfg.Recorder == nil {
		cfg.Recorder = &outcomes{}
	}
	p, err := NewProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

func newPauser(t *testing.T, cfg PauseConfig) *Pauser {
	t.Helper()
	ps, err := NewPauser(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// waitQueued waits until n requests are held.
func waitQueued(t *testing.T, ps *Pauser, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ps.Status().Queued != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests held, want %d", ps.Status().Queued, n)
		}
		time.Sleep(time.Millisecond)
	}
}

type answer struct {
	code       int
	retryAfter string
	err        error
}

// send gets path in the background; the answer arrives on the channel.
func send(ctx context.Context, url string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			ch <- answer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ch <- answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	}()
	return ch
}

func TestPauseHoldsRequestsAndReleasesThemInOrder(t *testing.T) {
	up := &arrivals{}
	// 20 a second: each released request has 50 ms to reach the
	// upstream before the next, even on a loaded machine.
	ps := newPauser(t, PauseConfig{Queue: 10, MaxHold: 10 * time.Second, ReleaseRate: 20})
	_, srv := opsRig(t, up, Config{Pauser: ps})
	ps.Pause()
	var answers []<-chan answer
	var want []string
	for i := range 5 {
		path := fmt.Sprintf("/r%d", i)
		want = append(want, path)
		answers = append(answers, send(t.Context(), srv.URL+path))
		waitQueued(t, ps, i+1) // arrival order is the order sent
	}
	time.Sleep(50 * time.Millisecond)
	if got := up.seen(); len(got) != 0 {
		t.Fatalf("the upstream saw %v while paused", got)
	}
	start := time.Now()
	ps.Resume()
	// A request arriving while the queue drains joins its end.
	answers = append(answers, send(t.Context(), srv.URL+"/late"))
	want = append(want, "/late")
	for _, ch := range answers {
		if a := <-ch; a.err != nil || a.code != 200 {
			t.Fatalf("answer %+v, want 200", a)
		}
	}
	if got := up.seen(); !slices.Equal(got, want) {
		t.Errorf("upstream order %v, want %v", got, want)
	}
	// Five released at 20 a second take at least four gaps of 50 ms.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("the queue drained in %s, faster than its release rate allows", d)
	}
	if st := ps.Status(); st.Queued != 0 || st.Held != 6 && st.Held != 5 || st.Paused {
		t.Errorf("status after the drain %+v", st)
	}
}

func TestPauseRefusals(t *testing.T) {
	t.Run("Past the queue size a request is answered 503 with Retry-After at once.", func(t *testing.T) {
		ps := newPauser(t, PauseConfig{Queue: 2, MaxHold: 3 * time.Second, ReleaseRate: 1000})
		_, srv := opsRig(t, okHandler, Config{Pauser: ps})
		ps.Pause()
		a, b := send(t.Context(), srv.URL+"/a"), send(t.Context(), srv.URL+"/b")
		waitQueued(t, ps, 2)
		if got := <-send(t.Context(), srv.URL+"/c"); got.code != 503 || got.retryAfter != "3" {
			t.Errorf("third request: %+v, want 503 with Retry-After 3", got)
		}
		ps.Resume()
		if x, y := <-a, <-b; x.code != 200 || y.code != 200 {
			t.Errorf("held requests answered %+v %+v", x, y)
		}
		if st := ps.Status(); st.Full != 1 {
			t.Errorf("status %+v, want one refused for a full queue", st)
		}
	})
	t.Run("Past the maximum hold a request is answered 503 and leaves the queue.", func(t *testing.T) {
		ps := newPauser(t, PauseConfig{Queue: 5, MaxHold: 100 * time.Millisecond, ReleaseRate: 1000})
		_, srv := opsRig(t, okHandler, Config{Pauser: ps})
		ps.Pause()
		start := time.Now()
		got := <-send(t.Context(), srv.URL+"/a")
		if got.code != 503 || got.retryAfter != "1" || time.Since(start) < 100*time.Millisecond {
			t.Errorf("%+v after %s, want 503 with Retry-After 1 after 100ms", got, time.Since(start))
		}
		if st := ps.Status(); st.Queued != 0 || st.Expired != 1 {
			t.Errorf("status %+v, want an empty queue and one expired", st)
		}
	})
	t.Run("A request whose client leaves is dropped from the queue and never sent upstream.", func(t *testing.T) {
		up := &arrivals{}
		ps := newPauser(t, PauseConfig{Queue: 5, MaxHold: 10 * time.Second, ReleaseRate: 1000})
		_, srv := opsRig(t, up, Config{Pauser: ps})
		ps.Pause()
		ctx, cancel := context.WithCancel(t.Context())
		gone := send(ctx, srv.URL+"/gone")
		kept := send(t.Context(), srv.URL+"/kept")
		waitQueued(t, ps, 2)
		cancel()
		<-gone
		waitQueued(t, ps, 1)
		ps.Resume()
		if a := <-kept; a.code != 200 {
			t.Errorf("the other held request: %+v", a)
		}
		if got := up.seen(); !slices.Equal(got, []string{"/kept"}) {
			t.Errorf("upstream saw %v, want only /kept", got)
		}
		if st := ps.Status(); st.Left != 1 || st.Queued != 0 {
			t.Errorf("status %+v, want one client left and an empty queue", st)
		}
	})
}

func TestPauseUnderLoadLosesNothing(t *testing.T) {
	up := &arrivals{}
	ps := newPauser(t, PauseConfig{Queue: 10_000, MaxHold: 20 * time.Second, ReleaseRate: 5000})
	_, srv := opsRig(t, up, Config{Pauser: ps})
	const clients, each = 16, 40
	var wg sync.WaitGroup
	codes := make(chan int, clients*each)
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				a := <-send(t.Context(), fmt.Sprintf("%s/c%d/%d", srv.URL, c, i))
				codes <- a.code
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for toggles := 0; ; toggles++ {
		select {
		case <-done:
			ps.Resume()
			close(codes)
			for c := range codes {
				if c != 200 {
					t.Fatalf("a request answered %d; with a large queue and a long hold none should be refused", c)
				}
			}
			if n := len(up.seen()); n != clients*each {
				t.Errorf("upstream saw %d requests, want %d", n, clients*each)
			}
			if st := ps.Status(); st.Queued != 0 || st.Held == 0 {
				t.Errorf("status %+v after %d toggles, want an empty queue and some held", st, toggles)
			}
			return
		case <-time.After(3 * time.Millisecond):
			if toggles%2 == 0 {
				ps.Pause()
			} else {
				ps.Resume()
			}
		}
	}
}

func TestPausedTimeIsCounted(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	ps, err := NewPauser(PauseConfig{Queue: 1, MaxHold: time.Second, ReleaseRate: 1}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	ps.Pause()
	now = now.Add(3 * time.Second)
	ps.Pause() // again: changes nothing
	if s := ps.Status(); !s.Paused || s.PausedSeconds != 3 {
		t.Errorf("while paused: %+v, want 3 s", s)
	}
	ps.Resume()
	now = now.Add(5 * time.Second)
	ps.Resume()
	if s := ps.Status(); s.Paused || s.PausedSeconds != 3 {
		t.Errorf("after resume: %+v, want 3 s", s)
	}
}

func TestPauseConfigRefusesBadBounds(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PauseConfig
	}{
		{"A queue of zero holds nothing.", PauseConfig{Queue: 0, MaxHold: time.Second, ReleaseRate: 1}},
		{"A hold of zero holds nothing.", PauseConfig{Queue: 1, MaxHold: 0, ReleaseRate: 1}},
		{"A hold over an hour is refused.", PauseConfig{Queue: 1, MaxHold: 2 * time.Hour, ReleaseRate: 1}},
		{"A release rate of zero never releases.", PauseConfig{Queue: 1, MaxHold: time.Second}},
		{"A NaN release rate is refused.", PauseConfig{Queue: 1, MaxHold: time.Second, ReleaseRate: nan()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPauser(tc.cfg, nil); err == nil {
				t.Errorf("%+v accepted", tc.cfg)
			}
		})
	}
}

func nan() float64 { return math.NaN() }

// TestReleaseKeepsItsRate holds the drain to its rate; the order of
// release is held end to end by TestPauseHoldsRequestsAndReleasesThemInOrder,
// at a rate whose gaps outlast a goroutine's wake-up.
func TestReleaseKeepsItsRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		rate float64
	}{
		{"300 held requests at 1,000 a second leave over 0.3 s.", 300, 1000},
		{"1,000 held requests at 10,000 a second leave over 0.1 s.", 1000, 10_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := newPauser(t, PauseConfig{Queue: tc.n, MaxHold: time.Minute, ReleaseRate: tc.rate})
			ps.Pause()
			var wg sync.WaitGroup
			for i := range tc.n {
				wg.Go(func() {
					if err := ps.Wait(httptest.NewRequest("GET", "/", nil)); err != nil {
						t.Error(err)
					}
				})
				waitQueued(t, ps, i+1)
			}
			start := time.Now()
			ps.Resume()
			wg.Wait()
			took := time.Since(start)
			want := time.Duration(float64(tc.n-1) / tc.rate * float64(time.Second))
			t.Logf("%d released at %g/s in %s (%.0f/s)", tc.n, tc.rate, took, float64(tc.n)/took.Seconds())
			if took < want*9/10 {
				t.Errorf("released in %s, faster than the rate allows (%s)", took, want)
			}
			if took > want*3+time.Second {
				t.Errorf("released in %s, far slower than the rate (%s)", took, want)
			}
		})
	}
}

package chaos

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCohortsAreStickyEqualAndSmall(t *testing.T) {
	a := Assigner{Key: KeySource{Header: "X-User"}, Salt: "run-1", Share: 0.01}
	b := a // another proxy replica of the same run
	other := Assigner{Key: a.Key, Salt: "run-2", Share: 0.01}
	const n = 200_000
	counts := map[Cohort]int{}
	both := 0
	for i := range n {
		k := fmt.Sprintf("user-%d", i)
		c := a.AssignKey(k)
		if b.AssignKey(k) != c {
			t.Fatalf("key %s: %s on one replica, %s on another", k, c, b.AssignKey(k))
		}
		counts[c]++
		if c == Experiment && other.AssignKey(k) == Experiment {
			both++
		}
	}
	for _, c := range []Cohort{Control, Experiment} {
		want, sd := n*0.01, math.Sqrt(n*0.01*0.99)
		if got := float64(counts[c]); math.Abs(got-want) > 4*sd {
			t.Errorf("%s: %d keys of %d, want %.0f ± %.0f", c, counts[c], n, want, 4*sd)
		}
	}
	// Another run's salt draws another experiment cohort: the overlap is
	// what chance gives, share² of the keys.
	if want := n * 0.01 * 0.01; math.Abs(float64(both)-want) > 4*math.Sqrt(want)+1 {
		t.Errorf("%d keys in the experiment cohort of both runs, want about %.0f", both, want)
	}
}

func TestAssignerRefusesBadCohorts(t *testing.T) {
	for _, a := range []Assigner{
		{Key: KeySource{}, Share: 0.01},
		{Key: KeySource{Header: "X", Cookie: "c"}, Share: 0.01},
		{Key: KeySource{Header: "X"}, Share: 0.6},
		{Key: KeySource{Header: "X"}, Share: 0},
	} {
		if err := a.Check(); err == nil {
			t.Errorf("%+v accepted", a)
		}
	}
}

// outcomes records what the proxy saw.
type outcomes struct {
	mu  sync.Mutex
	all []Outcome
}

func (o *outcomes) Record(x Outcome) {
	o.mu.Lock()
	o.all = append(o.all, x)
	o.mu.Unlock()
}

func (o *outcomes) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.all)
}

// waitFor waits until n outcomes are recorded: the client may have its
// answer a moment before the proxy records it.
func (o *outcomes) waitFor(n int) {
	for deadline := time.Now().Add(5 * time.Second); o.len() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

func (o *outcomes) snapshot() []Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Outcome(nil), o.all...)
}

func (o *outcomes) last() Outcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.all[len(o.all)-1]
}

// keyOf finds a key of cohort c.
func keyOf(t *testing.T, a Assigner, c Cohort) string {
	for i := range 100_000 {
		if k := fmt.Sprintf("k%d", i); a.AssignKey(k) == c {
			return k
		}
	}
	t.Fatalf("no key in %s", c)
	return ""
}

type proxyRig struct {
	t        *testing.T
	a        Assigner
	rec      *outcomes
	srv      *httptest.Server
	inject   bool
	ctl, exp string
}

func newRig(t *testing.T, upstream http.Handler, faults ...*Fault) *proxyRig {
	up := httptest.NewServer(upstream)
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	rig := &proxyRig{t: t, a: Assigner{Key: KeySource{Header: "X-User"}, Salt: "s", Share: 0.1}, rec: &outcomes{}, inject: true}
	p, err := NewProxy(Config{Upstream: u, Assigner: rig.a, Faults: faults, Recorder: rig.rec, Injecting: func() bool { return rig.inject }})
	if err != nil {
		t.Fatal(err)
	}
	rig.srv = httptest.NewServer(p)
	t.Cleanup(rig.srv.Close)
	rig.ctl, rig.exp = keyOf(t, rig.a, Control), keyOf(t, rig.a, Experiment)
	return rig
}

// get sends a request as user and returns the status (0 for a broken
// connection) and the body.
func (r *proxyRig) get(method, path, user string, hdr ...string) (int, string) {
	before := r.rec.len()
	defer func() { r.rec.waitFor(before + 1) }()
	req, _ := http.NewRequest(method, r.srv.URL+path, nil)
	if user != "" {
		req.Header.Set("X-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok "+r.URL.Path) })

func TestFaultsReachTheExperimentCohortOnly(t *testing.T) {
	rig := newRig(t, okHandler, &Fault{Name: "boom", Percentage: 100, Abort: &Abort{Status: 503}, Match: Match{Routes: []string{"/pay"}, Methods: []string{"POST"}}})
	for _, tc := range []struct {
		name         string
		method, path string
		user         string
		inject       bool
		status       int
		cohort       Cohort
		fault        string
	}{
		{"The experiment cohort gets the fault.", "POST", "/pay/1", rig.exp, true, 503, Experiment, "boom"},
		{"The control cohort passes.", "POST", "/pay/1", rig.ctl, true, 200, Control, ""},
		{"A request without a key is outside, passes and is counted.", "POST", "/pay/1", "", true, 200, Outside, ""},
		{"Another route passes.", "POST", "/cart", rig.exp, true, 200, Experiment, ""},
		{"Another method passes.", "GET", "/pay/1", rig.exp, true, 200, Experiment, ""},
		{"While not injecting (run stopped, control plane lost) nothing is faulted.", "POST", "/pay/1", rig.exp, false, 200, Experiment, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rig.inject = tc.inject
			code, _ := rig.get(tc.method, tc.path, tc.user)
			o := rig.rec.last()
			if code != tc.status || o.Status != tc.status || o.Cohort != tc.cohort || o.Fault != tc.fault || o.Keyed != (tc.user != "") {
				t.Errorf("answer %d; recorded %+v; want %d in %s with fault %q", code, o, tc.status, tc.cohort, tc.fault)
			}
		})
	}
}

func TestFaultKinds(t *testing.T) {
	t.Run("A delay holds the request before it goes upstream.", func(t *testing.T) {
		rig := newRig(t, okHandler, &Fault{Name: "slow", Percentage: 100, Delay: &Delay{Fixed: 80 * time.Millisecond}})
		if code, _ := rig.get("GET", "/", rig.exp); code != 200 {
			t.Fatalf("status %d", code)
		}
		if o := rig.rec.last(); o.Latency < 80*time.Millisecond {
			t.Errorf("latency %s, want ≥ 80ms", o.Latency)
		}
	})
	t.Run("A reset breaks the connection with no answer.", func(t *testing.T) {
		rig := newRig(t, okHandler, &Fault{Name: "reset", Percentage: 100, Abort: &Abort{Reset: true}})
		if code, _ := rig.get("GET", "/", rig.exp); code != 0 {
			t.Errorf("status %d, want a broken connection", code)
		}
		if o := rig.rec.last(); o.Status != 0 || o.Fault != "reset" {
			t.Errorf("recorded %+v", o)
		}
	})
	t.Run("A timeout answers nothing until its hold, then breaks off.", func(t *testing.T) {
		rig := newRig(t, okHandler, &Fault{Name: "hang", Percentage: 100, Abort: &Abort{Timeout: true, Hold: 100 * time.Millisecond}})
		start := time.Now()
		if code, _ := rig.get("GET", "/", rig.exp); code != 0 || time.Since(start) < 100*time.Millisecond {
			t.Errorf("status %d after %s, want a broken connection after 100ms", code, time.Since(start))
		}
	})
	t.Run("A response rate limit paces the body.", func(t *testing.T) {
		body := strings.Repeat("x", 6000)
		rig := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }),
			&Fault{Name: "thin", Percentage: 100, RateLimit: 10_000})
		start := time.Now()
		code, got := rig.get("GET", "/", rig.exp)
		if code != 200 || got != body || time.Since(start) < 500*time.Millisecond {
			t.Errorf("status %d, %d bytes after %s; want all 6,000 bytes at 10 kB/s (≥ 0.5 s)", code, len(got), time.Since(start))
		}
	})
	t.Run("An upstream fault sends the cohort to another cluster.", func(t *testing.T) {
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "experiment cluster") }))
		defer other.Close()
		u, _ := url.Parse(other.URL)
		rig := newRig(t, okHandler, &Fault{Name: "cluster", Percentage: 100, Upstream: u})
		if _, got := rig.get("GET", "/", rig.exp); got != "experiment cluster" {
			t.Errorf("experiment cohort got %q", got)
		}
		if _, got := rig.get("GET", "/", rig.ctl); got != "ok /" {
			t.Errorf("control cohort got %q", got)
		}
	})
	t.Run("Beyond max active faults, requests pass untouched.", func(t *testing.T) {
		rig := newRig(t, okHandler, &Fault{Name: "one", Percentage: 100, MaxActive: 1, Delay: &Delay{Fixed: 300 * time.Millisecond}})
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() { rig.get("GET", "/", rig.exp) })
			time.Sleep(50 * time.Millisecond)
		}
		wg.Wait()
		rig.rec.waitFor(2) // each get waited for a record, maybe the other's
		faulted := 0
		for _, o := range rig.rec.snapshot() {
			if o.Fault != "" {
				faulted++
			}
		}
		if faulted != 1 {
			t.Errorf("%d requests faulted at once, want 1", faulted)
		}
	})
}

func TestMisbehavingUpstreamIsMeasured(t *testing.T) {
	rig := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, _ := http.NewResponseController(w).Hijack()
		c.Close() // no answer at all
	}))
	if code, _ := rig.get("GET", "/", rig.ctl); code != 502 {
		t.Errorf("status %d, want 502", code)
	}
	if o := rig.rec.last(); o.Status != 502 || o.Cohort != Control {
		t.Errorf("recorded %+v", o)
	}
}

func TestStreamingAndUpgradesPassThrough(t *testing.T) {
	release := make(chan struct{})
	rig := newRig(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "echo" {
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", "echo")
			w.WriteHeader(http.StatusSwitchingProtocols)
			c, brw, _ := http.NewResponseController(w).Hijack()
			defer c.Close()
			line, _ := brw.ReadString('\n')
			brw.WriteString("echo: " + line)
			brw.Flush()
			return
		}
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-release
		io.WriteString(w, "second\n")
	}), &Fault{Name: "boom", Percentage: 100, Abort: &Abort{Status: 500}})

	t.Run("A streamed body reaches the client as it is written.", func(t *testing.T) {
		resp, err := http.Get(rig.srv.URL + "/stream")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		close(release)
		if err != nil || line != "first\n" {
			t.Errorf("first line %q, %v", line, err)
		}
	})
	t.Run("An upgrade passes through untouched, even for the experiment cohort, and is not recorded.", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(rig.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nX-User: %s\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n", rig.exp)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		fmt.Fprintf(c, "hello\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := br.ReadString('\n'); err != nil || line != "echo: hello\n" {
			t.Errorf("echo %q, %v", line, err)
		}
		c.Close()
		for _, o := range rig.rec.snapshot() {
			if o.Path == "/ws" {
				t.Errorf("an upgrade was recorded: %+v", o)
			}
		}
	})
}

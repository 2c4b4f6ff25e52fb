package chaos

import (
	"math"
	"net/http/httptest"
	"testing"
	"time"
)

func TestThrottleAdmitsItsShareOfTheGlobalRate(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	cfg := ThrottleConfig{GlobalRate: 100, Replicas: 4, Burst: 5}
	th, err := NewThrottle(cfg, clock)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("A full bucket admits the burst, then refuses with the wait for the next token.", func(t *testing.T) {
		for i := range 5 {
			if ok, _ := th.Allow(); !ok {
				t.Fatalf("request %d of the burst refused", i+1)
			}
		}
		ok, wait := th.Allow()
		if ok || wait != 40*time.Millisecond {
			t.Errorf("sixth request: admitted %v, wait %s; want refused, 40ms (25 a second)", ok, wait)
		}
		if th.Throttled() != 1 {
			t.Errorf("%d throttled, want 1", th.Throttled())
		}
	})
	t.Run("A token comes back after 1/rate.", func(t *testing.T) {
		now = now.Add(40 * time.Millisecond)
		if ok, _ := th.Allow(); !ok {
			t.Error("refused after 40ms")
		}
		if ok, _ := th.Allow(); ok {
			t.Error("admitted a second request within the same 40ms")
		}
	})
	t.Run("A quiet spell refills no more than the burst.", func(t *testing.T) {
		now = now.Add(time.Hour)
		n := 0
		for ok, _ := th.Allow(); ok; ok, _ = th.Allow() {
			n++
		}
		if n != 5 {
			t.Errorf("%d admitted after an hour's quiet, want the burst of 5", n)
		}
	})
}

func TestReplicasTogetherAdmitTheGlobalRate(t *testing.T) {
	// Four replicas behind a round-robin balancer, 1,000 requests a
	// second offered for 10 s against a global limit of 200 a second:
	// together they admit 200 a second, plus each one's burst.
	now := time.Unix(1_000_000, 0)
	cfg := ThrottleConfig{GlobalRate: 200, Replicas: 4, Burst: 10}
	var replicas []*Throttle
	for range cfg.Replicas {
		th, err := NewThrottle(cfg, func() time.Time { return now })
		if err != nil {
			t.Fatal(err)
		}
		replicas = append(replicas, th)
	}
	admitted := 0
	for i := range 10_000 {
		now = now.Add(time.Millisecond)
		if ok, _ := replicas[i%len(replicas)].Allow(); ok {
			admitted++
		}
	}
	want := 200*10 + cfg.Burst*cfg.Replicas
	if math.Abs(float64(admitted-want)) > float64(cfg.Replicas) {
		t.Errorf("%d admitted in 10 s, want %d (the global rate and the bursts)", admitted, want)
	}
}

func TestThrottledRequestsAre429WithRetryAfter(t *testing.T) {
	th, err := NewThrottle(ThrottleConfig{GlobalRate: 0.5, Replicas: 1, Burst: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	up := &arrivals{}
	_, srv := opsRig(t, up, Config{Throttle: th})
	if a := <-send(t.Context(), srv.URL+"/first"); a.code != 200 {
		t.Fatalf("first request: %+v", a)
	}
	a := <-send(t.Context(), srv.URL+"/second")
	if a.code != 429 || a.retryAfter != "2" {
		t.Errorf("second request: %+v, want 429 with Retry-After 2 (one request every 2 s)", a)
	}
	if got := up.seen(); len(got) != 1 || th.Throttled() != 1 {
		t.Errorf("upstream saw %v, %d throttled; want only /first and one throttled", got, th.Throttled())
	}
}

func TestThrottleConfigRefusesBadLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  ThrottleConfig
	}{
		{"A zero global rate admits nothing.", ThrottleConfig{Replicas: 1, Burst: 1}},
		{"A NaN rate is refused.", ThrottleConfig{GlobalRate: math.NaN(), Replicas: 1, Burst: 1}},
		{"Zero replicas cannot share the rate.", ThrottleConfig{GlobalRate: 10, Burst: 1}},
		{"A burst under one admits nothing.", ThrottleConfig{GlobalRate: 10, Replicas: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewThrottle(tc.cfg, nil); err == nil {
				t.Errorf("%+v accepted", tc.cfg)
			}
		})
	}
}

// BenchmarkAdmit is the gate every request passes when the proxy is not
// paused and under its rate: a token and a look at the pause queue.
func BenchmarkAdmit(b *testing.B) {
	ps, _ := NewPauser(PauseConfig{Queue: 10, MaxHold: time.Second, ReleaseRate: 10}, nil)
	th, _ := NewThrottle(ThrottleConfig{GlobalRate: 1e9, Replicas: 1, Burst: 1_000_000}, nil)
	p := &Proxy{cfg: Config{Pauser: ps, Throttle: th}}
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if !p.admit(w, r) {
			b.Fatal("refused")
		}
	}
}

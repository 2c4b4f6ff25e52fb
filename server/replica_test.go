package server

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/leader"
)

// replicaStub is a replica's role as the elector reports it.
type replicaStub struct{ st leader.Status }

func (r *replicaStub) Status() leader.Status { return r.st }

func TestRoleOnHealthReadyAndMetrics(t *testing.T) {
	db, c := newStore(t)
	eng, err := engine.New(context.Background(), engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	get := func(srv *httptest.Server, path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		name                 string
		replica              Replica
		health, ready, gauge string
		readyStatus          int
	}{
		{"A process alone on its store answers as it always did, and leads.", nil, "ok\n", "ready\n", "nines_leader 1\n", 200},
		{"A follower says so and is ready.", &replicaStub{leader.Status{Role: leader.RoleFollower, Holder: "b", Leader: "a"}},
			"ok follower\n", "ready follower\n", "nines_leader 0\n", 200},
		{"A leader says so.", &replicaStub{leader.Status{Role: leader.RoleLeader, Holder: "a", Leader: "a"}},
			"ok leader\n", "ready leader\n", "nines_leader 1\n", 200},
		{"A replica cut off from the database is alive but not ready.", &replicaStub{leader.Status{Role: leader.RoleFollower, Holder: "a", Error: "connection refused"}},
			"ok follower\n", "not ready follower: the database cannot be reached\n", "nines_leader 0\n", 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Replica: tc.replica})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(s)
			defer srv.Close()
			if code, body := get(srv, "/healthz"); code != 200 || body != tc.health {
				t.Errorf("/healthz: %d %q, want 200 %q", code, body, tc.health)
			}
			if code, body := get(srv, "/readyz"); code != tc.readyStatus || body != tc.ready {
				t.Errorf("/readyz: %d %q, want %d %q", code, body, tc.readyStatus, tc.ready)
			}
			if _, body := get(srv, "/metrics"); !strings.Contains(body, tc.gauge) {
				t.Errorf("/metrics lacks %q", tc.gauge)
			}
			resp, err := http.Get(srv.URL + "/api/v1/slos")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if stale, cut := resp.Header.Get(staleHeader), tc.readyStatus != 200; (stale != "") != cut {
				t.Errorf("%s: %q, want it set only while the database cannot be reached", staleHeader, stale)
			}
		})
	}
}

// leadingStub is an engine Role that never leads.
type leadingStub bool

func (l leadingStub) Leading() bool  { return bool(l) }
func (l leadingStub) Holder() string { return "test" }

func TestFollowerSendsMetricSamplesOnToTheLeader(t *testing.T) {
	db, c := newStore(t)
	eng, err := engine.New(context.Background(), engine.Config{Store: db, Now: c.Now, Role: leadingStub(false)})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		body                      string
		encoding, auth, forwarder string
	}
	got := make(chan seen, 1)
	leaderStatus := http.StatusNoContent
	lead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{string(b), r.Header.Get("Content-Encoding"), r.Header.Get("Authorization"), r.Header.Get(forwardedBy)}
		w.Header().Set("X-Nines-Dropped", "2 samples dropped")
		w.WriteHeader(leaderStatus)
	}))
	defer lead.Close()
	self := leader.HolderName("http://127.0.0.1:1", "b", 2)
	st := &replicaStub{leader.Status{Role: leader.RoleFollower, Holder: self, Leader: leader.HolderName(lead.URL, "a", 1)}}
	s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Replica: st})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	post := func(extra map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/write", strings.NewReader("not really snappy"))
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("Authorization", "Bearer t")
		for k, v := range extra {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	t.Run("The request reaches the leader as sent, marked, and the leader's answer comes back.", func(t *testing.T) {
		resp := post(nil)
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("X-Nines-Dropped") != "2 samples dropped" {
			t.Errorf("answer %d %q, want the leader's 204 and its X-Nines-Dropped", resp.StatusCode, resp.Header.Get("X-Nines-Dropped"))
		}
		want := seen{"not really snappy", "snappy", "Bearer t", self}
		if g := <-got; g != want {
			t.Errorf("the leader saw %+v, want %+v", g, want)
		}
	})
	t.Run("A leader's refusal is the sender's refusal.", func(t *testing.T) {
		leaderStatus = http.StatusBadRequest
		defer func() { leaderStatus = http.StatusNoContent }()
		if resp := post(nil); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("answer %d, want the leader's 400", resp.StatusCode)
		}
		<-got
	})
	t.Run("Chaos runs and proxies' orders are the leader's: a follower sends them on.", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/proxies/checkout/assignment", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if g := <-got; resp.StatusCode != http.StatusNoContent || g.forwarder != self {
			t.Errorf("answer %d, leader saw %+v; want the leader's answer to a request sent on", resp.StatusCode, g)
		}
	})
	t.Run("A request another replica sent on is never sent on again: 503, retried.", func(t *testing.T) {
		resp := post(map[string]string{forwardedBy: "c"})
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("answer %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		select {
		case g := <-got:
			t.Errorf("the leader was sent %+v", g)
		default:
		}
	})
	t.Run("A leader that cannot be reached is a 503 with Retry-After, counted.", func(t *testing.T) {
		lead.Close()
		resp := post(nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("answer %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		r, _ := http.Get(srv.URL + "/metrics")
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		for _, line := range []string{`nines_forwarded_requests_total{outcome="committed"} 2`, `nines_forwarded_requests_total{outcome="refused"} 1`, `nines_forwarded_requests_total{outcome="unreached"} 1`} {
			if !strings.Contains(string(b), line) {
				t.Errorf("/metrics lacks %s", line)
			}
		}
	})
}

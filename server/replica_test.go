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
		})
	}
}

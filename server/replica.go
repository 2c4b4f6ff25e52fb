package server

import (
	"io"
	"net/http"

	"github.com/nines-sre/nines/leader"
	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/server/promtext"
)

// Replica (optional) says which role this process has among several
// nines serve on one database (docs/replicas.md); leader.Elector
// provides it. Without one the process is alone and leads.
type Replica interface {
	Status() leader.Status
}

// role returns this process's role and whether it can reach the
// database the lease is kept in.
func (s *Server) role() (role string, reachable bool) {
	if s.cfg.Replica == nil {
		return leader.RoleLeader, true
	}
	st := s.cfg.Replica.Status()
	return st.Role, st.Error == ""
}

// healthz answers while the process serves, with its role among
// replicas (alone, "ok" as ever): a load balancer keeps sending it
// traffic whatever the role.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "ok"+s.roleSuffix()+"\n")
}

// roleSuffix is " leader" or " follower" among replicas, "" alone.
func (s *Server) roleSuffix() string {
	if s.cfg.Replica == nil {
		return ""
	}
	role, _ := s.role()
	return " " + role
}

// readyz answers 200 while this replica can take writes (it reaches the
// database of the lease), and 503 while it cannot, so that a load
// balancer sends traffic elsewhere meanwhile. It names the role either
// way, and nothing else: it answers any Host, as /healthz does.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	_, ok := s.role()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, "not ready"+s.roleSuffix()+": the database cannot be reached\n")
		return
	}
	io.WriteString(w, "ready"+s.roleSuffix()+"\n")
}

// writeRole adds the role to /metrics.
func (s *Server) writeRole(ex *promtext.Exposition) {
	role, _ := s.role()
	ex.Family("nines_leader", "gauge", "1 while this replica is the leader (evaluates alerts for the notifiers, delivers notifications, takes metric samples), else 0.")
	ex.Sample("nines_leader", nil, boolValue(role == leader.RoleLeader))
	if s.cfg.Replica != nil {
		s.forwards.write(ex)
	}
}

// staleHeader marks an answer given while this replica cannot reach its
// database: the numbers are those it last knew (its trackers), without
// what other replicas took since.
const staleHeader = "X-Nines-Stale"

// stale says since when, and why, this replica's reads are stale; nil
// while it reaches its store.
func (s *Server) stale() *report.Stale {
	if s.cfg.Replica != nil {
		if st := s.cfg.Replica.Status(); st.Error != "" {
			return &report.Stale{Since: st.UnreachableSince.UTC(),
				Reason: "this replica cannot reach its database: the numbers are those it last knew, without the writes other replicas took since"}
		}
	}
	if since, ok := s.cfg.SLOs.StaleSince(); ok {
		return &report.Stale{Since: since.UTC(),
			Reason: "nines' store is failing: the numbers are those last known, and writes are refused until it recovers"}
	}
	return nil
}

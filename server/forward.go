package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/leader"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/server/promtext"
)

// Metric samples (remote write, OTLP) are taken by the leader alone: a
// counter's increase is its sample minus the series' last one, and one
// collector must hold that baseline (docs/replicas.md). A follower that
// receives them sends the request on to the leader, as received, and
// answers with the leader's answer: any replica takes any write, and a
// 2xx still means the leader committed it.

// forwardedBy marks a request one replica sent on to another, with the
// sender's name. A replica never sends such a request on again: a
// follower that took it for the leader (a lease that changed hands in
// between) answers 503, and the client's retry finds the new leader.
const forwardedBy = "X-Nines-Forwarded-By"

// forwardTimeout bounds the leader's answer: Prometheus waits 30 s for
// a remote write request (remote_timeout) before it sends it again.
const forwardTimeout = 25 * time.Second

// forwardHeaders are the request headers the leader needs to take the
// request as the follower would have: its encoding, its sender's
// credentials (the replicas share one token) and its idempotency key.
var forwardHeaders = []string{
	"Authorization", "Content-Type", "Content-Encoding", "User-Agent",
	"Idempotency-Key", "X-Prometheus-Remote-Write-Version",
}

// replyHeaders are the leader's answer headers passed back to the sender.
var replyHeaders = []string{"Content-Type", "Retry-After", "X-Nines-Dropped", "X-Request-Id"}

// forwarding counts what this replica sent on, for /metrics.
type forwarding struct {
	client                   *http.Client
	sent, refused, unreached atomic.Int64
}

func newForwarding() *forwarding {
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: forwardTimeout,
	}
	return &forwarding{client: &http.Client{Transport: tr, Timeout: forwardTimeout}}
}

// leaderURL is where a metric request this replica received goes
// instead: the leader's advertised URL, or "" when this replica takes it
// itself (it leads or is alone; or it knows no leader, and the engine
// refuses the request with 503). A request another replica sent on,
// which this one does not lead to take, is refused at once, undecoded.
func (s *Server) leaderURL(r *http.Request) (string, error) {
	if s.cfg.Replica == nil {
		return "", nil
	}
	st := s.cfg.Replica.Status()
	switch {
	case st.Role == leader.RoleLeader:
		return "", nil
	case r.Header.Get(forwardedBy) != "":
		return "", &httpx.Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
			Msg: "this nines replica was sent metric samples as the leader, and does not lead now: retry",
			Err: fmt.Errorf("sent on by %s", r.Header.Get(forwardedBy))}
	case st.Leader == "" || st.Leader == st.Holder:
		return "", nil
	}
	return leader.URLOf(st.Leader), nil
}

// sendOn forwards the request to base, or answers with err.
func (s *Server) sendOn(w http.ResponseWriter, r *http.Request, base string, body []byte, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.forward(w, r, base, body)
}

// atLeader serves h on the leader, and sends the request on to it from a
// follower: the chaos runs live in the leader's controller, which steps
// them, so their reads and writes go there. Their bodies are empty.
func (s *Server) atLeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base, err := s.leaderURL(r)
		if err != nil || base != "" {
			s.sendOn(w, r, base, nil, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// forward sends the request on to the leader at base and copies its
// answer back. Only a 2xx from the leader becomes a 2xx here; a leader
// that cannot be reached is a 503 with Retry-After, which senders retry.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, base string, body []byte) {
	fw := s.forwards
	ctx, cancel := context.WithTimeout(r.Context(), forwardTimeout)
	defer cancel()
	// The request's own method: reads of the leader's state (GET
	// /api/v1/verifiers, /api/v1/experiments) are sent on as reads.
	req, err := http.NewRequestWithContext(ctx, r.Method, strings.TrimSuffix(base, "/")+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		fw.unreached.Add(1)
		s.fail(w, r, unreached(base, err))
		return
	}
	for _, h := range forwardHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			req.Header[h] = v
		}
	}
	holder := ""
	if s.cfg.Replica != nil {
		holder = s.cfg.Replica.Status().Holder
	}
	req.Header.Set(forwardedBy, holder)
	if id := httpx.RequestID(r.Context()); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := fw.client.Do(req)
	if err != nil {
		fw.unreached.Add(1)
		s.fail(w, r, unreached(base, err))
		return
	}
	defer resp.Body.Close()
	// The leader's answers are small (an error, an empty OTLP response);
	// a larger one is cut rather than held.
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil && resp.StatusCode/100 == 2 {
		// Committed, but the answer was cut: the sender's retry is
		// harmless (samples of a timestamp already taken count nothing).
		fw.unreached.Add(1)
		s.fail(w, r, unreached(base, fmt.Errorf("reading its answer: %w", err)))
		return
	}
	if resp.StatusCode/100 == 2 {
		fw.sent.Add(1)
	} else {
		fw.refused.Add(1)
		if resp.StatusCode >= 500 {
			httpx.Log(s.cfg.Logger, r, resp.StatusCode, fmt.Errorf("the leader at %s answered metric samples sent on to it with %s: %s", base, resp.Status, bytes.TrimSpace(reply)))
		}
	}
	for _, h := range replyHeaders {
		if v := resp.Header.Values(h); len(v) > 0 {
			w.Header()[h] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(reply)
}

// unreached is a leader that could not be asked, or whose answer was
// lost: a 503, which the sender retries.
func unreached(base string, err error) error {
	return &httpx.Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
		Msg: "this nines replica follows and could not reach the leader, which takes metric samples: nothing is known to be stored; retry (a load balancer sends the retry on)",
		Err: fmt.Errorf("sending metric samples on to the leader at %s: %w", base, err)}
}

// write adds what this replica sent on to /metrics.
func (fw *forwarding) write(ex *promtext.Exposition) {
	ex.Family("nines_forwarded_requests_total", "counter", "Requests this follower sent on to the leader (metric samples, chaos runs and proxies' orders), by outcome: answered with a 2xx by the leader, refused by it, or not answered.")
	ex.Sample("nines_forwarded_requests_total", []string{"outcome", "committed"}, float64(fw.sent.Load()))
	ex.Sample("nines_forwarded_requests_total", []string{"outcome", "refused"}, float64(fw.refused.Load()))
	ex.Sample("nines_forwarded_requests_total", []string{"outcome", "unreached"}, float64(fw.unreached.Load()))
}

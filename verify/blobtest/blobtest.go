// Package blobtest is a blob server for tests of durability verifiers:
// PUT, GET and DELETE of objects by path, on loopback, that can be told
// to lose or corrupt objects once they reach a chosen age on the test's
// clock, to hang, or to fail every request with a status.
package blobtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Server is a blob server. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	clock func() time.Time

	mu      sync.Mutex
	objects map[string]*object
	faults  []fault
	status  int
	hang    chan struct{}
	// Requests counts requests by method.
	requests map[string]int
}

type object struct {
	data    []byte
	written time.Time
	// corrupted marks the faults already applied, so an object is
	// corrupted once and not flipped back at its next read.
	corrupted map[int]bool
}

// Fault kinds.
const (
	Lose    = "lose"
	Corrupt = "corrupt"
)

type fault struct {
	kind  string
	match func(key string) bool
	after time.Duration
}

// New starts a server whose ages are measured on clock.
func New(clock func() time.Time) *Server {
	s := &Server{clock: clock, objects: map[string]*object{}, requests: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Fault makes every object whose key match accepts lose its bytes
// (Lose) or have one byte flipped (Corrupt) once it is after old. The
// damage is done when the object is next read or listed, as it would be
// found.
func (s *Server) Fault(kind string, match func(key string) bool, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{kind, match, after})
}

// Key is a matcher of one key.
func Key(k string) func(string) bool { return func(key string) bool { return key == k } }

// Prefix is a matcher of keys with a prefix.
func Prefix(p string) func(string) bool {
	return func(key string) bool { return strings.HasPrefix(key, p) }
}

// FailWith answers every request with status (0: serve normally again).
func (s *Server) FailWith(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}

// Hang makes every request wait until Release or the client gives up.
func (s *Server) Hang() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang == nil {
		s.hang = make(chan struct{})
	}
}

// Release ends Hang.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hang != nil {
		close(s.hang)
		s.hang = nil
	}
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.Release()
	s.Server.Close()
}

// Keys lists the keys stored (after applying due faults).
func (s *Server) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.objects {
		if s.damage(k) {
			out = append(out, k)
		}
	}
	return out
}

// Requests returns how many requests of method were served.
func (s *Server) Requests(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[method]
}

// damage applies the faults due to key and reports whether it is still
// stored. Call with mu held.
func (s *Server) damage(key string) bool {
	o := s.objects[key]
	if o == nil {
		return false
	}
	age := s.clock().Sub(o.written)
	for i := range s.faults {
		f := s.faults[i]
		if !f.match(key) || age < f.after {
			continue
		}
		switch f.kind {
		case Lose:
			delete(s.objects, key)
			return false
		case Corrupt:
			if o.corrupted[i] {
				continue
			}
			if o.corrupted == nil {
				o.corrupted = map[int]bool{}
			}
			o.corrupted[i] = true
			if len(o.data) > 0 {
				o.data[len(o.data)/2] ^= 0x5A
			} else {
				o.data = []byte{0}
			}
		}
	}
	return true
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[r.Method]++
	hang, status := s.hang, s.status
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, "blobtest: failing on purpose", status)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.objects[key] = &object{data: data, written: s.clock()}
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet:
		if !s.damage(key) {
			http.NotFound(w, r)
			return
		}
		w.Write(s.objects[key].data)
	case http.MethodDelete:
		delete(s.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "blobtest: PUT, GET or DELETE", http.StatusMethodNotAllowed)
	}
}

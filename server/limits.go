package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/server/httpx"
)

// bodyBudget bounds the bytes of request bodies held in memory at once,
// over all requests: 16 clients sending 31 MiB each would otherwise hold
// half a gigabyte before any of it is decoded. A request that would go
// past it is answered 503 with Retry-After at once rather than queued:
// the senders that write to nines (Prometheus, OpenTelemetry exporters,
// nines' own clients) retry a 503, and a queue would only hold the
// connections open.
type bodyBudget struct {
	max  int64
	used atomic.Int64
}

func (b *bodyBudget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// held is what one request holds of the budget, given back when its
// handler returns (the decoded body lives as long).
type held struct {
	budget *bodyBudget
	n      int64
}

type heldKey struct{}

// holding makes the budget a request's body is charged to, for its
// handler's duration.
func (s *Server) holding(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := &held{budget: &s.bodies}
		defer func() { hd.budget.used.Add(-hd.n) }()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), heldKey{}, hd)))
	})
}

// charge takes n more bytes of the budget for the request of ctx.
func (s *Server) charge(ctx context.Context, n int64) error {
	hd, _ := ctx.Value(heldKey{}).(*held)
	if hd == nil || n <= 0 {
		return nil
	}
	if !hd.budget.take(n) {
		return &httpx.Error{Status: http.StatusServiceUnavailable, RetryAfter: time.Second,
			Msg: fmt.Sprintf("nines holds as many request bodies in memory as it may (%d MiB, nines serve --web.max-body-memory): nothing of this request was read; retry in a moment", s.bodies.max>>20)}
	}
	hd.n += n
	return nil
}

// readChunk is the first slice of a body read and charged; each next one
// doubles what is held, up to the length the request announced.
const readChunk = 64 << 10

// readBody reads a request body up to the configured limit, charging it
// to the server-wide budget as it arrives: a client that announces 32 MiB
// and sends slowly holds only what it has sent, until the read timeout
// cuts it off.
func (s *Server) readBody(r *http.Request) ([]byte, error) {
	tooLarge := httpx.Errorf(http.StatusRequestEntityTooLarge, "body larger than %d bytes; send smaller batches", s.cfg.MaxBody)
	if r.ContentLength > s.cfg.MaxBody {
		return nil, tooLarge
	}
	// One byte past the announced length lets the read that meets the end
	// of the body find room without growing.
	most := s.cfg.MaxBody + 1
	if r.ContentLength >= 0 {
		most = r.ContentLength + 1
	}
	body := http.MaxBytesReader(nil, r.Body, s.cfg.MaxBody)
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			grow := min(max(readChunk, int64(cap(buf))), max(most-int64(cap(buf)), 1))
			if err := s.charge(r.Context(), grow); err != nil {
				return nil, err
			}
			buf = append(make([]byte, 0, int64(cap(buf))+grow), buf...)
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge
			}
			return nil, httpx.BadRequest("reading body: %v", err)
		}
	}
}

package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/store"
)

const (
	// idempotencyHeader names a write so that a retry of it counts once
	// (the IETF httpapi Idempotency-Key draft; Stripe's API).
	idempotencyHeader = "Idempotency-Key"
	// replayedHeader marks the answer to a retry: the first attempt's
	// answer, sent again (Stripe's name for it).
	replayedHeader = "Idempotent-Replayed"
)

// replayed is a handler's answer to a retry: the first attempt's answer,
// which the api adapter sends with the replayedHeader.
type replayed struct{ reply any }

// idempotency reads the request's idempotency key from the
// Idempotency-Key header and, for bodies that have one, from a field
// (field names it; value is nil when the body has none). Nil without
// either. The key comes with a fingerprint of the request: method, path,
// query and body.
func idempotency(r *http.Request, body []byte, field string, value *string) (*engine.Idempotency, error) {
	var key string
	hdr := r.Header.Values(idempotencyHeader)
	switch {
	case len(hdr) > 1:
		return nil, httpx.BadRequest("%s header given %d times; send one key", idempotencyHeader, len(hdr))
	case len(hdr) == 1:
		key = hdr[0]
		// The header is a structured-field string in the IETF draft:
		// "key" in quotes is the same key as key.
		if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
			key = key[1 : len(key)-1]
		}
		if err := store.CheckIdempotencyKey(key); err != nil {
			return nil, httpx.BadRequest("%s header: %v", idempotencyHeader, err)
		}
	}
	if value != nil {
		if err := store.CheckIdempotencyKey(*value); err != nil {
			return nil, httpx.BadRequest("%s: %v", field, err)
		}
		if len(hdr) == 1 && key != *value {
			return nil, httpx.BadRequest("%s header %q and %s %q differ; send the key once, or the same in both", idempotencyHeader, key, field, *value)
		}
		key = *value
	}
	if key == "" {
		return nil, nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s %s?%s\n", r.Method, r.URL.Path, r.URL.RawQuery)
	h.Write(body)
	return &engine.Idempotency{Key: key, Request: h.Sum(nil)}, nil
}

// commit stores b. For a retry of an idempotency key committed before it
// stores nothing and returns what the first commit returned, with replay
// true; a different request under a used key is refused (422).
func (s *Server) commit(ctx context.Context, b *engine.Batch) (res map[string]engine.AppendResult, replay bool, err error) {
	res, err = s.cfg.Writes.Commit(ctx, b)
	if err == nil || b.Idempotency == nil {
		return res, false, err
	}
	rp, err := engine.DuplicateOf(err)
	if err != nil {
		return nil, false, err
	}
	if !bytes.Equal(rp.Request, b.Idempotency.Request) {
		return nil, false, httpx.Errorf(http.StatusUnprocessableEntity,
			"%s %q was used at %s for a different request; a retry must repeat its request exactly, and new data needs a new key",
			idempotencyHeader, rp.Key, rp.At.UTC().Format(time.RFC3339))
	}
	return rp.Results, true, nil
}

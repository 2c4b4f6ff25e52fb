package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/nines-sre/nines/server/httpx"
)

// Every JSON body nines reads is held to one rule (docs/api.md, "JSON
// bodies"):
//
//   - it is valid UTF-8 (RFC 8259 §8.1): encoding/json would otherwise
//     replace a bad byte with U+FFFD, and a name or label would be stored
//     other than sent;
//   - it is exactly one JSON value: data after it is an error, not
//     ignored, since it is most often a second document sent by mistake;
//   - in nines' own bodies, a field nines does not know is an error, so a
//     misspelt field is not silently dropped. Bodies of other protocols
//     (the Alertmanager webhook, OTLP/JSON) ignore unknown fields, as
//     their specifications ask of a receiver.
//
// Events are JSON lines: each line is one document under the same rule,
// and a line that breaks it is a malformed line, counted and named.

// decodeJSON decodes body, one of nines' own, into v; what names the body
// in errors.
func decodeJSON(body []byte, what string, v any) error {
	return decodeOne(body, what, v, true)
}

// checkJSON holds a body of another protocol to the rule without
// decoding it.
func checkJSON(body []byte, what string) error {
	var raw json.RawMessage
	return decodeOne(body, what, &raw, false)
}

func decodeOne(body []byte, what string, v any, strict bool) error {
	if !utf8.Valid(body) {
		i := 0
		for i < len(body) {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return httpx.BadRequest("%s: invalid UTF-8 at byte %d: JSON must be UTF-8", what, i)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return httpx.BadRequest("%s: the body is empty: want a JSON object", what)
	} else if err != nil {
		return httpx.BadRequest("%s: %v", what, err)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return httpx.BadRequest("%s: data after the JSON value, which ends at byte %d: send one JSON value", what, end)
	}
	return nil
}

// decodeBody reads a request's body and decodes it with decodeJSON.
func (s *Server) decodeBody(r *http.Request, what string, v any) error {
	body, err := s.readBody(r)
	if err != nil {
		return err
	}
	return decodeJSON(body, what, v)
}

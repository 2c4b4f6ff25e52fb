package tcp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Version is what GET /version reports. Toxiproxy's clients only print it.
const Version = "nines-tcp-1"

// maxBody bounds every request body; a populate list of MaxProxies
// proxies fits with room to spare.
const maxBody = 1 << 20

// Handler serves Toxiproxy's REST API over s: the same routes, JSON shapes
// and status codes (api.go in Toxiproxy's repository), so its clients work
// unchanged.
func Handler(s *Server) http.Handler {
	mux := http.NewServeMux()
	h := &api{s: s}
	ok, created := http.StatusOK, http.StatusCreated
	mux.HandleFunc("POST /reset", answer(ok, h.reset))
	mux.HandleFunc("GET /proxies", answer(ok, h.proxyIndex))
	mux.HandleFunc("POST /proxies", answer(created, h.proxyCreate))
	mux.HandleFunc("POST /populate", h.populate)
	mux.HandleFunc("GET /proxies/{proxy}", answer(ok, h.proxyShow))
	mux.HandleFunc("POST /proxies/{proxy}", answer(ok, h.proxyUpdate))
	mux.HandleFunc("PATCH /proxies/{proxy}", answer(ok, h.proxyUpdate))
	mux.HandleFunc("DELETE /proxies/{proxy}", answer(ok, h.proxyDelete))
	mux.HandleFunc("GET /proxies/{proxy}/toxics", answer(ok, h.toxicIndex))
	// A new toxic is 200, not 201: Toxiproxy's clients expect 200.
	mux.HandleFunc("POST /proxies/{proxy}/toxics", answer(ok, h.toxicCreate))
	mux.HandleFunc("GET /proxies/{proxy}/toxics/{toxic}", answer(ok, h.toxicShow))
	mux.HandleFunc("POST /proxies/{proxy}/toxics/{toxic}", answer(ok, h.toxicUpdate))
	mux.HandleFunc("PATCH /proxies/{proxy}/toxics/{toxic}", answer(ok, h.toxicUpdate))
	mux.HandleFunc("DELETE /proxies/{proxy}/toxics/{toxic}", answer(ok, h.toxicDelete))
	mux.HandleFunc("GET /version", h.version)
	return refuseBrowsers(mux)
}

// refuseBrowsers keeps web pages from driving the proxy: Toxiproxy refuses
// browser user agents, and a cross-site request also carries Origin.
func refuseBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.UserAgent(), "Mozilla/") || r.Header.Get("Origin") != "" {
			writeError(w, &APIError{Message: "requests from browsers are refused; use a Toxiproxy client or curl", Status: http.StatusForbidden})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type api struct{ s *Server }

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeError(w, fmt.Errorf("encoding the response: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func writeError(w http.ResponseWriter, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		ae = &APIError{Message: err.Error(), Status: http.StatusInternalServerError}
	}
	data, _ := json.Marshal(ae)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(ae.Status)
	_, _ = w.Write(append(data, '\n'))
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, apiErrorf(errBadRequestBody, "the body is over %d bytes", maxBody)
	}
	if err != nil {
		return nil, badBody(err)
	}
	return body, nil
}

// answer adapts one API operation to a handler: it reads the body when
// the operation takes one, and writes the result with status, or
// Toxiproxy's error body. A nil result is an empty answer (204).
func answer(status int, op func(r *http.Request, body []byte) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Method == http.MethodPost || r.Method == http.MethodPatch {
			var err error
			if body, err = readBody(w, r); err != nil {
				writeError(w, err)
				return
			}
		}
		v, err := op(r, body)
		switch {
		case err != nil:
			writeError(w, err)
		case v == nil:
			w.WriteHeader(http.StatusNoContent)
		default:
			writeJSON(w, status, v)
		}
	}
}

func (h *api) reset(r *http.Request, _ []byte) (any, error) { return nil, h.s.Reset() }

func (h *api) proxyIndex(r *http.Request, _ []byte) (any, error) { return h.s.Proxies(), nil }

func (h *api) proxyCreate(r *http.Request, body []byte) (any, error) {
	var c ProxyConfig
	if err := decodeStrict(body, &c); err != nil {
		return nil, badBody(err)
	}
	return h.s.Create(c)
}

// populate answers as Toxiproxy does: 201 with the proxies, or the error's
// status with the error and the proxies made before it.
func (h *api) populate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	cs, err := ParsePopulate(body)
	if err != nil {
		writeError(w, err)
		return
	}
	views, err := h.s.Populate(cs)
	if views == nil {
		views = []proxyView{}
	}
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			ae = &APIError{Message: err.Error(), Status: http.StatusInternalServerError}
		}
		writeJSON(w, ae.Status, struct {
			*APIError
			Proxies []proxyView `json:"proxies"`
		}{ae, views})
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		Proxies []proxyView `json:"proxies"`
	}{views})
}

func (h *api) proxyShow(r *http.Request, _ []byte) (any, error) {
	return h.s.Proxy(r.PathValue("proxy"))
}

func (h *api) proxyUpdate(r *http.Request, body []byte) (any, error) {
	return h.s.Update(r.PathValue("proxy"), body)
}

func (h *api) proxyDelete(r *http.Request, _ []byte) (any, error) {
	return nil, h.s.Delete(r.PathValue("proxy"))
}

func (h *api) toxicIndex(r *http.Request, _ []byte) (any, error) {
	return h.s.Toxics(r.PathValue("proxy"))
}

func (h *api) toxicCreate(r *http.Request, body []byte) (any, error) {
	return h.s.AddToxic(r.PathValue("proxy"), body)
}

func (h *api) toxicShow(r *http.Request, _ []byte) (any, error) {
	return h.s.Toxic(r.PathValue("proxy"), r.PathValue("toxic"))
}

func (h *api) toxicUpdate(r *http.Request, body []byte) (any, error) {
	return h.s.UpdateToxic(r.PathValue("proxy"), r.PathValue("toxic"), body)
}

func (h *api) toxicDelete(r *http.Request, _ []byte) (any, error) {
	return nil, h.s.RemoveToxic(r.PathValue("proxy"), r.PathValue("toxic"))
}

func (h *api) version(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = fmt.Fprintf(w, "{\"version\": %q}\n", Version)
}

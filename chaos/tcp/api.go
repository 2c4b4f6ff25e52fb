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
	mux.HandleFunc("POST /reset", h.reset)
	mux.HandleFunc("GET /proxies", h.proxyIndex)
	mux.HandleFunc("POST /proxies", h.proxyCreate)
	mux.HandleFunc("POST /populate", h.populate)
	mux.HandleFunc("GET /proxies/{proxy}", h.proxyShow)
	mux.HandleFunc("POST /proxies/{proxy}", h.proxyUpdate)
	mux.HandleFunc("PATCH /proxies/{proxy}", h.proxyUpdate)
	mux.HandleFunc("DELETE /proxies/{proxy}", h.proxyDelete)
	mux.HandleFunc("GET /proxies/{proxy}/toxics", h.toxicIndex)
	mux.HandleFunc("POST /proxies/{proxy}/toxics", h.toxicCreate)
	mux.HandleFunc("GET /proxies/{proxy}/toxics/{toxic}", h.toxicShow)
	mux.HandleFunc("POST /proxies/{proxy}/toxics/{toxic}", h.toxicUpdate)
	mux.HandleFunc("PATCH /proxies/{proxy}/toxics/{toxic}", h.toxicUpdate)
	mux.HandleFunc("DELETE /proxies/{proxy}/toxics/{toxic}", h.toxicDelete)
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

func (h *api) reset(w http.ResponseWriter, r *http.Request) {
	if err := h.s.Reset(); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *api) proxyIndex(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.s.Proxies())
}

func (h *api) proxyCreate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	var c ProxyConfig
	if err := decodeStrict(body, &c); err != nil {
		writeError(w, badBody(err))
		return
	}
	v, err := h.s.Create(c)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, v)
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

func (h *api) proxyShow(w http.ResponseWriter, r *http.Request) {
	v, err := h.s.Proxy(r.PathValue("proxy"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *api) proxyUpdate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	v, err := h.s.Update(r.PathValue("proxy"), body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (h *api) proxyDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.s.Delete(r.PathValue("proxy")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *api) toxicIndex(w http.ResponseWriter, r *http.Request) {
	ts, err := h.s.Toxics(r.PathValue("proxy"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

// toxicCreate answers 200, not 201: Toxiproxy's clients expect 200.
func (h *api) toxicCreate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := h.s.AddToxic(r.PathValue("proxy"), body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *api) toxicShow(w http.ResponseWriter, r *http.Request) {
	t, err := h.s.Toxic(r.PathValue("proxy"), r.PathValue("toxic"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *api) toxicUpdate(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	if err != nil {
		writeError(w, err)
		return
	}
	t, err := h.s.UpdateToxic(r.PathValue("proxy"), r.PathValue("toxic"), body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (h *api) toxicDelete(w http.ResponseWriter, r *http.Request) {
	if err := h.s.RemoveToxic(r.PathValue("proxy"), r.PathValue("toxic")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *api) version(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	_, _ = fmt.Fprintf(w, "{\"version\": %q}\n", Version)
}

package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/store"
)

// maxAnnotationText bounds the free text of an annotation: it is a note
// on a chart, not a changelog.
const maxAnnotationText = 4096

type annotationView struct {
	ID      int64             `json:"id"`
	At      time.Time         `json:"at"`
	SLO     string            `json:"slo,omitempty"`
	Service string            `json:"service,omitempty"`
	Kind    string            `json:"kind"`
	Title   string            `json:"title"`
	Text    string            `json:"text,omitempty"`
	URL     string            `json:"url,omitempty"`
	Labels  map[string]string `json:"labels,omitempty"`
}

func viewAnnotations(as []store.Annotation) []annotationView {
	out := make([]annotationView, 0, len(as))
	for _, a := range as {
		out = append(out, annotationView{a.ID, a.At.UTC(), a.SLO, a.Service, a.Kind, a.Title, a.Text, a.URL, a.Labels})
	}
	return out
}

// addAnnotation records a deploy or other change: {"slo" or "service" (or
// neither, for everything), "kind" (default "deploy"), "title", "text",
// "url", "labels", "at" (default now)}.
func (s *Server) addAnnotation(r *http.Request) (any, error) {
	body, err := s.readBody(r)
	if err != nil {
		return nil, err
	}
	var in struct {
		At      *time.Time        `json:"at"`
		SLO     string            `json:"slo"`
		Service string            `json:"service"`
		Kind    string            `json:"kind"`
		Title   string            `json:"title"`
		Text    string            `json:"text"`
		URL     string            `json:"url"`
		Labels  map[string]string `json:"labels"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, badRequest("annotation: %v", err)
	}
	if in.Kind == "" {
		in.Kind = "deploy"
	}
	switch {
	case in.Title == "":
		return nil, badRequest("annotation: title is required (e.g. \"checkout v1.2.3\")")
	case len(in.Title) > 200:
		return nil, badRequest("annotation: title of %d bytes; at most 200", len(in.Title))
	case len(in.Text) > maxAnnotationText:
		return nil, badRequest("annotation: text of %d bytes; at most %d", len(in.Text), maxAnnotationText)
	}
	if in.URL != "" {
		u, err := url.Parse(in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, badRequest("annotation: url %q: want an absolute http or https URL", in.URL)
		}
	}
	a := store.Annotation{SLO: in.SLO, Service: in.Service, Kind: in.Kind, Title: in.Title, Text: in.Text, URL: in.URL, Labels: in.Labels}
	if in.At != nil {
		a.At = *in.At
	}
	id, err := s.cfg.Engine.AddAnnotation(r.Context(), a)
	if errors.Is(err, engine.ErrUnknownSLO) {
		return nil, badRequest("annotation: %v", err) // the body is wrong, not the URL
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"id": id}, nil
}

// annotations lists annotations of a range, optionally for ?slo= (with
// its service's and the global ones) or ?service=.
func (s *Server) annotations(r *http.Request) (any, error) {
	q := r.URL.Query()
	from, to, err := s.timeRange(r, time.Minute) // whole minutes, like the charts beside it
	if err != nil {
		return nil, err
	}
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		return nil, err
	}
	if name := q.Get("slo"); name != "" {
		o, err := s.cfg.Engine.SLO(name)
		if err != nil {
			return nil, err
		}
		as, err := s.cfg.Store.Annotations(r.Context(), store.AnnotationQuery{From: from, To: to, SLO: o.Name, Service: o.Service, Limit: limit})
		return map[string]any{"annotations": viewAnnotations(as)}, err
	}
	as, err := s.cfg.Store.Annotations(r.Context(), store.AnnotationQuery{From: from, To: to, Service: q.Get("service"), Limit: limit})
	return map[string]any{"annotations": viewAnnotations(as)}, err
}

// sloAnnotations lists what applies to one SLO over a range.
func (s *Server) sloAnnotations(r *http.Request) (any, error) {
	o, from, to, err := s.sloRange(r)
	if err != nil {
		return nil, err
	}
	as, err := s.cfg.Engine.Annotations(r.Context(), o.Name, from, to)
	return map[string]any{"slo": o.Name, "annotations": viewAnnotations(as)}, err
}

func (s *Server) deleteAnnotation(r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, badRequest("annotation id %q: want an integer", r.PathValue("id"))
	}
	if err := s.cfg.Store.DeleteAnnotation(r.Context(), id); err != nil {
		return nil, err
	}
	return map[string]any{"deleted": id}, nil
}

func limitParam(v string) (int, error) {
	if v == "" {
		return 1000, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 10000 {
		return 0, badRequest("limit=%q: want 1 to 10000", v)
	}
	return n, nil
}

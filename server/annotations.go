package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/server/httpx"
	"github.com/nines-sre/nines/store"
)

// Bounds of an annotation: it is a note on a chart, not a changelog, and
// every budget chart of its range carries it (one annotation with a
// million labels made /budget take 9 s and answer 31 MB).
const (
	maxAnnotationText   = 4096
	maxAnnotationURL    = 2048
	maxAnnotationName   = 128 // kind and label names
	maxAnnotationValue  = 1024
	maxAnnotationLabels = 64
)

// checkLabels bounds an annotation's labels: how many, and each name and
// value.
func checkLabels(labels map[string]string) error {
	if len(labels) > maxAnnotationLabels {
		return fmt.Errorf("%d labels; at most %d", len(labels), maxAnnotationLabels)
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		switch v := labels[k]; {
		case k == "":
			return errors.New("a label has an empty name")
		case len(k) > maxAnnotationName:
			return fmt.Errorf("label name %.40q… of %d bytes; at most %d", k, len(k), maxAnnotationName)
		case len(v) > maxAnnotationValue:
			return fmt.Errorf("label %s: value of %d bytes; at most %d", k, len(v), maxAnnotationValue)
		}
	}
	return nil
}

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
	if err := decodeJSON(body, "annotation", &in); err != nil {
		return nil, err
	}
	if in.Kind == "" {
		in.Kind = "deploy"
	}
	switch {
	case in.Title == "":
		return nil, httpx.BadRequest("annotation: title is required (e.g. \"checkout v1.2.3\")")
	case len(in.Title) > 200:
		return nil, httpx.BadRequest("annotation: title of %d bytes; at most 200", len(in.Title))
	case len(in.Text) > maxAnnotationText:
		return nil, httpx.BadRequest("annotation: text of %d bytes; at most %d", len(in.Text), maxAnnotationText)
	case len(in.Kind) > maxAnnotationName:
		return nil, httpx.BadRequest("annotation: kind of %d bytes; at most %d", len(in.Kind), maxAnnotationName)
	case len(in.URL) > maxAnnotationURL:
		return nil, httpx.BadRequest("annotation: url of %d bytes; at most %d", len(in.URL), maxAnnotationURL)
	}
	if err := checkLabels(in.Labels); err != nil {
		return nil, httpx.BadRequest("annotation: %v", err)
	}
	if in.URL != "" {
		u, err := url.Parse(in.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, httpx.BadRequest("annotation: url %q: want an absolute http or https URL", in.URL)
		}
	}
	a := store.Annotation{SLO: in.SLO, Service: in.Service, Kind: in.Kind, Title: in.Title, Text: in.Text, URL: in.URL, Labels: in.Labels}
	if in.At != nil {
		if err := httpx.CheckTime("at", *in.At); err != nil {
			return nil, httpx.BadRequest("annotation: %v", err)
		}
		a.At = *in.At
	}
	id, err := s.cfg.Writes.AddAnnotation(r.Context(), a)
	if errors.Is(err, engine.ErrUnknownSLO) {
		return nil, httpx.BadRequest("annotation: %v", err) // the body is wrong, not the URL
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
		o, err := s.cfg.SLOs.SLO(name)
		if err != nil {
			return nil, err
		}
		as, err := s.cfg.Annotations.Annotations(r.Context(), store.AnnotationQuery{From: from, To: to, SLO: o.Name, Service: o.Service, Limit: limit})
		return map[string]any{"annotations": viewAnnotations(as)}, err
	}
	as, err := s.cfg.Annotations.Annotations(r.Context(), store.AnnotationQuery{From: from, To: to, Service: q.Get("service"), Limit: limit})
	return map[string]any{"annotations": viewAnnotations(as)}, err
}

// sloAnnotations lists what applies to one SLO over a range.
func (s *Server) sloAnnotations(r *http.Request) (any, error) {
	o, from, to, err := s.sloRange(r)
	if err != nil {
		return nil, err
	}
	as, err := s.cfg.SLOs.Annotations(r.Context(), o.Name, from, to)
	return map[string]any{"slo": o.Name, "annotations": viewAnnotations(as)}, err
}

func (s *Server) deleteAnnotation(r *http.Request) (any, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return nil, httpx.BadRequest("annotation id %q: want an integer", r.PathValue("id"))
	}
	if err := s.cfg.Annotations.DeleteAnnotation(r.Context(), id); err != nil {
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
		return 0, httpx.BadRequest("limit=%q: want 1 to 10000", v)
	}
	return n, nil
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nines-sre/nines/store"
)

// ErrUnknownService is returned for an annotation naming a service that no
// loaded SLO belongs to: most likely a typo, which would leave the
// annotation shown nowhere.
var ErrUnknownService = errors.New("unknown service")

// AddAnnotation records a after checking that what it applies to exists,
// and returns its ID. An SLO's service is filled in from its definition
// when a names the SLO alone. A zero At is the engine's now.
func (e *Engine) AddAnnotation(ctx context.Context, a store.Annotation) (int64, error) {
	a.SLO, a.Service, a.Kind = strings.TrimSpace(a.SLO), strings.TrimSpace(a.Service), strings.TrimSpace(a.Kind)
	if a.At.IsZero() {
		a.At = e.cfg.Now()
	}
	if a.SLO != "" {
		s, err := e.SLO(a.SLO)
		if err != nil {
			return 0, err
		}
		switch {
		case a.Service == "":
			a.Service = s.Service
		case a.Service != s.Service:
			return 0, fmt.Errorf("%w: annotation: SLO %q belongs to service %q, not %q", ErrInvalid, s.Name, s.Service, a.Service)
		}
	} else if a.Service != "" && !e.hasService(a.Service) {
		return 0, fmt.Errorf("%w %q: no loaded SLO has it", ErrUnknownService, a.Service)
	}
	return e.cfg.Store.AddAnnotation(ctx, a)
}

// Annotations returns what applies to the SLO called name between from
// and to (half-open), oldest first: its own annotations, its service's and
// the global ones.
func (e *Engine) Annotations(ctx context.Context, name string, from, to time.Time) ([]store.Annotation, error) {
	s, err := e.SLO(name)
	if err != nil {
		return nil, err
	}
	return e.cfg.Store.Annotations(ctx, store.AnnotationQuery{From: from, To: to, SLO: s.Name, Service: s.Service})
}

func (e *Engine) hasService(service string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	for _, en := range e.slos {
		if en.slo.Service == service {
			return true
		}
	}
	return false
}

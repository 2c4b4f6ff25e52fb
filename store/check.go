package store

import (
	"fmt"
	"strings"
	"time"
)

// CheckSLODef checks the arguments of SLOs.PutSLO, which every backend
// refuses alike, and returns def as the column stores it: never nil.
func CheckSLODef(name string, def []byte, updated time.Time) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("put slo: %w: empty name", ErrInvalid)
	}
	if err := CheckTime("updated", updated); err != nil {
		return nil, fmt.Errorf("put slo %s: %w", name, err)
	}
	if def == nil {
		def = []byte{} // the column is NOT NULL; an empty document is still one
	}
	return def, nil
}

// CheckAnnotation checks what Annotations.AddAnnotation is given, as
// every backend refuses it.
func CheckAnnotation(a Annotation) error {
	if err := CheckTime("annotation time", a.At); err != nil {
		return fmt.Errorf("add annotation: %w", err)
	}
	switch {
	case strings.TrimSpace(a.Kind) == "":
		return fmt.Errorf("add annotation: %w: no kind", ErrInvalid)
	case strings.TrimSpace(a.Title) == "":
		return fmt.Errorf("add annotation: %w: no title", ErrInvalid)
	}
	return nil
}

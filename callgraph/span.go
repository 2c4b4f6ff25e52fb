// Package callgraph builds the call graph nines observes in traces: an
// edge A→B exists when a span of service B has a parent span of service A
// (service.name differs). The parent comes from A and the child from B, in
// different requests and in either order, so spans are joined by id
// through two bounded buffers: the spans seen recently (a parent the next
// child may name) and the children whose parent has not arrived yet. Both
// have a fixed capacity and evict their oldest entry, counted, so memory
// is bounded by those capacities and the number of edges, never by the
// number of spans received.
//
// Per edge the graph keeps, for each minute of a sliding window, the calls,
// the failed calls and a latency histogram of the child's SERVER span. The
// calls are also what per-edge SLIs are made of (Rollups): an SLO whose
// sli.source names an edge is fed, through the engine's one append path,
// an event per call.
package callgraph

import (
	"fmt"
	"math"

	"github.com/nines-sre/nines/slo"
)

// Kind is an OpenTelemetry span kind.
type Kind uint8

// Span kinds, numbered as OTLP's Span.SpanKind.
const (
	KindUnspecified Kind = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// Span is what the graph needs of one span; package ingest/otlp decodes
// OTLP into it.
type Span struct {
	// Trace and ID identify the span; Parent is its parent's span id in the
	// same trace, all zero for a root span.
	Trace  [16]byte
	ID     [8]byte
	Parent [8]byte
	// Service is the resource's service.name; never empty.
	Service string
	Kind    Kind
	// Start and End are Unix nanoseconds.
	Start, End int64
	// Status is the HTTP response status code (0–999) or slo.NoStatus.
	Status int
	// Failed says the call failed: span status ERROR, an HTTP 5xx or a
	// gRPC server error code (ingest/otlp says which).
	Failed bool
}

// Root reports whether s has no parent.
func (s *Span) Root() bool { return s.Parent == [8]byte{} }

// Batch is the spans of one request and what was refused of it.
type Batch struct {
	Spans []Span
	// NoService counts spans whose resource has no service.name: they
	// cannot be placed on a graph of services.
	NoService int
	// Invalid counts spans refused for another reason (ids, times).
	Invalid int
	// Problems holds the first few reasons, for the sender.
	Problems []error
}

// maxProblems bounds Batch.Problems: a request of a million bad spans
// tells the sender the first reasons, not a million.
const maxProblems = 10

// Rejected is the number of spans refused.
func (b *Batch) Rejected() int { return b.NoService + b.Invalid }

// Refuse counts n refused spans and keeps their reason while there are
// few.
func (b *Batch) Refuse(n int, noService bool, err error) {
	if noService {
		b.NoService += n
	} else {
		b.Invalid += n
	}
	if len(b.Problems) < maxProblems {
		b.Problems = append(b.Problems, err)
	}
}

// Check reports why s cannot be joined, or nil.
func (s *Span) Check() error {
	switch {
	case s.Service == "":
		return fmt.Errorf("span %x has no service.name", s.ID)
	case s.ID == [8]byte{}:
		return fmt.Errorf("a span of %q has an empty span id", s.Service)
	case s.Trace == [16]byte{}:
		return fmt.Errorf("span %x of %q has an empty trace id", s.ID, s.Service)
	case s.End < s.Start:
		return fmt.Errorf("span %x of %q ends before it starts", s.ID, s.Service)
	case s.Start <= 0:
		return fmt.Errorf("span %x of %q has no start time", s.ID, s.Service)
	case s.Status != slo.NoStatus && (s.Status < 0 || s.Status > 999):
		return fmt.Errorf("span %x of %q has HTTP status %d, outside 0–999", s.ID, s.Service, s.Status)
	}
	return nil
}

// Call is one observed call along an edge: the child span of service To
// whose parent is a span of service From.
type Call struct {
	From, To string
	// Time is the child span's end, Unix nanoseconds: a call's outcome is
	// known when it ends, as an access log writes its line then.
	Time int64
	// Latency is the child SERVER span's duration in seconds; NaN for
	// other kinds (a consumer's duration is not a response time).
	Latency float64
	// Status is the HTTP status or slo.NoStatus; Failed as Span.Failed.
	Status int
	Failed bool
}

func callOf(from string, child *pendingSpan, to string) Call {
	c := Call{From: from, To: to, Time: child.end, Latency: math.NaN(), Status: int(child.status), Failed: child.failed}
	if child.server {
		c.Latency = float64(child.end-child.start) / 1e9
	}
	return c
}

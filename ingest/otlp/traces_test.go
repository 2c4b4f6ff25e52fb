package otlp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/slo"
)

var (
	traceID = []byte{0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6, 0x0c}
	spanA   = []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74}
	spanB   = []byte{0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x73}
)

func traceRequest(service string, spans ...*tracepb.Span) *tracepb.TracesData {
	res := &resourcepb.Resource{}
	if service != "" {
		res.Attributes = []*commonpb.KeyValue{str("service.name", service)}
	}
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{Resource: res,
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: spans}}}}}
}

func pbSpan(id, parent []byte, kind tracepb.Span_SpanKind, attrs ...*commonpb.KeyValue) *tracepb.Span {
	return &tracepb.Span{TraceId: traceID, SpanId: id, ParentSpanId: parent, Kind: kind,
		StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 250_000_000, Attributes: attrs}
}

func TestDecodeTracesProtobuf(t *testing.T) {
	errSpan := pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER)
	errSpan.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
	for _, tc := range []struct {
		name       string
		span       *tracepb.Span
		wantStatus int
		wantFailed bool
	}{
		{"An HTTP 200 succeeded.", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("http.response.status_code", 200)), 200, false},
		{"An HTTP 503 failed.", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("http.response.status_code", 503)), 503, true},
		{"An HTTP 404 is the client's doing, not a failure.", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("http.response.status_code", 404)), 404, false},
		{"The old http.status_code as a string is read.", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, str("http.status_code", "502")), 502, true},
		{"Span status ERROR failed.", errSpan, slo.NoStatus, true},
		{"gRPC UNAVAILABLE failed.", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("rpc.grpc.status_code", 14)), slo.NoStatus, true},
		{"gRPC NOT_FOUND is the client's doing.", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("rpc.grpc.status_code", 5)), slo.NoStatus, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := proto.Marshal(traceRequest("payments", tc.span))
			if err != nil {
				t.Fatal(err)
			}
			b, err := DecodeTraces(body, "application/x-protobuf")
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Spans) != 1 || b.Rejected() != 0 {
				t.Fatalf("%d spans, %d rejected (%v); want 1 and 0", len(b.Spans), b.Rejected(), b.Problems)
			}
			s := b.Spans[0]
			if s.Status != tc.wantStatus || s.Failed != tc.wantFailed || s.Service != "payments" || s.Kind != callgraph.KindServer ||
				!bytes.Equal(s.Parent[:], spanA) || !bytes.Equal(s.ID[:], spanB) || !bytes.Equal(s.Trace[:], traceID) || s.End-s.Start != 250_000_000 {
				t.Errorf("span %+v: want status %d, failed %v", s, tc.wantStatus, tc.wantFailed)
			}
		})
	}
}

// TestDecodeTracesJSON reads OTLP/JSON as the specification writes it:
// hex ids, lowerCamelCase, 64-bit integers as strings, kind as a number.
func TestDecodeTracesJSON(t *testing.T) {
	body := fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},
"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"parentSpanId":%q,"name":"POST /pay","kind":2,
"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[{"key":"http.response.status_code","value":{"intValue":"500"}}]}]}]}]}`,
		hex.EncodeToString(traceID), hex.EncodeToString(spanB), hex.EncodeToString(spanA), t0, t0+1e9)
	b, err := DecodeTraces([]byte(body), "application/json")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Spans) != 1 {
		t.Fatalf("%d spans (%v), want 1", len(b.Spans), b.Problems)
	}
	s := b.Spans[0]
	if !bytes.Equal(s.Trace[:], traceID) || !bytes.Equal(s.ID[:], spanB) || !bytes.Equal(s.Parent[:], spanA) || s.Status != 500 || !s.Failed || s.Kind != callgraph.KindServer {
		t.Errorf("span %+v: hex ids not recovered or status lost", s)
	}
}

func TestDecodeTracesRefuses(t *testing.T) {
	short := pbSpan(spanB[:4], spanA, tracepb.Span_SPAN_KIND_SERVER)
	badStatus := pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("http.response.status_code", 1200))
	backwards := pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER)
	backwards.EndTimeUnixNano = backwards.StartTimeUnixNano - 1
	req := traceRequest("payments", short, badStatus, backwards, pbSpan(spanA, nil, tracepb.Span_SPAN_KIND_CLIENT))
	req.ResourceSpans = append(req.ResourceSpans, traceRequest("", pbSpan(spanA, nil, 0), pbSpan(spanB, spanA, 0)).ResourceSpans...)
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DecodeTraces(body, "application/x-protobuf")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Spans) != 1 || b.Invalid != 3 || b.NoService != 2 || len(b.Problems) != 4 {
		t.Errorf("%d spans, %d invalid, %d without service, problems %v: want 1, 3, 2 and four reasons", len(b.Spans), b.Invalid, b.NoService, b.Problems)
	}
	if _, err := DecodeTraces([]byte{0xff, 0xff}, "application/x-protobuf"); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
	if _, err := DecodeTraces(nil, "text/plain"); !errors.Is(err, ErrUnsupportedContentType) {
		t.Errorf("text/plain: %v, want ErrUnsupportedContentType", err)
	}
}

func TestTraceResponse(t *testing.T) {
	if got := TraceResponse(0, "", false); len(got) != 0 {
		t.Errorf("full success as protobuf: %x, want empty", got)
	}
	if got := string(TraceResponse(0, "", true)); got != "{}" {
		t.Errorf("full success as JSON: %s, want {}", got)
	}
	if got, want := string(TraceResponse(3, `no "service.name"`, true)), `{"partialSuccess":{"rejectedSpans":"3","errorMessage":"no \"service.name\""}}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
	// The protobuf answer read back field by field: partial_success (1)
	// holding rejected_spans (1) and error_message (2).
	b := TraceResponse(3, "why", false)
	num, typ, n := protowire.ConsumeTag(b)
	inner, m := protowire.ConsumeBytes(b[n:])
	if num != 1 || typ != protowire.BytesType || m < 0 || n+m != len(b) {
		t.Fatalf("%x: want one partial_success message", b)
	}
	num, _, n = protowire.ConsumeTag(inner)
	v, m := protowire.ConsumeVarint(inner[n:])
	inner = inner[n+m:]
	num2, _, n := protowire.ConsumeTag(inner)
	s, _ := protowire.ConsumeString(inner[n:])
	if num != 1 || v != 3 || num2 != 2 || s != "why" {
		t.Errorf("%x: want rejected_spans 3 and error_message \"why\"", b)
	}
}

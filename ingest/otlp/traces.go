package otlp

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/slo"
)

// DecodeTraces decodes an OTLP/HTTP traces request body
// (ExportTraceServiceRequest, wire-identical to trace.v1.TracesData) of
// the given Content-Type, as Decode does metrics. Spans that cannot be
// placed on the call graph are refused and counted in the Batch, never
// an error: a resource without service.name, ids of the wrong length,
// times out of range.
//
// What a span says of its call, after the OpenTelemetry semantic
// conventions for HTTP and gRPC server spans:
//
//   - Status: http.response.status_code (or http.status_code, its name
//     before semantic conventions 1.23), an int or a string of digits.
//   - Failed: span status ERROR; or an HTTP status of 500–599; or
//     rpc.grpc.status_code UNKNOWN (2), DEADLINE_EXCEEDED (4),
//     UNIMPLEMENTED (12), INTERNAL (13), UNAVAILABLE (14) or DATA_LOSS
//     (15), the codes the gRPC conventions count as a server's errors
//     (the others are the client's doing).
func DecodeTraces(body []byte, contentType string) (*callgraph.Batch, error) {
	var req tracepb.TracesData
	if err := unmarshal(body, contentType, &req); err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	return SpansFromProto(&req, strings.EqualFold(mt, ContentTypeJSON)), nil
}

// SpansFromProto maps decoded OTLP spans to the graph's spans. fromJSON
// says the request was JSON, where OTLP writes trace and span ids in hex
// rather than protobuf JSON's base64 (see hexID).
func SpansFromProto(req *tracepb.TracesData, fromJSON bool) *callgraph.Batch {
	n := 0
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	b := &callgraph.Batch{Spans: make([]callgraph.Span, 0, n)}
	for ri, rs := range req.GetResourceSpans() {
		svc := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				svc = attrString(kv.GetValue())
			}
		}
		if svc == "" || !utf8.ValidString(svc) {
			m := 0
			for _, ss := range rs.GetScopeSpans() {
				m += len(ss.GetSpans())
			}
			if m > 0 {
				b.Refuse(m, true, fmt.Errorf("otlp: resource_spans[%d] has no service.name (set OTEL_SERVICE_NAME in the service that sent it): its %d spans refused", ri, m))
			}
			continue
		}
		for si, ss := range rs.GetScopeSpans() {
			for pi, sp := range ss.GetSpans() {
				s, err := span(sp, svc, fromJSON)
				if err == nil {
					err = s.Check()
				}
				if err != nil {
					b.Refuse(1, false, fmt.Errorf("otlp: resource_spans[%d].scope_spans[%d].spans[%d]: %w", ri, si, pi, err))
					continue
				}
				b.Spans = append(b.Spans, s)
			}
		}
	}
	return b
}

func span(sp *tracepb.Span, svc string, fromJSON bool) (callgraph.Span, error) {
	s := callgraph.Span{Service: svc, Status: slo.NoStatus}
	if err := id(s.Trace[:], sp.GetTraceId(), "trace id", fromJSON); err != nil {
		return s, err
	}
	if err := id(s.ID[:], sp.GetSpanId(), "span id", fromJSON); err != nil {
		return s, err
	}
	if p := sp.GetParentSpanId(); len(p) > 0 {
		if err := id(s.Parent[:], p, "parent span id", fromJSON); err != nil {
			return s, err
		}
	}
	k := sp.GetKind()
	if k < 0 || k > tracepb.Span_SPAN_KIND_CONSUMER {
		return s, fmt.Errorf("span kind %d is not one of OTLP's", k)
	}
	s.Kind = callgraph.Kind(k)
	start, end := sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano()
	if start > math.MaxInt64 || end > math.MaxInt64 {
		return s, fmt.Errorf("times %d–%d ns are past the year 2262", start, end)
	}
	s.Start, s.End = int64(start), int64(end)
	s.Failed = sp.GetStatus().GetCode() == tracepb.Status_STATUS_CODE_ERROR
	for _, kv := range sp.GetAttributes() {
		switch kv.GetKey() {
		case "http.response.status_code", "http.status_code":
			code, ok := intValue(kv.GetValue())
			if !ok || code < 0 || code > 999 {
				return s, fmt.Errorf("%s %s is not an HTTP status (0–999)", kv.GetKey(), attrString(kv.GetValue()))
			}
			s.Status = int(code)
			s.Failed = s.Failed || code >= 500 && code <= 599
		case "rpc.grpc.status_code":
			code, ok := intValue(kv.GetValue())
			if !ok {
				return s, fmt.Errorf("rpc.grpc.status_code %s is not a number", attrString(kv.GetValue()))
			}
			s.Failed = s.Failed || grpcServerError(code)
		}
	}
	return s, nil
}

// grpcServerError reports whether a gRPC status code is an error of the
// server, as the semantic conventions for gRPC server spans list them.
func grpcServerError(code int64) bool {
	switch code {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

func intValue(v *commonpb.AnyValue) (int64, bool) {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_IntValue:
		return x.IntValue, true
	case *commonpb.AnyValue_StringValue:
		n, err := strconv.ParseInt(x.StringValue, 10, 64)
		return n, err == nil
	}
	return 0, false
}

// id copies an id of len(dst) bytes. OTLP/JSON writes ids as hex strings,
// which protobuf JSON reads as base64: 32 hex digits come out as 24
// bytes, 16 as 12. Encoding those bytes as base64 again gives back the
// hex digits exactly, so a JSON id is recovered without a decoder of its
// own.
func id(dst, src []byte, what string, fromJSON bool) error {
	if fromJSON && len(src) == len(dst)*3/2 {
		h, err := hex.DecodeString(base64.StdEncoding.EncodeToString(src))
		if err != nil {
			return fmt.Errorf("%s is not %d hex digits", what, 2*len(dst))
		}
		src = h
	}
	if len(src) != len(dst) {
		return fmt.Errorf("%s has %d bytes; want %d", what, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// TraceResponse encodes an ExportTraceServiceResponse: empty on full
// success, else partial_success with the spans rejected and why (OTLP
// asks the server to set both when it drops part of a request, and the
// sender not to retry it). jsonBody selects OTLP/JSON, where an int64 is
// written as a string as protobuf JSON does.
func TraceResponse(rejected int64, msg string, jsonBody bool) []byte {
	if jsonBody {
		if rejected == 0 && msg == "" {
			return []byte("{}")
		}
		m, _ := json.Marshal(msg) // a string always encodes
		return fmt.Appendf(nil, `{"partialSuccess":{"rejectedSpans":"%d","errorMessage":%s}}`, rejected, m)
	}
	if rejected == 0 && msg == "" {
		return nil
	}
	var ps []byte
	if rejected != 0 {
		ps = protowire.AppendTag(ps, 1, protowire.VarintType)
		ps = protowire.AppendVarint(ps, uint64(rejected))
	}
	if msg != "" {
		ps = protowire.AppendTag(ps, 2, protowire.BytesType)
		ps = protowire.AppendString(ps, msg)
	}
	out := protowire.AppendTag(nil, 1, protowire.BytesType)
	return protowire.AppendBytes(out, ps)
}

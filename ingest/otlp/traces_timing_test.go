//go:build unix

package otlp

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/callgraph"
)

// benchTraces builds one export request per service of a chain of
// services, as each service's SDK would send it: per call a CLIENT span in
// the caller and a SERVER span in the callee, with the attributes the
// HTTP semantic conventions put on them (about 400 bytes a span).
func benchTraces(services, callsPerRequest int) [][]byte {
	var bodies [][]byte
	for s := range services {
		var spans []*tracepb.Span
		for c := range callsPerRequest {
			tr := make([]byte, 16)
			binary.BigEndian.PutUint64(tr, uint64(c+1))
			// The SERVER span of service s answers the CLIENT span of
			// service s-1; its own CLIENT span calls service s+1.
			server := make([]byte, 8)
			binary.BigEndian.PutUint64(server, uint64(2*s+1))
			client := make([]byte, 8)
			binary.BigEndian.PutUint64(client, uint64(2*s+2))
			parent := make([]byte, 8)
			if s > 0 {
				binary.BigEndian.PutUint64(parent, uint64(2*s))
			} else {
				parent = nil
			}
			attrs := []*commonpb.KeyValue{str("http.request.method", "POST"), str("url.path", "/api/v1/pay"),
				str("url.scheme", "https"), str("server.address", fmt.Sprintf("svc-%d.internal", s)),
				intAttr("server.port", 8443), str("network.protocol.version", "1.1"),
				str("user_agent.original", "Go-http-client/1.1"), intAttr("http.response.status_code", 200+300*int64(c%50/49))}
			start := t0 + uint64(c)*1e6
			spans = append(spans,
				&tracepb.Span{TraceId: tr, SpanId: server, ParentSpanId: parent, Name: "POST /api/v1/pay", Kind: tracepb.Span_SPAN_KIND_SERVER,
					StartTimeUnixNano: start, EndTimeUnixNano: start + 20e6, Attributes: attrs,
					Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_UNSET}},
				&tracepb.Span{TraceId: tr, SpanId: client, ParentSpanId: server, Name: "POST", Kind: tracepb.Span_SPAN_KIND_CLIENT,
					StartTimeUnixNano: start + 1e6, EndTimeUnixNano: start + 19e6, Attributes: attrs[:6]})
		}
		req := &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
			Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{str("service.name", fmt.Sprintf("svc-%d", s)),
				str("service.version", "1.4.2"), str("telemetry.sdk.language", "go"), str("telemetry.sdk.name", "opentelemetry"),
				str("host.name", "node-17")}},
			ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "net/http"}, Spans: spans}}}}}
		b, err := proto.Marshal(req)
		if err != nil {
			panic(err)
		}
		bodies = append(bodies, b)
	}
	return bodies
}

// BenchmarkTraceIngest decodes OTLP protobuf requests of 1,000 spans from
// a chain of 8 services and joins them into the call graph, as POST
// /v1/traces does (less HTTP). Each round moves the trace ids on, so
// every span is new to the graph and old ones are evicted: the steady
// state of a busy receiver. Memory after the run is reported to show it
// does not grow with spans.
func BenchmarkTraceIngest(b *testing.B) {
	const services, calls = 8, 500
	bodies := benchTraces(services, calls)
	g, err := callgraph.New(callgraph.Options{})
	if err != nil {
		b.Fatal(err)
	}
	var size int
	for _, body := range bodies {
		size += len(body)
	}
	b.SetBytes(int64(size / len(bodies)))
	b.ReportAllocs()
	spans := 0
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		body := bodies[i%len(bodies)]
		batch, err := DecodeTraces(body, ContentTypeProtobuf)
		if err != nil {
			b.Fatal(err)
		}
		round := uint64(i / len(bodies))
		for k := range batch.Spans {
			binary.BigEndian.PutUint64(batch.Spans[k].Trace[8:], round)
		}
		tx := g.Join(batch.Spans)
		tx.Commit()
		spans += len(batch.Spans)
	}
	b.ReportMetric(float64(spans)/b.Elapsed().Seconds(), "spans/s")
	// The machine may be shared: spans per second of CPU the process
	// used (the collector's included) says what one core does alone.
	b.ReportMetric(float64(spans)/(cpuTime(b)-cpu0).Seconds(), "spans/cpu-s")
	st := g.Stats()
	if st.Edges != services-1 {
		b.Fatalf("%d edges, want %d", st.Edges, services-1)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
	runtime.KeepAlive(g)
}

// cpuTime is the user and system CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

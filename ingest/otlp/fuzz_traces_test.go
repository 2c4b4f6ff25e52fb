package otlp

import (
	"encoding/hex"
	"fmt"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/callgraph"
)

// FuzzDecodeTraces feeds the trace decoder and the call graph any bytes,
// as protobuf and as JSON: nothing panics, every span kept passes the
// graph's check, and the graph joins them.
func FuzzDecodeTraces(f *testing.F) {
	pb, err := proto.Marshal(traceRequest("payments", pbSpan(spanB, spanA, tracepb.Span_SPAN_KIND_SERVER, intAttr("http.response.status_code", 503)),
		pbSpan(spanA, nil, tracepb.Span_SPAN_KIND_CLIENT)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(pb, false)
	f.Add([]byte(fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"kind":3,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`,
		hex.EncodeToString(traceID), hex.EncodeToString(spanA))), true)
	g, err := callgraph.New(callgraph.Options{Spans: 64, Pending: 16})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, asJSON bool) {
		ct := ContentTypeProtobuf
		if asJSON {
			ct = ContentTypeJSON
		}
		b, err := DecodeTraces(body, ct)
		if err != nil {
			return
		}
		for i := range b.Spans {
			if err := b.Spans[i].Check(); err != nil {
				t.Fatalf("span %d kept though %v", i, err)
			}
		}
		if b.Rejected() > 0 && len(b.Problems) == 0 {
			t.Fatalf("%d spans refused without a reason", b.Rejected())
		}
		tx := g.Join(b.Spans)
		tx.Commit()
	})
}

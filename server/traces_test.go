package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/store"
)

const edgeSpec = `name: checkout-payments
service: checkout
sli:
  good:
    ok: true
    latency: "<=250ms"
  source:
    edge: {from: checkout, to: payments}
objective: 99
window:
  rolling: 1d
`

// flakyWriter is the engine, with commits that fail while fail is set.
type flakyWriter struct {
	*engine.Engine
	fail bool
}

func (w *flakyWriter) Commit(ctx context.Context, b *engine.Batch) (map[string]engine.AppendResult, error) {
	if w.fail {
		return nil, fmt.Errorf("disk gone: %w", store.ErrUnavailable)
	}
	return w.Engine.Commit(ctx, b)
}

type traceFixture struct {
	t      *testing.T
	srv    *httptest.Server
	eng    *engine.Engine
	writer *flakyWriter
	now    time.Time
}

func newTraceFixture(t *testing.T, declared []callgraph.Edge) *traceFixture {
	t.Helper()
	ctx := context.Background()
	db, c := newStore(t)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"edge.yaml": []byte(edgeSpec)}); err != nil {
		t.Fatal(err)
	}
	g, err := callgraph.New(callgraph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := &flakyWriter{Engine: eng}
	cfg := Config{SLOs: eng, Writes: w, Annotations: db, Traces: g, MaxBody: 1 << 20}
	if declared != nil {
		cfg.DeclaredEdges = func() ([]callgraph.Edge, error) { return declared, nil }
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &traceFixture{t: t, srv: srv, eng: eng, writer: w, now: c.Now()}
}

// spanJSON is an OTLP/JSON request of one span of service (none when
// empty) with id and parent (hex, parent may be ""), ending 100 ms after
// it starts, 10 s before now.
func (f *traceFixture) spanJSON(service, id, parent string, kind tracepb.Span_SpanKind, code int) string {
	res := `{}`
	if service != "" {
		res = fmt.Sprintf(`{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]}`, service)
	}
	end := f.now.Add(-10 * time.Second).UnixNano()
	return fmt.Sprintf(`{"resourceSpans":[{"resource":%s,"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",
"spanId":%q,"parentSpanId":%q,"kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d",
"attributes":[{"key":"http.response.status_code","value":{"intValue":"%d"}}]}]}]}]}`, res, id, parent, kind, end-100e6, end, code)
}

func (f *traceFixture) post(contentType, body string) (int, string) {
	f.t.Helper()
	resp, err := http.Post(f.srv.URL+"/v1/traces", contentType, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *traceFixture) edges(query string) string {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + "/api/v1/edges" + query)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 && query == "" {
		f.t.Fatalf("GET /api/v1/edges: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// attempted sums the stored rollups of the edge SLO.
func (f *traceFixture) attempted() (attempted, errs uint64) {
	f.t.Helper()
	_, series, err := f.eng.Series(context.Background(), "checkout-payments", f.now.Add(-time.Hour), f.now.Add(time.Minute))
	if err != nil {
		f.t.Fatal(err)
	}
	for _, r := range series.Rollups {
		attempted += r.Attempted
		errs += r.Errors
	}
	return attempted, errs
}

func TestTracesFeedTheGraphAndTheEdgeSLO(t *testing.T) {
	f := newTraceFixture(t, []callgraph.Edge{{From: "checkout", To: "payments"}, {From: "checkout", To: "inventory"}})
	// The callee's span first, as SDKs send them.
	if code, body := f.post("application/json", f.spanJSON("payments", "eee19b7ec3c1b173", "eee19b7ec3c1b174", tracepb.Span_SPAN_KIND_SERVER, 503)); code != 200 || body != "{}" {
		t.Fatalf("child: %d %s, want 200 {}", code, body)
	}
	if a, _ := f.attempted(); a != 0 {
		t.Fatalf("%d calls stored before the parent came", a)
	}
	if code, body := f.post("application/json; charset=utf-8", f.spanJSON("checkout", "eee19b7ec3c1b174", "", tracepb.Span_SPAN_KIND_CLIENT, 200)); code != 200 || body != "{}" {
		t.Fatalf("parent: %d %s, want 200 {}", code, body)
	}
	if a, e := f.attempted(); a != 1 || e != 1 {
		t.Errorf("edge SLO stored %d calls and %d errors, want 1 and 1", a, e)
	}
	got := f.edges("?window=15m")
	for _, want := range []string{`"from": "checkout"`, `"calls": 1`, `"errors": 1`, `"error_rate": 1`, `"slo": "checkout-payments"`,
		`"threshold_seconds": 0.25`, `"share_under_threshold": 1`, `"unobserved": [`, `"to": "inventory"`, `"undeclared": []`} {
		if !strings.Contains(got, want) {
			t.Errorf("GET /api/v1/edges lacks %s:\n%s", want, got)
		}
	}
	if got := f.edges("?window=2h"); !strings.Contains(got, "want whole minutes from 1m to 1h") {
		t.Errorf("a window past the graph's: %s", got)
	}
}

// TestTracesRetryAfterAFailedCommitCountsOnce fails the commit of the
// request that completes a call: the answer is a 5xx, nothing is counted,
// and the sender's retry counts the call once.
func TestTracesRetryAfterAFailedCommitCountsOnce(t *testing.T) {
	f := newTraceFixture(t, nil)
	f.post("application/json", f.spanJSON("payments", "eee19b7ec3c1b173", "eee19b7ec3c1b174", tracepb.Span_SPAN_KIND_SERVER, 200))
	parent := f.spanJSON("checkout", "eee19b7ec3c1b174", "", tracepb.Span_SPAN_KIND_CLIENT, 200)
	f.writer.fail = true
	if code, body := f.post("application/json", parent); code != 503 {
		t.Fatalf("failed commit answered %d %s, want 503", code, body)
	}
	if got := f.edges(""); !strings.Contains(got, `"edges": []`) {
		t.Errorf("a call counted though its commit failed:\n%s", got)
	}
	f.writer.fail = false
	for range 2 {
		if code, body := f.post("application/json", parent); code != 200 {
			t.Fatalf("retry answered %d %s", code, body)
		}
	}
	if a, _ := f.attempted(); a != 1 {
		t.Errorf("the retried call stored %d times, want once", a)
	}
	if got := f.edges(""); !strings.Contains(got, `"calls": 1,`) || !strings.Contains(got, `"duplicates": 1`) {
		t.Errorf("after the retries:\n%s", got)
	}
}

// TestTracesWithoutServiceName refuses the spans of a resource without
// service.name in a partial success, in the request's encoding.
func TestTracesWithoutServiceName(t *testing.T) {
	f := newTraceFixture(t, nil)
	code, body := f.post("application/json", f.spanJSON("", "eee19b7ec3c1b173", "", tracepb.Span_SPAN_KIND_SERVER, 200))
	if code != 200 || !strings.Contains(body, `"rejectedSpans":"1"`) || !strings.Contains(body, "no service.name") {
		t.Errorf("JSON: %d %s, want 200 with one rejected span", code, body)
	}
	pb, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		ScopeSpans: []*tracepb.ScopeSpans{{Spans: []*tracepb.Span{{Name: "GET /"}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	code, body = f.post("application/x-protobuf", string(pb))
	// partial_success (field 1) holding rejected_spans (field 1) = 1.
	num, _, n := protowire.ConsumeTag([]byte(body))
	inner, _ := protowire.ConsumeBytes([]byte(body)[max(n, 0):])
	_, _, m := protowire.ConsumeTag(inner)
	rejected, _ := protowire.ConsumeVarint(inner[max(m, 0):])
	if code != 200 || num != 1 || rejected != 1 {
		t.Errorf("protobuf: %d %x, want 200 with a partial_success of one rejected span", code, body)
	}
	if code, _ := f.post("text/plain", "x"); code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain answered %d, want 415", code)
	}
	if code, _ := f.post("application/x-protobuf", "\xff\xff"); code != http.StatusBadRequest {
		t.Errorf("garbage answered %d, want 400", code)
	}
}

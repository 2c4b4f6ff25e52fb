package e2e

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/nines-sre/nines/callgraph"
)

// tracesSpec is an SLO on the checkout → payments edge: each call judged
// by its own verdict, and slow over 250 ms.
const tracesSpec = `name: checkout-payments
service: checkout
sli:
  good:
    ok: true
    latency: "<=250ms"
  source:
    edge: {from: checkout, to: payments}
objective: 99
method: transactions
quantum: 10s
window:
  rolling: 1h
`

// edgesDoc is the part of GET /api/v1/edges the test reads.
type edgesDoc struct {
	Edges []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Calls  uint64 `json:"calls"`
		Errors uint64 `json:"errors"`
		SLOs   []struct {
			SLO string `json:"slo"`
		} `json:"slos"`
	} `json:"edges"`
}

// tracesCatalog declares the services of the traces test and their
// calls, with one the services never make (checkout → inventory).
const tracesCatalog = `services:
  - name: frontend
    dependencies: [{service: checkout}]
  - name: checkout
    dependencies: [{service: payments}, {service: inventory}]
  - name: payments
    dependencies: [{service: checkout, strength: soft}]
  - name: inventory
`

// TestTracesCallGraph sends, with the OpenTelemetry Go SDK's OTLP/HTTP
// trace exporter, the traces of three services: frontend calls checkout,
// checkout calls payments, payments calls checkout back on some requests
// (a cycle), and frontend calls payments directly on others (an edge no
// one declared). The catalog below also declares checkout → inventory,
// which is never called. nines must count every call exactly, find the
// undeclared and the unobserved edge, and feed the edge SLO.
func TestTracesCallGraph(t *testing.T) {
	t.Parallel()
	catalogFile := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(catalogFile, []byte(tracesCatalog), 0o644); err != nil {
		t.Fatal(err)
	}
	n := startNines(t, t.TempDir(), writeSpecs(t, map[string]string{"edge.yaml": tracesSpec}), "--services", catalogFile)
	endpoint := strings.TrimPrefix(n.url, "http://")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	providers := map[string]*sdktrace.TracerProvider{}
	tracers := map[string]trace.Tracer{}
	for i, svc := range []string{"frontend", "checkout", "payments"} {
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(endpoint), otlptracehttp.WithInsecure(),
			otlptracehttp.WithTimeout(10 * time.Second),
			// A failed export must fail the test, not be retried.
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false})}
		if i == 1 {
			opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			t.Fatal(err)
		}
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", svc))))
		t.Cleanup(func() { tp.Shutdown(context.Background()) })
		providers[svc], tracers[svc] = tp, tp.Tracer("github.com/nines-sre/nines/e2e")
	}

	// call makes a CLIENT span in from and the SERVER span it reaches in
	// to, lasting d, with an HTTP status; inner runs inside the server.
	base := time.Now()
	call := func(ctx context.Context, from, to string, at time.Time, d time.Duration, code int, inner func(context.Context, time.Time)) {
		cctx, client := tracers[from].Start(ctx, "call "+to, trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(at))
		sctx, server := tracers[to].Start(cctx, "serve", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at))
		server.SetAttributes(attribute.Int("http.response.status_code", code))
		if inner != nil {
			inner(sctx, at)
		}
		server.End(trace.WithTimestamp(at.Add(d)))
		client.End(trace.WithTimestamp(at.Add(d + time.Millisecond)))
	}
	const requests = 40
	want := map[callgraph.Edge][2]uint64{}
	add := func(from, to string, failed bool) {
		e := callgraph.Edge{From: from, To: to}
		c := want[e]
		c[0]++
		if failed {
			c[1]++
		}
		want[e] = c
	}
	var sli events
	for i := range requests {
		at := base.Add(time.Duration(i) * time.Millisecond)
		rctx, root := tracers["frontend"].Start(ctx, "GET /cart", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at))
		call(rctx, "frontend", "checkout", at, 500*time.Millisecond, 200, func(ctx context.Context, at time.Time) {
			code, d := 200, 100*time.Millisecond
			if i%4 == 3 {
				code = 503
			}
			if i%3 == 2 {
				d = 400 * time.Millisecond
			}
			call(ctx, "checkout", "payments", at, d, code, func(ctx context.Context, at time.Time) {
				if i%5 == 0 {
					// The refund callback: payments → checkout.
					call(ctx, "payments", "checkout", at, 10*time.Millisecond, 200, nil)
					add("payments", "checkout", false)
				}
			})
			add("checkout", "payments", code >= 500)
			sli.Total++
			switch {
			case code >= 500:
				sli.Errors++
			case d > 250*time.Millisecond:
				sli.Slow++
			default:
				sli.Good++
			}
		})
		add("frontend", "checkout", false)
		if i%10 == 0 {
			call(rctx, "frontend", "payments", at, 50*time.Millisecond, 200, nil)
			add("frontend", "payments", false)
		}
		root.End(trace.WithTimestamp(at.Add(600 * time.Millisecond)))
	}
	sli.Failed = sli.Errors + sli.Slow
	// Callees first: their SERVER spans reach nines before the CLIENT
	// spans they are children of, and wait for them.
	for _, svc := range []string{"payments", "checkout", "frontend"} {
		if err := providers[svc].ForceFlush(ctx); err != nil {
			t.Fatalf("exporting %s's spans to nines: %v", svc, err)
		}
	}

	// The calls are stamped up to 0.7 s after base; the graph's figures
	// run to the current minute, so read them once that time has passed,
	// lest a minute boundary fall in between.
	sleepUntil(base.Add(time.Second))
	var doc edgesDoc
	getJSON(t, n.url+"/api/v1/edges", &doc)
	got := map[callgraph.Edge][2]uint64{}
	var observed []callgraph.Edge
	for _, e := range doc.Edges {
		k := callgraph.Edge{From: e.From, To: e.To}
		got[k] = [2]uint64{e.Calls, e.Errors}
		observed = append(observed, k)
	}
	if len(got) != len(want) {
		t.Errorf("edges %v, want %v", got, want)
	}
	for e, w := range want {
		if got[e] != w {
			t.Errorf("%s: %d calls and %d errors, want %d and %d", e, got[e][0], got[e][1], w[0], w[1])
		}
	}
	// The catalog nines serve was given declares the chain, the call
	// back and checkout → inventory: the API compares it with the calls.
	var diff struct {
		Undeclared, Unobserved []callgraph.Edge
	}
	getJSON(t, n.url+"/api/v1/edges", &diff)
	if len(diff.Undeclared) != 1 || diff.Undeclared[0] != (callgraph.Edge{From: "frontend", To: "payments"}) ||
		len(diff.Unobserved) != 1 || diff.Unobserved[0] != (callgraph.Edge{From: "checkout", To: "inventory"}) {
		t.Errorf("GET /api/v1/edges: undeclared %v, unobserved %v; want frontend → payments undeclared and checkout → inventory unobserved", diff.Undeclared, diff.Unobserved)
	}
	// The dependency checks find the same two, and the cycle.
	var checks struct {
		Findings []struct {
			Check   string   `json:"check"`
			Service string   `json:"service"`
			Path    []string `json:"path"`
		} `json:"findings"`
	}
	getJSON(t, n.url+"/api/v1/deps/check", &checks)
	found := map[string][]string{}
	for _, f := range checks.Findings {
		found[f.Check] = append(found[f.Check], f.Service+" "+strings.Join(f.Path, "→"))
	}
	if len(found["cycle"]) != 1 || len(found["undeclared"]) != 1 || len(found["unobserved"]) != 1 {
		t.Errorf("GET /api/v1/deps/check: %v; want one cycle (checkout ↔ payments), one undeclared and one unobserved edge", found)
	}
	if v := n.metric(t, "nines_trace_buffer_evicted_total{buffer=\"pending\"}"); v != "0" {
		t.Errorf("children lost from the pending buffer: %s, want 0", v)
	}

	// The edge SLO counts the same calls, once their quanta are stored.
	at := base.Add(time.Second).Truncate(10 * time.Second).Add(10 * time.Second)
	sleepUntil(at)
	if got := n.status(t, "checkout-payments", at); got != sli {
		t.Errorf("edge SLO events %+v, want %+v", got, sli)
	}

	// A resource without service.name: its spans are refused, counted and
	// said, and the request still succeeds.
	body := `{"resourceSpans":[{"resource":{},"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","kind":2,"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
	resp, err := http.Post(n.url+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(answer), `"rejectedSpans":"1"`) || !strings.Contains(string(answer), "service.name") {
		t.Errorf("no service.name: %s %s, want 200 with a partial success of one rejected span", resp.Status, answer)
	}
	if v := n.metric(t, `nines_ingest_rejected_total{reason="otlp traces: no service.name"}`); v != "1" {
		t.Errorf("spans without service.name counted %q, want 1", v)
	}
}

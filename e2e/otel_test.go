package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// otelSpecs are a latency SLO on an OTLP histogram (5xx by the errors
// matcher) and a counter SLO, for one service.
func otelSpecs(service string) string {
	return strings.NewReplacer("SVC", service).Replace(`name: SVC-latency
service: SVC
sli:
  good:
    ok: true
    latency: "<=250ms"
  source:
    histogram: 'http.server.request.duration{service="SVC"}'
    errors: '{"http.response.status_code"=~"5.."}'
objective: 99
method: transactions
quantum: 10s
window:
  rolling: 1h
---
name: SVC-requests
service: SVC
sli:
  good:
    ok: true
  source:
    bad: 'app.requests{service="SVC", "http.response.status_code"=~"5.."}'
    total: 'app.requests{service="SVC"}'
objective: 99
method: transactions
quantum: 10s
window:
  rolling: 1h
`)
}

const otelQuantum = 10 * time.Second

// otelRequest is one request an instrumented service records.
type otelRequest struct {
	code    int
	seconds float64
}

// otelPhase returns the requests of phase p: every status code and
// latency mix, with 0.25 s exactly (good: "<=250ms") and just over it.
func otelPhase(p int) []otelRequest {
	latencies := []float64{0.003, 0.02, 0.1, 0.2, 0.25, 0.2500001, 0.7, 3}
	codes := []int{200, 200, 200, 404, 500, 503}
	var out []otelRequest
	for i := range 40 + 7*p {
		out = append(out, otelRequest{codes[(i+p)%len(codes)], latencies[(i*3+p)%len(latencies)]})
	}
	return out
}

// tally adds a phase's requests to the events each SLO should count.
func tally(reqs []otelRequest, latency, requests *events) {
	for _, r := range reqs {
		latency.Total++
		requests.Total++
		switch {
		case r.code >= 500:
			latency.Errors++
			requests.Errors++
		case r.seconds > 0.25:
			latency.Slow++
			requests.Good++
		default:
			latency.Good++
			requests.Good++
		}
	}
	latency.Failed = latency.Errors + latency.Slow
	requests.Failed = requests.Errors
}

// TestOpenTelemetrySDK exports a Float64Histogram and an Int64Counter
// with the OpenTelemetry Go SDK's OTLP/HTTP exporter to nines and checks
// that both SLOs count exactly the requests recorded: with cumulative
// temporality (the SDK's default) every series' first export is a
// baseline, so the requests of the first phase are not counted; with
// delta temporality (and gzip) every export counts.
func TestOpenTelemetrySDK(t *testing.T) {
	t.Parallel()
	n := startNines(t, t.TempDir(), writeSpecs(t, map[string]string{
		"cumulative.yaml": otelSpecs("otel-cumulative"),
		"delta.yaml":      otelSpecs("otel-delta"),
	}))
	endpoint := strings.TrimPrefix(n.url, "http://")

	for _, c := range []struct {
		service string
		delta   bool
	}{
		{"otel-cumulative", false},
		{"otel-delta", true},
	} {
		t.Run(c.service, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			opts := []otlpmetrichttp.Option{
				otlpmetrichttp.WithEndpoint(endpoint),
				otlpmetrichttp.WithInsecure(),
				otlpmetrichttp.WithURLPath("/v1/metrics"),
				otlpmetrichttp.WithTimeout(10 * time.Second),
				// A failed export must fail the test, not be retried
				// into a double count.
				otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}),
			}
			readerOpts := []sdkmetric.Option{}
			if c.delta {
				opts = append(opts,
					otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression),
					otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality {
						return metricdata.DeltaTemporality
					}))
			} else {
				// The bucket boundaries from a View here, from the
				// instrument below for delta.
				readerOpts = append(readerOpts, sdkmetric.WithView(sdkmetric.NewView(
					sdkmetric.Instrument{Name: "http.server.request.duration"},
					sdkmetric.Stream{Aggregation: sdkmetric.AggregationExplicitBucketHistogram{
						Boundaries: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
					}})))
			}
			exp, err := otlpmetrichttp.New(ctx, opts...)
			if err != nil {
				t.Fatal(err)
			}
			// A reader that never exports on its own: the test flushes.
			reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
			mp := sdkmetric.NewMeterProvider(append(readerOpts,
				sdkmetric.WithReader(reader),
				sdkmetric.WithResource(resource.NewSchemaless(
					attribute.String("service.name", c.service),
					attribute.String("service.instance.id", "e2e-1"))),
			)...)
			t.Cleanup(func() { mp.Shutdown(context.Background()) })

			meter := mp.Meter("github.com/nines-sre/nines/e2e")
			histOpts := []metric.Float64HistogramOption{metric.WithUnit("s")}
			if c.delta {
				histOpts = append(histOpts, metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
			}
			duration, err := meter.Float64Histogram("http.server.request.duration", histOpts...)
			if err != nil {
				t.Fatal(err)
			}
			count, err := meter.Int64Counter("app.requests", metric.WithUnit("{request}"))
			if err != nil {
				t.Fatal(err)
			}

			var wantLatency, wantRequests events
			var lastFlush time.Time
			const phases = 5
			for p := range phases {
				reqs := otelPhase(p)
				for _, r := range reqs {
					attrs := metric.WithAttributes(attribute.Int("http.response.status_code", r.code))
					duration.Record(ctx, r.seconds, attrs)
					count.Add(ctx, 1, attrs)
				}
				if err := mp.ForceFlush(ctx); err != nil {
					t.Fatalf("phase %d: exporting to nines: %v", p, err)
				}
				lastFlush = time.Now()
				// The first cumulative export of a series is its baseline.
				if c.delta || p > 0 {
					tally(reqs, &wantLatency, &wantRequests)
				}
				// Points of successive exports must not share a
				// millisecond; a pause also spreads them over time.
				time.Sleep(300 * time.Millisecond)
			}
			at := lastFlush.Truncate(otelQuantum).Add(otelQuantum)
			sleepUntil(at)
			for _, w := range []struct {
				slo  string
				want events
			}{
				{c.service + "-latency", wantLatency},
				{c.service + "-requests", wantRequests},
			} {
				if got := n.status(t, w.slo, at); got != w.want {
					t.Errorf("%s status at %s: events %+v, want %+v", w.slo, at.Format(time.RFC3339), got, w.want)
				}
			}
			t.Logf("%s: latency SLO %+v, requests SLO %+v", c.service, wantLatency, wantRequests)
		})
	}
}

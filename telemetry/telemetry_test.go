package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

// clearEnv unsets every variable that selects an exporter for the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{envTracesExporter, envMetricsExporter, envEndpoint, envTracesEndpoint, envMetricsEndpoint} {
		t.Setenv(k, "")
	}
}

func TestNoExporterByDefault(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	exp, err := spanExporter(ctx)
	if err != nil || exp != nil {
		t.Fatalf("spanExporter with no OTEL_* set = %v, %v; want nil, nil", exp, err)
	}
	r, err := metricReader(ctx)
	if err != nil || r != nil {
		t.Fatalf("metricReader with no OTEL_* set = %v, %v; want nil, nil", r, err)
	}
}

func TestExporterWhenEndpointSet(t *testing.T) {
	clearEnv(t)
	// Creating OTLP exporters does not connect, so an unreachable endpoint is fine.
	t.Setenv(envEndpoint, "http://127.0.0.1:1")
	ctx := context.Background()
	exp, err := spanExporter(ctx)
	if err != nil || exp == nil {
		t.Fatalf("spanExporter with %s set = %v, %v; want an exporter", envEndpoint, exp, err)
	}
	defer exp.Shutdown(ctx)
	r, err := metricReader(ctx)
	if err != nil || r == nil {
		t.Fatalf("metricReader with %s set = %v, %v; want a reader", envEndpoint, r, err)
	}
	defer r.Shutdown(ctx)
}

func TestExplicitNone(t *testing.T) {
	clearEnv(t)
	t.Setenv(envEndpoint, "http://127.0.0.1:1")
	t.Setenv(envTracesExporter, "none")
	t.Setenv(envMetricsExporter, "none")
	ctx := context.Background()
	if exp, err := spanExporter(ctx); err != nil || exp != nil {
		t.Fatalf("spanExporter with none = %v, %v; want nil, nil", exp, err)
	}
	if r, err := metricReader(ctx); err != nil || r != nil {
		t.Fatalf("metricReader with none = %v, %v; want nil, nil", r, err)
	}
}

func TestBadExporterIsAnError(t *testing.T) {
	clearEnv(t)
	t.Setenv(envTracesExporter, "carrier-pigeon")
	if _, err := Setup(context.Background(), Options{ServiceName: "whistle-test"}); err == nil {
		t.Fatal("Setup with an unknown exporter succeeded")
	}
}

func TestSetupRecordsAndPropagates(t *testing.T) {
	clearEnv(t)
	ctx := context.Background()
	shutdown, err := Setup(ctx, Options{ServiceName: "whistle-test", Version: "v0.0.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()

	ctx, span := otel.Tracer("telemetry-test").Start(ctx, "root")
	if !span.IsRecording() || !span.SpanContext().IsValid() || !span.SpanContext().IsSampled() {
		t.Fatalf("span recording=%v valid=%v sampled=%v; want all true",
			span.IsRecording(), span.SpanContext().IsValid(), span.SpanContext().IsSampled())
	}
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	span.End()
	if carrier.Get("traceparent") == "" {
		t.Fatalf("no traceparent injected: %v", carrier)
	}

	// A child of the extracted context continues the same trace.
	remote := otel.GetTextMapPropagator().Extract(context.Background(), carrier)
	_, child := otel.Tracer("telemetry-test").Start(remote, "child")
	defer child.End()
	if child.SpanContext().TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("child trace %s, want %s", child.SpanContext().TraceID(), span.SpanContext().TraceID())
	}

	c, err := otel.Meter("telemetry-test").Int64Counter("whistle.test.count")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(ctx, 1)
}

// Package telemetry installs Whistle's OpenTelemetry providers: a tracer
// provider that always records spans (so trace context flows from HTTP through
// NATS and Temporal to SQL), a meter provider, and the W3C tracecontext and
// baggage propagators. Exporters are chosen by the standard OTEL_* variables;
// with none of them set, nothing leaves the process.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.41.0"
)

// Options describe the process to the telemetry backend.
type Options struct {
	// ServiceName is the service.name resource attribute (e.g. "whistle").
	// OTEL_SERVICE_NAME, when set, wins.
	ServiceName string
	// Version is the service.version resource attribute.
	Version string
}

// Environment variables that select exporters (see the OpenTelemetry SDK
// environment variable specification).
const (
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envMetricsExporter = "OTEL_METRICS_EXPORTER"
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
)

// Setup installs the global tracer provider, meter provider and propagator
// and returns a function that flushes and shuts them down.
//
// The tracer provider is always an SDK provider with a parent-based
// always-on sampler, so spans record and trace context propagates even when
// nothing is exported. Exporters come from the standard variables through
// autoexport: OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER (otlp, console,
// none, prometheus for metrics) and the OTEL_EXPORTER_OTLP_* settings. Unlike
// autoexport's own default, Setup exports NOTHING when the signal's
// *_EXPORTER variable is unset and no OTLP endpoint
// (OTEL_EXPORTER_OTLP_ENDPOINT or the signal's own *_ENDPOINT) is set: a
// developer's laptop must not try to reach a collector on localhost:4318.
func Setup(ctx context.Context, o Options) (shutdown func(context.Context) error, err error) {
	res, err := newResource(ctx, o)
	if err != nil {
		return nil, err
	}

	spanExp, err := spanExporter(ctx)
	if err != nil {
		return nil, err
	}
	tpOpts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
	}
	if spanExp != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(spanExp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	reader, err := metricReader(ctx)
	if err != nil {
		return nil, errors.Join(err, tp.Shutdown(ctx))
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithResource(res)}
	if reader != nil {
		mpOpts = append(mpOpts, sdkmetric.WithReader(reader))
	}
	mp := sdkmetric.NewMeterProvider(mpOpts...)

	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))

	return func(ctx context.Context) error {
		return errors.Join(tp.Shutdown(ctx), mp.Shutdown(ctx))
	}, nil
}

// newResource describes the process: service name and version, the SDK, and
// whatever OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME add (they win).
func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	attrs := []resource.Option{resource.WithTelemetrySDK(), resource.WithHost(), resource.WithProcessRuntimeName(), resource.WithProcessRuntimeVersion()}
	var kv []attribute.KeyValue
	if o.ServiceName != "" {
		kv = append(kv, semconv.ServiceName(o.ServiceName))
	}
	if o.Version != "" {
		kv = append(kv, semconv.ServiceVersion(o.Version))
	}
	attrs = append(attrs, resource.WithSchemaURL(semconv.SchemaURL), resource.WithAttributes(kv...), resource.WithFromEnv())
	res, err := resource.New(ctx, attrs...)
	if errors.Is(err, resource.ErrPartialResource) || errors.Is(err, resource.ErrSchemaURLConflict) {
		// Some detail could not be detected (e.g. a malformed
		// OTEL_RESOURCE_ATTRIBUTES entry): report it and keep the rest.
		otel.Handle(err)
		err = nil
	}
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}

// spanExporter returns the exporter the environment asks for, or nil for none.
func spanExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	var opts []autoexport.SpanOption
	if !configured(envTracesExporter, envTracesEndpoint) {
		opts = append(opts, autoexport.WithFallbackSpanExporter(func(context.Context) (sdktrace.SpanExporter, error) {
			return nil, nil
		}))
	}
	exp, err := autoexport.NewSpanExporter(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: span exporter from %s: %w", envTracesExporter, err)
	}
	if exp == nil || autoexport.IsNoneSpanExporter(exp) {
		return nil, nil
	}
	return exp, nil
}

// metricReader returns the reader the environment asks for, or nil for none.
func metricReader(ctx context.Context) (sdkmetric.Reader, error) {
	var opts []autoexport.MetricOption
	if !configured(envMetricsExporter, envMetricsEndpoint) {
		opts = append(opts, autoexport.WithFallbackMetricReader(func(context.Context) (sdkmetric.Reader, error) {
			return nil, nil
		}))
	}
	r, err := autoexport.NewMetricReader(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("telemetry: metric reader from %s: %w", envMetricsExporter, err)
	}
	if r == nil || autoexport.IsNoneMetricReader(r) {
		return nil, nil
	}
	return r, nil
}

// configured reports whether the environment asks for an exporter of a
// signal: its *_EXPORTER variable, the signal's OTLP endpoint or the general
// OTLP endpoint is set.
func configured(exporterVar, endpointVar string) bool {
	return os.Getenv(exporterVar) != "" || os.Getenv(endpointVar) != "" || os.Getenv(envEndpoint) != ""
}

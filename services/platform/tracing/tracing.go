// Package tracing sends OpenTelemetry traces of a Buzhou part — its HTTP
// requests and its gRPC calls, served and made — to an OTLP collector when
// OTEL_EXPORTER_OTLP_ENDPOINT is set, and does nothing otherwise. Each part
// owns its provider (no global one), so the parts of the all-in-one process
// report under their own service names.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"google.golang.org/grpc"
)

// Config says where traces go. The exporter reads the other standard
// variables itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _CERTIFICATE, …),
// and the SDK the sampler (OTEL_TRACES_SAMPLER) and resource
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) ones.
type Config struct {
	// Endpoint is the collector's base URL, e.g. http://otel-collector:4318;
	// empty turns tracing off.
	Endpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// Protocol is "http/protobuf" (port 4318, the OpenTelemetry default) or
	// "grpc" (port 4317).
	Protocol string `env:"OTEL_EXPORTER_OTLP_PROTOCOL, default=http/protobuf"`
}

// Tracing is a part's tracer provider. The zero value and nil trace nothing.
type Tracing struct {
	provider    *sdktrace.TracerProvider
	propagators propagation.TextMapPropagator
}

// Start returns the tracing of the part named service ("gateway",
// "article", …), reported as "buzhou-<service>"; with no endpoint it returns
// a Tracing that traces nothing. Stop flushes it.
func Start(ctx context.Context, service string, cfg Config) (*Tracing, error) {
	if cfg.Endpoint == "" {
		return &Tracing{}, nil
	}
	exp, err := exporter(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// The part's name is the default; OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, read after it, override it.
	res, err := resource.New(ctx, resource.WithTelemetrySDK(),
		resource.WithAttributes(semconv.ServiceName("buzhou-"+service), semconv.ServiceNamespace("buzhou")),
		resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("tracing: describe the %s service: %w", service, err)
	}
	return &Tracing{
		provider:    sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)),
		propagators: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}, nil
}

func exporter(ctx context.Context, cfg Config) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT %q is not a collector URL; give its base URL, e.g. http://otel-collector:4318", cfg.Endpoint)
	}
	switch cfg.Protocol {
	case "http/protobuf", "":
		// The variable is the base URL: the signal's path is added to it,
		// as the OpenTelemetry specification says.
		return otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(strings.TrimSuffix(cfg.Endpoint, "/")+"/v1/traces"))
	case "grpc":
		return otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.Endpoint))
	}
	return nil, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL %q is not supported; use http/protobuf or grpc", cfg.Protocol)
}

// Enabled reports whether spans are exported.
func (t *Tracing) Enabled() bool { return t != nil && t.provider != nil }

// stopTimeout bounds the last flush: a collector that is down must not
// hold a stopping service past its grace period.
const stopTimeout = 5 * time.Second

// Stop sends the spans not yet sent, within stopTimeout, and stops the
// provider; it logs what it could not send.
func (t *Tracing) Stop(log *slog.Logger) {
	if !t.Enabled() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := t.provider.Shutdown(ctx); err != nil {
		log.Warn("tracing: the last spans were not sent", "err", err)
	}
}

// ServerOption traces every RPC a gRPC server serves, joining the trace its
// caller sent.
func (t *Tracing) ServerOption() grpc.ServerOption {
	if !t.Enabled() {
		return grpc.EmptyServerOption{}
	}
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(t.provider), otelgrpc.WithPropagators(t.propagators)))
}

// DialOption traces every RPC a client makes and sends its trace along.
func (t *Tracing) DialOption() grpc.DialOption {
	if !t.Enabled() {
		return grpc.EmptyDialOption{}
	}
	return grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(t.provider), otelgrpc.WithPropagators(t.propagators)))
}

// Handler traces every request h serves. The gateway faces the public: a
// trace a client sends becomes a link of a new trace, never its parent, so
// outsiders cannot attach spans to, or pick the sampling of, Buzhou's traces.
func (t *Tracing) Handler(h http.Handler) http.Handler {
	if !t.Enabled() {
		return h
	}
	return otelhttp.NewHandler(h, "http",
		otelhttp.WithTracerProvider(t.provider),
		otelhttp.WithPropagators(t.propagators),
		otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	)
}

package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/internal/version"
)

// Environment variables Setup reads itself; the OTLP exporter, the
// sampler, the batch span processor and the resource read the rest of the
// standard OTEL_* set (docs/tracing.md).
const (
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvTracesExporter     = "OTEL_TRACES_EXPORTER"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvProtocol           = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol     = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	supportedOTLPProtocol = "http/protobuf"
)

// ShutdownFunc flushes the spans not yet exported and stops the exporter.
type ShutdownFunc func(context.Context) error

func noShutdown(context.Context) error { return nil }

// Wanted reports whether the environment turns tracing on: OTEL_TRACES_EXPORTER
// names otlp, or it is unset and an OTLP endpoint is set; never when
// OTEL_SDK_DISABLED is true or OTEL_TRACES_EXPORTER is none. An exporter
// or protocol this build does not have is an error.
func Wanted(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv(EnvSDKDisabled)), "true") {
		return false, nil
	}
	on := false
	if exp := strings.TrimSpace(getenv(EnvTracesExporter)); exp != "" {
		for e := range strings.SplitSeq(exp, ",") {
			switch e = strings.ToLower(strings.TrimSpace(e)); e {
			case "otlp":
				on = true
			case "none", "":
			default:
				return false, invalid.Errorf("tracing", "%s=%s: only otlp (or none) is supported", EnvTracesExporter, exp)
			}
		}
	} else {
		on = getenv(EnvEndpoint) != "" || getenv(EnvTracesEndpoint) != ""
	}
	if !on {
		return false, nil
	}
	proto := getenv(EnvTracesProtocol)
	if proto == "" {
		proto = getenv(EnvProtocol)
	}
	if proto != "" && proto != supportedOTLPProtocol {
		return false, invalid.Errorf("tracing", "OTLP protocol %q: only %s is supported", proto, supportedOTLPProtocol)
	}
	return true, nil
}

// Setup turns tracing on when the OTEL_* environment asks for it (Wanted):
// spans are batched and exported over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT
// (default http://localhost:4318), sampled by OTEL_TRACES_SAMPLER (default:
// the parent's choice, else always), under the service name
// OTEL_SERVICE_NAME, else service. It also installs the provider and the
// W3C propagators as OpenTelemetry's globals, so that instrumented
// libraries (the providers' HTTP clients) add their spans to the same
// traces. Off, it installs nothing and returns a shutdown that does
// nothing. The returned function flushes and stops the exporter.
func Setup(ctx context.Context, service string, log *slog.Logger) (ShutdownFunc, error) {
	on, err := Wanted(os.Getenv)
	if err != nil || !on {
		return noShutdown, err
	}
	exp, err := newExporter(ctx)
	if err != nil {
		return noShutdown, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := newResource(ctx, service)
	if err != nil && res == nil {
		_ = exp.Shutdown(ctx)
		return noShutdown, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	if log != nil {
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) { log.Warn("tracing", "err", err) }))
		log.Info("tracing on: exporting spans over OTLP/HTTP", "service", serviceName(res, service))
	}
	SetTracerProvider(tp)
	return func(ctx context.Context) error {
		SetTracerProvider(nil)
		return errors.Join(tp.Shutdown(ctx))
	}, nil
}

// newResource describes the process: service.name is service unless
// OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names
// another; service.version is the build's version.
func newResource(ctx context.Context, service string) (*resource.Resource, error) {
	return resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(
			attribute.String("service.name", service),
			attribute.String("service.version", version.Get().Version),
		),
		// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, which win.
		resource.WithFromEnv(),
	)
}

func serviceName(res *resource.Resource, dflt string) string {
	if v, ok := res.Set().Value("service.name"); ok {
		return v.AsString()
	}
	return dflt
}

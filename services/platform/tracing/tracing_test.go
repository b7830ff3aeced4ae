package tracing_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"buzhou.dev/platform/tracing"
	"buzhou.dev/platform/tracing/tracingtest"
)

var discard = slog.New(slog.DiscardHandler)

func TestStartRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  tracing.Config
		want string
	}{
		{"not a URL", tracing.Config{Endpoint: "otel-collector:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"no host", tracing.Config{Endpoint: "http://"}, "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"unknown protocol", tracing.Config{Endpoint: "http://127.0.0.1:4318", Protocol: "thrift"}, "OTEL_EXPORTER_OTLP_PROTOCOL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tracing.Start(t.Context(), "test", tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Start = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// Without an endpoint nothing is traced and nothing is added to servers,
// clients or handlers.
func TestOffWithoutEndpoint(t *testing.T) {
	t.Parallel()
	tr, err := tracing.Start(t.Context(), "test", tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() {
		t.Error("enabled without an endpoint")
	}
	if _, ok := tr.ServerOption().(grpc.EmptyServerOption); !ok {
		t.Errorf("server option %T, want none", tr.ServerOption())
	}
	if _, ok := tr.DialOption().(grpc.EmptyDialOption); !ok {
		t.Errorf("dial option %T, want none", tr.DialOption())
	}
	h := http.NotFoundHandler()
	if got := tr.Handler(h); got == nil {
		t.Error("no handler")
	}
	tr.Stop(discard)
	var none *tracing.Tracing
	none.Stop(discard) // nil traces nothing, and stops fine
}

func TestSpansReachTheCollector(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"http/protobuf", ""} {
		t.Run("protocol "+protocol, func(t *testing.T) {
			t.Parallel()
			col := tracingtest.NewCollector(t)
			tr, err := tracing.Start(t.Context(), "test", tracing.Config{Endpoint: col.Endpoint + "/", Protocol: protocol})
			if err != nil {
				t.Fatal(err)
			}
			h := tr.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
			tr.Stop(discard)
			spans := col.Spans()
			if len(spans) != 1 || spans[0].Service != "buzhou-test" || spans[0].Name != "GET" {
				t.Errorf("spans %+v, want one GET span of buzhou-test", spans)
			}
		})
	}
}

package stack

import (
	"net/http"
	"slices"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"buzhou.dev/platform/tracing/tracingtest"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, one REST call is one trace: the
// gateway's request, its call to the service, the service's answer and the
// key checks it makes on the way, each reported by the part that did it. A
// trace the client sends is only linked, never joined.
func TestTraceCrossesGatewayAndServices(t *testing.T) {
	t.Parallel()
	col := tracingtest.NewCollector(t)
	s := startStack(t, options{tracingEndpoint: col.Endpoint})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	a := article("Tracing across the parts")
	a["status"] = "published"
	slug := must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated).json(t)["slug"].(string)
	const outside = "4bf92f3577b34da6a3ce929d0e0e4736"
	must(t, anon.do("GET", "/api/v1/articles/"+slug, nil, "traceparent", "00-"+outside+"-00f067aa0ba902b7-01"), http.StatusOK)
	// Stopping flushes every part's spans.
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	spans := col.Spans()

	server := func(service, name string) []tracingtest.Span {
		var out []tracingtest.Span
		for _, sp := range spans {
			if sp.Service == service && sp.Name == name && sp.Kind == tracepb.Span_SPAN_KIND_SERVER {
				out = append(out, sp)
			}
		}
		return out
	}
	inTrace := func(trace string) map[string]bool {
		services := map[string]bool{}
		for _, sp := range spans {
			if sp.TraceID == trace {
				services[sp.Service] = true
			}
		}
		return services
	}

	posts, gets := server("buzhou-gateway", "POST"), server("buzhou-gateway", "GET")
	if len(posts) != 1 || len(gets) == 0 {
		t.Fatalf("gateway server spans: %d POST, %d GET, want 1 and at least 1; all spans: %+v", len(posts), len(gets), spans)
	}
	// The create: the gateway checks the key with the identity service, the
	// article service checks it again and stores the article.
	create := inTrace(posts[0].TraceID)
	for _, want := range []string{"buzhou-gateway", "buzhou-article", "buzhou-verification"} {
		if !create[want] {
			t.Errorf("the create's trace has no span of %s (it has %v)", want, create)
		}
	}
	creates := server("buzhou-article", "buzhou.article.v1.ArticleService/CreateArticle")
	if len(creates) != 1 || creates[0].TraceID != posts[0].TraceID || creates[0].ParentID == "" {
		t.Errorf("article service CreateArticle spans %+v, want one child in the gateway's trace %s", creates, posts[0].TraceID)
	}

	// The read that came with a trace of its own.
	var read *tracingtest.Span
	for i, g := range gets {
		if slices.Contains(g.Links, outside) {
			read = &gets[i]
		}
	}
	if read == nil {
		t.Fatalf("no gateway span links to the caller's trace %s: %+v", outside, gets)
	}
	if read.TraceID == outside || read.ParentID != "" {
		t.Errorf("the gateway joined the caller's trace: %+v", *read)
	}
	if !inTrace(read.TraceID)["buzhou-article"] {
		t.Errorf("the read's trace %s has no article service span", read.TraceID)
	}
}

package gateway

import (
	"context"
	"net/http"
	"regexp"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// Statuses are the HTTP statuses of an RPC's answers that grpc-gateway's
// mapping of gRPC codes cannot decide alone.
type Statuses struct {
	// Success is the status of a successful answer: 201 for creations.
	Success int
	// FailedPrecondition is the status of FAILED_PRECONDITION: 412 where it
	// means a stale If-Match revision, 409 (a conflict with the current state)
	// everywhere else.
	FailedPrecondition int
}

// StatusesOf is the one table of statuses by RPC (full method name, as
// runtime.RPCMethod reports it). Services say what happened in gRPC terms;
// what that is called in HTTP is decided here, never by the services.
func StatusesOf(rpc string) Statuses {
	s := Statuses{Success: http.StatusOK, FailedPrecondition: http.StatusConflict}
	switch rpc {
	case articlev1.ArticleService_CreateArticle_FullMethodName,
		identityv1.IdentityService_CreateApiKey_FullMethodName,
		identityv1.IdentityService_CreatePrincipal_FullMethodName,
		verificationv1.VerificationService_CreateVerificationRecord_FullMethodName,
		verificationv1.VerificationService_RunInspection_FullMethodName,
		verificationv1.VerificationService_CreateSandboxRun_FullMethodName,
		verificationv1.VerificationService_ReportProblem_FullMethodName:
		s.Success = http.StatusCreated
	case articlev1.ArticleService_UpdateArticle_FullMethodName:
		s.FailedPrecondition = http.StatusPreconditionFailed
	}
	return s
}

// statusesOfContext returns the statuses of the RPC a grpc-gateway handler
// is serving; outside one (the gateway's own routes) the defaults.
func statusesOfContext(ctx context.Context) Statuses {
	rpc, _ := runtime.RPCMethod(ctx)
	return StatusesOf(rpc)
}

// Route is one REST route: an RPC and its google.api.http binding.
type Route struct {
	// Method is the HTTP method, e.g. "GET".
	Method string
	// Path is the path template as the proto writes it, e.g.
	// "/api/v1/articles/{id_or_slug}:render".
	Path string
	// RPC is the full method name, e.g. "/buzhou.article.v1.ArticleService/GetArticle".
	RPC string
}

// apiService is a service whose REST routes the gateway serves.
type apiService struct {
	desc     protoreflect.ServiceDescriptor
	register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
	conn     *grpc.ClientConn
}

// apiServices lists the services behind the REST API with the connection
// each is reached on.
func apiServices(up Upstreams) []apiService {
	return []apiService{
		{articlev1.File_buzhou_article_v1_article_proto.Services().ByName("ArticleService"), articlev1.RegisterArticleServiceHandler, up.Article},
		{searchv1.File_buzhou_search_v1_search_proto.Services().ByName("SearchService"), searchv1.RegisterSearchServiceHandler, up.Search},
		{verificationv1.File_buzhou_verification_v1_verification_proto.Services().ByName("VerificationService"), verificationv1.RegisterVerificationServiceHandler, up.Verification},
		{identityv1.File_buzhou_identity_v1_identity_proto.Services().ByName("IdentityService"), identityv1.RegisterIdentityServiceHandler, up.Verification},
	}
}

// Routes lists every REST route of the API, read from the services'
// descriptors.
func Routes() []Route {
	var routes []Route
	for _, s := range apiServices(Upstreams{}) {
		methods := s.desc.Methods()
		for i := range methods.Len() {
			m := methods.Get(i)
			rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
			if rule == nil {
				continue
			}
			rpc := "/" + string(s.desc.FullName()) + "/" + string(m.Name())
			for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
				if method, path := binding(b); method != "" {
					routes = append(routes, Route{Method: method, Path: path, RPC: rpc})
				}
			}
		}
	}
	return routes
}

func binding(r *annotations.HttpRule) (method, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	}
	return "", ""
}

var pathVariable = regexp.MustCompile(`\{([^}=]+)\}`)

// patternKey names a route the way grpc-gateway's runtime.Pattern prints
// it, so a middleware that only has the matched pattern finds the RPC.
func patternKey(method, path string) string {
	return method + " " + pathVariable.ReplaceAllString(path, "{$1=*}")
}

// rpcsByPattern maps patternKey of every route to its RPC.
func rpcsByPattern() map[string]string {
	m := make(map[string]string)
	for _, r := range Routes() {
		m[patternKey(r.Method, r.Path)] = r.RPC
	}
	return m
}

package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code codes.Code
		want int
	}{
		{codes.InvalidArgument, 400},
		{codes.Unauthenticated, 401},
		{codes.PermissionDenied, 403},
		{codes.NotFound, 404},
		{codes.AlreadyExists, 409},
		// Outside an RPC that says otherwise, a failed precondition is a
		// conflict with the current state.
		{codes.FailedPrecondition, 409},
		{codes.ResourceExhausted, 429},
		{codes.Unavailable, 503},
		{codes.Internal, 500},
	}
	for _, tc := range cases {
		t.Run(tc.code.String(), func(t *testing.T) {
			t.Parallel()
			if got := httpStatus(context.Background(), tc.code); got != tc.want {
				t.Errorf("httpStatus(%v) = %d, want %d", tc.code, got, tc.want)
			}
		})
	}
}

func TestStatusesOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		rpc  string
		want Statuses
	}{
		{articlev1.ArticleService_CreateArticle_FullMethodName, Statuses{201, 409}},
		{articlev1.ArticleService_BatchCreateArticles_FullMethodName, Statuses{200, 409}},
		{articlev1.ArticleService_UpdateArticle_FullMethodName, Statuses{200, 412}},
		{articlev1.ArticleService_PublishArticle_FullMethodName, Statuses{200, 409}},
		{identityv1.IdentityService_CreateApiKey_FullMethodName, Statuses{201, 409}},
		{identityv1.IdentityService_RevokeApiKey_FullMethodName, Statuses{200, 409}},
		{identityv1.IdentityService_CreatePrincipal_FullMethodName, Statuses{201, 409}},
		{verificationv1.VerificationService_CreateVerificationRecord_FullMethodName, Statuses{201, 409}},
		{verificationv1.VerificationService_RunInspection_FullMethodName, Statuses{201, 409}},
		{verificationv1.VerificationService_CreateSandboxRun_FullMethodName, Statuses{201, 409}},
		{verificationv1.VerificationService_ReportProblem_FullMethodName, Statuses{201, 409}},
		{verificationv1.VerificationService_ResolveFinding_FullMethodName, Statuses{200, 409}},
		{verificationv1.VerificationService_RunDueInspections_FullMethodName, Statuses{200, 409}},
		{"", Statuses{200, 409}},
	}
	for _, tc := range cases {
		t.Run(tc.rpc, func(t *testing.T) {
			t.Parallel()
			if got := StatusesOf(tc.rpc); got != tc.want {
				t.Errorf("StatusesOf(%q) = %+v, want %+v", tc.rpc, got, tc.want)
			}
		})
	}
}

func TestPublicMessageHidesInternals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		st   *status.Status
		want string
	}{
		{"dial error", status.New(codes.Unavailable, "connection error: desc = transport: dial tcp 127.0.0.1:9101: connect: connection refused"), "not reachable"},
		{"unknown", status.New(codes.Unknown, "pq: relation articles does not exist"), "internal error"},
		{"raw internal", status.New(codes.Internal, "open /var/lib/x.db: permission denied"), "internal error; try again later"},
		{"masked internal kept", status.New(codes.Internal, "internal error (ref abc)"), "internal error (ref abc)"},
		{"domain message kept", status.New(codes.InvalidArgument, "title: give title.en or title.zh"), "title: give title.en or title.zh"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := publicMessage(tc.st)
			if !strings.Contains(got, tc.want) || strings.Contains(got, "127.0.0.1") || strings.Contains(got, "/var/") {
				t.Errorf("publicMessage = %q, want it to contain %q and no internals", got, tc.want)
			}
		})
	}
}

func TestParseIfMatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"3", 3, true}, {`"3"`, 3, true}, {`W/"12"`, 12, true}, {" 7 ", 7, true},
		{"0", 0, false}, {"-1", 0, false}, {"abc", 0, false}, {"*", 0, false},
	}
	for _, tc := range cases {
		got, ok := parseIfMatch(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseIfMatch(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	h := withRequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(RequestIDFrom(r.Context())))
	}))
	cases := []struct {
		name, in string
		keep     bool
	}{
		{"well-formed", "req-1.a_b:c", true},
		{"spaces", "a b", false},
		{"too long", strings.Repeat("a", 200), false},
		{"absent", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest("GET", "/", nil)
			if tc.in != "" {
				req.Header.Set("X-Request-Id", tc.in)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get("X-Request-Id")
			if got != rec.Body.String() || got == "" {
				t.Fatalf("header %q, context %q", got, rec.Body.String())
			}
			if (got == tc.in) != tc.keep {
				t.Errorf("X-Request-Id %q from %q; keep = %v", got, tc.in, tc.keep)
			}
		})
	}
}

func TestExplainDecodeError(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, want string }{
		{`parsing field "page_size": strconv.ParseInt: parsing "abc": invalid syntax`, `query parameter pageSize: "abc" is not a valid value; give a whole number`},
		{`parsing field "page": strconv.ParseInt: parsing "999999999999": value out of range`, `query parameter page: 999999999999 is too large a number; give a smaller one`},
		{`parsing field "page": strconv.ParseInt: parsing "-999999999999": value out of range`, `query parameter page: -999999999999 is too small a number; give a larger one`},
		{`parsing field "min_score": strconv.ParseFloat: parsing "lots": invalid syntax`, `query parameter minScore: "lots" is not a valid value; give a number`},
		{`parsing field "from_head": strconv.ParseBool: parsing "maybe": invalid syntax`, `query parameter fromHead: "maybe" is not a valid value; give true or false`},
		{`proto: syntax error (line 1:10): unexpected token "str"`, `the request body is not valid: unexpected token "str"; send a JSON object with the fields in /openapi.json`},
		{`proto: (line 1:49): invalid google.protobuf.Timestamp value "tomorrow"`, `the request body is not valid: invalid google.protobuf.Timestamp value "tomorrow"; times are RFC 3339 in UTC, e.g. 2026-12-31T00:00:00Z`},
		{`proto: (line 1:2): unknown field "colour"`, `the request body is not valid: unknown field "colour"; send a JSON object with the fields in /openapi.json`},
		{`title.en: is empty`, `title.en: is empty`},
	}
	for _, tc := range cases {
		if got := explainDecodeError(tc.in); got != tc.want {
			t.Errorf("explainDecodeError(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

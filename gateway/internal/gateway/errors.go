package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"buzhou.dev/platform/errs"
	gatewayv1 "buzhou.dev/proto/gen/buzhou/gateway/v1"
)

// httpStatus maps a gRPC code to the API's HTTP status: grpc-gateway's
// mapping, except for FAILED_PRECONDITION, whose meaning depends on the RPC
// (see StatusesOf).
func httpStatus(ctx context.Context, c codes.Code) int {
	if c == codes.FailedPrecondition {
		return statusesOfContext(ctx).FailedPrecondition
	}
	return runtime.HTTPStatusFromCode(c)
}

// publicMessage keeps messages from our services and hides transport and
// library internals (addresses, dial errors) behind a plain sentence.
func publicMessage(st *status.Status) string {
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		if errs.RetryDelay(st) > 0 {
			// A service shedding load says which limit it hit; transport
			// failures carry no details.
			return msg
		}
		return "a Buzhou service is not reachable right now; retry in a few seconds"
	case codes.Unknown:
		return "internal error; try again later"
	case codes.Internal:
		if strings.HasPrefix(msg, "internal error") {
			return msg
		}
		return "internal error; try again later"
	case codes.DeadlineExceeded:
		return "the request took too long; try again"
	case codes.Canceled:
		return "the request was cancelled"
	case codes.Unimplemented:
		return "this endpoint is not available yet on this server"
	case codes.InvalidArgument:
		return explainDecodeError(msg)
	}
	return msg
}

// transportLimit reports whether st is gRPC's own refusal of a message over
// its size limit rather than a service's RESOURCE_EXHAUSTED (rate limits,
// full queues). grpc-go words all of its own errors "grpc: …"; the services'
// messages come from platform/errs and never start so.
func transportLimit(st *status.Status) bool {
	return st.Code() == codes.ResourceExhausted && strings.HasPrefix(st.Message(), "grpc: ")
}

var (
	queryParseError = regexp.MustCompile(`^parsing field "([^"]+)": (?:strconv\.(\w+): parsing "(.*)": )?(.*)$`)
	protoPrefix     = regexp.MustCompile(`^proto:\s*(?:syntax error )?(?:\(line \d+:\d+\): )?`)
)

// explainDecodeError rewords grpc-gateway's own decoding errors (bad JSON
// bodies, bad query parameters) so they say where the problem is and how to
// fix it; messages from the services pass unchanged.
func explainDecodeError(msg string) string {
	if m := queryParseError.FindStringSubmatch(msg); m != nil {
		name, parse, value, why := lowerCamel(m[1]), m[2], m[3], m[4]
		want := "a whole number"
		switch parse {
		case "ParseBool":
			want = "true or false"
		case "ParseFloat":
			want = "a number"
		}
		switch {
		case strings.Contains(why, "out of range") && strings.HasPrefix(value, "-"):
			return fmt.Sprintf("query parameter %s: %s is too small a number; give a larger one", name, value)
		case strings.Contains(why, "out of range"):
			return fmt.Sprintf("query parameter %s: %s is too large a number; give a smaller one", name, value)
		case value != "" || strings.Contains(why, "invalid syntax"):
			return fmt.Sprintf("query parameter %s: %q is not a valid value; give %s", name, value, want)
		}
		return fmt.Sprintf("query parameter %s: %s", name, why)
	}
	if loc := protoPrefix.FindStringIndex(msg); loc != nil {
		detail := msg[loc[1]:]
		hint := "send a JSON object with the fields in /openapi.json"
		if strings.Contains(detail, "google.protobuf.Timestamp") {
			hint = "times are RFC 3339 in UTC, e.g. 2026-12-31T00:00:00Z"
		}
		return fmt.Sprintf("the request body is not valid: %s; %s", detail, hint)
	}
	return msg
}

// lowerCamel spells a proto field name as the JSON API does.
func lowerCamel(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// writeError writes the API error body (gateway.v1.ErrorResponse, the
// schema the OpenAPI document gives every error) with the status for code.
//
// When the request's body has not been read to its end, the connection is
// closed after the answer rather than kept: net/http would otherwise read
// the rest of the body first (up to 256 KiB, at the client's pace) to reuse
// the connection, so a refusal would wait for a slow body it never needed.
func writeError(w http.ResponseWriter, r *http.Request, httpCode int, code codes.Code, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", cacheControl(r, false))
	if code == codes.Unauthenticated {
		h.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="buzhou", error="invalid_token", error_description=%q`, msg))
	}
	pending := bodyPending(r)
	if pending {
		h.Set("Connection", "close")
	}
	// protojson fails only on invalid UTF-8: the request id is ASCII by
	// construction, and a message may quote what a client sent.
	body, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(&gatewayv1.ErrorResponse{Error: &gatewayv1.Error{
		Code:      errs.CodeName(code),
		Message:   strings.ToValidUTF8(msg, "\uFFFD"),
		RequestId: RequestIDFrom(r.Context()),
	}})
	w.WriteHeader(httpCode)
	_, _ = w.Write(append(body, '\n'))
	if pending {
		// What is left of the body would be read after the handler returns;
		// a deadline in the past makes that read fail at once.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

// writeDomainError answers with the status of a platform/errs error.
func writeDomainError(w http.ResponseWriter, r *http.Request, err error) {
	c := errs.Code(err)
	if c == codes.Unknown {
		c = codes.Internal
	}
	msg := errs.Message(err)
	if errors.Is(err, errs.ErrUnavailable) || c == codes.Internal {
		msg = "cannot check the API key right now; retry in a few seconds"
	}
	writeError(w, r, httpStatus(r.Context(), c), c, msg)
}

// errorHandler is grpc-gateway's error handler: every failed API call ends
// here.
func errorHandler(log *slog.Logger) runtime.ErrorHandlerFunc {
	return func(ctx context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
		switch {
		case tooLarge(r):
			writeTooLarge(w, r)
			return
		case bodyFailed(r):
			writeError(w, r, http.StatusBadRequest, codes.InvalidArgument,
				"the request body did not arrive in time; send the whole body at once")
			return
		}
		var httpErr *runtime.HTTPStatusError
		if errors.As(err, &httpErr) {
			// grpc-gateway's own refusals of a request (a malformed path).
			writeError(w, r, httpErr.HTTPStatus, codes.InvalidArgument, explainDecodeError(status.Convert(httpErr.Err).Message()))
			return
		}
		st := status.Convert(err)
		if transportLimit(st) {
			// Not the client's doing and nothing a retry fixes: a 500 with a
			// ref to the log line, never a 429 that invites retries.
			rpc, _ := runtime.RPCMethod(ctx)
			st = status.Convert(errs.ToStatus(ctx, log, rpc, errors.New(st.Message())))
		}
		if d := errs.RetryDelay(st); d > 0 && (st.Code() == codes.ResourceExhausted || st.Code() == codes.Unavailable) {
			// A service's full queue or shed call says when to come back
			// (RetryInfo), and that it refused before doing anything: a shed
			// write must not empty the read cache (under load, that would
			// send every read to the service that is already shedding).
			refusedUnseen(w)
			w.Header().Set("Retry-After", strconv.FormatInt(ceilSeconds(d), 10))
		}
		writeError(w, r, httpStatus(ctx, st.Code()), st.Code(), publicMessage(st))
	}
}

func writeTooLarge(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusRequestEntityTooLarge, codes.InvalidArgument,
		fmt.Sprintf("request body is larger than %d bytes; send less at once (split a batch into smaller ones)", bodyLimitFrom(r.Context())))
}

// handleRoutingError answers unknown routes and methods in the API error shape.
func handleRoutingError(_ context.Context, _ *runtime.ServeMux, _ runtime.Marshaler, w http.ResponseWriter, r *http.Request, code int) {
	switch code {
	case http.StatusMethodNotAllowed:
		writeError(w, r, code, codes.InvalidArgument, fmt.Sprintf("method %s is not allowed on %s; see /openapi.json", r.Method, r.URL.Path))
	case http.StatusNotFound:
		writeError(w, r, code, codes.NotFound, fmt.Sprintf("no API route %s %s; see /openapi.json", r.Method, r.URL.Path))
	default:
		writeError(w, r, code, codes.InvalidArgument, http.StatusText(code))
	}
}

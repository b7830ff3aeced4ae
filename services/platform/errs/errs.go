// Package errs holds the error kinds every Buzhou service returns and their one
// mapping to gRPC status codes.
//
// Domain code wraps a sentinel with a message that says what is wrong and how to
// fix it: fmt.Errorf("%w: title: give title.en or title.zh", errs.ErrInvalid).
// The server interceptor turns it into a status; the sentinel's own text is not
// repeated to the client.
package errs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Sentinels, one per gRPC code the services use.
var (
	ErrInvalid            = errors.New("invalid argument")
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrUnauthenticated    = errors.New("unauthenticated")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrResourceExhausted  = errors.New("resource exhausted")
	ErrUnavailable        = errors.New("unavailable")
)

var kinds = []struct {
	err  error
	code codes.Code
}{
	{ErrInvalid, codes.InvalidArgument},
	{ErrNotFound, codes.NotFound},
	{ErrAlreadyExists, codes.AlreadyExists},
	{ErrFailedPrecondition, codes.FailedPrecondition},
	{ErrUnauthenticated, codes.Unauthenticated},
	{ErrPermissionDenied, codes.PermissionDenied},
	{ErrResourceExhausted, codes.ResourceExhausted},
	{ErrUnavailable, codes.Unavailable},
}

// Code returns the gRPC code for err, codes.Unknown when it wraps no sentinel.
func Code(err error) codes.Code {
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return k.code
		}
	}
	return codes.Unknown
}

// Message returns err's text without the sentinel's own words.
func Message(err error) string {
	msg := err.Error()
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			msg = strings.Replace(msg, k.err.Error()+": ", "", 1)
			break
		}
	}
	return msg
}

// ToStatus converts a domain error into a gRPC status error. Errors that are
// already statuses pass through; context errors keep their meaning; anything
// else becomes Internal with a masked message and a hash that is logged beside
// the real error, so operators can match a report to the log line.
func ToStatus(ctx context.Context, log *slog.Logger, method string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if c := Code(err); c != codes.Unknown {
		st := status.New(c, Message(err))
		var ra *retryAfter
		if errors.As(err, &ra) {
			if withInfo, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(ra.after)}); derr == nil {
				st = withInfo
			}
		}
		return st.Err()
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "the request was cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the request took too long; try again")
	}
	sum := sha256.Sum256([]byte(err.Error()))
	ref := hex.EncodeToString(sum[:6])
	log.ErrorContext(ctx, "internal error", "method", method, "ref", ref, "err", err)
	return status.Errorf(codes.Internal, "internal error (ref %s); try again later or report the ref", ref)
}

// CodeName returns the upper-snake name of a gRPC code as the API shows it,
// e.g. "INVALID_ARGUMENT" for codes.InvalidArgument.
func CodeName(c codes.Code) string {
	s := c.String()
	var b strings.Builder
	prevLower := false
	for _, r := range s {
		if prevLower && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		prevLower = r >= 'a' && r <= 'z'
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// retryAfter carries how long a refused caller should wait.
type retryAfter struct {
	err   error
	after time.Duration
}

func (r *retryAfter) Error() string { return r.err.Error() }
func (r *retryAfter) Unwrap() error { return r.err }

// RetryAfter marks err (typically wrapping ErrResourceExhausted or
// ErrUnavailable) with the wait a caller should make before retrying: its
// status carries a google.rpc.RetryInfo detail, which the gateway answers
// as a Retry-After header. Use it only for refusals before any work (a full
// queue, a shed call): the gateway takes a RetryInfo to mean that nothing
// was written, and keeps its read cache.
func RetryAfter(err error, after time.Duration) error {
	return &retryAfter{err: err, after: max(after, time.Second)}
}

// RetryDelay returns the RetryInfo delay of a status, 0 when it has none.
func RetryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

package errs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestToStatus(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cases := []struct {
		name     string
		err      error
		code     codes.Code
		msg      string
		hideText string
	}{
		{"invalid", fmt.Errorf("%w: title: give one", ErrInvalid), codes.InvalidArgument, "title: give one", ""},
		{"wrapped twice", fmt.Errorf("create: %w", fmt.Errorf("%w: article %q not found", ErrNotFound, "x")), codes.NotFound, `create: article "x" not found`, ""},
		{"stale", fmt.Errorf("%w: at revision 3", ErrFailedPrecondition), codes.FailedPrecondition, "at revision 3", ""},
		{"status passes", status.Error(codes.PermissionDenied, "no"), codes.PermissionDenied, "no", ""},
		{"unmapped is masked", errors.New("sql: relation \"articles\" at /var/lib/db"), codes.Internal, "internal error (ref ", "/var/lib"},
		{"deadline", context.DeadlineExceeded, codes.DeadlineExceeded, "took too long", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := status.Convert(ToStatus(context.Background(), log, "/m", tc.err))
			if st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
				t.Errorf("got %v %q, want %v containing %q", st.Code(), st.Message(), tc.code, tc.msg)
			}
			if tc.hideText != "" && strings.Contains(st.Message(), tc.hideText) {
				t.Errorf("message leaks %q", tc.hideText)
			}
		})
	}
}

func TestCodeName(t *testing.T) {
	t.Parallel()
	for c, want := range map[codes.Code]string{
		codes.OK: "OK", codes.InvalidArgument: "INVALID_ARGUMENT", codes.FailedPrecondition: "FAILED_PRECONDITION",
		codes.ResourceExhausted: "RESOURCE_EXHAUSTED", codes.Unauthenticated: "UNAUTHENTICATED",
	} {
		if got := CodeName(c); got != want {
			t.Errorf("CodeName(%v) = %q, want %q", c, got, want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	err := RetryAfter(fmt.Errorf("%w: the sandbox queue is full; retry in 5 s", ErrResourceExhausted), 5*time.Second)
	st := status.Convert(ToStatus(context.Background(), slog.New(slog.DiscardHandler), "/x", err))
	if st.Code() != codes.ResourceExhausted || st.Message() != "the sandbox queue is full; retry in 5 s" {
		t.Fatalf("status %v", st)
	}
	if d := RetryDelay(st); d != 5*time.Second {
		t.Fatalf("RetryDelay = %v, want 5s", d)
	}
	if d := RetryDelay(status.New(codes.ResourceExhausted, "x")); d != 0 {
		t.Fatalf("RetryDelay without detail = %v", d)
	}
}

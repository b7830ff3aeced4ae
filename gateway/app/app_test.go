package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"buzhou.dev/platform/grpcx"
	"buzhou.dev/platform/metrics"
)

// TestRunRefusesInconsistentLimits: limits that cannot work are refused at
// start, not discovered on the first request.
func TestRunRefusesInconsistentLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"body above the gRPC message limit", Config{MaxBodyBytes: grpcx.MaxMessageBytes + 1}, "BUZHOU_MAX_BODY_BYTES"},
		{"negative failed-auth limit", Config{FailedAuthPerMinute: -1}, "BUZHOU_RATE_FAILED_AUTH_PER_MINUTE"},
		{"negative anonymous limit", Config{AnonPerMinute: -5}, "BUZHOU_RATE_ANON_PER_MINUTE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer lis.Close()
			err = Run(context.Background(), tc.cfg, lis, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewRegistry())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

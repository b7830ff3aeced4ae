package ratelimit

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWriteHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    Decision
		want http.Header
	}{
		{
			name: "allowed rounds the reset up and clears Retry-After",
			d:    Decision{Allowed: true, Limit: 100, Remaining: 99, ResetAfter: 600 * time.Millisecond},
			want: http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"99"}, "Ratelimit-Reset": {"1"}},
		},
		{
			name: "full bucket resets now",
			d:    Decision{Allowed: true, Limit: 100, Remaining: 100},
			want: http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"100"}, "Ratelimit-Reset": {"0"}},
		},
		{
			name: "refused",
			d:    Decision{Limit: 5, ResetAfter: time.Minute, RetryAfter: 12 * time.Second},
			want: http.Header{"Ratelimit-Limit": {"5"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"60"}, "Retry-After": {"12"}},
		},
		{
			name: "refused rounds Retry-After up",
			d:    Decision{Limit: 100, ResetAfter: 59500 * time.Millisecond, RetryAfter: 1500 * time.Millisecond},
			want: http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"60"}, "Retry-After": {"2"}},
		},
		{
			name: "refused says at least one second",
			d:    Decision{Limit: 100, ResetAfter: time.Millisecond},
			want: http.Header{"Ratelimit-Limit": {"100"}, "Ratelimit-Remaining": {"0"}, "Ratelimit-Reset": {"1"}, "Retry-After": {"1"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{"Retry-After": {"99"}} // left from elsewhere
			WriteHeaders(h, tc.d)
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

package cli

// Tests of the parts that need no server; the commands are tested against a
// real stack in package cli_test.

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

func TestParseServerURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "default form", in: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "bare host:port", in: "localhost:9000", want: "http://localhost:9000"},
		{name: "https with a path prefix", in: "https://kb.example.com/buzhou/", want: "https://kb.example.com/buzhou"},
		{name: "spaces around", in: "  http://h:1  ", want: "http://h:1"},
		{name: "other scheme", in: "ftp://h", wantErr: "must use http or https"},
		{name: "no host", in: "http://", wantErr: "names no host"},
		{name: "query", in: "http://h/?x=1", wantErr: "must not carry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseServerURL(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("parseServerURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCountRecords(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200<<10) // longer than the reader's buffer
	tests := []struct {
		name, in string
		want     int
	}{
		{name: "empty", in: "", want: 0},
		{name: "no final newline", in: "a\nb", want: 2},
		{name: "blank lines", in: "a\n\n  \t\nb\n\n", want: 2},
		{name: "long lines", in: long + "\n\n" + long, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := countRecords(strings.NewReader(tt.in))
			if err != nil || got != tt.want {
				t.Errorf("countRecords = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestParseExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 15, 12, 30, 45, 500_000_000, time.UTC)
	tests := []struct {
		in      string
		want    string // RFC 3339
		wantErr string
	}{
		{in: "30d", want: "2026-07-15T12:30:45Z"},
		{in: "1d", want: "2026-06-16T12:30:45Z"},
		{in: "365d", want: "2027-06-15T12:30:45Z"},
		{in: "12h", want: "2026-06-16T00:30:45Z"},
		{in: "90m", want: "2026-06-15T14:00:45Z"},
		{in: "1h30m", want: "2026-06-15T14:00:45Z"},
		{in: "2026-12-31", want: "2026-12-31T00:00:00Z"}, // start of the day, UTC
		{in: "2026-12-31T23:59:59Z", want: "2026-12-31T23:59:59Z"},
		{in: "2027-01-01T08:00:00+08:00", want: "2027-01-01T00:00:00Z"},
		{in: "2026-12-31T23:59:59.75Z", want: "2026-12-31T23:59:59Z"},
		{in: "2026-06-16", want: "2026-06-16T00:00:00Z"},
		{in: "2026-06-15", wantErr: "not in the future"}, // today began before now
		{in: "2020-01-01T00:00:00Z", wantErr: "not in the future"},
		{in: "0d", wantErr: "not in the future"},
		{in: "0s", wantErr: "not in the future"},
		{in: "-1h", wantErr: "not in the future"},
		{in: "99999999999999999999d", wantErr: "too many days"},
		{in: "1d12h", wantErr: "is not a duration"},
		{in: "30 d", wantErr: "is not a duration"},
		{in: "2026-13-01", wantErr: "is not a duration"},
		{in: "31/12/2026", wantErr: "is not a duration"},
		{in: "tomorrow", wantErr: "is not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseExpiry(tt.in, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseExpiry(%q) = %s, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseExpiry(%q): %v", tt.in, err)
			}
			if s := got.Format(time.RFC3339Nano); s != tt.want {
				t.Errorf("parseExpiry(%q) = %s, want %s", tt.in, s, tt.want)
			}
		})
	}
}

func TestWriteKeyTable(t *testing.T) {
	t.Parallel()
	ts := func(s string) *timestamppb.Timestamp {
		at, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return timestamppb.New(at)
	}
	keys := []*identityv1.ApiKey{
		{Id: "key_a", Name: "admin", Prefix: "bz_live_aaaa", Scopes: []string{"keys:admin"}, CreatedAt: ts("2026-01-01T10:00:00Z")},
		{Id: "key_b", Name: "old ci", Prefix: "bz_live_bbbb", Scopes: []string{"articles:write", "inspections:run"},
			ExpiresAt: ts("2020-02-01T00:00:00Z"), CreatedAt: ts("2020-01-01T00:00:00Z")},
		{Id: "key_c", Name: "leaked", Prefix: "bz_live_cccc", Scopes: []string{"verifications:write"},
			ExpiresAt: ts("2020-03-01T00:00:00Z"), RevokedAt: ts("2020-02-15T08:00:00Z"), CreatedAt: ts("2020-01-02T00:00:00Z")},
		{Id: "key_d", Name: "bot\tname", Prefix: "bz_live_dddd", Scopes: []string{"articles:write"},
			ExpiresAt: ts("2026-06-15T12:00:01Z"), CreatedAt: ts("2026-01-03T00:00:00Z"), DailyQuota: 5000},
		{Id: "key_e", ExpiresAt: ts("2026-06-15T12:00:00Z")},
	}
	var b strings.Builder
	if err := writeKeyTable(&b, keys, time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"ID     NAME      PREFIX        SCOPES                          EXPIRES               STATUS   CREATED",
		"key_a  admin     bz_live_aaaa  keys:admin                      never                 active   2026-01-01T10:00:00Z",
		"key_b  old ci    bz_live_bbbb  articles:write,inspections:run  2020-02-01T00:00:00Z  expired  2020-01-01T00:00:00Z",
		"key_c  leaked    bz_live_cccc  verifications:write             2020-03-01T00:00:00Z  revoked  2020-01-02T00:00:00Z",
		"key_d  bot name  bz_live_dddd  articles:write                  2026-06-15T12:00:01Z  active   2026-01-03T00:00:00Z",
		"key_e  -         -             -                               2026-06-15T12:00:00Z  expired  -",
	}, "\n") + "\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

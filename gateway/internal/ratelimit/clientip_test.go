package ratelimit

import (
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestClientIPOf(t *testing.T) {
	t.Parallel()
	proxies, err := NewClientIP([]string{"10.0.0.0/8", " 192.168.1.1 ", "fd00::/8", ""})
	if err != nil {
		t.Fatal(err)
	}
	none, err := NewClientIP(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		c      *ClientIP
		remote string
		xff    []string
		want   string
	}{
		{"no proxy configured ignores the header", none, "203.0.113.7:5555", []string{"198.51.100.9"}, "203.0.113.7"},
		{"nil ClientIP is no proxy", nil, "203.0.113.7:5555", []string{"198.51.100.9"}, "203.0.113.7"},
		{"untrusted peer with a spoofed header", proxies, "203.0.113.7:5555", []string{"10.0.0.1, 198.51.100.9"}, "203.0.113.7"},
		{"trusted proxy without a header", proxies, "10.1.1.1:5555", nil, "10.1.1.1"},
		{"trusted proxy", proxies, "10.1.1.1:5555", []string{"198.51.100.9"}, "198.51.100.9"},
		{"single trusted address", proxies, "192.168.1.1:5555", []string{"198.51.100.9"}, "198.51.100.9"},
		{"address next to a trusted one is not trusted", proxies, "192.168.1.2:5555", []string{"198.51.100.9"}, "192.168.1.2"},
		{"chain of proxies, spoofed left part ignored", proxies, "10.1.1.1:5555", []string{"6.6.6.6, 198.51.100.9, 10.0.0.5"}, "198.51.100.9"},
		{"chain over several header lines", proxies, "10.1.1.1:5555", []string{"6.6.6.6, 198.51.100.9", "10.0.0.5"}, "198.51.100.9"},
		{"only trusted hops takes the leftmost", proxies, "10.1.1.1:5555", []string{"10.0.0.7, 10.0.0.5"}, "10.0.0.7"},
		{"malformed entry stops at the last good hop", proxies, "10.1.1.1:5555", []string{"198.51.100.9, garbage, 10.0.0.5"}, "10.0.0.5"},
		{"malformed entry next to the peer", proxies, "10.1.1.1:5555", []string{"198.51.100.9, unknown"}, "10.1.1.1"},
		{"empty entries are skipped", proxies, "10.1.1.1:5555", []string{"198.51.100.9, , 10.0.0.5,"}, "198.51.100.9"},
		{"hop with a port", proxies, "10.1.1.1:5555", []string{"198.51.100.9:4711"}, "198.51.100.9"},
		{"IPv6 peer", proxies, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"IPv6 proxy and client", proxies, "[fd00::1]:443", []string{"2001:db8::2, [fd00::9]:80"}, "2001:db8::2"},
		{"IPv4-mapped peer is IPv4", proxies, "[::ffff:10.0.0.1]:80", []string{"198.51.100.9"}, "198.51.100.9"},
		{"IPv4-mapped client is IPv4", proxies, "10.1.1.1:5555", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"zone is dropped", proxies, "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"peer without a port", proxies, "203.0.113.7", nil, "203.0.113.7"},
		{"peer that is no IP address", proxies, "@", []string{"198.51.100.9"}, "invalid IP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/api/v1/articles", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.c.Of(r).String(); got != tc.want {
				t.Errorf("Of(RemoteAddr %q, X-Forwarded-For %q) = %s, want %s", tc.remote, tc.xff, got, tc.want)
			}
		})
	}
}

func TestNewClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []string
		wantErr string // "" for success
		trusted string // an address the config must trust
	}{
		{"single IPv4", []string{"10.0.0.1"}, "", "10.0.0.1"},
		{"IPv4 prefix not masked", []string{"10.1.2.3/8"}, "", "10.200.0.1"},
		{"single IPv6", []string{"2001:db8::1"}, "", "2001:db8::1"},
		{"IPv6 prefix", []string{"fd00::/8"}, "", "fd12::1"},
		{"IPv4-mapped prefix", []string{"::ffff:10.0.0.0/104"}, "", "10.9.9.9"},
		{"prefix too long", []string{"10.0.0.0/33"}, `"10.0.0.0/33"`, ""},
		{"host name", []string{"proxy.example"}, `"proxy.example"`, ""},
		{"garbage after a prefix", []string{"10.0.0.0/8x"}, `"10.0.0.0/8x"`, ""},
		{"one bad entry among good ones", []string{"10.0.0.1", "nope"}, `"nope"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := NewClientIP(tc.entries)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("NewClientIP(%q): no error", tc.entries)
				}
				if msg := err.Error(); !strings.Contains(msg, tc.wantErr) || !strings.Contains(msg, "10.0.0.0/8") {
					t.Fatalf("error %q should quote %s and show how to write an entry", msg, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewClientIP(%q): %v", tc.entries, err)
			}
			if !c.isTrusted(netip.MustParseAddr(tc.trusted)) {
				t.Errorf("%s not trusted by %q", tc.trusted, tc.entries)
			}
		})
	}
}

func TestIPKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		addr netip.Addr
		want string
	}{
		{"IPv4", netip.MustParseAddr("198.51.100.9"), "ip:198.51.100.9"},
		{"IPv6 by /64", netip.MustParseAddr("2001:db8:1:2:3:4:5:6"), "ip:2001:db8:1:2::/64"},
		{"invalid", netip.Addr{}, "ip:unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := IPKey(tc.addr); got != tc.want {
				t.Errorf("IPKey(%v) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}

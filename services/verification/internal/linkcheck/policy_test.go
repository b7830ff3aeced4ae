package linkcheck

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestPolicy is the address policy over a table of addresses: nothing here
// is dialled.
func TestPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		addr string
		// why is part of the refusal, "" when the address is permitted.
		why string
	}{
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.254", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"169.254.169.254", "cloud metadata"},
		{"169.254.1.1", "link-local"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.100.100.200", "carrier-grade NAT"}, // Alibaba Cloud's metadata
		{"100.128.0.1", ""},
		{"127.0.0.1", "loopback"},
		{"127.0.0.2", "loopback"},
		{"0.0.0.0", "this network"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"192.0.2.10", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"::1", "loopback"},
		{"::", "unspecified"},
		{"fd00::1", "unique local"},
		{"fc00::1", "unique local"},
		{"fd00:ec2::254", "cloud metadata"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"fec0::1", "site-local"},
		{"ff02::1", "multicast"},
		{"::ffff:10.0.0.1", "private address (10.0.0.1) in IPv6 form"},
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:169.254.169.254", "cloud metadata"},
		{"::127.0.0.1", "IPv4-compatible"},
		{"64:ff9b::a00:1", "private address (10.0.0.1) in IPv6 form"}, // NAT64 of 10.0.0.1
		{"2002:c0a8:101::1", "private address (192.168.1.1)"},         // 6to4 of 192.168.1.1
		{"2001::1", "Teredo"},
		{"2001:db8::1", "documentation"},
		// Public addresses pass (and are never dialled by the tests).
		{"8.8.8.8", ""},
		{"93.184.216.34", ""},
		{"::ffff:8.8.8.8", ""},
		{"64:ff9b::808:808", ""},
		{"2606:4700:4700::1111", ""},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			err := Policy{}.Check(netip.MustParseAddr(tc.addr))
			switch {
			case tc.why == "" && err != nil:
				t.Errorf("%s refused: %v", tc.addr, err)
			case tc.why != "" && err == nil:
				t.Errorf("%s permitted; want it refused as %s", tc.addr, tc.why)
			case tc.why != "" && !strings.Contains(err.Error(), tc.why):
				t.Errorf("%s refused with %q; want it to say %q", tc.addr, err, tc.why)
			}
			var blocked *BlockedError
			if err != nil && !errors.As(err, &blocked) {
				t.Errorf("refusal %v is not a *BlockedError", err)
			}
		})
	}
}

func TestPolicyAllowList(t *testing.T) {
	t.Parallel()
	p := Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.1.0.0/16")}}
	cases := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true},
		{"127.0.0.2", false},
		{"10.1.2.3", true},
		{"10.2.0.1", false},
		{"::1", false},
	}
	for _, tc := range cases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			if err := p.Check(netip.MustParseAddr(tc.addr)); (err == nil) != tc.ok {
				t.Errorf("Check(%s) = %v, want permitted %v", tc.addr, err, tc.ok)
			}
		})
	}
}

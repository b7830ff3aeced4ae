package app

import (
	"net/netip"
	"slices"
	"testing"
)

func TestParseAllow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []string
		want []netip.Prefix
		bad  bool
	}{
		{"none", nil, nil, false},
		{"an IP is one address", []string{"10.1.2.3", "::1"}, []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("::1/128")}, false},
		{"CIDRs, masked", []string{" 10.1.2.3/16 ", ""}, []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}, false},
		{"a name is refused", []string{"intranet.example"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseAllow(tc.in)
			if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
				t.Errorf("parseAllow(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.bad)
			}
		})
	}
}

package linkcheck

import (
	"fmt"
	"net/netip"
)

// reserved lists the address ranges a check never connects to, with why.
// IPv4-mapped, NAT64 and 6to4 addresses are judged by the IPv4 address they
// carry (see embedded), so ::ffff:10.0.0.1 is as private as 10.0.0.1.
func reserved() []struct {
	prefix netip.Prefix
	why    string
} {
	p := netip.MustParsePrefix
	return []struct {
		prefix netip.Prefix
		why    string
	}{
		{p("0.0.0.0/8"), "a \"this network\" address"},
		{p("10.0.0.0/8"), "a private address"},
		{p("100.64.0.0/10"), "a carrier-grade NAT address"},
		{p("127.0.0.0/8"), "a loopback address"},
		{p("169.254.169.254/32"), "the cloud metadata address"},
		{p("169.254.0.0/16"), "a link-local address"},
		{p("172.16.0.0/12"), "a private address"},
		{p("192.0.0.0/24"), "an IETF protocol address"},
		{p("192.0.2.0/24"), "a documentation address"},
		{p("192.88.99.0/24"), "a 6to4 relay address"},
		{p("192.168.0.0/16"), "a private address"},
		{p("198.18.0.0/15"), "a benchmarking address"},
		{p("198.51.100.0/24"), "a documentation address"},
		{p("203.0.113.0/24"), "a documentation address"},
		{p("224.0.0.0/4"), "a multicast address"},
		{p("240.0.0.0/4"), "a reserved or broadcast address"},
		{p("::/128"), "the unspecified address"},
		{p("::1/128"), "a loopback address"},
		{p("::/96"), "an IPv4-compatible address"},
		{p("100::/64"), "a discard address"},
		{p("2001::/32"), "a Teredo address"},
		{p("2001:db8::/32"), "a documentation address"},
		{p("fd00:ec2::254/128"), "the cloud metadata address"},
		{p("fc00::/7"), "a private (unique local) address"},
		{p("fe80::/10"), "a link-local address"},
		{p("fec0::/10"), "a site-local address"},
		{p("ff00::/8"), "a multicast address"},
	}
}

// embedded returns the IPv4 address an IPv6 address carries by a standard
// translation (IPv4-mapped, NAT64 well-known prefix, 6to4), if any.
func embedded(a netip.Addr) (netip.Addr, bool) {
	if a.Is4In6() {
		return a.Unmap(), true
	}
	b := a.As16()
	switch {
	case netip.MustParsePrefix("64:ff9b::/96").Contains(a), netip.MustParsePrefix("64:ff9b:1::/48").Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case netip.MustParsePrefix("2002::/16").Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// Policy says which addresses a link check may connect to: public unicast
// addresses only, unless Allow covers the address.
type Policy struct {
	// Allow lists ranges that are permitted although not public (an
	// intranet wiki, a test server on loopback).
	Allow []netip.Prefix
}

// Check returns nil when a check may connect to addr, else an error saying
// what kind of address it is.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.WithZone("")
	for _, a := range p.Allow {
		if a.Contains(addr) || (addr.Is4In6() && a.Contains(addr.Unmap())) {
			return nil
		}
	}
	if why := notPublic(addr); why != "" {
		return &BlockedError{Addr: addr, Why: why}
	}
	return nil
}

// notPublic says why addr is not a public unicast address, "" when it is.
func notPublic(addr netip.Addr) string {
	if !addr.IsValid() {
		return "not an IP address"
	}
	if v4, ok := embedded(addr); ok {
		if why := notPublic(v4); why != "" {
			return why + " (" + v4.String() + ") in IPv6 form"
		}
		if addr.Is4In6() {
			return ""
		}
	}
	for _, r := range reserved() {
		if r.prefix.Contains(addr) {
			return r.why
		}
	}
	return ""
}

// BlockedError is a connection the policy refused.
type BlockedError struct {
	Addr netip.Addr
	Why  string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("%s is %s; link checks connect only to public addresses", e.Addr, e.Why)
}

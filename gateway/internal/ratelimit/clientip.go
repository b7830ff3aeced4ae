package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP finds the address of the client behind the gateway's reverse
// proxies. X-Forwarded-For is believed only when the peer is one of the
// configured proxies, and only as far as the chain is made of them: anyone
// else can write any X-Forwarded-For they like.
type ClientIP struct {
	trusted []netip.Prefix
}

// NewClientIP trusts the proxies listed as IP addresses or CIDR prefixes
// (10.0.0.1, 10.0.0.0/8, fd00::/8). Empty entries are ignored, so a
// comma-separated setting may end in a comma. No entries means no proxy:
// the peer address is the client.
func NewClientIP(trustedProxies []string) (*ClientIP, error) {
	c := &ClientIP{}
	for _, raw := range trustedProxies {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		p, err := parseTrusted(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q is neither an IP address nor a CIDR prefix; write it like 10.0.0.1, 10.0.0.0/8 or fd00::/8", raw)
		}
		c.trusted = append(c.trusted, p)
	}
	return c, nil
}

func parseTrusted(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			// ::ffff:10.0.0.0/104 is how some tools spell 10.0.0.0/8.
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Of returns the client address of r: the peer (RemoteAddr) unless it is a
// trusted proxy; then X-Forwarded-For is read from the right, skipping
// trusted proxies, and the first other address is the client. A malformed
// entry stops the walk at the last good hop, since nothing left of it can be
// believed. The result is invalid only when RemoteAddr is not an IP address
// (for example a Unix socket), which the caller should treat as one client.
func (c *ClientIP) Of(r *http.Request) netip.Addr {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok || !c.isTrusted(peer) {
		return peer
	}
	hop := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		entries := strings.Split(values[i], ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e := strings.TrimSpace(entries[j])
			if e == "" {
				continue // "a, , b" or a trailing comma: nothing to believe or reject
			}
			a, ok := parseHop(e)
			if !ok {
				return hop
			}
			if !c.isTrusted(a) {
				return a
			}
			hop = a
		}
	}
	// Every hop was a trusted proxy: the leftmost one is the best we know.
	return hop
}

// parseHop reads an address with or without a port ("1.2.3.4",
// "1.2.3.4:80", "2001:db8::1", "[2001:db8::1]:443"), as peers and proxies
// write them. IPv4-mapped IPv6 addresses become IPv4 and zones are dropped,
// so one client has one spelling.
func parseHop(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err2 := netip.ParseAddrPort(s)
		if err2 != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

func (c *ClientIP) isTrusted(a netip.Addr) bool {
	if c == nil {
		return false
	}
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// IPKey is the rate-limit key for a client address: the address itself for
// IPv4 and its /64 network for IPv6, because one IPv6 client usually holds a
// whole /64 and could otherwise take a fresh bucket for every request.
func IPKey(a netip.Addr) string {
	if !a.IsValid() {
		return "ip:unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	}
	return "ip:" + a.String()
}

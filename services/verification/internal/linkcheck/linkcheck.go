// Package linkcheck checks an article's reference links without letting
// them reach inside the network (no SSRF). A check sends HEAD, then GET when
// HEAD is refused, follows redirects by hand (checking every hop), reads at
// most a small part of a body, and times out. It connects only to public
// addresses: the dialer's Control hook checks the address actually being
// connected to, after resolution, so a name that resolves (or is rebound) to
// loopback, a private range or the cloud metadata address is refused
// however it is spelled, unless Config.Allow covers it. Proxies from the
// environment are never used, since they would connect on the check's
// behalf.
package linkcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Outcomes of a check.
const (
	// OK: the link answered 2xx, directly or through temporary redirects.
	OK = "ok"
	// Redirected: it answered 2xx at another URL through permanent
	// redirects only (301, 308); FinalURL is where it lives now.
	Redirected = "redirected"
	// Unreachable: the server said it is gone (404, 410, other 4xx, 5xx),
	// or the name does not exist or nothing listens.
	Unreachable = "unreachable"
	// Failed: the check could not tell (timeout, TLS, refused by the address
	// policy, a server refusing robots with 401/403/429, too many redirects).
	Failed = "failed"
)

// Result is the outcome of one link.
type Result struct {
	URL     string
	Outcome string
	// Status is the last HTTP status seen, 0 when none.
	Status int
	// FinalURL is the last URL reached.
	FinalURL string
	// Reason says what happened, for the finding's evidence.
	Reason string
}

// Resolver looks names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config tunes a Checker; zero fields take the defaults.
type Config struct {
	// Timeout bounds one whole check, redirects included (default 10 s).
	Timeout time.Duration
	// MaxRedirects bounds the hops followed (default 5).
	MaxRedirects int
	// BodyBytes bounds what is read of a GET body (default 64 KiB).
	BodyBytes int64
	// Concurrency bounds the checks running at once (default 4).
	Concurrency int
	// UserAgent is sent with every request.
	UserAgent string
	// Allow lists address ranges permitted although not public.
	Allow []netip.Prefix
	// Resolver looks names up; nil means net.DefaultResolver.
	Resolver Resolver
}

// DefaultUserAgent says who is asking and why.
const DefaultUserAgent = "BuzhouLinkChecker/1 (+reference link check of an article; HEAD, then a GET of at most 64 KiB)"

// Checker checks links; it is safe for concurrent use.
type Checker struct {
	cfg    Config
	policy Policy
	client *http.Client
	slots  chan struct{}
}

// New returns a checker.
func New(cfg Config) *Checker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = 5
	}
	if cfg.BodyBytes <= 0 {
		cfg.BodyBytes = 64 << 10
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	c := &Checker{cfg: cfg, policy: Policy{Allow: cfg.Allow}, slots: make(chan struct{}, cfg.Concurrency)}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: c.control}
	transport := &http.Transport{
		Proxy:                  nil, // a proxy would connect where the policy cannot see
		DialContext:            c.dialContext(dialer),
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      true,
	}
	c.client = &http.Client{
		Transport: transport,
		// Redirects are followed by hand, one checked hop at a time.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// control runs just before the socket connects, with the address it
// connects to: the last word on where the check goes.
func (c *Checker) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("linkcheck: unexpected dial address %q: %w", address, err)
	}
	return c.policy.Check(ap.Addr())
}

// dialContext resolves with the configured resolver, then dials each address
// in turn; control checks each one as it connects.
func (c *Checker) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		ips, err := c.lookup(ctx, host)
		if err != nil {
			return nil, err
		}
		var errs []error
		for _, ip := range ips {
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// lookup resolves host; localhost names are loopback by definition (RFC
// 6761) and never looked up.
func (c *Checker) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, nil
	}
	return c.cfg.Resolver.LookupNetIP(ctx, "ip", host)
}

// CheckAll checks every link, at most Config.Concurrency at once, and
// returns the results in the order of urls.
func (c *Checker) CheckAll(ctx context.Context, urls []string) []Result {
	out := make([]Result, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() { out[i] = c.Check(ctx, u) })
	}
	wg.Wait()
	return out
}

// Check checks one link.
func (c *Checker) Check(ctx context.Context, link string) Result {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return Result{URL: link, Outcome: Failed, FinalURL: link, Reason: "not checked: " + ctx.Err().Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	res := Result{URL: link, FinalURL: link}
	permanent := true
	cur := link
	for hop := 0; ; hop++ {
		res.FinalURL = cur
		u, err := url.Parse(cur)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fail(res, Failed, fmt.Sprintf("%q is not an absolute http(s) URL", cur))
		}
		status, location, err := c.fetch(ctx, u)
		res.Status = status
		if err != nil {
			return fail(res, outcomeOf(err), describe(err))
		}
		switch {
		case status >= 200 && status < 300:
			res.Outcome = OK
			if hop > 0 && permanent {
				res.Outcome = Redirected
				res.Reason = fmt.Sprintf("moved permanently to %s", cur)
			}
			return res
		case status >= 300 && status < 400 && location != "":
			if hop == c.cfg.MaxRedirects {
				return fail(res, Failed, fmt.Sprintf("more than %d redirects", c.cfg.MaxRedirects))
			}
			next, err := u.Parse(location)
			if err != nil {
				return fail(res, Failed, fmt.Sprintf("redirect to a bad URL %q", location))
			}
			permanent = permanent && (status == http.StatusMovedPermanently || status == http.StatusPermanentRedirect)
			cur = next.String()
		case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusProxyAuthRequired || status == http.StatusTooManyRequests:
			return fail(res, Failed, fmt.Sprintf("the server refused the check with %d %s", status, http.StatusText(status)))
		default:
			return fail(res, Unreachable, fmt.Sprintf("answered %d %s", status, http.StatusText(status)))
		}
	}
}

func fail(r Result, outcome, reason string) Result {
	r.Outcome, r.Reason = outcome, reason
	return r
}

// fetch sends HEAD and, when the server refuses it, GET, and returns the
// status and Location of the answer.
func (c *Checker) fetch(ctx context.Context, u *url.URL) (int, string, error) {
	status, loc, err := c.send(ctx, http.MethodHead, u)
	var blocked *BlockedError
	if errors.As(err, &blocked) || ctx.Err() != nil {
		return 0, "", err
	}
	// Many servers answer HEAD wrongly (405, 404, 403) or not at all.
	if err != nil || status >= 400 {
		return c.send(ctx, http.MethodGet, u)
	}
	return status, loc, nil
}

func (c *Checker) send(ctx context.Context, method string, u *url.URL) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	// Read a little, so a server that needs the body read does not reset;
	// never more than the limit, however much it sends.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, c.cfg.BodyBytes))
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// outcomeOf tells a link that is gone from one the check could not judge.
func outcomeOf(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return Unreachable
	case errors.Is(err, syscall.ECONNREFUSED):
		return Unreachable
	}
	return Failed
}

// describe says in a few words why a request failed.
func describe(err error) string {
	var (
		blocked *BlockedError
		dnsErr  *net.DNSError
	)
	switch {
	case errors.As(err, &blocked):
		return "not checked: " + blocked.Error()
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("the name %s does not exist", dnsErr.Name)
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	}
	return "request failed: " + err.Error()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

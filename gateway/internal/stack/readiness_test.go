package stack

import (
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb/sqldbtest"
)

// tcpProxy forwards loopback connections to target until cut. Cut, it drops
// every connection and takes new ones without ever answering, as a
// partitioned network does; restored, it forwards again.
type tcpProxy struct {
	lis    net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{lis: lis, target: target, conns: map[net.Conn]struct{}{}}
	done := make(chan struct{})
	go func() { defer close(done); p.accept() }()
	t.Cleanup(func() {
		lis.Close()
		<-done
		p.dropAll()
	})
	return p
}

func (p *tcpProxy) accept() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conns[c] = struct{}{}
		cut := p.cut
		p.mu.Unlock()
		if !cut { // a cut proxy holds the connection, silent, until dropAll
			go p.forward(c)
		}
	}
}

func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[up] = struct{}{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
	}
	wg.Add(2)
	go pipe(up, c)
	go pipe(c, up)
	wg.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// setCut cuts or restores the link; either way the connections so far end.
func (p *tcpProxy) setCut(cut bool) {
	p.mu.Lock()
	p.cut = cut
	p.mu.Unlock()
	p.dropAll()
}

func (p *tcpProxy) dropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// Readiness proves the stack can serve: with the PostgreSQL link cut,
// /readyz answers 503 naming each service that lost its database, and 200
// again once the link is back; /healthz stays 200 throughout.
func TestReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	direct := sqldbtest.FreshSchema(t)
	u, err := url.Parse(direct)
	if err != nil || u.Host == "" {
		t.Skipf("%s is not a postgres:// URL with a host; this test needs one to put a proxy in front", sqldbtest.PostgresEnv)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := startProxy(t, host)
	u.Host = proxy.lis.Addr().String()
	s := startStack(t, options{databaseURL: u.String()})
	anon := newClient(t, s, "")
	must(t, anon.do("GET", "/readyz", nil), http.StatusOK)

	proxy.setCut(true)
	cutAt := time.Now()
	// Each service notices on its own next round.
	r := waitReadyz(t, anon, http.StatusServiceUnavailable,
		"the article service cannot reach its database", "the verification service cannot reach its database", "UNAVAILABLE")
	if strings.Contains(string(r.body), "search") || strings.Contains(string(r.body), proxy.lis.Addr().String()) {
		t.Errorf("/readyz blames search or shows an address: %s", r.body)
	}
	t.Logf("both services reported the cut within %v", time.Since(cutAt).Round(time.Millisecond))
	must(t, anon.do("GET", "/healthz", nil), http.StatusOK)

	proxy.setCut(false)
	restoredAt := time.Now()
	waitReadyz(t, anon, http.StatusOK)
	t.Logf("ready again within %v of the restore", time.Since(restoredAt).Round(time.Millisecond))
	must(t, anon.do("GET", "/api/v1/articles", nil), http.StatusOK)
}

// waitReadyz polls /readyz until it answers want with a body that says
// every one of says; the services check their database every second, so
// half a minute is ample even on a loaded machine.
func waitReadyz(t *testing.T, c *client, want int, says ...string) response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var r response
	for time.Now().Before(deadline) {
		if r = c.do("GET", "/readyz", nil); r.status == want && saysAll(string(r.body), says) {
			return r
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz stayed %d %s, want %d saying %q", r.status, r.body, want, says)
	return r
}

func saysAll(body string, says []string) bool {
	for _, s := range says {
		if !strings.Contains(body, s) {
			return false
		}
	}
	return true
}

package linkcheck

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// server is a test HTTP server on a loopback address that counts the
// connections it accepts, to prove a refused check never connected.
type server struct {
	*httptest.Server
	conns atomic.Int32
	mu    sync.Mutex
	seen  []string // "METHOD path user-agent"
}

func newServer(t *testing.T, ip string, h http.HandlerFunc) *server {
	t.Helper()
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	s := &server{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.Method+" "+r.URL.Path+" "+r.UserAgent())
		s.mu.Unlock()
		h(w, r)
	}))
	s.Listener = lis
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *server) port() string {
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	return port
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// fakeResolver answers from a table and never sends a packet.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func loopbackNames() fakeResolver {
	return fakeResolver{
		"loopback.test": {netip.MustParseAddr("127.0.0.1")},
		"rebind.test":   {netip.MustParseAddr("127.0.0.2")},
	}
}

func ok(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }

// TestRefusedBeforeConnecting: with the default policy, no loopback server
// sees a connection, however its address is spelled or reached.
func TestRefusedBeforeConnecting(t *testing.T) {
	t.Parallel()
	one := newServer(t, "127.0.0.1", ok)
	two := newServer(t, "127.0.0.2", ok)
	c := New(Config{Resolver: loopbackNames(), Timeout: 5 * time.Second})
	cases := []struct {
		name, url string
		srv       *server
	}{
		{"127.0.0.1", "http://127.0.0.1:" + one.port() + "/", one},
		{"127.0.0.2", "http://127.0.0.2:" + two.port() + "/", two},
		{"localhost", "http://localhost:" + one.port() + "/", one},
		{"LOCALHOST. with a dot", "http://LOCALHOST.:" + one.port() + "/", one},
		{"a name resolving to loopback", "http://loopback.test:" + one.port() + "/", one},
		{"another name resolving to 127.0.0.2", "http://rebind.test:" + two.port() + "/x", two},
		{"IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]:" + one.port() + "/", one},
		{"decimal-free octal-looking host is no bypass", "http://0177.0.0.1:" + one.port() + "/", one},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := c.Check(t.Context(), tc.url)
			if r.Outcome == OK || r.Outcome == Redirected {
				t.Errorf("%s: %+v; want it refused", tc.url, r)
			}
		})
	}
	t.Cleanup(func() {
		// Cleanups run after the parallel subtests.
		if n := one.conns.Load() + two.conns.Load(); n != 0 {
			t.Errorf("the servers saw %d connections; want none", n)
		}
	})
}

func TestRedirectToLoopbackRefused(t *testing.T) {
	t.Parallel()
	inner := newServer(t, "127.0.0.2", ok)
	outer := newServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://127.0.0.2:"+inner.port()+"/admin", http.StatusMovedPermanently)
	})
	// Only the first server is allow-listed: the hop to the second is checked.
	c := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	r := c.Check(t.Context(), outer.URL+"/start")
	if r.Outcome != Failed || !strings.Contains(r.Reason, "loopback") || !strings.Contains(r.FinalURL, "127.0.0.2") {
		t.Errorf("result %+v; want the redirect refused as loopback", r)
	}
	if inner.conns.Load() != 0 {
		t.Errorf("the redirect target saw %d connections", inner.conns.Load())
	}
	if outer.conns.Load() == 0 {
		t.Errorf("the allow-listed server saw no connection")
	}
}

// TestCheck covers the outcomes against allow-listed loopback servers.
func TestCheck(t *testing.T) {
	t.Parallel()
	var srv *server
	srv = newServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
		case "/head-refused":
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
			}
		case "/gone":
			w.WriteHeader(http.StatusGone)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		case "/broken":
			w.WriteHeader(http.StatusInternalServerError)
		case "/forbidden":
			w.WriteHeader(http.StatusForbidden)
		case "/moved":
			http.Redirect(w, r, "/moved-again", http.StatusMovedPermanently)
		case "/moved-again":
			http.Redirect(w, r, srv.URL+"/ok?final=1", http.StatusPermanentRedirect)
		case "/temporary":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/mixed":
			http.Redirect(w, r, "/temporary", http.StatusMovedPermanently)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusMovedPermanently)
		case "/ftp":
			http.Redirect(w, r, "ftp://127.0.0.1/file", http.StatusMovedPermanently)
		case "/endless":
			if r.Method == http.MethodHead {
				return // net/http would discard a HEAD body forever
			}
			buf := make([]byte, 32<<10)
			for {
				if _, err := w.Write(buf); err != nil {
					return
				}
			}
		case "/slow":
			<-r.Context().Done()
		}
	})
	closed := func() string { // a port nothing listens on
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		lis.Close()
		return "http://" + addr + "/"
	}()
	c := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Resolver: loopbackNames(), Timeout: 2 * time.Second, UserAgent: "test-agent/1"})
	cases := []struct {
		path, want string
		final      string
	}{
		{"/ok", OK, "/ok"},
		{"/head-refused", OK, "/head-refused"},
		{"/gone", Unreachable, "/gone"},
		{"/missing", Unreachable, "/missing"},
		{"/broken", Unreachable, "/broken"},
		{"/forbidden", Failed, "/forbidden"},
		{"/moved", Redirected, "/ok?final=1"},
		{"/temporary", OK, "/ok"},
		{"/mixed", OK, "/ok"},
		{"/loop", Failed, "/loop"},
		{"/ftp", Failed, "ftp://127.0.0.1/file"},
		{"/endless", OK, "/endless"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			r := c.Check(t.Context(), srv.URL+tc.path)
			if r.Outcome != tc.want || !strings.HasSuffix(r.FinalURL, tc.final) {
				t.Errorf("Check(%s) = %+v; want %s ending at %s", tc.path, r, tc.want, tc.final)
			}
		})
	}
	t.Run("a name that does not exist", func(t *testing.T) {
		t.Parallel()
		if r := c.Check(t.Context(), "http://nowhere.test/"); r.Outcome != Unreachable || !strings.Contains(r.Reason, "does not exist") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		if r := c.Check(t.Context(), closed); r.Outcome != Unreachable || !strings.Contains(r.Reason, "refused") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("not http", func(t *testing.T) {
		t.Parallel()
		if r := c.Check(t.Context(), "file:///etc/passwd"); r.Outcome != Failed {
			t.Errorf("%+v", r)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		quick := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 100 * time.Millisecond})
		if r := quick.Check(t.Context(), srv.URL+"/slow"); r.Outcome != Failed || !strings.Contains(r.Reason, "timed out") {
			t.Errorf("%+v", r)
		}
	})
	t.Run("HEAD first, GET when HEAD is refused, with the user agent", func(t *testing.T) {
		t.Parallel()
		own := newServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
			}
		})
		c.Check(t.Context(), own.URL+"/page")
		want := []string{"HEAD /page test-agent/1", "GET /page test-agent/1"}
		if got := own.requests(); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("requests %q, want %q", got, want)
		}
	})
}

func TestCheckAllBoundsConcurrency(t *testing.T) {
	t.Parallel()
	var inflight, most atomic.Int32
	srv := newServer(t, "127.0.0.1", func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		inflight.Add(-1)
	})
	c := New(Config{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Concurrency: 2})
	urls := make([]string, 8)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/%d", srv.URL, i)
	}
	for i, r := range c.CheckAll(t.Context(), urls) {
		if r.Outcome != OK || r.URL != urls[i] {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if m := most.Load(); m > 2 {
		t.Errorf("%d checks ran at once; the cap is 2", m)
	}
}

package load_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"buzhou.dev/gateway/internal/load"
	"buzhou.dev/gateway/internal/stack"
	"buzhou.dev/gateway/internal/stack/stacktest"
)

// TestStallIsCountedForEveryoneDue: one answer stalls 300 ms while only one
// request may be in flight. A closed-loop generator would record one slow
// request; the open loop records every request that was due during the
// stall as late.
func TestStallIsCountedForEveryoneDue(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") && n.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
	}))
	defer srv.Close()
	mix, err := load.ParseMix("get=1")
	if err != nil {
		t.Fatal(err)
	}
	res, err := load.Run(context.Background(), load.Config{Server: srv.URL, Rates: []int{200}, Step: 500 * time.Millisecond, Mix: mix, MaxInFlight: 1},
		load.Target{Slugs: []string{"a"}, IDs: []string{"a"}, Queries: []string{"q"}})
	if err != nil {
		t.Fatal(err)
	}
	get := res[0].Endpoints[load.Get]
	if get.Sent != 100 || get.OK != 100 {
		t.Fatalf("sent %d, ok %d, errors %v", get.Sent, get.OK, get.Errors)
	}
	// Requests due in the first 200 ms waited at least 100 ms for the stall.
	if p := get.Latency.Percentile(60); p < 100*time.Millisecond || get.Latency.Max() < 300*time.Millisecond {
		t.Errorf("p60 %v, max %v: the stall was not counted against the requests due during it", p, get.Latency.Max())
	}
}

func TestParseMix(t *testing.T) {
	t.Parallel()
	if m, err := load.ParseMix("get=70, search=20,write=10"); err != nil || m != (load.Mix{70, 20, 0, 10}) {
		t.Errorf("ParseMix: %v %v", m, err)
	}
	for _, bad := range []string{"", "get", "get=x", "fetch=1", "get=-1", "get=0"} {
		if _, err := load.ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}

// TestAgainstAStack seeds a real stack and runs a short mixed step: every
// endpoint is asked and answers as expected.
func TestAgainstAStack(t *testing.T) {
	t.Parallel()
	s := stacktest.Start(t, stacktest.Options{}, stack.Start, func(s *stack.Stack) string { return s.HTTPAddr })
	server := "http://" + s.HTTPAddr
	c := load.NewClient(64, 10*time.Second)
	target, err := load.Seed(context.Background(), c, server, stacktest.AdminKey, 40, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(target.Slugs) != 40 || len(target.Queries) == 0 {
		t.Fatalf("seeded %d articles, %d queries", len(target.Slugs), len(target.Queries))
	}
	mix, _ := load.ParseMix("get=4,search=2,resolve=2,write=1")
	res, err := load.Run(context.Background(), load.Config{Server: server, Key: stacktest.AdminKey, Rates: []int{40}, Step: 2 * time.Second, Mix: mix, Client: c}, target)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range res[0].Endpoints {
		if e.Sent == 0 || e.OK != e.Sent {
			t.Errorf("%v: sent %d, ok %d, errors %v", load.Endpoint(i), e.Sent, e.OK, e.Errors)
		}
	}
	if res[0].RSSBytes == 0 {
		t.Error("no server memory read from /metrics")
	}
	var out strings.Builder
	load.Report(&out, res)
	if !strings.Contains(out.String(), "resolve") || !strings.Contains(out.String(), "server memory") {
		t.Errorf("report:\n%s", out.String())
	}
	if load.Sustained(res, time.Hour) != 40 {
		t.Errorf("sustained %d, want 40", load.Sustained(res, time.Hour))
	}
}

// TestShedByPart: the report says which part shed during a step, from the
// difference of buzhou_shed_total before and after it.
func TestShedByPart(t *testing.T) {
	t.Parallel()
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			return
		}
		n := scrapes.Add(1) - 1 // 0 before the step, 1 after
		fmt.Fprintf(w, "buzhou_shed_total{class=\"search\",service=\"gateway\"} %d\n", 2+5*n)
		fmt.Fprintf(w, "buzhou_shed_total{class=\"read\",service=\"search\"} %d\n", 3*n)
		fmt.Fprintf(w, "buzhou_shed_total{class=\"write\",service=\"search\"} %d\n", 1)
	}))
	defer srv.Close()
	mix, _ := load.ParseMix("get=1")
	res, err := load.Run(context.Background(), load.Config{Server: srv.URL, Rates: []int{10}, Step: 100 * time.Millisecond, Mix: mix},
		load.Target{Slugs: []string{"a"}, IDs: []string{"a"}, Queries: []string{"q"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]float64{"gateway": 5, "search": 3}; !maps.Equal(res[0].Shed, want) {
		t.Errorf("shed %v, want %v", res[0].Shed, want)
	}
	var out strings.Builder
	load.Report(&out, res)
	if !strings.Contains(out.String(), "shed: gateway 5, search 3;") {
		t.Errorf("report:\n%s", out.String())
	}
}

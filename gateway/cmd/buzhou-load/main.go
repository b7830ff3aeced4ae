// Command buzhou-load seeds a running Buzhou with synthetic articles and
// drives it over REST at steps of increasing arrival rate (an open loop),
// printing latency percentiles per endpoint; `make load` runs it against a
// fresh stack. See internal/load.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"buzhou.dev/gateway/internal/load"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "buzhou-load:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("buzhou-load", flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "the gateway's base URL")
	articles := fs.Int("articles", 1000, "synthetic articles to seed first (a fresh stack: their slugs must be free)")
	rates := fs.String("rates", "250,500,1000,2000,4000", "the steps, in requests per second over the whole mix")
	stepFor := fs.Duration("step", 10*time.Second, "how long each rate is held")
	mix := fs.String("mix", "get=70,search=15,resolve=10,write=5", "endpoint weights: get, search, resolve, write")
	inflight := fs.Int("max-inflight", 2048, "requests in flight at most; past it the generator falls behind (and counts the delay)")
	timeout := fs.Duration("timeout", 10*time.Second, "one request's time limit")
	p99 := fs.Duration("p99", 50*time.Millisecond, "the p99 the sustained rate must keep on every endpoint")
	warm := fs.Bool("warm", true, "read every seeded article once before the steps (steady state, not first reads)")
	reindex := fs.Bool("reindex", true, "reindex after seeding, so the embedder learns from the articles as in a hub in service")
	settle := fs.Bool("settle", true, "wait for the related lists the seed leaves to be written back before the steps")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key := os.Getenv("BUZHOU_API_KEY")
	if key == "" {
		return errors.New("set BUZHOU_API_KEY to a key with articles:write (seeding, writes) and read access to /api/v1/search/status")
	}
	m, err := load.ParseMix(*mix)
	if err != nil {
		return err
	}
	var steps []int
	for _, r := range strings.Split(*rates, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(r))
		if err != nil || n <= 0 {
			return fmt.Errorf("--rates %q: %q is not a rate above 0", *rates, r)
		}
		steps = append(steps, n)
	}
	client := load.NewClient(*inflight, *timeout)
	started := time.Now()
	target, err := load.Seed(ctx, client, *server, key, *articles, 7, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("seeded and indexed %d articles in %v\n", len(target.IDs), time.Since(started).Round(time.Millisecond))
	if *reindex || *settle {
		if err := load.Settle(ctx, client, *server, key, len(target.IDs), *reindex, *settle, os.Stdout); err != nil {
			return err
		}
	}
	if *warm {
		if err := load.Warm(ctx, client, *server, target, 8); err != nil {
			return err
		}
	}
	fmt.Printf("mix %s, %v a step, at most %d in flight; latency from each request's due time\n", *mix, *stepFor, *inflight)
	results, err := load.Run(ctx, load.Config{
		Server: *server, Key: key, Rates: steps, Step: *stepFor, Mix: m, MaxInFlight: *inflight, Timeout: *timeout, Client: client,
	}, target)
	load.Report(os.Stdout, results)
	if err != nil {
		return err
	}
	if best := load.Sustained(results, *p99); best > 0 {
		fmt.Printf("sustained: %d requests/s with p99 ≤ %v on every endpoint and < 1%% errors\n", best, *p99)
	} else {
		fmt.Printf("sustained: no step kept p99 ≤ %v on every endpoint with < 1%% errors\n", *p99)
	}
	return nil
}

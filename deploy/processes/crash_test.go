package processes

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb/sqldbtest"
)

// The crash tests kill Buzhou's parts with SIGKILL at the worst moments
// they can aim for and check, after a restart, that nothing acknowledged
// was lost and that what follows the article store converges back to it.
// On PostgreSQL each part is its own process and is killed alone; on SQLite
// the parts share one data directory and run in one process (`buzhou
// serve`, the real SQLite deployment), so that process is killed.

// crashEnv is what every crash stack runs with: no background inspections
// (the verification test starts its own), no outside link checks, no rate
// limit in the way of the test's traffic, and no drain, so that a restart
// is a restart. The hashing embedder, because the learned one, started on
// an empty hub, learns its model and rebuilds the index once the first
// catch-up finds 20 articles: a planned rebuild that would overlap the
// search checks at a moment of its own choosing.
var crashEnv = []string{
	"BUZHOU_INSPECT_ON_CHANGE=false", "BUZHOU_DAILY_INSPECTIONS=false", "BUZHOU_CHECK_LINKS=false",
	"BUZHOU_RATE_ANON_PER_MINUTE=1000000", "BUZHOU_RATE_KEY_PER_MINUTE=1000000",
	"BUZHOU_SHUTDOWN_DRAIN=0s", "BUZHOU_EMBEDDER=hashing",
}

// crashStack is a running Buzhou whose parts can be killed and restarted.
type crashStack struct {
	*cluster
	engine string
}

// part is the process that runs part: on SQLite, the all-in-one.
func (s *crashStack) part(name string) *process {
	if p, ok := s.procs[name]; ok {
		return p
	}
	return s.procs["buzhou"]
}

func startCrashStack(t *testing.T, engine string) *crashStack {
	t.Helper()
	var c *cluster
	switch engine {
	case "postgres":
		dbURL := sqldbtest.FreshSchema(t)
		c = start(t, build(t), dbURL, crashEnv...)
	case "sqlite":
		bin := build(t, "buzhou.dev/gateway/cmd/buzhou")
		c = &cluster{procs: map[string]*process{}, http: freeAddr(t), adminKey: newKey(t)}
		env := append([]string{"BUZHOU_HTTP_ADDR=" + c.http, "BUZHOU_ADMIN_KEY=" + c.adminKey,
			"BUZHOU_DATA_DIR=" + t.TempDir(), "BUZHOU_SEED_DEMO=false", "BUZHOU_LOG_JSON=true"}, crashEnv...)
		c.procs["buzhou"] = newProcess(t, "buzhou", filepath.Join(bin, "buzhou"), env, "serve")
	default:
		t.Fatalf("engine %q", engine)
	}
	s := &crashStack{cluster: c, engine: engine}
	s.waitReady(t)
	return s
}

// waitReady waits for /readyz to answer 200.
func (s *crashStack) waitReady(t *testing.T) {
	t.Helper()
	s.eventually(t, "GET /readyz answers 200", func() (bool, string) {
		a := s.readyz(t)
		return a.status == http.StatusOK, fmt.Sprintf("%d %s", a.status, a.body)
	})
}

// crash kills part with SIGKILL and starts it again, returning when it was
// started.
func (s *crashStack) crash(t *testing.T, part string) time.Time {
	t.Helper()
	p := s.part(part)
	p.kill(t)
	t.Logf("%s: killed %s (SIGKILL)", s.engine, p.name)
	started := time.Now()
	p.start(t)
	return started
}

// TestCrash kills each part of Buzhou mid-work, on SQLite and (when
// BUZHOU_TEST_POSTGRES_URL is set) on PostgreSQL.
func TestCrash(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			if engine == "postgres" {
				sqldbtest.PostgresURL(t) // skips without BUZHOU_TEST_POSTGRES_URL
			}
			s := startCrashStack(t, engine)
			// In order, on one stack: each leaves articles the next must
			// keep.
			t.Run("article service during acknowledged writes", s.articleCrash)
			t.Run("search service mid-indexing", s.searchCrash)
			t.Run("verification service mid-inspection", s.verificationCrash)
			t.Run("gateway under load", s.gatewayCrash)
		})
	}
}

// reply is one HTTP answer, or the error that stood in for it.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// retryable says whether a client may take r for "try again": the part is
// down or restarting, or said so.
func (r reply) retryable() bool {
	switch {
	case r.err != nil:
		return true // connection refused or reset: nothing was answered
	case r.status == http.StatusServiceUnavailable, r.status == http.StatusTooManyRequests,
		r.status == http.StatusBadGateway, r.status == http.StatusGatewayTimeout:
		return true
	}
	return false
}

func (r reply) String() string {
	if r.err != nil {
		return r.err.Error()
	}
	return fmt.Sprintf("%d %.400s", r.status, r.body)
}

// do sends one request; safe from any goroutine (it never fails the test).
func (s *crashStack) do(ctx context.Context, method, path string, body any, header ...string) reply {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{err: err}
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.http+path, rd)
	if err != nil {
		return reply{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+s.adminKey)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// word is a made-up word no article has by chance: letters only, so that
// the tokenizer keeps it whole.
func word(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(26))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = byte('a' + n.Int64())
	}
	return "zq" + string(b)
}

func article(token string) map[string]any {
	return map[string]any{
		"title":   map[string]any{"en": "Crash test article " + token},
		"summary": map[string]any{"en": "An article the crash tests wrote."},
		"content": map[string]any{"en": "## Fix\n\nLook for " + token + " after the restart."},
		"domain":  "foundation", "tags": []string{"crash"}, "status": "published",
	}
}

// stored is what an acknowledged write said an article now holds.
type stored struct {
	title, content string
	tags           []string
}

type articleJSON struct {
	ID       string            `json:"id"`
	Slug     string            `json:"slug"`
	Revision int               `json:"revision"`
	Status   string            `json:"status"`
	Title    map[string]string `json:"title"`
	Content  map[string]string `json:"content"`
	Tags     []string          `json:"tags"`
}

func (s stored) equal(o stored) bool {
	return s.title == o.title && s.content == o.content && slices.Equal(s.tags, o.tags)
}

func (a articleJSON) stored() stored {
	return stored{title: a.Title["en"], content: a.Content["en"], tags: a.Tags}
}

// articleCrash kills the article service while writers create and update
// articles, and checks that every write it acknowledged is there after the
// restart, with the content it acknowledged.
func (s *crashStack) articleCrash(t *testing.T) {
	const writers = 4
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var (
		mu    sync.Mutex
		acked = map[string]stored{}
		// inFlight is the write sent after an article's last acknowledged
		// one: a crash may have committed it without its answer getting
		// out, so the article may hold either.
		inFlight = map[string]stored{}
		ackedN   int
		refused  = map[string]int{} // what the writers got instead of an acknowledgement
		wrong    []string
		after    int // acknowledged writes since the restart
	)
	restarted := false
	ack := func(id string, st stored) {
		mu.Lock()
		defer mu.Unlock()
		acked[id] = st
		delete(inFlight, id)
		ackedN++
		if restarted {
			after++
		}
	}
	failed := func(what string, r reply) {
		mu.Lock()
		defer mu.Unlock()
		if !r.retryable() {
			wrong = append(wrong, what+": "+r.String())
			return
		}
		key := "transport error"
		if r.err == nil {
			key = strconv.Itoa(r.status)
		}
		refused[key]++
	}
	tokens := make(chan string, 1024)
	go func() {
		for ctx.Err() == nil {
			select {
			case tokens <- word(t):
			case <-ctx.Done():
			}
		}
	}()
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for ctx.Err() == nil {
				token := <-tokens
				r := s.do(ctx, "POST", "/api/v1/articles", article(token))
				if ctx.Err() != nil {
					return
				}
				if r.status != http.StatusCreated {
					failed("create", r)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				var a articleJSON
				if err := json.Unmarshal(r.body, &a); err != nil || a.ID == "" {
					failed("create", reply{status: r.status, body: r.body, err: fmt.Errorf("not an article: %v", err)})
					continue
				}
				ack(a.ID, a.stored())
				tags := []string{"crash", "updated"}
				next := a.stored()
				next.tags = tags
				mu.Lock()
				inFlight[a.ID] = next
				mu.Unlock()
				r = s.do(ctx, "PATCH", "/api/v1/articles/"+a.ID, map[string]any{"tags": tags}, "If-Match", strconv.Itoa(a.Revision))
				if ctx.Err() != nil {
					return
				}
				if r.status != http.StatusOK {
					failed("update", r)
					continue
				}
				var u articleJSON
				if err := json.Unmarshal(r.body, &u); err != nil {
					failed("update", reply{status: r.status, body: r.body, err: err})
					continue
				}
				ack(u.ID, u.stored())
			}
		})
	}
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return ackedN, after
	}
	s.eventually(t, "40 acknowledged writes", func() (bool, string) {
		n, _ := count()
		return n >= 40, strconv.Itoa(n)
	})
	startedAt := s.crash(t, "article")
	mu.Lock()
	restarted = true
	mu.Unlock()
	s.waitReady(t)
	ready := time.Since(startedAt)
	s.eventually(t, "writes acknowledged again after the restart", func() (bool, string) {
		_, n := count()
		return n >= 20, strconv.Itoa(n)
	})
	writing := time.Since(startedAt)
	stop()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	for _, w := range wrong {
		t.Errorf("a writer got an answer that is neither an acknowledgement nor retryable: %s", w)
	}
	lost := 0
	for id, want := range acked {
		r := s.do(t.Context(), "GET", "/api/v1/articles/"+id, nil)
		var got articleJSON
		if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil {
			t.Errorf("acknowledged article %s after the crash: %s", id, r)
			lost++
			continue
		}
		g := got.stored()
		if next, ok := inFlight[id]; ok && g.equal(next) {
			continue
		}
		if !g.equal(want) {
			t.Errorf("article %s after the crash holds %+v, the acknowledged write %+v", id, g, want)
			lost++
		}
	}
	converged := time.Since(startedAt)
	t.Logf("%s: %d acknowledged writes on %d articles, %d lost; refused while down: %v", s.engine, ackedN, len(acked), lost, refused)
	t.Logf("%s: article recovery: start → ready %v, → writes acknowledged again %v, → every acknowledged write read back %v",
		s.engine, ready.Round(time.Millisecond), writing.Round(time.Millisecond), converged.Round(time.Millisecond))
}

// indexStatus is GET /api/v1/search/status (int64s are JSON strings).
type indexStatus struct {
	Applied    int64 `json:"appliedRevision,string"`
	Received   int64 `json:"receivedRevision,string"`
	Lag        int64 `json:"lag,string"`
	Articles   int64 `json:"indexedArticles,string"`
	CaughtUp   bool  `json:"caughtUp"`
	Rebuilding bool  `json:"rebuilding"`
}

func (s *crashStack) indexStatus(ctx context.Context) (indexStatus, reply) {
	r := s.do(ctx, "GET", "/api/v1/search/status", nil)
	var st indexStatus
	if r.status != http.StatusOK {
		return st, r
	}
	if err := json.Unmarshal(r.body, &st); err != nil {
		r.err = err
	}
	return st, r
}

// published counts the published articles in the article store.
func (s *crashStack) published(t *testing.T) int64 {
	t.Helper()
	var n int64
	token := ""
	for {
		r := s.do(t.Context(), "GET", "/api/v1/articles?status=published&pageSize=100&pageToken="+url.QueryEscape(token), nil)
		var page struct {
			Articles []json.RawMessage `json:"articles"`
			Next     string            `json:"nextPageToken"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil {
			t.Fatalf("list published articles: %s", r)
		}
		n += int64(len(page.Articles))
		if token = page.Next; token == "" {
			return n
		}
	}
}

// searchCrash writes a few hundred articles (and archives some), kills the
// search service while it indexes them, and checks that after the restart
// the index converges to the article store: every published article found
// by its own word, the archived ones by none, the cursor at the head.
func (s *crashStack) searchCrash(t *testing.T) {
	total, archived, batch := 300, 20, 100
	if s.engine == "postgres" {
		// A backlog long enough to outlast the gateway's reconnection to
		// the restarted service, so that the kill can land mid-way.
		total, batch = 1000, 250
	}
	before, r := s.indexStatus(t.Context())
	if r.status != http.StatusOK {
		t.Fatalf("search status: %s", r)
	}
	if s.engine == "postgres" {
		// Down while the articles are written, so that they are a backlog
		// it catches up with after it starts.
		s.part("search").kill(t)
	}
	type written struct{ id, token string }
	var all []written
	gone := map[string]bool{}
	for len(all) < total {
		if len(all) == total-batch {
			// Archive some before the last batch, so that the kill comes
			// while the index still has that batch to write.
			for _, w := range all[:archived] {
				if r := s.do(t.Context(), "DELETE", "/api/v1/articles/"+w.id, nil); r.status != http.StatusOK {
					t.Fatalf("archive %s: %s", w.id, r)
				}
				gone[w.id] = true
			}
		}
		var items []any
		var toks []string
		for range batch {
			tok := word(t)
			toks = append(toks, tok)
			items = append(items, article(tok))
		}
		r := s.do(t.Context(), "POST", "/api/v1/articles:batchCreate", map[string]any{"articles": items})
		var res struct {
			Results []struct {
				Index   int          `json:"index"`
				Article *articleJSON `json:"article"`
				Error   any          `json:"error"`
			} `json:"results"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &res) != nil || len(res.Results) != batch {
			t.Fatalf("batch create: %s", r)
		}
		for _, it := range res.Results {
			if it.Article == nil {
				t.Fatalf("batch item %d: %v", it.Index, it.Error)
			}
			all = append(all, written{it.Article.ID, toks[it.Index]})
		}
	}
	var mid indexStatus
	if s.engine == "postgres" {
		s.part("search").start(t)
		// Kill it again as soon as it has applied part of the backlog
		// (polled tightly: catching up takes about a second).
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
			st, r := s.indexStatus(t.Context())
			if mid = st; r.status == http.StatusOK && st.Applied > before.Applied {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the search service never applied its backlog: %s", r)
			}
		}
	} else {
		mid, _ = s.indexStatus(t.Context())
	}
	startedAt := s.crash(t, "search")
	if mid.Lag > 0 || !mid.CaughtUp {
		t.Logf("%s: killed the search service mid-indexing: applied revision %d of %d received (lag %d)", s.engine, mid.Applied, mid.Received, mid.Lag)
	} else {
		t.Logf("%s: the search service had caught up (applied %d) before the kill", s.engine, mid.Applied)
	}
	s.waitReady(t)
	ready := time.Since(startedAt)
	want := s.published(t)
	var st indexStatus
	s.eventually(t, "the index converges to the article store", func() (bool, string) {
		var r reply
		st, r = s.indexStatus(t.Context())
		return r.status == http.StatusOK && st.CaughtUp && !st.Rebuilding && st.Lag == 0 && st.Applied == st.Received && st.Articles == want,
			fmt.Sprintf("%+v, %d published; %s", st, want, r)
	})
	converged := time.Since(startedAt)
	for _, w := range all {
		r := s.do(t.Context(), "GET", "/api/v1/search?pageSize=5&q="+w.token, nil)
		var res struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		if r.status != http.StatusOK || json.Unmarshal(r.body, &res) != nil {
			t.Fatalf("search %s: %s", w.token, r)
		}
		// The word is in this article only: it comes first, unless archived;
		// the others are the dense vectors' near neighbours.
		found := false
		for _, it := range res.Items {
			found = found || it.ID == w.id
		}
		switch {
		case gone[w.id] && found:
			t.Errorf("search %s finds archived article %s", w.token, w.id)
		case !gone[w.id] && (len(res.Items) == 0 || res.Items[0].ID != w.id):
			t.Errorf("search %s does not find article %s first: %s", w.token, w.id, r)
		}
	}
	t.Logf("%s: index converged at revision %d with %d articles", s.engine, st.Applied, st.Articles)
	t.Logf("%s: search recovery: start → ready %v, → converged %v", s.engine, ready.Round(time.Millisecond), converged.Round(time.Millisecond))
}

// gatewayCrash kills the gateway while readers load it and checks that
// every answer they got was the right article or an error a client may
// retry — never a wrong body, never a 500.
func (s *crashStack) gatewayCrash(t *testing.T) {
	const readers = 4
	token := word(t)
	r := s.do(t.Context(), "POST", "/api/v1/articles", article(token))
	var want articleJSON
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &want) != nil {
		t.Fatalf("create: %s", r)
	}
	s.eventually(t, "search finds the new article", func() (bool, string) {
		r := s.do(t.Context(), "GET", "/api/v1/search?pageSize=3&q="+token, nil)
		return r.status == http.StatusOK && bytes.Contains(r.body, []byte(`"`+want.ID+`"`)), r.String()
	})
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var (
		mu        sync.Mutex
		ok, retry int
		okAfter   int
		restarted bool
		wrong     []string
	)
	var wg sync.WaitGroup
	for i := range readers {
		wg.Go(func() {
			for ctx.Err() == nil {
				path := "/api/v1/articles/" + want.Slug
				if i%2 == 1 {
					path = "/api/v1/search?pageSize=3&q=" + token
				}
				r := s.do(ctx, "GET", path, nil)
				if ctx.Err() != nil {
					return
				}
				mu.Lock()
				switch {
				case r.err == nil && r.status == http.StatusOK && bytes.Contains(r.body, []byte(`"`+want.ID+`"`)):
					ok++
					if restarted {
						okAfter++
					}
				case r.retryable():
					retry++
				default:
					wrong = append(wrong, path+": "+r.String())
				}
				mu.Unlock()
				if r.err != nil || r.status != http.StatusOK {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return ok, okAfter
	}
	s.eventually(t, "answers before the kill", func() (bool, string) {
		n, _ := counts()
		return n >= 50, strconv.Itoa(n)
	})
	startedAt := s.crash(t, "gateway")
	mu.Lock()
	restarted = true
	mu.Unlock()
	s.waitReady(t)
	ready := time.Since(startedAt)
	s.eventually(t, "answers after the restart", func() (bool, string) {
		_, n := counts()
		return n >= 50, strconv.Itoa(n)
	})
	serving := time.Since(startedAt)
	stop()
	wg.Wait()
	for _, w := range wrong[:min(len(wrong), 5)] {
		t.Errorf("a reader got neither the article nor a retryable error: %s", w)
	}
	t.Logf("%s: %d right answers, %d retryable errors, %d wrong", s.engine, ok, retry, len(wrong))
	t.Logf("%s: gateway recovery: start → ready %v, → 50 right answers %v", s.engine, ready.Round(time.Millisecond), serving.Round(time.Millisecond))
}

// verificationCrash kills the verification service while inspections
// repair articles, and checks that after the restart every repair is whole:
// an article repaired ⇔ an inspection run that says so with its audit
// entries ⇔ the inspection bot's record, once.
func (s *crashStack) verificationCrash(t *testing.T) {
	const articles, inspectors = 40, 3
	var ids []string
	for range articles {
		a := article(word(t))
		// No keywords: the inspection fills them from the tags, a safe
		// repair, as one article revision.
		a["tags"] = []string{"crash", "repairs"}
		r := s.do(t.Context(), "POST", "/api/v1/articles", a)
		var got articleJSON
		if r.status != http.StatusCreated || json.Unmarshal(r.body, &got) != nil {
			t.Fatalf("create: %s", r)
		}
		ids = append(ids, got.ID)
	}
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var (
		mu    sync.Mutex
		done  int
		wrong []string
	)
	work := make(chan string, len(ids))
	for _, id := range ids {
		work <- id
	}
	close(work)
	var wg sync.WaitGroup
	for range inspectors {
		wg.Go(func() {
			for id := range work {
				r := s.do(ctx, "POST", "/api/v1/articles/"+id+"/inspections", map[string]any{})
				mu.Lock()
				switch {
				case r.status == http.StatusCreated:
					done++
				case !r.retryable() && ctx.Err() == nil:
					wrong = append(wrong, r.String())
				}
				mu.Unlock()
			}
		})
	}
	s.eventually(t, "inspections under way", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return done >= 5, strconv.Itoa(done)
	})
	startedAt := s.crash(t, "verification")
	wg.Wait()
	s.waitReady(t)
	ready := time.Since(startedAt)
	for _, w := range wrong {
		t.Errorf("an inspection got neither its run nor a retryable error: %s", w)
	}

	// What a crash left pending is settled in the background after the
	// start: wait for every repair to be whole.
	var problems []string
	var repaired int
	deadline := time.Now().Add(time.Minute)
	for {
		repaired, problems = s.repairsWhole(t, ids)
		if len(problems) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	settled := time.Since(startedAt)
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("%s: %d of %d articles repaired before or across the kill, %d half-repaired", s.engine, repaired, articles, len(problems))
	t.Logf("%s: verification recovery: start → ready %v, → every repair whole %v", s.engine, ready.Round(time.Millisecond), settled.Round(time.Millisecond))
}

// repairsWhole checks that each article's repair is whole and says how many
// were repaired and what is not whole.
func (s *crashStack) repairsWhole(t *testing.T, ids []string) (repaired int, problems []string) {
	t.Helper()
	for _, id := range ids {
		var a struct {
			Keywords []string `json:"keywords"`
			Recent   []struct {
				ID string `json:"id"`
			} `json:"recentVerifications"`
		}
		var runs struct {
			Runs []struct {
				ID       string `json:"id"`
				Repaired int    `json:"repairedRevision"`
				Repairs  []any  `json:"repairs"`
				Record   *struct {
					ID string `json:"id"`
				} `json:"record"`
			} `json:"runs"`
		}
		var recs struct {
			Records []struct {
				ID       string `json:"id"`
				Verifier struct {
					ID string `json:"id"`
				} `json:"verifier"`
			} `json:"records"`
		}
		for path, into := range map[string]any{"": &a, "/inspections": &runs, "/verifications": &recs} {
			if r := s.do(t.Context(), "GET", "/api/v1/articles/"+id+path, nil); r.status != http.StatusOK || json.Unmarshal(r.body, into) != nil {
				t.Fatalf("GET %s%s: %s", id, path, r)
			}
		}
		repairRuns, botRecords := 0, map[string]bool{}
		for _, r := range runs.Runs {
			if r.Repaired > 0 {
				repairRuns++
				if len(r.Repairs) == 0 || r.Record == nil {
					problems = append(problems, fmt.Sprintf("article %s: run %s repaired revision %d without its audit entries or record", id, r.ID, r.Repaired))
				}
			}
		}
		for _, r := range recs.Records {
			if r.Verifier.ID == "prn_bot_inspection" {
				botRecords[r.ID] = true
			}
		}
		shown := map[string]bool{}
		for _, r := range a.Recent {
			shown[r.ID] = true
		}
		if len(a.Keywords) > 0 {
			repaired++
		}
		// Whole: the article's repair, one run with its audit entries and
		// one bot record (shown on the article) — or none of them.
		switch {
		case len(a.Keywords) > 0 && repairRuns == 1 && len(botRecords) == 1:
			for rec := range botRecords {
				if !shown[rec] {
					problems = append(problems, fmt.Sprintf("article %s: the bot's record %s is not the one the article shows (%v)", id, rec, a.Recent))
				}
			}
		case len(a.Keywords) == 0 && repairRuns == 0 && len(botRecords) == 0:
		default:
			problems = append(problems, fmt.Sprintf("article %s: half a repair: keywords %v, %d repairing runs, bot records %v, the article shows records %v",
				id, a.Keywords, repairRuns, botRecords, a.Recent))
		}
	}
	return repaired, problems
}

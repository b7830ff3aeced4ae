package stack

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// chromium finds Debian's chromium (or another Chrome) on PATH.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cspWatch records, in every page the browser opens, what the page's
// Content-Security-Policy refused: a page that needs anything outside its
// policy shows up here rather than silently losing its style or script.
const cspWatch = `window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});`

// TestBrowser drives the site in headless Chromium as a reader would: the
// home page in the browser's language, a search, an article, its API
// endpoint copied, the other language. Screenshots (light, dark, phone) go
// to the test's artifact directory: go test -run TestBrowser -artifacts
// -outputdir DIR buzhou.dev/gateway/internal/stack keeps them.
func TestBrowser(t *testing.T) {
	t.Parallel()
	path := chromium()
	if path == "" {
		t.Skip("buzhou.dev/gateway/internal/stack: no chromium on PATH, so the browser test is skipped; install it with apt-get install -y chromium")
	}
	s := startStack(t, options{seed: true})
	base := "http://" + s.HTTPAddr
	api := newClient(t, s, "")
	first := must(t, api.do("GET", "/api/v1/articles?pageSize=1", nil), http.StatusOK).json(t)["articles"].([]any)[0].(map[string]any)
	slug := first["slug"].(string)
	title := first["title"].(map[string]any)
	verifyThrice(t, s, first["id"].(string))
	shots := t.ArtifactDir()

	// A hang ends the test; nothing here is timed.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("lang", "en-US"), chromedp.WindowSize(1280, 900))
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	ctx, ccancel := chromedp.NewContext(actx)
	defer ccancel()

	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	navigate := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		resp, err := chromedp.RunResponse(ctx, steps...)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Status != http.StatusOK {
			t.Fatalf("%s: status %d at %s", what, resp.Status, resp.URL)
		}
		if v := eval[[]string](t, ctx, `window.__csp`); len(v) > 0 {
			t.Errorf("%s: the Content-Security-Policy refused %v", what, v)
		}
	}
	shot := func(name string, full bool) {
		t.Helper()
		action := chromedp.CaptureScreenshot()
		if full {
			action = chromedp.FullScreenshot(100)
		}
		png, err := chromedp.Run(ctx, action)
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The home page, in the language the browser asks for.
	navigate("open /", chromedp.Navigate(base+"/"))
	if loc := eval[string](t, ctx, `location.pathname`); loc != "/en/" {
		t.Errorf("/ led an en-US browser to %s, want /en/", loc)
	}
	shot("home-en", true)

	// A search through the form (results, or the note that search is not
	// available on this server yet: either way a page, never an error).
	run("type a search", chromedp.SendKeys(chromedp.ID("q"), "401 api key"))
	navigate("search", chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)))
	if q := eval[string](t, ctx, `new URLSearchParams(location.search).get("q")`); q != "401 api key" {
		t.Errorf("the search form sent q=%q", q)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("#results a.title, #results .note").length`); n == 0 {
		t.Error("the search page shows neither results nor a note")
	}
	shot("search-en", false)

	// An article, opened from the list of recent ones.
	navigate("open an article", chromedp.Click(chromedp.CSS(`#recent-title + ul a[href$="/`+slug+`"]`)))
	if h1 := eval[string](t, ctx, `document.querySelector("h1").textContent`); h1 != title["en"] {
		t.Errorf("article h1 = %q, want %q", h1, title["en"])
	}

	// Its API endpoint, copied with the button.
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted, Origin: base,
	}); err != nil {
		t.Fatal(err)
	}
	run("copy the endpoint", chromedp.Click(chromedp.CSS(`button.copy[data-copy-url]`), chromedp.NodeVisible))
	if got, want := eval[string](t, ctx, `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise), base+"/api/v1/articles/"+slug; got != want {
		t.Errorf("the copy button copied %q, want %q", got, want)
	}
	if label := eval[string](t, ctx, `document.querySelector("button.copy[data-copy-url]").textContent`); label != "Copied" {
		t.Errorf("the copy button says %q after copying, want Copied", label)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("li.record").length`); n != 3 {
		t.Errorf("%d verification records on the page, want 3", n)
	}
	checkContrast(t, ctx, "light")
	eval[any](t, ctx, `window.scrollTo(0, 0)`)
	shot("article-en-top", false)
	shot("article-en", true)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatal(err)
	}
	if bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(13, 17, 23)" {
		t.Errorf("dark theme background = %s", bg)
	}
	checkContrast(t, ctx, "dark")
	shot("article-en-dark", true)
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{}); err != nil {
		t.Fatal(err)
	}
	run("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("on a 390 px phone the article is %d px wide: it scrolls sideways", w)
	}
	shot("article-en-phone", false)
	run("desktop viewport", chromedp.EmulateViewport(1280, 900))

	// The other language, from the switch in the header.
	navigate("switch language", chromedp.Click(chromedp.CSS(`header a[hreflang="zh"]`)))
	if loc := eval[string](t, ctx, `location.pathname`); loc != "/zh/articles/"+slug {
		t.Errorf("the language switch led to %s", loc)
	}
	if lang := eval[string](t, ctx, `document.documentElement.lang`); lang != "zh" {
		t.Errorf("html lang = %q, want zh", lang)
	}
	if h1 := eval[string](t, ctx, `document.querySelector("h1").textContent`); h1 != title["zh"] {
		t.Errorf("zh article h1 = %q, want %q", h1, title["zh"])
	}
	shot("article-zh", true)
	t.Logf("screenshots in %s", shots)
}

// verifyThrice files three records by three verifiers through the API, so the
// page's timeline shows a pass, a failure and a partial result as the
// verification service keeps them.
func verifyThrice(t *testing.T, s *Stack, id string) {
	t.Helper()
	admin := newClient(t, s, testAdminKey)
	for _, r := range []struct{ name, result, os, notes string }{
		{"Demo Agent", "passed", "macOS", "The header checker printed OK for both header styles."},
		{"Demo Runner", "failed", "Linux", "Code block 2 exited with status 1 on Python 3.12."},
		{"Demo Expert", "partial", "Windows", "The curl example needs quoting changes on PowerShell."},
	} {
		body := record(r.result, r.os)
		body["notes"] = r.notes
		must(t, verifierKey(t, s, admin, r.name).do("POST", path("/api/v1/articles/%s/verifications", id), body), http.StatusCreated)
	}
}

// contrastCheck measures, for the text of the elements people read (body
// text, muted notes, links, badges, labels), the WCAG contrast against the
// background it is drawn on, and lists those under 4.5:1.
const contrastCheck = `(() => {
  const rgb = s => (s.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
    .reduce((a, v, i) => a + v * [0.2126, 0.7152, 0.0722][i], 0);
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length === 3 || c[3] > 0) return c.slice(0, 3); } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll("p, li, a, dt, dd, .badge, .note, .lang, figcaption, summary, code, label, time, button")) {
    if (!el.offsetParent || !el.textContent.trim()) continue;
    const fg = rgb(getComputedStyle(el).color).slice(0, 3), b = bg(el);
    const [hi, lo] = [lum(fg), lum(b)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) bad.push(el.tagName.toLowerCase() + "." + el.className + " " + ratio.toFixed(2) + ": " + el.textContent.trim().slice(0, 40));
  }
  return bad.slice(0, 10);
})()`

// checkContrast fails for text on the page with too little contrast.
func checkContrast(t *testing.T, ctx context.Context, theme string) {
	t.Helper()
	if bad := eval[[]string](t, ctx, contrastCheck); len(bad) > 0 {
		t.Errorf("%s theme: text under 4.5:1 contrast:\n%s", theme, strings.Join(bad, "\n"))
	}
}

// eval runs a JavaScript expression in the page and decodes its value.
func eval[T any](t *testing.T, ctx context.Context, expr string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", strings.TrimSpace(expr), err)
	}
	return v
}

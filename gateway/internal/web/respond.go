package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Timeouts of the calls a page makes: the page's own data may take a while
// on a loaded server; a section that only adds to it is left out sooner
// than it would hold the whole page up.
const (
	mainTimeout    = 10 * time.Second
	sectionTimeout = 3 * time.Second
)

const htmlType = "text/html; charset=utf-8"

// send answers a successful read with body. Cache-Control stays the
// gateway's (anonymous reads: "no-cache", caches revalidate); the ETag of
// the bytes makes revalidation a 304 without a body.
func (s *Site) send(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	if contentType == htmlType {
		s.htmlHeaders(h)
	}
	sum := sha256.Sum256(body)
	h.Set("ETag", `"`+base64.RawURLEncoding.EncodeToString(sum[:12])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func (s *Site) htmlHeaders(h http.Header) {
	h.Set("Content-Security-Policy", s.csp)
	h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
}

// render executes page name with data and sends it with status: a success
// through send, anything else uncached.
func (s *Site) render(w http.ResponseWriter, r *http.Request, name string, code int, data any) {
	body, ok := s.execute(w, r, name, data)
	switch {
	case !ok:
	case code == http.StatusOK:
		s.send(w, r, htmlType, body)
	default:
		s.sendFailure(w, code, body)
	}
}

// execute runs page name with data; when it fails it answers with the
// error page itself and reports false.
func (s *Site) execute(w http.ResponseWriter, r *http.Request, name string, data any) ([]byte, bool) {
	var buf bytes.Buffer
	if err := s.tmpl[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		// A template that cannot run its own data is a bug in this package.
		s.cfg.Log.ErrorContext(r.Context(), "page template failed", "page", name, "err", err, "request_id", requestID(w))
		s.sendFailure(w, http.StatusInternalServerError, []byte("<!DOCTYPE html><title>Error</title><p>This page cannot be shown right now.</p>\n"))
		return nil, false
	}
	return buf.Bytes(), true
}

// sendFailure sends a page that is not a success. Like the API's errors, it
// is never stored.
func (s *Site) sendFailure(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", htmlType)
	h.Set("Cache-Control", "no-store")
	s.htmlHeaders(h)
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

// errorPage is the data of the error template.
type errorPage struct {
	page
	Heading, Message, RequestID string
	// MessageLang is the language of Message when it is not the page's (the
	// gateway's refusals are in English).
	MessageLang string
}

// failure renders the error page: a title, a message meant for the reader
// and the request id to quote, never an error's own text.
func (s *Site) failure(w http.ResponseWriter, r *http.Request, lang string, code int, heading, msg string) {
	p := s.newPage(r, lang, heading, "")
	s.render(w, r, "error", code, errorPage{page: p, Heading: heading, Message: msg, RequestID: requestID(w)})
}

func (s *Site) notFound(w http.ResponseWriter, r *http.Request, lang, msg string) {
	s.failure(w, r, lang, http.StatusNotFound, s.texts[lang].NotFoundTitle, msg)
}

// serviceFailure answers a page whose own data could not be had: 503 when a
// service is unreachable or slow (a retry may work), else 500. The error
// goes to the log with the request id, never to the page.
func (s *Site) serviceFailure(w http.ResponseWriter, r *http.Request, lang string, err error) {
	t := s.texts[lang]
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		s.cfg.Log.WarnContext(r.Context(), "page data unavailable", "path", r.URL.Path, "err", err, "request_id", requestID(w))
		w.Header().Set("Retry-After", "5")
		s.failure(w, r, lang, http.StatusServiceUnavailable, t.ErrorTitle, t.Unavailable)
	default:
		s.cfg.Log.ErrorContext(r.Context(), "page data failed", "path", r.URL.Path, "err", err, "request_id", requestID(w))
		s.failure(w, r, lang, http.StatusInternalServerError, t.ErrorTitle, t.Error)
	}
}

// TooManyRequests answers a page request the rate limit refused, with the
// limiter's message (in English, saying when to retry); the gateway has set
// Retry-After and the RateLimit headers.
func (s *Site) TooManyRequests(w http.ResponseWriter, r *http.Request, msg string) {
	lang := s.langOf(r)
	p := s.newPage(r, lang, s.texts[lang].TooManyTitle, "")
	s.render(w, r, "error", http.StatusTooManyRequests, errorPage{
		page: p, Heading: s.texts[lang].TooManyTitle, Message: msg, MessageLang: "en", RequestID: requestID(w),
	})
}

// requestID is the id the gateway gave the request (it sets the response
// header before any handler runs).
func requestID(w http.ResponseWriter) string { return w.Header().Get("X-Request-Id") }

// rpcContext is the context of a page's calls: cancelled with the request
// or after timeout, carrying the request id so that the services' logs name
// it. It never carries a key: pages are public reads.
func rpcContext(ctx context.Context, w http.ResponseWriter, timeout time.Duration) (context.Context, context.CancelFunc) {
	if id := requestID(w); id != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", id)
	}
	return context.WithTimeout(ctx, timeout)
}

// section is how a section fed by another service fared.
type section int

const (
	sectionShown section = iota
	// sectionNotYet: the service answers Unimplemented (its issue has not
	// landed on this server).
	sectionNotYet
	// sectionDown: the service failed or did not answer in time.
	sectionDown
)

// sectionOf classifies err of a section's call, logging real failures.
func (s *Site) sectionOf(ctx context.Context, w http.ResponseWriter, what string, err error) section {
	switch {
	case err == nil:
		return sectionShown
	case status.Code(err) == codes.Unimplemented:
		return sectionNotYet
	case status.Code(err) == codes.NotFound:
		// The service does not know the article yet (search indexes it a
		// moment after it is published): nothing to log.
		return sectionDown
	case !errors.Is(ctx.Err(), context.Canceled):
		s.cfg.Log.WarnContext(ctx, "page section left out", "section", what, "err", err, "request_id", requestID(w))
	}
	return sectionDown
}

// negotiate returns the offer (a media type) the Accept header prefers, ""
// when it accepts none; without Accept, the first offer. Of offers with
// the same quality, the one a more specific range named wins ("text/*,
// text/markdown" prefers markdown), then the earlier one: the order of
// offers is the server's preference.
func negotiate(accept string, offers ...string) string {
	if strings.TrimSpace(accept) == "" {
		return offers[0]
	}
	type mediaRange struct {
		typ, sub string
		q        float64
	}
	var ranges []mediaRange
	for part := range strings.SplitSeq(accept, ",") {
		params := strings.Split(part, ";")
		typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(params[0])), "/")
		if !ok {
			continue
		}
		q := 1.0
		for _, p := range params[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 && f <= 1 {
					q = f
				}
			}
		}
		ranges = append(ranges, mediaRange{strings.TrimSpace(typ), strings.TrimSpace(sub), q})
	}
	best, bestQ, bestSpec := "", 0.0, -1
	for _, offer := range offers {
		typ, sub, _ := strings.Cut(offer, "/")
		// The most specific range that matches decides the offer's quality.
		q, specificity := 0.0, -1
		for _, m := range ranges {
			spec := -1
			switch {
			case m.typ == typ && m.sub == sub:
				spec = 2
			case m.typ == typ && m.sub == "*":
				spec = 1
			case m.typ == "*" && m.sub == "*":
				spec = 0
			}
			if spec > specificity {
				q, specificity = m.q, spec
			}
		}
		// Of equal qualities, the one the client named most precisely.
		if q > bestQ || (q == bestQ && q > 0 && specificity > bestSpec) {
			best, bestQ, bestSpec = offer, q, specificity
		}
	}
	return best
}

// wantsHTML reports whether the client prefers a page to the API's JSON:
// browsers do; curl, fetch and agents sending nothing or */* get JSON.
func wantsHTML(r *http.Request) bool {
	return negotiate(r.Header.Get("Accept"), "application/json", "text/html") == "text/html"
}

package stack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/protobuf/proto"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// rawRequest sends one HTTP/1.1 request with headers written byte for byte
// (no client library between the test and the server) and returns the answer.
func rawRequest(t *testing.T, s *Stack, method, path string, body []byte, headers ...string) response {
	t.Helper()
	conn, err := net.Dial("tcp", s.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", method, path, s.HTTPAddr, len(body))
	for _, h := range headers {
		req.WriteString(h + "\r\n")
	}
	req.WriteString("\r\n")
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// TestKeyHeadersOverREST: a key is printable ASCII. Anything else in a key
// header is refused as malformed (401 with a message), never answered 503 or
// counted against a key the services then do not see; and the services get
// exactly the key the gateway checked, whatever else the request carried.
func TestKeyHeadersOverREST(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	_, writer := createKey(t, admin, map[string]any{"name": "writer", "scopes": []string{"articles:write"}})
	_, verifier := createKey(t, admin, map[string]any{"name": "verifier", "scopes": []string{"verifications:write"}})
	cases := []struct {
		name    string
		headers []string
		status  int
		says    string
	}{
		{"plain", []string{"Authorization: Bearer " + writer}, 201, ""},
		{"ASCII spaces and tabs around", []string{"Authorization: \t Bearer\t" + writer + " \t"}, 201, ""},
		{"x-api-key", []string{"X-Api-Key: " + writer}, 201, ""},
		{"trailing non-breaking space", []string{"Authorization: Bearer " + writer + "\u00a0"}, 401, "(0xC2) is not printable ASCII"},
		{"non-breaking space in x-api-key", []string{"X-Api-Key: " + writer + "\u00a0"}, 401, "non-breaking space"},
		{"Latin-1 non-breaking space", []string{"Authorization: Bearer " + writer + "\xa0"}, 401, "(0xA0) is not printable ASCII"},
		{"not UTF-8", []string{"Authorization: Bearer " + writer[:10] + "\xff\xfe" + writer[10:]}, 401, "byte 18 (0xFF)"},
		{"ideographic space", []string{"X-Api-Key: " + writer + "\u3000"}, 401, "not printable ASCII"},
		{"two Authorization headers", []string{"Authorization: Bearer " + writer, "Authorization: Bearer " + verifier}, 401, "2 Authorization headers"},
		// The services must not see a second key smuggled past the gateway's
		// check: with none at the gateway, the call is anonymous everywhere.
		{"smuggled Grpc-Metadata-Authorization", []string{"Grpc-Metadata-Authorization: Bearer " + writer}, 401, "needs an API key"},
		{"smuggled Grpc-Metadata-X-Api-Key", []string{"grpc-metadata-x-api-key: " + writer}, 401, "needs an API key"},
		{"smuggled beside a checked key", []string{"Authorization: Bearer " + verifier, "Grpc-Metadata-Authorization: Bearer " + writer}, 403, `lacks scope "articles:write"`},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body, err := json.Marshal(article(fmt.Sprintf("Key header case %d", i)))
			if err != nil {
				t.Fatal(err)
			}
			r := rawRequest(t, s, "POST", "/api/v1/articles", body, tc.headers...)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == 201 {
				return
			}
			msg, _ := r.json(t)["error"].(map[string]any)["message"].(string)
			if !strings.Contains(msg, tc.says) || strings.Contains(msg, writer) {
				t.Errorf("message %q should say %q, without the key", msg, tc.says)
			}
			if tc.status == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="buzhou"`) {
				t.Errorf("401 without WWW-Authenticate: %v", r.header)
			}
		})
	}
}

// grpcRaw calls CreateArticle on the article service over HTTP/2 with the
// given key header written as raw bytes (grpc-go's client refuses to send
// them, other clients do not) and returns grpc-status and grpc-message.
func grpcRaw(t *testing.T, s *Stack, name, value string) (string, string) {
	t.Helper()
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	msg, err := proto.Marshal(&articlev1.CreateArticleRequest{Article: newArticle("raw " + url.QueryEscape(value))})
	if err != nil {
		t.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	req, err := http.NewRequest("POST", "http://"+s.ArticleAddr+"/buzhou.article.v1.ArticleService/CreateArticle", bytes.NewReader(append(frame, msg...)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header[name] = []string{value}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	code, text := resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	if code == "" {
		code, text = resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	}
	text, _ = url.PathUnescape(text)
	return code, text
}

// TestKeyHeadersOverGRPC: the services' interceptor applies the same parser
// to raw metadata: a stray non-ASCII byte makes the key malformed instead of
// being trimmed away or dropped.
func TestKeyHeadersOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	cases := []struct {
		name, header, value string
		code                string // grpc-status
		says                string
	}{
		{"plain", "Authorization", "Bearer " + testAdminKey, "0", ""},
		{"ASCII blanks around", "Authorization", " bearer\t" + testAdminKey + "  ", "0", ""},
		{"trailing non-breaking space", "Authorization", "Bearer " + testAdminKey + "\u00a0", "16", "(0xC2) is not printable ASCII"},
		{"non-breaking space in x-api-key", "X-Api-Key", testAdminKey + "\u00a0", "16", "non-breaking space"},
		{"not UTF-8", "Authorization", "Bearer " + testAdminKey + "\xff", "16", "(0xFF) is not printable ASCII"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, msg := grpcRaw(t, s, tc.header, tc.value)
			if code != tc.code || !strings.Contains(msg, tc.says) || strings.Contains(msg, testAdminKey) {
				t.Errorf("grpc-status %s %q; want %s saying %q, without the key", code, msg, tc.code, tc.says)
			}
		})
	}
}

package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// FuzzJSONBody: the gateway's body decoder accepts exactly one JSON object
// (white space around it), never panics, and what it accepts re-encodes and
// decodes to the same message.
func FuzzJSONBody(f *testing.F) {
	for _, s := range []string{
		`{"title": {"en": "Fixing EADDRINUSE"}, "tags": ["node"], "status": "published"}`,
		`{"title": {"en": "x"}} trailing`, `{} {}`, `[]`, `{"revision": "12"}`, `{"unknown": 1}`,
		`{"title": {"en": "\ud800"}}`, " \n{}\t", `{"tags": [null]}`, `{"qaPairs": [{"question": {"zh": "问"}}]}`,
	} {
		f.Add([]byte(s))
	}
	m := strictJSON{JSONPb: &runtime.JSONPb{UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false}}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var a articlev1.Article
		if err := m.NewDecoder(bytes.NewReader(body)).Decode(&a); err != nil {
			return
		}
		if trimmed := bytes.TrimSpace(body); !json.Valid(trimmed) || trimmed[0] != '{' {
			t.Fatalf("accepted %q, which is not one JSON object", body)
		}
		out, err := protojson.Marshal(&a)
		if err != nil {
			t.Fatalf("accepted %q, which does not re-encode: %v", body, err)
		}
		var back articlev1.Article
		if err := m.NewDecoder(bytes.NewReader(out)).Decode(&back); err != nil || !proto.Equal(&a, &back) {
			t.Fatalf("%q re-encodes to %s, which decodes to %v (%v)", body, out, &back, err)
		}
	})
}

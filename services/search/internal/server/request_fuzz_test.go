package server

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"buzhou.dev/platform/errs"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

// FuzzSearchRequest: the checks of a search's query and filters (what the
// gateway decodes from the query string) refuse bad input with ErrInvalid
// and otherwise hand on a trimmed UTF-8 query within bounds and a filter of
// distinct lower-case tags.
func FuzzSearchRequest(f *testing.F) {
	f.Add("ECONNREFUSED 127.0.0.1:5432", "error_codes", "passed", "en", "node, Ports,node", int32(50))
	f.Add("  ", "nope", "", "fr", ",,,", int32(-1))
	f.Add("\xff", "", "bogus", "zh", strings.Repeat("t,", 40), int32(101))
	f.Fuzz(func(t *testing.T, q, domain, status, lng, tags string, minConfidence int32) {
		req := &searchv1.SearchRequest{Q: q, Domain: domain, Status: status, Lang: lng, Tags: []string{tags}, MinConfidence: minConfidence}
		if got, err := query(req.GetQ(), "q"); err != nil {
			if !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("query(%q) = %v, not ErrInvalid", q, err)
			}
		} else if got == "" || got != strings.TrimSpace(got) || !utf8.ValidString(got) || len(got) > MaxQueryBytes {
			t.Fatalf("query(%q) = %q", q, got)
		}
		if _, err := lang(lng); err != nil && !errors.Is(err, errs.ErrInvalid) {
			t.Fatalf("lang(%q) = %v", lng, err)
		}
		fl, err := filter(req)
		if err != nil {
			if !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("filter = %v, not ErrInvalid", err)
			}
			return
		}
		if len(fl.Tags) > maxTags || fl.MinConfidence < 0 || fl.MinConfidence > 100 {
			t.Fatalf("filter passed %+v", fl)
		}
		for i, tag := range fl.Tags {
			if tag == "" || tag != strings.ToLower(strings.TrimSpace(tag)) || strings.Contains(tag, ",") || slices.Contains(fl.Tags[:i], tag) {
				t.Fatalf("filter of tags %q passed tag %q in %q", tags, tag, fl.Tags)
			}
		}
	})
}

// Package seed holds the demo articles Buzhou ships: bilingual troubleshooting
// guides that a fresh data directory is seeded with (unless BUZHOU_SEED_DEMO is
// false), so that search, rendering, MCP and the web pages have real content
// from the first start.
//
// Each article is one JSON file in demo/, in the API's JSON shape (protojson
// of buzhou.article.v1.Article, lowerCamelCase), so an article can be copied
// to or from POST /api/v1/articles unchanged. Server-made fields (id, slug,
// revision, trust fields, timestamps) are left out: the article service makes
// them when it stores the article.
package seed

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strings"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// demoFS is read-only by construction; embed requires a package variable.
//
//go:embed demo/*.json
var demoFS embed.FS

// demoDir is the folder of demoFS that holds the articles.
const demoDir = "demo"

// Articles returns the demo articles in file-name order, parsed strictly: an
// unknown field is an error, so a typo in a file fails the tests instead of
// silently dropping content. Each call returns fresh messages the caller may
// modify.
func Articles() ([]*articlev1.Article, error) {
	entries, err := fs.ReadDir(demoFS, demoDir) // sorted by file name
	if err != nil {
		return nil, fmt.Errorf("seed: list demo articles: %w", err)
	}
	opts := protojson.UnmarshalOptions{DiscardUnknown: false}
	var out []*articlev1.Article
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		name := path.Join(demoDir, e.Name())
		raw, err := demoFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("seed: read %s: %w", name, err)
		}
		a := &articlev1.Article{}
		if err := opts.Unmarshal(raw, a); err != nil {
			return nil, fmt.Errorf("seed: parse %s: %w", name, err)
		}
		out = append(out, a)
	}
	return out, nil
}

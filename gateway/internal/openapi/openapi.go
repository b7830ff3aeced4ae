// Package openapi serves the OpenAPI document generated from the protos.
package openapi

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"time"
)

//go:embed spec/buzhou.swagger.json
var spec []byte

// Handler serves the document as JSON with an ETag of its content, so that
// caches revalidate it cheaply (304) instead of fetching it again.
func Handler() http.Handler {
	sum := sha256.Sum256(spec)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", etag)
		http.ServeContent(w, r, "openapi.json", time.Time{}, bytes.NewReader(spec))
	})
}

// Document returns the document itself, for pages made from it.
func Document() []byte { return bytes.Clone(spec) }

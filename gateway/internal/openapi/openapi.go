// Package openapi serves the OpenAPI document generated from the protos.
package openapi

import (
	_ "embed"
	"net/http"
)

//go:embed spec/buzhou.swagger.json
var spec []byte

// Handler serves the document as JSON.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(spec)
	})
}

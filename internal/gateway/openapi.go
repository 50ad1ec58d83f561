package gateway

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the gateway's OpenAPI 3.1 document, served at /openapi.json.
// TestOpenAPIMatchesRoutes keeps it true: every route is in it and nothing
// else, and its request examples validate (native ones against
// docs/intent.schema.json, gorush ones through the mapping).
//
//go:embed openapi.json
var OpenAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(OpenAPI)
}

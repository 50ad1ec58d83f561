package gateway

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ProblemTypeBase prefixes every problem type URI; docs/gateway.md lists them.
const ProblemTypeBase = "https://github.com/pushfleet/pushfleet/blob/main/docs/gateway.md#"

// Problem is an RFC 9457 problem details object, with pushfleet's
// extension members.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Field names the offending field of an invalid intent or request.
	Field string `json:"field,omitempty"`
	// Index is the offending intent's (or gorush notification's) position
	// in a batch.
	Index *int `json:"index,omitempty"`
	// Errors lists every invalid item of a batch.
	Errors []ItemError `json:"errors,omitempty"`
	// RetryAfter repeats the Retry-After header of a 429 or 503, in seconds.
	RetryAfter int `json:"retry_after,omitempty"`
	// Message and Code repeat Detail and Status for gorush clients, which
	// read {"code", "message"}.
	Message string `json:"message,omitempty"`
	Code    int    `json:"code,omitempty"`
}

// ItemError is one invalid item of a batch.
type ItemError struct {
	Index  int    `json:"index"`
	ID     string `json:"id,omitempty"`
	Field  string `json:"field,omitempty"`
	Detail string `json:"detail"`
}

// Problem type slugs (anchors in docs/gateway.md).
const (
	probUnauthorized = "unauthorized"
	probForbidden    = "forbidden"
	probRateLimited  = "rate-limited"
	probTooLarge     = "body-too-large"
	probMalformed    = "malformed-request"
	probInvalid      = "invalid-intent"
	probUnsupported  = "unsupported"
	probUnavailable  = "unavailable"
	probNotFound     = "not-found"
	probMethod       = "method-not-allowed"
	probMediaType    = "unsupported-media-type"
	probTimeout      = "timeout"
)

var problemTitles = map[string]string{
	probUnauthorized: "Missing or unknown API key",
	probForbidden:    "The API key may not publish for this app",
	probRateLimited:  "Too many requests for this API key",
	probTooLarge:     "Request body too large",
	probMalformed:    "Malformed request",
	probInvalid:      "Invalid intent",
	probUnsupported:  "Not supported by pushfleet",
	probUnavailable:  "Publishing is unavailable",
	probNotFound:     "No such route",
	probMethod:       "Method not allowed",
	probMediaType:    "Unsupported media type",
	probTimeout:      "Publishing timed out",
}

func newProblem(status int, slug, detail string) *Problem {
	return &Problem{Type: ProblemTypeBase + slug, Title: problemTitles[slug], Status: status, Detail: detail}
}

// writeProblem answers p as application/problem+json.
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	if r != nil && p.Instance == "" {
		p.Instance = r.URL.Path
	}
	if p.Message == "" {
		p.Message = p.Detail
	}
	p.Code = p.Status
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("X-Content-Type-Options", "nosniff")
	if p.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	switch p.Status {
	case http.StatusUnauthorized:
		h.Set("WWW-Authenticate", `Bearer realm="pushfleet"`)
	}
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON answers v as application/json with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package hms

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Push Kit result codes (the body's "code", a string). Sources and the
// decisions taken where they are silent are in the package doc.
const (
	CodeSuccess            = "80000000"
	CodePartialSuccess     = "80100000"
	CodeBadParameters      = "80100001"
	CodeSyncOneToken       = "80100002"
	CodeBadMessage         = "80100003"
	CodeTTLInPast          = "80100004"
	CodeBadCollapseKey     = "80100013"
	CodeTooManyTopicMsgs   = "80100017"
	CodeOAuthError         = "80200001"
	CodeOAuthExpired       = "80200003"
	CodeNoPermission       = "80300002"
	CodeAllTokensInvalid   = "80300007"
	CodeMessageTooBig      = "80300008"
	CodeTokenCount         = "80300010"
	CodeOAuthRequestFailed = "80600003"
	CodeInternal           = "81000001"
)

// answer is a Push Kit answer as read off the wire.
type answer struct {
	status     int
	code       string // "" when the body has none
	msg        string
	requestID  string
	retryAfter time.Duration
}

// readAnswer parses an answer; a body that is not Push Kit's JSON leaves
// code empty and the HTTP status decides.
func readAnswer(status int, header http.Header, body []byte, now time.Time) answer {
	a := answer{status: status, retryAfter: provider.ParseRetryAfter(header.Get("Retry-After"), now)}
	var b struct {
		Code      json.RawMessage `json:"code"`
		Msg       string          `json:"msg"`
		RequestID string          `json:"requestId"`
	}
	if json.Unmarshal(body, &b) == nil {
		a.code = strings.Trim(string(b.Code), `" `) // documented as a string; accept a number
		a.msg, a.requestID = b.Msg, b.RequestID
	}
	if a.code == "null" {
		a.code = ""
	}
	return a
}

// verdict is what an answer means for the tokens of its request.
type verdict struct {
	// kind applies to every token; zero for a (partial) success, where
	// illegal names the tokens that failed and every other is Delivered.
	kind     provider.Kind
	reason   string
	sentinel error
	// illegal maps each token Push Kit listed as failed to its reason.
	illegal map[string]string
	// refresh: our access token was refused; drop it, fetch a new one
	// and make the request once more before calling it a credential error.
	refresh bool
	// rateLimited: flow control; the sender adds its backoff when the
	// answer has no Retry-After.
	rateLimited bool
	retryAfter  time.Duration
	// unreadable: a partial success whose failed tokens could not be read.
	unreadable bool
}

// classify maps an answer onto a verdict: the body's code first, then the
// HTTP status. Unknown codes are Retry: never a token invalidated, never a
// message dead-lettered on a code nobody documented.
func classify(a answer) verdict {
	v := verdict{reason: a.code}
	switch a.code {
	case CodeSuccess:
		return v
	case CodePartialSuccess:
		ill, ok := illegalTokens(a.msg)
		v.illegal, v.unreadable = ill, !ok
		return v
	case CodeAllTokensInvalid:
		v.kind, v.sentinel = provider.InvalidToken, provider.ErrInvalidToken
	case CodeOAuthExpired, CodeOAuthError:
		v.kind, v.sentinel, v.refresh = provider.CredentialError, provider.ErrCredentials, true
	case CodeNoPermission, CodeOAuthRequestFailed:
		v.kind, v.sentinel = provider.CredentialError, provider.ErrCredentials
	case CodeMessageTooBig:
		v.kind, v.sentinel = provider.Permanent, provider.ErrPayloadTooLarge
	case CodeBadParameters, CodeSyncOneToken, CodeBadMessage, CodeTTLInPast, CodeBadCollapseKey, CodeTokenCount:
		v.kind, v.sentinel = provider.Permanent, provider.ErrBadMessage
	case CodeTooManyTopicMsgs:
		v.kind, v.sentinel, v.rateLimited = provider.Retry, provider.ErrRateLimited, true
	case CodeInternal:
		v.kind, v.sentinel = provider.Retry, provider.ErrUnavailable
	case "":
		return classifyStatus(a)
	default:
		// An undocumented code. Flow control is still flow control.
		if a.status == http.StatusServiceUnavailable || a.status == http.StatusTooManyRequests {
			return classifyStatus(a)
		}
		v.kind, v.sentinel = provider.Retry, provider.ErrUnavailable
		v.reason = a.code + " (unknown code)"
	}
	if v.kind == provider.Retry {
		v.retryAfter = a.retryAfter
	}
	return v
}

// classifyStatus handles an answer without a Push Kit code.
func classifyStatus(a answer) verdict {
	v := verdict{reason: "http " + strconv.Itoa(a.status), retryAfter: a.retryAfter}
	switch {
	case a.status == http.StatusOK:
		// A 200 that says nothing: the server may or may not have acted.
		v.kind, v.sentinel, v.reason = provider.Retry, provider.ErrUnavailable, "unreadable answer"
	case a.status == http.StatusServiceUnavailable, a.status == http.StatusTooManyRequests:
		// 503 is Push Kit's documented flow control; 429 the generic one.
		v.kind, v.sentinel, v.rateLimited = provider.Retry, provider.ErrRateLimited, true
	case a.status >= 500, a.status == http.StatusRequestTimeout:
		v.kind, v.sentinel = provider.Retry, provider.ErrUnavailable
	case a.status == http.StatusUnauthorized:
		v.kind, v.sentinel, v.refresh = provider.CredentialError, provider.ErrCredentials, true
	case a.status == http.StatusForbidden, a.status == http.StatusNotFound:
		// Our rights, or the app ID in the URL: configuration.
		v.kind, v.sentinel = provider.CredentialError, provider.ErrCredentials
	case a.status == http.StatusRequestEntityTooLarge:
		v.kind, v.sentinel = provider.Permanent, provider.ErrPayloadTooLarge
	case a.status == http.StatusBadRequest:
		v.kind, v.sentinel = provider.Permanent, provider.ErrBadMessage
	default:
		v.kind, v.sentinel = provider.Retry, provider.ErrUnavailable
	}
	if v.kind != provider.Retry {
		v.retryAfter = 0
	}
	return v
}

// illegalTokens reads the failed tokens of a partial success from msg, a
// JSON document in a string. Two shapes are accepted:
//
//	{"success":1,"failure":1,"illegal_tokens":["t1"]}           (v1, third-party)
//	{"success":1,"failure":1,"illegalTokens":{"tokenFormatError":["t1"]}} (v3 docs)
//
// ok is false when msg is neither.
func illegalTokens(msg string) (map[string]string, bool) {
	var m struct {
		IllegalTokens json.RawMessage `json:"illegal_tokens"`
		Illegal       json.RawMessage `json:"illegalTokens"`
	}
	if json.Unmarshal([]byte(msg), &m) != nil {
		return nil, false
	}
	out := map[string]string{}
	found := false
	for _, raw := range []json.RawMessage{m.IllegalTokens, m.Illegal} {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var list []string
		if json.Unmarshal(raw, &list) == nil {
			found = true
			for _, t := range list {
				out[t] = CodePartialSuccess + " illegal_tokens"
			}
			continue
		}
		var byReason map[string][]string
		if json.Unmarshal(raw, &byReason) == nil {
			found = true
			for reason, list := range byReason {
				for _, t := range list {
					out[t] = CodePartialSuccess + " " + reason
				}
			}
		}
	}
	return out, found
}

// Error is a classified Push Kit failure for the tokens of one request. It
// matches its provider sentinel (and the transport cause, if any) with
// errors.Is.
type Error struct {
	// Code is Push Kit's result code; empty for HTTP and transport failures.
	Code string
	// HTTPStatus is the answer's status; 0 when there was no answer.
	HTTPStatus int
	// Msg is Push Kit's msg; RequestID its requestId, to quote to Huawei.
	Msg, RequestID string

	sentinel error
	cause    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("hms")
	if e.Code != "" {
		fmt.Fprintf(&b, ": code %s", e.Code)
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, ": http %d", e.HTTPStatus)
	}
	if e.Msg != "" {
		fmt.Fprintf(&b, " %q", e.Msg)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (requestId %s)", e.RequestID)
	}
	return provider.WithCauses(b.String(), e.sentinel, e.cause)
}

// Unwrap exposes the sentinel and the cause.
func (e *Error) Unwrap() []error {
	return provider.Causes(e.sentinel, e.cause)
}

package hms

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

func TestClassify(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	body := func(code, msg string) []byte {
		return []byte(`{"code":"` + code + `","msg":` + quote(msg) + `,"requestId":"1733313600000000001"}`)
	}
	ra := http.Header{"Retry-After": {"7"}}
	tests := []struct {
		name        string
		status      int
		header      http.Header
		body        []byte
		kind        provider.Kind // 0: (partial) success
		sentinel    error
		refresh     bool
		rateLimited bool
		retryAfter  time.Duration
	}{
		{"success", 200, nil, body(CodeSuccess, "Success"), 0, nil, false, false, 0},
		{"partial success", 200, nil, body(CodePartialSuccess, `{"success":1,"failure":1,"illegal_tokens":["t2"]}`), 0, nil, false, false, 0},
		{"all tokens invalid", 400, nil, body(CodeAllTokensInvalid, "All the tokens are invalid"), provider.InvalidToken, provider.ErrInvalidToken, false, false, 0},
		{"oauth token expired", 401, nil, body(CodeOAuthExpired, "Oauth token expired"), provider.CredentialError, provider.ErrCredentials, true, false, 0},
		{"oauth error", 401, nil, body(CodeOAuthError, "Oauth authentication error"), provider.CredentialError, provider.ErrCredentials, true, false, 0},
		{"no permission", 403, nil, body(CodeNoPermission, "no permission to send message to these tokens"), provider.CredentialError, provider.ErrCredentials, false, false, 0},
		{"oauth request failed", 400, nil, body(CodeOAuthRequestFailed, "Failed to request the OAuth service"), provider.CredentialError, provider.ErrCredentials, false, false, 0},
		{"message too big", 400, nil, body(CodeMessageTooBig, "The message body size exceeds the default value"), provider.Permanent, provider.ErrPayloadTooLarge, false, false, 0},
		{"bad parameters", 400, nil, body(CodeBadParameters, "Some request parameters are incorrect"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"bad message structure", 400, nil, body(CodeBadMessage, "Illegal payload"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"ttl in the past", 400, nil, body(CodeTTLInPast, "ttl"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"bad collapse key", 400, nil, body(CodeBadCollapseKey, "collapse_key"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"token count", 400, nil, body(CodeTokenCount, "tokens"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"sync mode one token", 400, nil, body(CodeSyncOneToken, "one token"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"topic concurrency", 400, nil, body(CodeTooManyTopicMsgs, "topics"), provider.Retry, provider.ErrRateLimited, false, true, 0},
		{"internal error", 500, ra, body(CodeInternal, "System inner error"), provider.Retry, provider.ErrUnavailable, false, false, 7 * time.Second},
		{"unknown code is retried", 400, nil, body("80999999", "something new"), provider.Retry, provider.ErrUnavailable, false, false, 0},
		{"unknown code on 503 is flow control", 503, ra, body("80999999", "busy"), provider.Retry, provider.ErrRateLimited, false, true, 7 * time.Second},
		{"numeric code accepted", 200, nil, []byte(`{"code":80000000,"msg":"Success"}`), 0, nil, false, false, 0},
		{"503 flow control", 503, ra, []byte("Service Unavailable"), provider.Retry, provider.ErrRateLimited, false, true, 7 * time.Second},
		{"503 without Retry-After", 503, nil, nil, provider.Retry, provider.ErrRateLimited, false, true, 0},
		{"429", 429, ra, []byte("Too Many Requests"), provider.Retry, provider.ErrRateLimited, false, true, 7 * time.Second},
		{"502", 502, nil, []byte("<html>Bad Gateway</html>"), provider.Retry, provider.ErrUnavailable, false, false, 0},
		{"500 without code", 500, nil, nil, provider.Retry, provider.ErrUnavailable, false, false, 0},
		{"401 without code", 401, nil, nil, provider.CredentialError, provider.ErrCredentials, true, false, 0},
		{"403 without code", 403, nil, nil, provider.CredentialError, provider.ErrCredentials, false, false, 0},
		{"404 wrong app id or url", 404, nil, []byte("Not Found"), provider.CredentialError, provider.ErrCredentials, false, false, 0},
		{"413", 413, nil, nil, provider.Permanent, provider.ErrPayloadTooLarge, false, false, 0},
		{"400 without code", 400, nil, []byte("bad"), provider.Permanent, provider.ErrBadMessage, false, false, 0},
		{"200 unreadable", 200, nil, []byte("<html>"), provider.Retry, provider.ErrUnavailable, false, false, 0},
		{"418 unknown status", 418, nil, nil, provider.Retry, provider.ErrUnavailable, false, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			v := classify(readAnswer(tc.status, h, tc.body, now))
			if v.kind != tc.kind || v.refresh != tc.refresh || v.rateLimited != tc.rateLimited || v.retryAfter != tc.retryAfter {
				t.Fatalf("verdict %+v, want kind %v refresh %v rateLimited %v retryAfter %v", v, tc.kind, tc.refresh, tc.rateLimited, tc.retryAfter)
			}
			if tc.sentinel != nil && !errors.Is(v.sentinel, tc.sentinel) {
				t.Fatalf("sentinel %v, want %v", v.sentinel, tc.sentinel)
			}
			if v.kind != 0 && v.reason == "" {
				t.Fatal("no reason")
			}
		})
	}
}

func quote(s string) string {
	b := []byte{'"'}
	for _, r := range s {
		if r == '"' || r == '\\' {
			b = append(b, '\\')
		}
		b = append(b, string(r)...)
	}
	return string(append(b, '"'))
}

func TestIllegalTokens(t *testing.T) {
	tests := []struct {
		msg  string
		want map[string]string
		ok   bool
	}{
		{`{"success":1,"failure":2,"illegal_tokens":["a","b"]}`, map[string]string{"a": "80100000 illegal_tokens", "b": "80100000 illegal_tokens"}, true},
		{`{"illegalTokens":{"tokenFormatError":["a"],"noRight":["b"]},"success":1,"failure":2}`,
			map[string]string{"a": "80100000 tokenFormatError", "b": "80100000 noRight"}, true},
		{`{"success":2,"failure":0,"illegal_tokens":[]}`, map[string]string{}, true},
		{`Check Parameter Partial Success.`, nil, false},
		{`{"success":1,"failure":1}`, map[string]string{}, false},
	}
	for _, tc := range tests {
		got, ok := illegalTokens(tc.msg)
		if ok != tc.ok || len(got) != len(tc.want) {
			t.Fatalf("%s: %v %v, want %v %v", tc.msg, got, ok, tc.want, tc.ok)
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Fatalf("%s: token %s reason %q, want %q", tc.msg, k, got[k], v)
			}
		}
	}
}

func TestBackoffDoublesAndResets(t *testing.T) {
	b := &backoff{min: time.Second, max: 8 * time.Second}
	full := func(d time.Duration) time.Duration { return d - 1 } // the top of the jitter range
	var got []time.Duration
	for range 6 {
		got = append(got, b.limited(full))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("waits %v, want %v", got, want)
		}
	}
	b.answered()
	if d := b.limited(func(time.Duration) time.Duration { return 0 }); d != 500*time.Millisecond {
		t.Fatalf("after a reset: %v, want half the minimum (no jitter)", d)
	}
}

func TestTTLString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1s", 300 * time.Millisecond: "1s", time.Second: "1s", 1500 * time.Millisecond: "2s", DefaultMaxTTL: "1296000s",
	} {
		if got := ttlString(d); got != want {
			t.Errorf("ttlString(%v) = %s, want %s", d, got, want)
		}
	}
}

package fcm

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

func TestClassifyAnswer(t *testing.T) {
	cases := []struct {
		name   string
		a      answer
		kind   provider.Kind
		err    error
		reason string
	}{
		{"unregistered", answer{httpStatus: 404, status: "NOT_FOUND", code: "UNREGISTERED"}, provider.InvalidToken, provider.ErrInvalidToken, "UNREGISTERED"},
		{"sender id mismatch", answer{httpStatus: 403, status: "PERMISSION_DENIED", code: "SENDER_ID_MISMATCH"}, provider.InvalidToken, provider.ErrInvalidToken, "SENDER_ID_MISMATCH"},
		{"invalid token message", answer{httpStatus: 400, status: "INVALID_ARGUMENT", code: "INVALID_ARGUMENT", message: "The registration token is not a valid FCM registration token"},
			provider.InvalidToken, provider.ErrInvalidToken, "The registration token is not a valid FCM registration token"},
		{"invalid token field", answer{httpStatus: 400, status: "INVALID_ARGUMENT", message: "Invalid value", fields: []string{"message.token"}},
			provider.InvalidToken, provider.ErrInvalidToken, "Invalid value"},
		{"bad field", answer{httpStatus: 400, status: "INVALID_ARGUMENT", code: "INVALID_ARGUMENT", message: "Invalid value at 'message.android.ttl'"},
			provider.Permanent, provider.ErrBadMessage, "Invalid value at 'message.android.ttl'"},
		{"bad field without FcmError", answer{httpStatus: 400, status: "INVALID_ARGUMENT", message: "Invalid JSON payload"}, provider.Permanent, provider.ErrBadMessage, "Invalid JSON payload"},
		{"quota", answer{httpStatus: 429, status: "RESOURCE_EXHAUSTED", code: "QUOTA_EXCEEDED", retryAfter: time.Minute}, provider.Retry, provider.ErrRateLimited, "QUOTA_EXCEEDED"},
		{"resource exhausted without FcmError", answer{httpStatus: 429, status: "RESOURCE_EXHAUSTED"}, provider.Retry, provider.ErrRateLimited, "RESOURCE_EXHAUSTED"},
		{"unavailable", answer{httpStatus: 503, status: "UNAVAILABLE", code: "UNAVAILABLE"}, provider.Retry, provider.ErrUnavailable, "UNAVAILABLE"},
		{"internal", answer{httpStatus: 500, status: "INTERNAL", code: "INTERNAL"}, provider.Retry, provider.ErrUnavailable, "INTERNAL"},
		{"bare 502", answer{httpStatus: 502, status: "UNKNOWN"}, provider.Retry, provider.ErrUnavailable, "UNKNOWN"},
		{"third party auth", answer{httpStatus: 401, status: "UNAUTHENTICATED", code: "THIRD_PARTY_AUTH_ERROR"}, provider.CredentialError, provider.ErrCredentials, "THIRD_PARTY_AUTH_ERROR"},
		{"deprecated apns auth", answer{httpStatus: 401, status: "UNAUTHENTICATED", code: "APNS_AUTH_ERROR"}, provider.CredentialError, provider.ErrCredentials, "APNS_AUTH_ERROR"},
		{"oauth token refused", answer{httpStatus: 401, status: "UNAUTHENTICATED"}, provider.CredentialError, provider.ErrCredentials, "UNAUTHENTICATED"},
		{"permission denied", answer{httpStatus: 403, status: "PERMISSION_DENIED"}, provider.CredentialError, provider.ErrCredentials, "PERMISSION_DENIED"},
		{"project not found", answer{httpStatus: 404, status: "NOT_FOUND"}, provider.CredentialError, provider.ErrCredentials, "NOT_FOUND"},
		{"unknown 4xx", answer{httpStatus: 409, status: "CONFLICT"}, provider.Permanent, provider.ErrBadMessage, "CONFLICT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := classifyAnswer(tc.a)
			if r.Kind != tc.kind || !errors.Is(r.Err, tc.err) || r.Reason != tc.reason {
				t.Fatalf("got %v %q %v, want %v %q %v", r.Kind, r.Reason, r.Err, tc.kind, tc.reason, tc.err)
			}
			if r.Kind == provider.Retry && r.RetryAfter != tc.a.retryAfter {
				t.Fatalf("RetryAfter %v, want %v", r.RetryAfter, tc.a.retryAfter)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		" 30 ":                          30 * time.Second,
		"0":                             0,
		"-5":                            0,
		"soon":                          0,
		"Sun, 01 Mar 2026 12:01:00 GMT": time.Minute,
		"Sun, 01 Mar 2026 11:00:00 GMT": 0,
	}
	for in, want := range cases {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestClassifyTokenError(t *testing.T) {
	retrieve := func(code int, body string) error {
		return &oauth2.RetrieveError{Response: &http.Response{StatusCode: code, Status: http.StatusText(code)}, Body: []byte(body)}
	}
	cases := []struct {
		name   string
		err    error
		kind   provider.Kind
		reason string
	}{
		{"invalid grant", retrieve(400, `{"error":"invalid_grant"}`), provider.CredentialError, "oauth2 invalid_grant"},
		{"unauthorized client", retrieve(401, `{"error":"unauthorized_client"}`), provider.CredentialError, "oauth2 unauthorized_client"},
		{"token endpoint down", retrieve(503, `oops`), provider.Retry, "oauth2 Service Unavailable"},
		{"token endpoint throttling", retrieve(429, ``), provider.Retry, "oauth2 Too Many Requests"},
		{"network", errors.New("dial tcp: connection refused"), provider.Retry, "oauth2 token endpoint unreachable"},
		{"context", context.DeadlineExceeded, provider.Retry, reasonContext},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := classifyTokenError(tc.err)
			if r.Kind != tc.kind || r.Reason != tc.reason {
				t.Fatalf("got %v %q, want %v %q", r.Kind, r.Reason, tc.kind, tc.reason)
			}
			want := provider.ErrUnavailable
			if tc.kind == provider.CredentialError {
				want = provider.ErrCredentials
			}
			if !errors.Is(r.Err, want) {
				t.Fatalf("err %v does not match %v", r.Err, want)
			}
		})
	}
}

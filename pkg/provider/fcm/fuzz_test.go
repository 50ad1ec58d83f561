package fcm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// FuzzClassifyAnswer feeds the classification of FCM error answers any
// status, Retry-After and body (a Google API error, a proxy's HTML, or
// anything else). It must never panic, never call an error answer a
// delivery, classify every answer into a result kind with its provider
// sentinel, retry a 5xx that carries no Google error (a proxy's page), keep
// Retry-After only on retries and never make it negative, and leave the
// body readable for whoever looks at the error next. Run with
//
//	go test -run '^$' -fuzz '^FuzzClassifyAnswer$' -fuzztime 60s ./pkg/provider/fcm/
func FuzzClassifyAnswer(f *testing.F) {
	f.Add(404, "", []byte(`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`))
	f.Add(400, "", []byte(`{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}`))
	f.Add(400, "", []byte(`{"error":{"code":400,"message":"Invalid value at 'message.android.ttl'","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.android.ttl"}]}]}}`))
	f.Add(429, "7", []byte(`{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}`))
	f.Add(503, "121", []byte(`{"error":{"code":503,"status":"UNAVAILABLE"}}`))
	f.Add(401, "", []byte(`{"error":{"code":401,"status":"UNAUTHENTICATED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"THIRD_PARTY_AUTH_ERROR"}]}}`))
	f.Add(403, "", []byte(`{"error":{"code":403,"status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}]}}`))
	f.Add(502, "Wed, 21 Oct 2099 07:28:00 GMT", []byte("<html>bad gateway</html>"))
	f.Add(418, "-3", []byte(""))
	f.Add(200, "", []byte(`{"error":{}}`))
	f.Add(0, "", []byte(nil))
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body))}
		if retryAfter != "" {
			resp.Header.Set("Retry-After", retryAfter)
		}
		a := readAnswer(resp, now)
		r := classifyAnswer(a)
		if r.Kind < provider.Delivered || r.Kind > provider.CredentialError || r.Kind == provider.Delivered {
			t.Fatalf("status %d body %q: kind %v", status, body, r.Kind)
		}
		if r.Err == nil || r.Reason == "" {
			t.Fatalf("status %d body %q: %v without error or reason", status, body, r.Kind)
		}
		sentinels := []error{provider.ErrUnavailable, provider.ErrRateLimited, provider.ErrBadMessage,
			provider.ErrCredentials, provider.ErrInvalidToken}
		found := false
		for _, s := range sentinels {
			found = found || errors.Is(r.Err, s)
		}
		if !found {
			t.Fatalf("error %v matches no provider sentinel", r.Err)
		}
		if r.RetryAfter < 0 {
			t.Fatalf("Retry-After %q: negative wait %v", retryAfter, r.RetryAfter)
		}
		if r.RetryAfter != 0 && r.Kind != provider.Retry {
			t.Fatalf("%v with a Retry-After", r.Kind)
		}
		if errors.Is(r.Err, provider.ErrRateLimited) && r.Kind != provider.Retry {
			t.Fatalf("rate limited but %v", r.Kind)
		}
		if status >= 500 && !json.Valid(body) && r.Kind != provider.Retry {
			t.Fatalf("status %d without a Google error body classified %v, want retry", status, r.Kind)
		}
		if again, _ := io.ReadAll(resp.Body); !bytes.Equal(again, body[:min(len(body), 64<<10)]) {
			t.Fatalf("body not left readable: %q, want %q", again, body)
		}
	})
}

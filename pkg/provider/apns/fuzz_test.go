package apns

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/sideshow/apns2"
)

// FuzzClassify feeds classify whatever an APNs answer can be: any status,
// Retry-After header and body, decoded the way apns2 decodes it. The result
// must be one of the result kinds, name the token, never be Delivered
// unless APNs said 200 (nor anything else when it did), never ask for a
// negative wait, and carry an error whenever it is not a delivery. Run with
//
//	go test -run '^$' -fuzz '^FuzzClassify$' -fuzztime 60s ./pkg/provider/apns/
func FuzzClassify(f *testing.F) {
	f.Add(200, "", []byte(""))
	f.Add(200, "", []byte("{}"))
	f.Add(200, "", []byte("<html>"))
	f.Add(410, "", []byte(`{"reason":"Unregistered","timestamp":1458114061260}`))
	f.Add(410, "", []byte(`{"reason":"Unregistered","timestamp":"soon"}`))
	f.Add(400, "", []byte(`{"reason":"BadDeviceToken"}`))
	f.Add(400, "", []byte(`{"reason":"IdleTimeout"}`))
	f.Add(403, "", []byte(`{"reason":"ExpiredProviderToken"}`))
	f.Add(413, "", []byte(`{"reason":"PayloadTooLarge"}`))
	f.Add(429, "30", []byte(`{"reason":"TooManyRequests"}`))
	f.Add(429, "", []byte(`{"reason":"TooManyProviderTokenUpdates"}`))
	f.Add(429, "Wed, 21 Oct 2099 07:28:00 GMT", []byte(`{"reason":"TooManyRequests"}`))
	f.Add(503, "-5", []byte(`{"reason":"ServiceUnavailable"}`))
	f.Add(502, "", []byte("<html>bad gateway</html>"))
	f.Add(0, "", []byte(nil))
	f.Add(999, "1e3", []byte(`{"reason":""}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		// What apns2 and the capturing transport make of such an answer.
		c := &capture{status: status, retryAfter: retryAfter}
		if status != http.StatusOK {
			c.body = body[:min(len(body), maxErrorBody)]
		}
		resp := &apns2.Response{StatusCode: status}
		var err error
		if derr := json.NewDecoder(bytes.NewReader(body)).Decode(resp); derr != nil && derr != io.EOF {
			resp, err = &apns2.Response{}, derr
		}
		const token = "0123abcd"
		r := classify(token, resp, err, c)
		if r.Token != token {
			t.Fatalf("result names token %q, want %q", r.Token, token)
		}
		if r.Kind < provider.Delivered || r.Kind > provider.CredentialError {
			t.Fatalf("status %d: unknown kind %v", status, r.Kind)
		}
		if (r.Kind == provider.Delivered) != (status == http.StatusOK) {
			t.Fatalf("status %d classified %v", status, r.Kind)
		}
		if r.RetryAfter < 0 {
			t.Fatalf("Retry-After %q gives a negative wait %v", retryAfter, r.RetryAfter)
		}
		if r.Kind != provider.Delivered && r.Err == nil {
			t.Fatalf("status %d: %v without an error", status, r.Kind)
		}
		if errors.Is(r.Err, provider.ErrRateLimited) && r.Kind != provider.Retry {
			t.Fatalf("rate limited but %v", r.Kind)
		}
		if status >= 500 && r.Kind != provider.Retry {
			t.Fatalf("status %d classified %v, want retry", status, r.Kind)
		}
		if d := parseRetryAfter(retryAfter, time.Now()); d < 0 {
			t.Fatalf("parseRetryAfter(%q) = %v", retryAfter, d)
		}
	})
}

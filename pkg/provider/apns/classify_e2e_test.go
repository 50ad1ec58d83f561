package apns_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestClassification sends one token per row through real TLS and HTTP/2
// and checks the Result for every answer of providers.md §0.
func TestClassification(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	answer := func(status int, reason string, retryAfter time.Duration) func(*apnsfake.Server, string) {
		return func(fk *apnsfake.Server, _ string) { fk.FailNextWith(1, status, reason, retryAfter) }
	}
	goneAt := time.UnixMilli(1458114061260).UTC()
	tests := []struct {
		name       string
		setup      func(fk *apnsfake.Server, tok string)
		kind       provider.Kind
		sentinel   error
		reason     string
		retryAfter time.Duration
		at         time.Time
	}{
		{"200 delivered", nil, provider.Delivered, nil, "", 0, time.Time{}},
		{"410 Unregistered", func(fk *apnsfake.Server, tok string) { fk.SetDeadAt(tok, goneAt) },
			provider.InvalidToken, provider.ErrInvalidToken, "Unregistered", 0, goneAt},
		{"410 ExpiredToken", answer(410, "ExpiredToken", 0), provider.InvalidToken, provider.ErrInvalidToken, "ExpiredToken", 0, time.Time{}},
		{"400 BadDeviceToken", answer(400, "BadDeviceToken", 0), provider.InvalidToken, provider.ErrInvalidToken, "BadDeviceToken", 0, time.Time{}},
		{"400 DeviceTokenNotForTopic", func(fk *apnsfake.Server, tok string) { fk.SetTokenTopic(tok, "com.other.app") },
			provider.InvalidToken, provider.ErrInvalidToken, "DeviceTokenNotForTopic", 0, time.Time{}},
		{"429 TooManyRequests", answer(429, "TooManyRequests", 7*time.Second), provider.Retry, provider.ErrRateLimited, "TooManyRequests", 7 * time.Second, time.Time{}},
		{"500 InternalServerError", answer(500, "InternalServerError", 0), provider.Retry, provider.ErrUnavailable, "InternalServerError", 0, time.Time{}},
		{"503 ServiceUnavailable", answer(503, "ServiceUnavailable", 3*time.Second), provider.Retry, provider.ErrUnavailable, "ServiceUnavailable", 3 * time.Second, time.Time{}},
		{"503 Shutdown", answer(503, "Shutdown", 0), provider.Retry, provider.ErrUnavailable, "Shutdown", 0, time.Time{}},
		{"400 IdleTimeout", answer(400, "IdleTimeout", 0), provider.Retry, provider.ErrUnavailable, "IdleTimeout", 0, time.Time{}},
		{"400 BadCollapseId", answer(400, "BadCollapseId", 0), provider.Permanent, provider.ErrBadMessage, "BadCollapseId", 0, time.Time{}},
		{"400 BadExpirationDate", answer(400, "BadExpirationDate", 0), provider.Permanent, provider.ErrBadMessage, "BadExpirationDate", 0, time.Time{}},
		{"400 BadMessageId", answer(400, "BadMessageId", 0), provider.Permanent, provider.ErrBadMessage, "BadMessageId", 0, time.Time{}},
		{"400 BadPriority", answer(400, "BadPriority", 0), provider.Permanent, provider.ErrBadMessage, "BadPriority", 0, time.Time{}},
		{"400 BadTopic", answer(400, "BadTopic", 0), provider.Permanent, provider.ErrBadMessage, "BadTopic", 0, time.Time{}},
		{"400 DuplicateHeaders", answer(400, "DuplicateHeaders", 0), provider.Permanent, provider.ErrBadMessage, "DuplicateHeaders", 0, time.Time{}},
		{"400 InvalidPushType", answer(400, "InvalidPushType", 0), provider.Permanent, provider.ErrBadMessage, "InvalidPushType", 0, time.Time{}},
		{"400 MissingDeviceToken", answer(400, "MissingDeviceToken", 0), provider.Permanent, provider.ErrBadMessage, "MissingDeviceToken", 0, time.Time{}},
		{"400 MissingTopic", answer(400, "MissingTopic", 0), provider.Permanent, provider.ErrBadMessage, "MissingTopic", 0, time.Time{}},
		{"400 PayloadEmpty", answer(400, "PayloadEmpty", 0), provider.Permanent, provider.ErrBadMessage, "PayloadEmpty", 0, time.Time{}},
		{"400 TopicDisallowed", answer(400, "TopicDisallowed", 0), provider.Permanent, provider.ErrBadMessage, "TopicDisallowed", 0, time.Time{}},
		{"404 BadPath", answer(404, "BadPath", 0), provider.Permanent, provider.ErrBadMessage, "BadPath", 0, time.Time{}},
		{"405 MethodNotAllowed", answer(405, "MethodNotAllowed", 0), provider.Permanent, provider.ErrBadMessage, "MethodNotAllowed", 0, time.Time{}},
		{"413 PayloadTooLarge", answer(413, "PayloadTooLarge", 0), provider.Permanent, provider.ErrPayloadTooLarge, "PayloadTooLarge", 0, time.Time{}},
		{"403 InvalidProviderToken", answer(403, "InvalidProviderToken", 0), provider.CredentialError, provider.ErrCredentials, "InvalidProviderToken", 0, time.Time{}},
		{"403 MissingProviderToken", answer(403, "MissingProviderToken", 0), provider.CredentialError, provider.ErrCredentials, "MissingProviderToken", 0, time.Time{}},
		{"403 BadCertificate", answer(403, "BadCertificate", 0), provider.CredentialError, provider.ErrCredentials, "BadCertificate", 0, time.Time{}},
		{"403 BadCertificateEnvironment", answer(403, "BadCertificateEnvironment", 0), provider.CredentialError, provider.ErrCredentials, "BadCertificateEnvironment", 0, time.Time{}},
		{"403 Forbidden", answer(403, "Forbidden", 0), provider.CredentialError, provider.ErrCredentials, "Forbidden", 0, time.Time{}},
		{"403 unknown future reason", answer(403, "InvalidTopicSpecificKey", 0), provider.CredentialError, provider.ErrCredentials, "InvalidTopicSpecificKey", 0, time.Time{}},
		{"429 TooManyProviderTokenUpdates", answer(429, "TooManyProviderTokenUpdates", 0), provider.CredentialError, provider.ErrCredentials, "TooManyProviderTokenUpdates", 0, time.Time{}},
		{"403 ExpiredProviderToken renews and retries", answer(403, "ExpiredProviderToken", 0), provider.Retry, provider.ErrCredentials, "ExpiredProviderToken", 0, time.Time{}},
		{"dropped connection", func(fk *apnsfake.Server, _ string) { fk.FailNext(1, providertest.DropConnection, 0) },
			provider.Retry, provider.ErrUnavailable, "transport error", 0, time.Time{}},
		{"stream reset", func(fk *apnsfake.Server, _ string) { fk.ResetStreams(1) },
			provider.Retry, provider.ErrUnavailable, "transport error", 0, time.Time{}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(1000 + i)
			if tc.setup != nil {
				tc.setup(f.fake, tok)
			}
			r := send(t, f.sender, newJob(testApp, tok))[0]
			providertest.WantKind(t, r, tc.kind)
			if tc.sentinel != nil && !errors.Is(r.Err, tc.sentinel) {
				t.Errorf("err %v does not wrap %v", r.Err, tc.sentinel)
			}
			if tc.sentinel == nil && r.Err != nil {
				t.Errorf("err %v, want none", r.Err)
			}
			if r.Reason != tc.reason {
				t.Errorf("reason %q, want %q", r.Reason, tc.reason)
			}
			if r.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %v, want %v", r.RetryAfter, tc.retryAfter)
			}
			if !r.ProviderAt.Equal(tc.at) {
				t.Errorf("ProviderAt %v, want %v", r.ProviderAt, tc.at)
			}
			delivered := f.fake.Delivered(tok)
			if want := map[bool]int{true: 1, false: 0}[tc.kind == provider.Delivered]; delivered != want {
				t.Errorf("fake delivered %d times, want %d", delivered, want)
			}
		})
	}
}

// TestClassificationWithoutRequest covers answers decided before any request.
func TestClassificationWithoutRequest(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	t.Run("non-hex token is BadDeviceToken, not sent", func(t *testing.T) {
		r := send(t, f.sender, newJob(testApp, "not-a-token"))[0]
		providertest.WantKind(t, r, provider.InvalidToken)
		if !errors.Is(r.Err, provider.ErrInvalidToken) || r.Reason != "BadDeviceToken" {
			t.Fatalf("reason %q err %v", r.Reason, r.Err)
		}
		if f.fake.Requests() != 0 {
			t.Fatalf("fake saw %d requests, want 0", f.fake.Requests())
		}
	})
	t.Run("ended context is Retry", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := f.sender.Send(ctx, newJob(testApp, token(1)))[0]
		providertest.WantKind(t, r, provider.Retry)
		if !errors.Is(r.Err, context.Canceled) {
			t.Fatalf("err %v does not wrap context.Canceled", r.Err)
		}
	})
	t.Run("unknown app", func(t *testing.T) {
		rs := send(t, f.sender, newJob("nope", token(1), token(2)))
		for _, r := range rs {
			providertest.WantKind(t, r, provider.Permanent)
			if !errors.Is(r.Err, provider.ErrUnknownApp) {
				t.Fatalf("err %v does not wrap ErrUnknownApp", r.Err)
			}
		}
	})
}

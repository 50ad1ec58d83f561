package hms_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

func sendOK(t *testing.T, s *hms.Sender, toks ...string) {
	t.Helper()
	for _, r := range providertest.Send(t, s, testJob(toks...), 10*time.Second) {
		providertest.WantKind(t, r, provider.Delivered)
	}
}

// The token is renewed in the background before it expires: no push ever
// goes out with an expired token (which would cost an 80200003 and a
// second request), and no push waits for the renewal.
func TestTokenRenewedBeforeExpiry(t *testing.T) {
	s, f := setup(t, hmsfake.Options{TokenLifetime: 3 * time.Second}, func(c *hms.Config) { c.RefreshBefore = time.Second })
	sendOK(t, s, token(1))
	if n := f.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests after the first send, want 1", n)
	}
	time.Sleep(2200 * time.Millisecond) // inside the renewal window (the last second)
	sendOK(t, s, token(2))              // uses the old token, starts the renewal
	deadline := time.Now().Add(5 * time.Second)
	for f.TokenRequests() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(1000 * time.Millisecond) // the first token has expired now
	sendOK(t, s, token(3))
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one renewal)", n)
	}
	if n := f.Requests(); n != 3 {
		t.Fatalf("%d push requests for 3 sends: a push went out with an expired token", n)
	}
}

// 80200003 (token expired) drops the token, fetches a new one and makes
// the request once more.
func TestTokenRefreshedOnExpiredAnswer(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	sendOK(t, s, token(1))
	f.ExpireTokens()
	sendOK(t, s, token(2))
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
	if n := f.Requests(); n != 3 {
		t.Fatalf("%d push requests, want 3 (the refused one and its repeat)", n)
	}
}

// Concurrent sends without a valid token share one token request, and
// so do concurrent 80200003 answers for the same token.
func TestTokenRequestsAreSingleflight(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	f.SetLatency(50 * time.Millisecond)
	burst := func() {
		var wg sync.WaitGroup
		for i := range 40 {
			wg.Go(func() { sendOK(t, s, token(i)) })
		}
		wg.Wait()
	}
	burst()
	if n := f.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests for a burst of 40 sends, want 1", n)
	}
	f.ExpireTokens()
	burst()
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests after 40 sends were refused the same expired token, want 2", n)
	}
}

func TestRejectedClientSecretIsCredentialError(t *testing.T) {
	f := startFake(t, hmsfake.Options{})
	app := f.SandboxApp()
	app.ClientSecret = "wrong"
	s := newSender(t, f, nil, map[string]hms.AppConfig{testApp: app})
	rs := providertest.Send(t, s, testJob(token(1), token(2)), 10*time.Second)
	for _, r := range rs {
		providertest.WantKind(t, r, provider.CredentialError)
		if !errors.Is(r.Err, provider.ErrCredentials) || r.Sent() {
			t.Fatalf("err %v, sent %v: want ErrCredentials and not sent", r.Err, r.Sent())
		}
	}
	if n := f.Requests(); n != 0 {
		t.Fatalf("%d push requests without a token", n)
	}
}

func TestTokenEndpointUnavailableIsRetry(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	f.FailTokenNext(1, hmsfake.Answer{Status: http.StatusServiceUnavailable, Body: "busy"})
	rs := providertest.Send(t, s, testJob(token(1)), 10*time.Second)
	providertest.WantKind(t, rs[0], provider.Retry)
	if !errors.Is(rs[0].Err, provider.ErrUnavailable) || !errors.Is(rs[0].Err, provider.ErrNotSent) {
		t.Fatalf("err %v: want ErrUnavailable and ErrNotSent", rs[0].Err)
	}
	sendOK(t, s, token(1))
}

// A refused token that stays refused after a renewal is a credential error.
func TestAuthFailureAfterRenewalIsCredentialError(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	f.FailNextAnswer(2, hmsfake.Answer{Status: http.StatusUnauthorized, Code: hms.CodeOAuthExpired, Msg: "Oauth token expired"})
	rs := providertest.Send(t, s, testJob(token(1)), 10*time.Second)
	providertest.WantKind(t, rs[0], provider.CredentialError)
	if n := f.Requests(); n != 2 {
		t.Fatalf("%d push requests, want 2 (one renewal, no more)", n)
	}
	sendOK(t, s, token(1))
}

// A send whose context ends while it waits for the token is not sent.
func TestContextEndsWaitingForToken(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	f.SetLatency(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	rs := s.Send(ctx, testJob(token(1)))
	providertest.WantKind(t, rs[0], provider.Retry)
	if !errors.Is(rs[0].Err, provider.ErrNotSent) {
		t.Fatalf("err %v: want ErrNotSent", rs[0].Err)
	}
}

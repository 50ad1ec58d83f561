package fcm_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// classifyCase is one row of docs/providers.md §0 for FCM, provoked in the
// fake and checked end to end through the SDK.
type classifyCase struct {
	name string
	// setup prepares the fake and may change the app or the job.
	setup func(t *testing.T, f *fcmfake.Server, app *fcm.AppConfig, j *events.Job)
	kind  provider.Kind
	err   error
	// reason, when set, must be contained in Result.Reason.
	reason string
	// retryAfter, when set, is the RetryAfter wanted (to the second).
	retryAfter time.Duration
	// offline: the sender must answer without a send request reaching FCM.
	offline bool
}

func TestClassification(t *testing.T) {
	t.Parallel()
	cases := []classifyCase{
		{name: "delivered", kind: provider.Delivered},
		{name: "UNREGISTERED", kind: provider.InvalidToken, err: provider.ErrInvalidToken, reason: "UNREGISTERED",
			setup: func(t *testing.T, f *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) { f.SetDead(j.Tokens[0]) }},
		{name: "dead prefix", kind: provider.InvalidToken, err: provider.ErrInvalidToken, reason: "UNREGISTERED",
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) {
				j.Tokens[0] = fcmfake.DeadPrefix + j.Tokens[0]
			}},
		{name: "INVALID_ARGUMENT bad token", kind: provider.InvalidToken, err: provider.ErrInvalidToken, reason: "not a valid FCM registration token",
			setup: func(t *testing.T, f *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) { f.SetMalformed(j.Tokens[0]) }},
		{name: "INVALID_ARGUMENT token characters", kind: provider.InvalidToken, err: provider.ErrInvalidToken, reason: "registration token",
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) { j.Tokens[0] = "not/a=token" }},
		{name: "SENDER_ID_MISMATCH", kind: provider.InvalidToken, err: provider.ErrInvalidToken, reason: "SENDER_ID_MISMATCH",
			setup: func(t *testing.T, f *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) { f.SetForeign(j.Tokens[0]) }},
		{name: "QUOTA_EXCEEDED with Retry-After", kind: provider.Retry, err: provider.ErrRateLimited, reason: "QUOTA_EXCEEDED", retryAfter: 7 * time.Second,
			setup: failNext(providertest.RateLimited, 7*time.Second)},
		{name: "QUOTA_EXCEEDED without Retry-After", kind: provider.Retry, err: provider.ErrRateLimited, reason: "QUOTA_EXCEEDED", retryAfter: 3 * time.Second,
			setup: failNext(providertest.RateLimited, 0)},
		{name: "UNAVAILABLE", kind: provider.Retry, err: provider.ErrUnavailable, reason: "UNAVAILABLE", retryAfter: fcmfake.UnavailableRetryAfter,
			setup: failNext(providertest.Unavailable, 0)},
		{name: "INTERNAL", kind: provider.Retry, err: provider.ErrUnavailable, reason: "INTERNAL",
			setup: failNext(providertest.Internal, 0)},
		{name: "dropped stream", kind: provider.Retry, err: provider.ErrUnavailable,
			setup: failNext(providertest.DropConnection, 0)},
		{name: "THIRD_PARTY_AUTH_ERROR", kind: provider.CredentialError, err: provider.ErrCredentials, reason: "THIRD_PARTY_AUTH_ERROR",
			setup: failNext(providertest.AuthFailure, 0)},
		{name: "INVALID_ARGUMENT bad field", kind: provider.Permanent, err: provider.ErrBadMessage, reason: "message.android.ttl",
			setup: failNext(providertest.BadRequest, 0)},
		{name: "INVALID_ARGUMENT reserved data key", kind: provider.Permanent, err: provider.ErrBadMessage, reason: "from",
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) {
				j.Notification.Data = map[string]any{"from": "x"}
			}},
		{name: "INVALID_ARGUMENT analytics label", kind: provider.Permanent, err: provider.ErrBadMessage, reason: "nalytics label",
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) {
				j.Overrides = &events.Overrides{FCM: &events.FCMOverrides{AnalyticsLabel: "no spaces allowed"}}
			}},
		{name: "unknown project", kind: provider.CredentialError, err: provider.ErrCredentials, reason: "NOT_FOUND",
			setup: func(t *testing.T, f *fcmfake.Server, app *fcm.AppConfig, _ *events.Job) {
				sa, err := f.NewServiceAccount("ghost", "ghost-project")
				if err != nil {
					t.Fatal(err)
				}
				*app = fcm.AppConfig{ProjectID: "ghost-project", CredentialsJSON: string(sa.JSON)}
			}},
		{name: "PERMISSION_DENIED account of another project", kind: provider.CredentialError, err: provider.ErrCredentials, reason: "PERMISSION_DENIED",
			setup: func(t *testing.T, f *fcmfake.Server, app *fcm.AppConfig, _ *events.Job) {
				other, err := f.SandboxApp("other", "other-project")
				if err != nil {
					t.Fatal(err)
				}
				app.CredentialsJSON = other.CredentialsJSON
			}},
		{name: "oauth2 grant refused", kind: provider.CredentialError, err: provider.ErrCredentials, reason: "invalid_grant", offline: true,
			setup: func(t *testing.T, f *fcmfake.Server, _ *fcm.AppConfig, _ *events.Job) {
				f.FailTokenRequests(1, http.StatusBadRequest)
			}},
		{name: "oauth2 key revoked", kind: provider.CredentialError, err: provider.ErrCredentials, reason: "invalid_grant", offline: true,
			setup: func(t *testing.T, f *fcmfake.Server, app *fcm.AppConfig, _ *events.Job) {
				var key struct {
					Email string `json:"client_email"`
					KeyID string `json:"private_key_id"`
				}
				if err := json.Unmarshal([]byte(app.CredentialsJSON), &key); err != nil {
					t.Fatal(err)
				}
				f.RevokeKey(key.Email, key.KeyID)
			}},
		{name: "oauth2 token endpoint unavailable", kind: provider.Retry, err: provider.ErrUnavailable, offline: true,
			setup: func(t *testing.T, f *fcmfake.Server, _ *fcm.AppConfig, _ *events.Job) {
				f.FailTokenRequests(1, http.StatusServiceUnavailable)
			}},
		{name: "payload too large", kind: provider.Permanent, err: provider.ErrPayloadTooLarge, offline: true,
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) {
				j.Notification.Data = map[string]any{"big": strings.Repeat("x", 4096)}
			}},
		{name: "undecodable override", kind: provider.Permanent, err: provider.ErrBadMessage, reason: "overrides.fcm.android", offline: true,
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) {
				j.Overrides = &events.Overrides{FCM: &events.FCMOverrides{Android: json.RawMessage(`{"ttl":"forever"}`)}}
			}},
		{name: "override the SDK rejects", kind: provider.Permanent, err: provider.ErrBadMessage, reason: "color", offline: true,
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) {
				j.Overrides = &events.Overrides{FCM: &events.FCMOverrides{Android: json.RawMessage(`{"notification":{"color":"red"}}`)}}
			}},
		{name: "context already ended", kind: provider.Retry, err: context.Canceled, offline: true,
			setup: func(t *testing.T, _ *fcmfake.Server, _ *fcm.AppConfig, j *events.Job) { j.ID = "cancel" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runClassifyCase(t, tc)
		})
	}
}

func failNext(f providertest.Failure, retryAfter time.Duration) func(*testing.T, *fcmfake.Server, *fcm.AppConfig, *events.Job) {
	return func(_ *testing.T, fake *fcmfake.Server, _ *fcm.AppConfig, _ *events.Job) {
		fake.FailNext(20, f, retryAfter)
	}
}

func runClassifyCase(t *testing.T, tc classifyCase) {
	f := startFake(t, fcmfake.Options{})
	app := sandboxApp(t, f, "app", "proj")
	j := newJob("app", token(1))
	if tc.setup != nil {
		tc.setup(t, f, &app, j)
	}
	s := newSender(t, f, fcm.Config{QuotaRetryAfter: 3 * time.Second, BatchTimeout: time.Second}, map[string]fcm.AppConfig{"app": app})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if j.ID == "cancel" {
		cancel()
	}
	before := f.SendRequests()
	r := s.Send(ctx, j)[0]
	if r.Kind != tc.kind {
		t.Fatalf("kind %v (reason %q, err %v), want %v", r.Kind, r.Reason, r.Err, tc.kind)
	}
	if tc.err != nil && !errors.Is(r.Err, tc.err) {
		t.Fatalf("err %v does not match %v", r.Err, tc.err)
	}
	if tc.kind != provider.Delivered && r.Reason == "" {
		t.Fatal("no reason")
	}
	if !strings.Contains(r.Reason, tc.reason) {
		t.Fatalf("reason %q does not contain %q", r.Reason, tc.reason)
	}
	if tc.retryAfter > 0 && r.RetryAfter.Round(time.Second) != tc.retryAfter {
		t.Fatalf("RetryAfter %v, want %v", r.RetryAfter, tc.retryAfter)
	}
	if tc.offline && f.SendRequests() != before {
		t.Fatalf("%d send requests reached the fake, want none", f.SendRequests()-before)
	}
	if want := 0; tc.kind != provider.Delivered && f.Delivered(j.Tokens[0]) != want {
		t.Fatalf("token delivered although the result is %v", r.Kind)
	}
}

// TestQuotaHoldsProject checks that after QUOTA_EXCEEDED the project's
// sends return Retry with the remaining Retry-After without reaching FCM,
// while another project of the same sender is unaffected.
func TestQuotaHoldsProject(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{
		"a": sandboxApp(t, f, "a", "proj-a"),
		"b": sandboxApp(t, f, "b", "proj-b"),
	})
	f.FailNext(1, providertest.RateLimited, 30*time.Second)
	first := send(t, s, newJob("a", token(1)), 5*time.Second)[0]
	if first.Kind != provider.Retry || first.RetryAfter != 30*time.Second {
		t.Fatalf("first send: %v RetryAfter %v, want retry after 30s", first.Kind, first.RetryAfter)
	}
	before := f.SendRequests()
	held := send(t, s, newJob("a", tokens(10, 3)...), 5*time.Second)
	for _, r := range held {
		if r.Kind != provider.Retry || !errors.Is(r.Err, provider.ErrRateLimited) || !errors.Is(r.Err, provider.ErrNotSent) {
			t.Fatalf("held send: %v %v, want retry (rate limited, not sent)", r.Kind, r.Err)
		}
		if r.RetryAfter <= 25*time.Second || r.RetryAfter > 30*time.Second {
			t.Fatalf("held send RetryAfter %v, want the rest of 30s", r.RetryAfter)
		}
	}
	if n := f.SendRequests() - before; n != 0 {
		t.Fatalf("%d requests reached FCM for a held project", n)
	}
	other := send(t, s, newJob("b", token(20)), 5*time.Second)[0]
	if other.Kind != provider.Delivered {
		t.Fatalf("other project: %v (%s), want delivered", other.Kind, other.Reason)
	}
}

// TestEmptyTokenDoesNotSinkBatch checks that one empty token is Permanent
// while the rest of the batch is delivered (the SDK would reject it all).
func TestEmptyTokenDoesNotSinkBatch(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	rs := send(t, s, newJob("app", token(1), "", token(2)), 5*time.Second)
	want := []provider.Kind{provider.Delivered, provider.Permanent, provider.Delivered}
	for i, r := range rs {
		if r.Kind != want[i] {
			t.Fatalf("result %d: %v (%s), want %v", i, r.Kind, r.Reason, want[i])
		}
	}
}

// TestUnauthenticatedRefetchesToken checks that FCM refusing the cached
// access token (401 UNAUTHENTICATED, no FcmError) is a credential error, and
// that the next batch fetches a new token and succeeds.
func TestUnauthenticatedRefetchesToken(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	if r := send(t, s, newJob("app", token(1)), 5*time.Second)[0]; r.Kind != provider.Delivered {
		t.Fatalf("first: %v", r.Kind)
	}
	f.RevokeAccessTokens()
	if r := send(t, s, newJob("app", token(2)), 5*time.Second)[0]; r.Kind != provider.CredentialError {
		t.Fatalf("after revocation: %v (%s), want credential error", r.Kind, r.Reason)
	}
	if r := send(t, s, newJob("app", token(3)), 5*time.Second)[0]; r.Kind != provider.Delivered {
		t.Fatalf("after refetch: %v (%s), want delivered", r.Kind, r.Reason)
	}
	if n := f.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2", n)
	}
}

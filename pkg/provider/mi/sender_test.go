package mi_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

func send(t *testing.T, s *mi.Sender, j *events.Job) []provider.Result {
	t.Helper()
	return providertest.Send(t, s, j, 10*time.Second)
}

// TestClassificationOverTheWire drives every class of answer through the
// fake over TLS, for a two-regid request.
func TestClassificationOverTheWire(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	tests := []struct {
		name     string
		answer   mifake.Answer
		kind     provider.Kind
		sentinel error
		reason   string
	}{
		{"no valid targets", mifake.Answer{Code: 20301, Reason: "No valid targets!"}, provider.InvalidToken, provider.ErrInvalidToken, "20301"},
		{"bad secret", mifake.Answer{Code: 21301, Reason: "Invalid application secret."}, provider.CredentialError, provider.ErrCredentials, "21301"},
		{"app revoked", mifake.Answer{Code: 22002, Reason: "revoked"}, provider.CredentialError, provider.ErrCredentials, "22002"},
		{"service paused", mifake.Answer{Code: 10002, Reason: "paused"}, provider.Retry, provider.ErrUnavailable, "10002"},
		{"system busy", mifake.Answer{Code: 10009, Reason: "busy"}, provider.Retry, provider.ErrUnavailable, "10009"},
		{"frequency", mifake.Answer{Code: 10027, Reason: "too frequent"}, provider.Retry, provider.ErrRateLimited, "10027"},
		{"daily limit", mifake.Answer{Code: 200001, Reason: "daily limit"}, provider.Retry, provider.ErrRateLimited, "200001"},
		{"missing param", mifake.Answer{Code: 10016, Reason: "missing"}, provider.Permanent, provider.ErrBadMessage, "10016"},
		{"empty title", mifake.Answer{Code: 65011, Reason: "Title or Description is empty!"}, provider.Permanent, provider.ErrBadMessage, "65011"},
		{"unknown code", mifake.Answer{Code: 12345, Reason: "?"}, provider.Permanent, provider.ErrBadMessage, "12345"},
		{"http 503", mifake.Answer{Status: http.StatusServiceUnavailable}, provider.Retry, provider.ErrUnavailable, "http 503"},
		{"http 500", mifake.Answer{Status: http.StatusInternalServerError, Body: "boom"}, provider.Retry, provider.ErrUnavailable, "http 500"},
		{"empty 200", mifake.Answer{}, provider.Retry, provider.ErrUnavailable, "bad answer"},
		{"non-JSON 200", mifake.Answer{Body: "<html>proxy error</html>"}, provider.Retry, provider.ErrUnavailable, "bad answer"},
		{"dropped", mifake.Answer{Drop: true}, provider.Retry, provider.ErrUnavailable, "transport"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tokens := regids(i*10, 2)
			fake.FailNextAnswer(1, tc.answer)
			for _, r := range send(t, s, testJob(tokens...)) {
				if r.Kind != tc.kind || r.Reason != tc.reason || !errors.Is(r.Err, tc.sentinel) {
					t.Fatalf("got %v %q %v; want %v %q %v", r.Kind, r.Reason, r.Err, tc.kind, tc.reason, tc.sentinel)
				}
			}
			if tc.reason == "200001" {
				if r := send(t, s, testJob(tokens...)); r[0].Kind != provider.Delivered {
					t.Fatalf("after the fault: %v", r[0])
				}
			}
		})
	}
}

func TestDailyLimitWaitsLong(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	fake.FailNextAnswer(1, mifake.Answer{Code: 200001, Reason: "daily limit"})
	r := send(t, s, testJob(regid(1)))[0]
	if r.Kind != provider.Retry || r.RetryAfter < time.Minute || r.RetryAfter > 24*time.Hour+time.Minute {
		t.Fatalf("got %v RetryAfter %v; want Retry until the quota resets", r.Kind, r.RetryAfter)
	}
}

// TestBatchOf1000WithBadRegIDs sends one full request and maps bad_regids.
func TestBatchOf1000WithBadRegIDs(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	tokens := regids(0, 1000)
	for i := range tokens {
		switch {
		case i%97 == 0:
			fake.SetDead(tokens[i])
		case i%101 == 0:
			tokens[i] = mifake.DeadPrefix + tokens[i]
		}
	}
	rs := send(t, s, testJob(tokens...))
	if n := fake.Requests(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	bad := 0
	for i, r := range rs {
		dead := i%97 == 0 || i%101 == 0
		switch {
		case dead && (r.Kind != provider.InvalidToken || r.Reason != "bad_regids" || !errors.Is(r.Err, provider.ErrInvalidToken)):
			t.Fatalf("token %d: %v %q %v, want invalid_token bad_regids", i, r.Kind, r.Reason, r.Err)
		case !dead && r.Kind != provider.Delivered:
			t.Fatalf("token %d: %v %q, want delivered", i, r.Kind, r.Reason)
		case dead:
			bad++
		}
		if got, want := fake.Delivered(r.Token), map[bool]int{true: 0, false: 1}[dead]; got != want {
			t.Fatalf("token %d delivered %d times, want %d", i, got, want)
		}
	}
	if bad != 11+9 { // 0,97,…,970 and 101,…,909 (0 counted once)
		t.Fatalf("%d bad, want 20", bad)
	}
}

// TestJobSplitIntoBatches checks a job over the batch size becomes several
// requests whose results land in the job's order.
func TestJobSplitIntoBatches(t *testing.T) {
	s, fake := setup(t, mifake.Options{MaxRegIDs: 100, Jitter: 5 * time.Millisecond}, func(c *mi.Config) { c.BatchSize = 100 })
	tokens := regids(0, 1050)
	for i := 0; i < len(tokens); i += 50 {
		fake.SetDead(tokens[i])
	}
	rs := send(t, s, testJob(tokens...))
	if n := fake.Requests(); n != 11 {
		t.Fatalf("%d requests, want 11", n)
	}
	for i, r := range rs {
		want := provider.Delivered
		if i%50 == 0 {
			want = provider.InvalidToken
		}
		if r.Kind != want {
			t.Fatalf("token %d: %v, want %v", i, r.Kind, want)
		}
	}
}

func TestOverTheServerCapIsPermanent(t *testing.T) {
	// The fake caps at 10 regids; the sender's batch size is the default 1000.
	s, _ := setup(t, mifake.Options{MaxRegIDs: 10}, nil)
	for _, r := range send(t, s, testJob(regids(0, 11)...)) {
		if r.Kind != provider.Permanent || r.Reason != "10017" {
			t.Fatalf("got %v %q", r.Kind, r.Reason)
		}
	}
}

func TestFormOnTheWire(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	j := testJob(regid(1), regid(2))
	exp := time.Now().Add(time.Hour)
	j.Notification.Expiry = &exp
	j.Notification.CollapseKey = "k"
	j.Overrides = &events.Overrides{Mi: &events.MiOverrides{ChannelID: "c1", Extra: map[string]string{"notify_effect": "1"}}}
	if r := send(t, s, j); r[0].Kind != provider.Delivered {
		t.Fatalf("%v", r[0])
	}
	path, form := fake.LastRequest()
	if path != mi.PathRegID {
		t.Fatalf("path %s", path)
	}
	for k, want := range map[string]string{
		"registration_id": regid(1) + "," + regid(2), "restricted_package_name": "com.example.demo",
		"title": "Hello", "description": "World", "payload": `{"k":"v"}`, "pass_through": "0",
		"notify_type": "-1", "extra.channel_id": "c1", "extra.notify_effect": "1",
	} {
		if got := form.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if ttl := form.Get("time_to_live"); len(ttl) < 7 || !strings.HasPrefix(ttl, "3") {
		t.Errorf("time_to_live = %q, want about 3600000", ttl)
	}
	if form.Get("notify_id") == "" {
		t.Error("notify_id missing")
	}
}

func TestExpiredJobIsNotSent(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	j := testJob(regid(1))
	past := time.Now().Add(-time.Minute)
	j.Notification.Expiry = &past
	r := send(t, s, j)[0]
	if r.Kind != provider.Expired || !errors.Is(r.Err, mi.ErrExpired) || !errors.Is(r.Err, provider.ErrExpired) {
		t.Fatalf("got %v %q %v, want expired", r.Kind, r.Reason, r.Err)
	}
	if fake.Requests() != 0 {
		t.Fatal("an expired job reached the server")
	}
}

func TestPackageMismatchKeepsTokens(t *testing.T) {
	fake, err := mifake.Start(mifake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	ac := fake.SandboxApp("com.example.real")
	ac.PackageName = "com.example.typo"
	s, err := mi.New(fake.SenderConfig(), map[string]mi.AppConfig{testApp: ac})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := send(t, s, testJob(regid(1)))[0]
	if r.Kind != provider.CredentialError || r.Reason != "22022" {
		t.Fatalf("got %v %q, want credential_error 22022", r.Kind, r.Reason)
	}
}

func TestClosedSenderRetries(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	_ = s.Close()
	r := send(t, s, testJob(regid(1)))[0]
	if r.Kind != provider.Retry || !errors.Is(r.Err, mi.ErrClosed) || !errors.Is(r.Err, provider.ErrUnavailable) {
		t.Fatalf("got %v %v", r.Kind, r.Err)
	}
	if fake.Requests() != 0 {
		t.Fatal("a closed sender sent")
	}
}

func TestCanceledWhileQueuedIsRetry(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, func(c *mi.Config) { c.MaxInFlightPerHost = 1 })
	fake.SetLatency(2 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan []provider.Result, 2)
	for i := range 2 {
		go func() { done <- s.Send(ctx, testJob(regid(i))) }()
	}
	for range 2 {
		if r := (<-done)[0]; r.Kind != provider.Retry || !errors.Is(r.Err, provider.ErrUnavailable) {
			t.Fatalf("got %v %q %v", r.Kind, r.Reason, r.Err)
		}
	}
}

// TestBatchesAfterExpiryNotSent: a job of five batches behind one request
// slot, against a server answering in 200ms, expiring after 300ms. Each
// batch request checks the expiry once it has its slot: batches whose turn
// comes later are Expired and never sent (checked once per job, they went
// out up to 500ms after the expiry).
func TestBatchesAfterExpiryNotSent(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, func(c *mi.Config) { c.MaxInFlightPerHost, c.BatchSize = 1, 10 })
	fake.SetLatency(200 * time.Millisecond)
	j := testJob(regids(0, 50)...)
	exp := time.Now().Add(300 * time.Millisecond)
	j.Notification.Expiry = &exp
	rs := send(t, s, j)
	const slack = 150 * time.Millisecond // from the check to the arrival; without it, batches come up to 500ms late
	for _, at := range fake.RequestTimes() {
		if late := at.Sub(exp); late > slack {
			t.Fatalf("a batch reached MiPush %v after the expiry", late.Round(time.Millisecond))
		}
	}
	kinds := map[provider.Kind]int{}
	for _, r := range rs {
		kinds[r.Kind]++
		if r.Kind == provider.Expired && fake.Delivered(r.Token) != 0 {
			t.Fatalf("%s expired but delivered", r.Token)
		}
	}
	if kinds[provider.Expired] == 0 || kinds[provider.Expired]+kinds[provider.Delivered] != len(rs) {
		t.Fatalf("kinds %v, want delivered and expired only, some expired", kinds)
	}
	if int(fake.Requests())*10 != kinds[provider.Delivered] {
		t.Fatalf("%d requests for %d delivered tokens", fake.Requests(), kinds[provider.Delivered])
	}
}

// A silent push reaches MiPush as a pass-through message with its payload
// and no title or description; the fake takes it as MiPush does (a
// displayed message without them is refused with 65011).
func TestSilentPushOnTheWire(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	j := testJob(regid(1))
	j.Notification = events.Notification{Silent: true, Data: map[string]any{"cmd": "sync"}}
	if r := send(t, s, j); r[0].Kind != provider.Delivered {
		t.Fatalf("%v", r[0])
	}
	_, form := fake.LastRequest()
	for k, want := range map[string]string{"pass_through": "1", "payload": `{"cmd":"sync"}`, "title": "", "description": ""} {
		if got := form.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

package hms_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// The request is the documented v1 body: token list, data as a JSON
// string, android urgency, a ttl clamped to Push Kit's longest, and a
// notification with its mandatory click_action.
func TestWireFormat(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	j := testJob(token(1), token(2))
	far := time.Now().Add(100 * 24 * time.Hour)
	j.Notification.Expiry = &far
	j.Notification.Priority = events.PriorityHigh
	j.Notification.CollapseKey = "7"
	j.Notification.Data = map[string]any{"n": 1, "s": "x"}
	providertest.Send(t, s, j, 10*time.Second)
	var got struct {
		ValidateOnly bool `json:"validate_only"`
		Message      struct {
			Data    string   `json:"data"`
			Token   []string `json:"token"`
			Android struct {
				CollapseKey  int    `json:"collapse_key"`
				Urgency      string `json:"urgency"`
				TTL          string `json:"ttl"`
				Notification struct {
					Title, Body  string
					DefaultSound bool `json:"default_sound"`
					ClickAction  struct {
						Type int `json:"type"`
					} `json:"click_action"`
				} `json:"notification"`
			} `json:"android"`
		} `json:"message"`
	}
	if err := json.Unmarshal(f.LastBody(), &got); err != nil {
		t.Fatal(err)
	}
	m := got.Message
	switch {
	case got.ValidateOnly:
		t.Error("validate_only set")
	case len(m.Token) != 2 || m.Token[0] != token(1):
		t.Errorf("token %v", m.Token)
	case m.Data != `{"n":1,"s":"x"}`:
		t.Errorf("data %q", m.Data)
	case m.Android.Urgency != "HIGH" || m.Android.CollapseKey != 7:
		t.Errorf("android %+v", m.Android)
	case m.Android.TTL != "1296000s":
		t.Errorf("ttl %q, want the 15-day maximum", m.Android.TTL)
	case m.Android.Notification.Title != "Hello" || m.Android.Notification.ClickAction.Type != 3 || !m.Android.Notification.DefaultSound:
		t.Errorf("notification %+v", m.Android.Notification)
	}
	// A near expiry gives the time left, rounded up.
	soon := time.Now().Add(90 * time.Second)
	j.Notification.Expiry = &soon
	providertest.Send(t, s, j, 10*time.Second)
	_ = json.Unmarshal(f.LastBody(), &got)
	if ttl := got.Message.Android.TTL; ttl != "90s" && ttl != "89s" {
		t.Errorf("ttl %q for an expiry 90s away", ttl)
	}
}

// A data-only job is a transparent message: no android.notification.
func TestDataOnlyMessage(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	j := testJob(token(1))
	j.Notification.Title, j.Notification.Body = "", ""
	sendJobOK(t, s, j)
	if b := string(f.LastBody()); strings.Contains(b, `"notification"`) || strings.Contains(b, `"ttl"`) {
		t.Fatalf("body %s: want no notification and no ttl", b)
	}
}

func sendJobOK(t *testing.T, s *hms.Sender, j *events.Job) {
	t.Helper()
	for _, r := range providertest.Send(t, s, j, 10*time.Second) {
		providertest.WantKind(t, r, provider.Delivered)
	}
}

// Partial success: the illegal tokens are InvalidToken, the others
// Delivered; all illegal (80300007): every token InvalidToken.
func TestPartialSuccess(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	toks := []string{token(1), "dead-1", token(2), "dead-2"}
	rs := providertest.Send(t, s, testJob(toks...), 10*time.Second)
	for i, r := range rs {
		want := provider.Delivered
		if strings.HasPrefix(toks[i], "dead") {
			want = provider.InvalidToken
			if !errors.Is(r.Err, provider.ErrInvalidToken) || r.Reason == "" {
				t.Fatalf("token %s: err %v reason %q", r.Token, r.Err, r.Reason)
			}
		}
		providertest.WantKind(t, r, want)
	}
	if f.Delivered(toks[1]) != 0 || f.Delivered(toks[0]) != 1 {
		t.Fatal("fake deliveries do not match")
	}
	for _, r := range providertest.Send(t, s, testJob("dead-3", "dead-4"), 10*time.Second) {
		providertest.WantKind(t, r, provider.InvalidToken)
		if r.Reason != hms.CodeAllTokensInvalid {
			t.Fatalf("reason %q", r.Reason)
		}
	}
}

// A partial success whose msg cannot be read: nothing is invalidated and
// nothing is pushed twice.
func TestPartialSuccessUnreadable(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	f.FailNextAnswer(1, hmsfake.Answer{Code: hms.CodePartialSuccess, Msg: "Check Parameter Partial Success."})
	sendOK(t, s, token(1), token(2))
}

// More than 1000 tokens are split into requests of at most 1000.
func TestBatchesSplit(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	toks := tokens(0, 2500)
	f.SetDead(toks[1700])
	rs := providertest.Send(t, s, testJob(toks...), 20*time.Second)
	for i, r := range rs {
		want := provider.Delivered
		if i == 1700 {
			want = provider.InvalidToken
		}
		providertest.WantKind(t, r, want)
	}
	if n := f.Requests(); n != 3 {
		t.Fatalf("%d requests for 2500 tokens, want 3", n)
	}
}

// Flow control without Retry-After: the sender's backoff fills in a wait
// that grows with consecutive rate-limited answers.
func TestFlowControlBackoff(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, func(c *hms.Config) { c.BackoffMin, c.BackoffMax = time.Second, 4*time.Second })
	f.FailNextAnswer(3, hmsfake.Answer{Status: http.StatusServiceUnavailable, Body: "flow control"})
	var waits []time.Duration
	for range 3 {
		r := providertest.Send(t, s, testJob(token(1)), 10*time.Second)[0]
		providertest.WantKind(t, r, provider.Retry)
		if !errors.Is(r.Err, provider.ErrRateLimited) || errors.Is(r.Err, provider.ErrNotSent) {
			t.Fatalf("err %v: want ErrRateLimited, sent", r.Err)
		}
		waits = append(waits, r.RetryAfter)
	}
	if waits[0] < 500*time.Millisecond || waits[0] > time.Second || waits[2] < 2*time.Second || waits[2] > 4*time.Second {
		t.Fatalf("waits %v: want ~1s, ~2s, ~4s (with jitter)", waits)
	}
	sendOK(t, s, token(1))
}

// The message limit is checked locally, before any request.
func TestMessageTooBigNotSent(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	j := testJob(token(1))
	j.Notification.Data = map[string]any{"big": strings.Repeat("x", 4000)}
	r := providertest.Send(t, s, j, 10*time.Second)[0]
	providertest.WantKind(t, r, provider.Permanent)
	if !errors.Is(r.Err, provider.ErrPayloadTooLarge) || f.Requests() != 0 {
		t.Fatalf("err %v, %d requests", r.Err, f.Requests())
	}
	// With the local check off, Push Kit's own 80300008 says the same.
	s2 := newSender(t, f, func(c *hms.Config) { c.MaxMessageBytes = -1 }, map[string]hms.AppConfig{testApp: f.SandboxApp()})
	r = providertest.Send(t, s2, j, 10*time.Second)[0]
	providertest.WantKind(t, r, provider.Permanent)
	if !errors.Is(r.Err, provider.ErrPayloadTooLarge) || r.Reason != hms.CodeMessageTooBig {
		t.Fatalf("err %v reason %q", r.Err, r.Reason)
	}
}

func TestClosedSenderHoldsBack(t *testing.T) {
	s, f := setup(t, hmsfake.Options{}, nil)
	_ = s.Close()
	r := s.Send(t.Context(), testJob(token(1)))[0]
	providertest.WantKind(t, r, provider.Retry)
	if !errors.Is(r.Err, provider.ErrNotSent) || f.Requests() != 0 {
		t.Fatalf("err %v, %d requests", r.Err, f.Requests())
	}
}

package apns_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestPushTypeMapping: each push type gets Apple's topic suffix and a valid
// priority; the fake enforces both, so delivery proves the request.
func TestPushTypeMapping(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	tests := []struct {
		name     string
		n        events.Notification
		pushType string
		topic    string
		priority string
	}{
		// "": no apns-priority, APNs' default 10.
		{"default alert", events.Notification{Title: "t"}, "alert", testTopic, ""},
		{"alert normal priority", events.Notification{Title: "t", Priority: events.PriorityNormal}, "alert", testTopic, "5"},
		{"silent push is background", events.Notification{ContentAvailable: true}, "background", testTopic, "5"},
		{"notification.silent is background at 5", events.Notification{Silent: true, Priority: events.PriorityHigh, Data: map[string]any{"cmd": "sync"}}, "background", testTopic, "5"},
		{"background high is forced to 5", events.Notification{PushType: "background", ContentAvailable: true, Priority: events.PriorityHigh}, "background", testTopic, "5"},
		{"voip", events.Notification{PushType: "voip", Data: map[string]any{"call": "x"}}, "voip", testTopic + ".voip", ""},
		{"complication", events.Notification{PushType: "complication", Body: "b"}, "complication", testTopic + ".complication", ""},
		{"fileprovider", events.Notification{PushType: "fileprovider", Data: map[string]any{"k": 1}}, "fileprovider", testTopic + ".pushkit.fileprovider", ""},
		{"liveactivity", events.Notification{PushType: "liveactivity", Body: "b"}, "liveactivity", testTopic + ".push-type.liveactivity", ""},
		{"pushtotalk", events.Notification{PushType: "pushtotalk", Data: map[string]any{"k": 1}}, "pushtotalk", testTopic + ".voip-ptt", ""},
		{"location", events.Notification{PushType: "location", Data: map[string]any{"k": 1}}, "location", testTopic + ".location-query", ""},
		{"widgets", events.Notification{PushType: "widgets", Data: map[string]any{"k": 1}}, "widgets", testTopic + ".push-type.widgets", ""},
		{"controls", events.Notification{PushType: "controls", Data: map[string]any{"k": 1}}, "controls", testTopic + ".push-type.controls", ""},
		{"mdm", events.Notification{PushType: "mdm", Data: map[string]any{"mdm": "magic"}}, "mdm", testTopic, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(i)
			j := newJob(testApp, tok)
			j.Notification = tc.n
			providertest.WantKind(t, send(t, f.sender, j)[0], provider.Delivered)
			req, _ := f.fake.LastRequest(tok)
			for h, want := range map[string]string{"apns-push-type": tc.pushType, "apns-topic": tc.topic, "apns-priority": tc.priority} {
				if got := req.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
		})
	}
}

// TestHeadersAndPayload checks expiration, collapse id, thread, category,
// flags, sound, badge, data and both kinds of overrides.
func TestHeadersAndPayload(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	badge := 3
	j := newJob(testApp, token(1))
	j.Notification = events.Notification{
		Title: "Hi", Body: "there", Sound: "ding.caf", Badge: &badge,
		Data: map[string]any{"order": 42, "who": "me"}, CollapseKey: "c1", Expiry: &exp,
		ThreadID: "th", Category: "cat", MutableContent: true, ContentAvailable: true,
	}
	j.Overrides = &events.Overrides{APNs: &events.APNsOverrides{
		Payload: map[string]json.RawMessage{"who": json.RawMessage(`"override"`), "extra": json.RawMessage(`[1,2]`)},
		Aps:     map[string]json.RawMessage{"sound": json.RawMessage(`null`), "interruption-level": json.RawMessage(`"time-sensitive"`)},
	}}
	providertest.WantKind(t, send(t, f.sender, j)[0], provider.Delivered)
	req, _ := f.fake.LastRequest(token(1))
	for h, want := range map[string]string{
		"apns-expiration": strconv.FormatInt(exp.Unix(), 10), "apns-collapse-id": "c1",
		"content-type": "application/json; charset=utf-8",
	} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	var got map[string]any
	if err := json.Unmarshal(req.Payload, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"aps": map[string]any{
			"alert": map[string]any{"title": "Hi", "body": "there"}, "badge": 3.0,
			"thread-id": "th", "category": "cat", "mutable-content": 1.0, "content-available": 1.0,
			"interruption-level": "time-sensitive",
		},
		"order": 42.0, "who": "override", "extra": []any{1.0, 2.0},
	}
	if g, w := mustJSON(got), mustJSON(want); g != w {
		t.Fatalf("payload\n got %s\nwant %s", g, w)
	}
}

// TestSilentPush: notification.silent reaches APNs as a background push
// whose aps holds content-available only (no alert, sound or badge, even
// when a job built elsewhere carries them), the data next to it.
func TestSilentPush(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	j := newJob(testApp, token(7))
	badge := 2
	j.Notification = events.Notification{Silent: true, Title: "ignored", Sound: "ding", Badge: &badge,
		Data: map[string]any{"cmd": "sync"}}
	providertest.WantKind(t, send(t, f.sender, j)[0], provider.Delivered)
	req, _ := f.fake.LastRequest(token(7))
	if req.Header.Get("apns-push-type") != "background" || req.Header.Get("apns-priority") != "5" {
		t.Fatalf("headers push-type %q priority %q, want background and 5",
			req.Header.Get("apns-push-type"), req.Header.Get("apns-priority"))
	}
	if g, w := string(req.Payload), `{"aps":{"content-available":1},"cmd":"sync"}`; g != w {
		t.Fatalf("payload %s, want %s", g, w)
	}
}

// TestExpirationClamped: apns-expiration is the expiry, but never more than
// 30 days ahead (APNs stores no longer): far dates, past 2262 or in 9999,
// neither overflow nor ask APNs to keep a notification for centuries.
func TestExpirationClamped(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	tests := []struct {
		name   string
		expiry time.Duration // from now; 0: no expiry
		far    time.Time     // an absolute expiry instead
		want   time.Duration // apns-expiration - now, ±2s; -1: header absent
	}{
		{name: "no expiry", want: -1},
		{name: "one hour", expiry: time.Hour, want: time.Hour},
		{name: "29 days", expiry: 29 * 24 * time.Hour, want: 29 * 24 * time.Hour},
		{name: "one year", expiry: 365 * 24 * time.Hour, want: apns.MaxExpiration},
		{name: "year 2300", far: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), want: apns.MaxExpiration},
		{name: "year 9999", far: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), want: apns.MaxExpiration},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Now()
			j := newJob(testApp, token(300+i))
			switch {
			case !tc.far.IsZero():
				j.Notification.Expiry = &tc.far
			case tc.expiry > 0:
				exp := now.Add(tc.expiry)
				j.Notification.Expiry = &exp
			}
			providertest.WantKind(t, send(t, f.sender, j)[0], provider.Delivered)
			req, _ := f.fake.LastRequest(token(300 + i))
			h := req.Header.Get("apns-expiration")
			if tc.want < 0 {
				if h != "" {
					t.Fatalf("apns-expiration %q without an expiry", h)
				}
				return
			}
			secs, err := strconv.ParseInt(h, 10, 64)
			if err != nil {
				t.Fatalf("apns-expiration %q: %v", h, err)
			}
			if got := time.Unix(secs, 0).Sub(now); got < tc.want-2*time.Second || got > tc.want+2*time.Second {
				t.Fatalf("apns-expiration %s ahead, want %s", got.Round(time.Second), tc.want)
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestRequestHeadersMinimal: a plain alert carries only the APNs headers
// it needs (topic and push type): no apns-id (APNs assigns one; a unique
// value per request churns the HPACK table), no apns-priority 10 (APNs'
// default), no apns-expiration without an expiry.
func TestRequestHeadersMinimal(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	tok := token(1)
	providertest.WantKind(t, send(t, f.sender, newJob(testApp, tok))[0], provider.Delivered)
	req, _ := f.fake.LastRequest(tok)
	var apnsHeaders []string
	for h := range req.Header {
		if h = strings.ToLower(h); strings.HasPrefix(h, "apns-") {
			apnsHeaders = append(apnsHeaders, h)
		}
	}
	slices.Sort(apnsHeaders)
	if want := []string{"apns-push-type", "apns-topic"}; !slices.Equal(apnsHeaders, want) {
		t.Fatalf("APNs headers %v, want %v", apnsHeaders, want)
	}
}

// TestPayloadSize: the limit is checked before sending, 4096 bytes in
// general and 5120 for VoIP.
func TestPayloadSize(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	body := strings.Repeat("x", 4500)
	tests := []struct {
		name     string
		pushType string
		body     string
		want     provider.Kind
	}{
		{"alert under 4096", "alert", body[:4000], provider.Delivered},
		{"alert over 4096", "alert", body, provider.Permanent},
		{"voip under 5120", "voip", body, provider.Delivered},
		{"voip over 5120", "voip", body + strings.Repeat("y", 700), provider.Permanent},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.fake.Requests()
			j := newJob(testApp, token(i))
			j.Notification = events.Notification{PushType: tc.pushType, Body: tc.body}
			r := send(t, f.sender, j)[0]
			providertest.WantKind(t, r, tc.want)
			if tc.want == provider.Permanent {
				if !errors.Is(r.Err, provider.ErrPayloadTooLarge) {
					t.Fatalf("err %v does not wrap ErrPayloadTooLarge", r.Err)
				}
				if f.fake.Requests() != before {
					t.Fatal("an oversized payload was sent")
				}
			}
		})
	}
	if apns.MaxPayload != 4096 || apns.MaxVoIPPayload != 5120 {
		t.Fatal("payload limits changed")
	}
}

// TestBadMessages: jobs the sender refuses before sending.
func TestBadMessages(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	tests := map[string]func(j *events.Job){
		"data key aps":      func(j *events.Job) { j.Notification.Data = map[string]any{"aps": 1} },
		"unknown push type": func(j *events.Job) { j.Notification.PushType = "telepathy" },
		"override aps not an object": func(j *events.Job) {
			j.Overrides = &events.Overrides{APNs: &events.APNsOverrides{Payload: map[string]json.RawMessage{"aps": json.RawMessage(`5`)}}}
		},
		"override not JSON": func(j *events.Job) {
			j.Overrides = &events.Overrides{APNs: &events.APNsOverrides{Aps: map[string]json.RawMessage{"k": json.RawMessage(`{`)}}}
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			j := newJob(testApp, token(1), token(2))
			mutate(j)
			for _, r := range send(t, f.sender, j) {
				providertest.WantKind(t, r, provider.Permanent)
				if !errors.Is(r.Err, provider.ErrBadMessage) {
					t.Fatalf("err %v does not wrap ErrBadMessage", r.Err)
				}
			}
		})
	}
	if n := f.fake.Requests(); n != 0 {
		t.Fatalf("%d requests sent for refused jobs", n)
	}
}

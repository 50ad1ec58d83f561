package fcm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
)

// TestWireMessage checks what FCM receives for a job with every mapped
// field and overrides: the fake validates it as FCM would and keeps it.
func TestWireMessage(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{KeepMessages: true})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	exp := time.Now().Add(10 * time.Minute)
	j := newJob("app", token(1))
	j.Notification = events.Notification{
		Title: "T", Body: "B", Sound: "ping", Badge: new(int), Priority: events.PriorityNormal, CollapseKey: "c",
		Expiry: &exp, Data: map[string]any{"n": 42, "obj": map[string]any{"a": []any{1, "x"}}, "s": "str"},
	}
	j.Overrides = &events.Overrides{FCM: &events.FCMOverrides{
		Android:        json.RawMessage(`{"notification":{"channel_id":"news"}}`),
		APNs:           json.RawMessage(`{"payload":{"aps":{"interruption-level":"passive"}}}`),
		Webpush:        json.RawMessage(`{"headers":{"Topic":"t"}}`),
		AnalyticsLabel: "label_1",
	}}
	if r := send(t, s, j, 5*time.Second)[0]; r.Kind != provider.Delivered {
		t.Fatalf("%v: %s %v", r.Kind, r.Reason, r.Err)
	}
	raw, ok := f.LastMessage(token(1))
	if !ok {
		t.Fatal("no message kept")
	}
	var m struct {
		Token   string            `json:"token"`
		Data    map[string]string `json:"data"`
		Android struct {
			TTL          string `json:"ttl"`
			Priority     string `json:"priority"`
			CollapseKey  string `json:"collapse_key"`
			Notification struct {
				ChannelID string `json:"channel_id"`
				Sound     string `json:"sound"`
			} `json:"notification"`
		} `json:"android"`
		APNs struct {
			Headers map[string]string `json:"headers"`
			Payload struct {
				Aps map[string]any `json:"aps"`
			} `json:"payload"`
		} `json:"apns"`
		Webpush struct {
			Headers map[string]string `json:"headers"`
		} `json:"webpush"`
		FCMOptions struct {
			AnalyticsLabel string `json:"analytics_label"`
		} `json:"fcm_options"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	checks := []struct{ name, got, want string }{
		{"token", m.Token, token(1)},
		{"data.n", m.Data["n"], "42"},
		{"data.obj", m.Data["obj"], `{"a":[1,"x"]}`},
		{"data.s", m.Data["s"], "str"},
		{"android.priority", m.Android.Priority, "normal"},
		{"android.collapse_key", m.Android.CollapseKey, "c"},
		{"android.notification.channel_id", m.Android.Notification.ChannelID, "news"},
		{"android.notification.sound", m.Android.Notification.Sound, "ping"},
		{"apns.headers.apns-priority", m.APNs.Headers["apns-priority"], "5"},
		{"apns.payload.aps.interruption-level", m.APNs.Payload.Aps["interruption-level"].(string), "passive"},
		{"webpush.headers.Topic", m.Webpush.Headers["Topic"], "t"},
		{"webpush.headers.Urgency", m.Webpush.Headers["Urgency"], "normal"},
		{"fcm_options.analytics_label", m.FCMOptions.AnalyticsLabel, "label_1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if ttl, err := time.ParseDuration(m.Android.TTL); err != nil || ttl <= 9*time.Minute || ttl > 10*time.Minute {
		t.Errorf("android.ttl = %q, want about 10m", m.Android.TTL)
	}
}

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

// TestSilentWireMessage: a silent push reaches FCM as a data message (no
// notification block anywhere) that iOS devices get as a background push;
// the fake validates it as FCM would.
func TestSilentWireMessage(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{KeepMessages: true})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	j := newJob("app", token(1))
	j.Notification = events.Notification{Silent: true, Priority: events.PriorityHigh, Data: map[string]any{"cmd": "sync", "n": 2}}
	if r := send(t, s, j, 5*time.Second)[0]; r.Kind != provider.Delivered {
		t.Fatalf("%v: %s %v", r.Kind, r.Reason, r.Err)
	}
	raw, ok := f.LastMessage(token(1))
	if !ok {
		t.Fatal("no message kept")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if _, shown := m["notification"]; shown {
		t.Fatalf("silent push carries a notification block: %s", raw)
	}
	var got struct {
		Data    map[string]string `json:"data"`
		Android struct {
			Priority     string          `json:"priority"`
			Notification json.RawMessage `json:"notification"`
		} `json:"android"`
		APNs struct {
			Headers map[string]string `json:"headers"`
			Payload struct {
				Aps map[string]any `json:"aps"`
			} `json:"payload"`
		} `json:"apns"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	if got.Data["cmd"] != "sync" || got.Data["n"] != "2" || got.Android.Priority != "high" || got.Android.Notification != nil {
		t.Errorf("data message %s", raw)
	}
	if got.APNs.Headers["apns-push-type"] != "background" || got.APNs.Headers["apns-priority"] != "5" ||
		got.APNs.Payload.Aps["content-available"] != 1.0 || len(got.APNs.Payload.Aps) != 1 {
		t.Errorf("iOS part of a silent push %s", raw)
	}
}

package gateway_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func toIntent(t *testing.T, body string, now time.Time) (*events.Intent, *gateway.ItemError) {
	t.Helper()
	var n gateway.GorushNotification
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		t.Fatal(err)
	}
	return n.ToIntent("shop", now)
}

func TestGorushFieldMapping(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	in, e := toIntent(t, `{"tokens":["a"],"platform":1,"message":"m","expiration":1893456000,"collapse_id":"c1",
		"priority":"HIGH","sound":"ping","thread-id":"th","category":"cat","push_type":"alert","mutable_content":true,
		"alert":{"title":"only title"},"interruption_level":"time-sensitive","apns":{"custom":{"k":1}},"topic":"com.example.shop"}`, now)
	if e != nil {
		t.Fatal(e)
	}
	nt := in.Notification
	if nt.Expiry == nil || !nt.Expiry.Equal(time.Unix(1893456000, 0)) || nt.CollapseKey != "c1" || nt.Priority != events.PriorityHigh ||
		nt.Sound != "ping" || nt.ThreadID != "th" || nt.Category != "cat" || nt.PushType != "alert" || !nt.MutableContent || nt.Title != "only title" {
		t.Errorf("notification %+v", nt)
	}
	o := in.Overrides.APNs
	if _, rich := o.Aps["alert"]; rich {
		t.Error("a title-only alert became an aps override")
	}
	if string(o.Aps["interruption-level"]) != `"time-sensitive"` || string(o.Payload["custom"]) != `{"k":1}` {
		t.Errorf("apns overrides %+v", o)
	}
	if in.ID != "" || in.App != "shop" {
		t.Errorf("id %q app %q: the id is the caller's, the app the request's", in.ID, in.App)
	}

	in, e = toIntent(t, `{"tokens":["a"],"platform":2,"message":"m","time_to_live":3600,"image":"https://x/i.png",
		"restricted_package_name":"com.example","notification":{"body_loc_key":"k","body_loc_args":"one","channel_id":"orders"}}`, now)
	if e != nil {
		t.Fatal(e)
	}
	if in.Notification.Expiry == nil || !in.Notification.Expiry.Equal(now.Add(time.Hour)) {
		t.Errorf("expiry %v, want now + 1h", in.Notification.Expiry)
	}
	var android struct {
		Notification          map[string]any `json:"notification"`
		RestrictedPackageName string         `json:"restricted_package_name"`
	}
	if err := json.Unmarshal(in.Overrides.FCM.Android, &android); err != nil {
		t.Fatal(err)
	}
	args, _ := android.Notification["body_loc_args"].([]any)
	if android.RestrictedPackageName != "com.example" || android.Notification["image"] != "https://x/i.png" ||
		len(args) != 1 || args[0] != "one" || android.Notification["channel_id"] != "orders" {
		t.Errorf("android override %s", in.Overrides.FCM.Android)
	}

	for _, bad := range []struct{ body, field string }{
		{`{"tokens":["a"],"platform":3,"message":"m"}`, "platform"},
		{`{"tokens":["a"],"platform":2,"message":"m","topic":"news"}`, "topic"},
		{`{"condition":"'a' in topics","platform":2,"message":"m"}`, "to"},
		{`{"tokens":["a"],"platform":1,"message":"m","sound":5}`, "sound"},
		{`{"tokens":["a"],"platform":2,"message":"m","time_to_live":-1}`, "time_to_live"},
	} {
		if _, e := toIntent(t, bad.body, now); e == nil || e.Field != bad.field {
			t.Errorf("%s: error %+v, want field %s", bad.body, e, bad.field)
		}
	}
}

package events_test

import (
	"encoding/json"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Push to all, platform filters and silent pushes are checked at intake:
// each bad shape is refused naming the field and the reason.
func TestIntakeAllPlatformsAndSilent(t *testing.T) {
	const head = `{"id":"a","app":"shop",`
	tests := []struct {
		name, body string
		field      string // "" when valid
		reason     string
	}{
		{"all", `"targets":{"all":true},"notification":{"title":"t","body":"b"}`, "", ""},
		{"all filtered", `"targets":{"all":true,"platforms":["apns","fcm"]},"notification":{"title":"t"}`, "", ""},
		{"alias filtered", `"targets":{"alias":"u","platforms":["mi"]},"notification":{"title":"t","body":"b"}`, "", ""},
		{"tag filtered", `"targets":{"tag":"news","platforms":["fcm"]},"notification":{"title":"t"}`, "", ""},
		{"all false is no target", `"targets":{"all":false},"notification":{"title":"t"}`, "targets", "is required"},
		{"all and tag", `"targets":{"all":true,"tag":"news"},"notification":{"title":"t"}`, "targets", "exactly one"},
		{"all and tokens", `"targets":{"all":true,"tokens":[{"platform":"fcm","token":"x"}]},"notification":{"title":"t"}`, "targets", "exactly one"},
		{"filter on tokens", `"targets":{"tokens":[{"platform":"fcm","token":"x"}],"platforms":["fcm"]},"notification":{"title":"t"}`, "targets.platforms", "tokens and topics name"},
		{"empty filter", `"targets":{"all":true,"platforms":[]},"notification":{"title":"t"}`, "targets.platforms", "no device"},
		{"unknown platform", `"targets":{"all":true,"platforms":["apns","webos"]},"notification":{"title":"t"}`, "targets.platforms[1]", "unknown platform"},
		{"repeated platform", `"targets":{"tag":"n","platforms":["fcm","fcm"]},"notification":{"title":"t"}`, "targets.platforms[1]", "twice"},
		{"mi filter, title only", `"targets":{"all":true,"platforms":["mi"]},"notification":{"title":"t"}`, "notification.body", "MiPush"},
		{"silent", `"targets":{"all":true},"notification":{"silent":true,"data":{"cmd":"sync"}}`, "", ""},
		{"silent, mi tokens", `"targets":{"tokens":[{"platform":"mi","token":"m"}]},"notification":{"silent":true,"data":{"cmd":"sync"},"priority":"high"}`, "", ""},
		{"silent background", `"targets":{"tokens":[{"platform":"apns","token":"ab"}]},"notification":{"silent":true,"push_type":"background","data":{"c":1}}`, "", ""},
		{"silent with title", `"targets":{"all":true},"notification":{"silent":true,"title":"t","data":{"c":1}}`, "notification.title", "never shown"},
		{"silent with body", `"targets":{"all":true},"notification":{"silent":true,"body":"b","data":{"c":1}}`, "notification.body", "never shown"},
		{"silent with sound", `"targets":{"all":true},"notification":{"silent":true,"sound":"ding","data":{"c":1}}`, "notification.sound", "never shown"},
		{"silent with badge", `"targets":{"all":true},"notification":{"silent":true,"badge":1,"data":{"c":1}}`, "notification.badge", "never shown"},
		{"silent mutable", `"targets":{"all":true},"notification":{"silent":true,"mutable_content":true,"data":{"c":1}}`, "notification.mutable_content", "never shown"},
		{"silent alert push type", `"targets":{"all":true},"notification":{"silent":true,"push_type":"alert","data":{"c":1}}`, "notification.push_type", "background"},
		{"silent without data", `"targets":{"all":true},"notification":{"silent":true,"content_available":true}`, "notification.data", "required in a silent push"},
		{"silent, mi not pass-through", `"targets":{"tokens":[{"platform":"mi","token":"m"}]},"notification":{"silent":true,"data":{"c":1}},"overrides":{"mi":{"pass_through":false}}`, "overrides.mi.pass_through", "pass-through"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkIntake(t, head+tc.body+"}", tc.field, tc.reason) })
	}
}

// The new fields survive an encode/decode round trip (jobs and schedules
// carry them).
func TestAllAndSilentRoundTrip(t *testing.T) {
	in := events.Intent{ID: "a", App: "shop",
		Targets:      events.Targets{All: true, Platforms: []events.Platform{events.Mi}},
		Notification: events.Notification{Silent: true, Data: map[string]any{"cmd": "sync"}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := events.DecodeIntent(b, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Targets.All || len(out.Targets.Platforms) != 1 || !out.Notification.Silent {
		t.Fatalf("round trip lost fields: %s → %+v", b, out)
	}
	if !out.Targets.Includes(events.Mi) || out.Targets.Includes(events.APNs) {
		t.Fatal("Includes ignores the filter")
	}
	if (&events.Targets{All: true}).Includes(events.APNs) == false {
		t.Fatal("no filter must include every platform")
	}
}

// A silent push is an APNs background push: push type background, only
// content-available in aps, whatever else the notification asks for.
func TestSilentAPNsPayload(t *testing.T) {
	n := &events.Notification{Silent: true, Data: map[string]any{"cmd": "sync"}, ThreadID: "th"}
	if pt := events.APNsPushType(n); pt != "background" {
		t.Fatalf("push type %q, want background", pt)
	}
	b, err := events.APNsPayload(n, events.APNsPushType(n), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.Unmarshal(b, &got)
	aps, _ := got["aps"].(map[string]any)
	if aps["content-available"] != float64(1) || aps["alert"] != nil || aps["sound"] != nil || aps["badge"] != nil || got["cmd"] != "sync" {
		t.Fatalf("silent APNs payload %s", b)
	}
}

package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// gorushExamples are the request bodies documented in gorush's README
// (appleboy/gorush, "POST /api/push", "iOS Example", "Android Example"),
// each with what pushfleet must make of it.
var gorushExamples = []struct {
	name   string
	body   string
	status int
	counts int
	check  func(t *testing.T, ins []*events.Intent)
}{
	{
		name:   "simple iOS",
		body:   `{"notifications":[{"tokens":["token_a","token_b"],"platform":1,"message":"Hello World iOS!"}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			wantTargets(t, ins[0], events.APNs, "token_a", "token_b")
			wantText(t, ins[0], "", "Hello World iOS!")
		},
	},
	{
		name:   "simple Android",
		body:   `{"notifications":[{"tokens":["token_a","token_b"],"platform":2,"message":"Hello World Android!"}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			wantTargets(t, ins[0], events.FCM, "token_a", "token_b")
			wantText(t, ins[0], "", "Hello World Android!")
		},
	},
	{
		name:   "iOS and Android through Firebase",
		body:   `{"notifications":[{"tokens":["token_a","token_b"],"platform":2,"message":"This notification will go to iOS and Android platform via Firebase!"}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) { wantTargets(t, ins[0], events.FCM, "token_a", "token_b") },
	},
	{
		name: "multiple notifications",
		body: `{"notifications":[
			{"tokens":["token_a","token_b"],"platform":1,"message":"Hello World iOS!"},
			{"tokens":["token_a","token_b"],"platform":2,"message":"Hello World Android!"},
			{"tokens":["token_a","token_b"],"platform":2,"message":"Hello World!"}]}`,
		status: 200, counts: 6,
		check: func(t *testing.T, ins []*events.Intent) {
			if len(ins) != 3 {
				t.Fatalf("%d intents, want 3", len(ins))
			}
			wantTargets(t, ins[0], events.APNs, "token_a", "token_b")
			wantTargets(t, ins[1], events.FCM, "token_a", "token_b")
			wantText(t, ins[2], "", "Hello World!")
		},
	},
	{
		name: "iOS alert with badge",
		body: `{"notifications":[{"tokens":["token_a","token_b"],"platform":1,"badge":5,
			"alert":{"title":"Game Request","body":"Bob wants to play poker","action-loc-key":"PLAY"}}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			in := ins[0]
			wantText(t, in, "Game Request", "Bob wants to play poker")
			if in.Notification.Badge == nil || *in.Notification.Badge != 5 {
				t.Errorf("badge %v, want 5", in.Notification.Badge)
			}
			var alert map[string]string
			if in.Overrides == nil || in.Overrides.APNs == nil || json.Unmarshal(in.Overrides.APNs.Aps["alert"], &alert) != nil {
				t.Fatalf("no aps alert override: %+v", in.Overrides)
			}
			if alert["action-loc-key"] != "PLAY" || alert["title"] != "Game Request" || alert["body"] != "Bob wants to play poker" {
				t.Errorf("aps alert %v", alert)
			}
		},
	},
	{
		name: "iOS critical sound",
		body: `{"notifications":[{"tokens":["token_a","token_b"],"platform":1,"message":"You got your emails.","badge":9,
			"sound":{"critical":1,"name":"default","volume":1.0}}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			in := ins[0]
			if in.Notification.Sound != "default" {
				t.Errorf("sound %q", in.Notification.Sound)
			}
			var sound map[string]any
			if in.Overrides == nil || in.Overrides.APNs == nil || json.Unmarshal(in.Overrides.APNs.Aps["sound"], &sound) != nil {
				t.Fatalf("no aps sound override: %+v", in.Overrides)
			}
			if sound["critical"] != float64(1) || sound["name"] != "default" || sound["volume"] != float64(1) {
				t.Errorf("aps sound %v", sound)
			}
		},
	},
	{
		name:   "iOS custom data",
		body:   `{"notifications":[{"tokens":["token_a","token_b"],"platform":1,"message":"Hello World iOS!","data":{"key1":"welcome","key2":2}}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			d := ins[0].Notification.Data
			if d["key1"] != "welcome" || d["key2"] != float64(2) {
				t.Errorf("data %v", d)
			}
		},
	},
	{
		name: "iOS production and sandbox",
		body: `{"notifications":[
			{"tokens":["token_a","token_b"],"platform":1,"production":true,"message":"Hello World iOS Production!"},
			{"tokens":["token_a","token_b"],"platform":1,"development":true,"message":"Hello World iOS Sandbox!"}]}`,
		status: 200, counts: 4,
		check: func(t *testing.T, ins []*events.Intent) { wantText(t, ins[1], "", "Hello World iOS Sandbox!") },
	},
	{
		name:   "Android with title",
		body:   `{"notifications":[{"tokens":["token_a","token_b"],"platform":2,"message":"Hello World Android!","title":"You got message"}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			wantText(t, ins[0], "You got message", "Hello World Android!")
		},
	},
	{
		name: "Android notification payload",
		body: `{"notifications":[{"tokens":["token_a","token_b"],"platform":2,"message":"Hello World Android!","title":"You got message",
			"notification":{"icon":"myicon","color":"#112244"}}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			var android struct {
				Notification map[string]string `json:"notification"`
			}
			in := ins[0]
			if in.Overrides == nil || in.Overrides.FCM == nil || json.Unmarshal(in.Overrides.FCM.Android, &android) != nil {
				t.Fatalf("no fcm android override: %+v", in.Overrides)
			}
			if android.Notification["icon"] != "myicon" || android.Notification["color"] != "#112244" {
				t.Errorf("android notification %v", android.Notification)
			}
		},
	},
	{
		name: "Android custom data",
		body: `{"notifications":[{"tokens":["token_a","token_b"],"platform":2,"message":"Hello World Android!","title":"You got message",
			"data":{"Nick":"Mario","body":"great match!","Room":"PortugalVSDenmark"}}]}`,
		status: 200, counts: 2,
		check: func(t *testing.T, ins []*events.Intent) {
			d := ins[0].Notification.Data
			if d["Nick"] != "Mario" || d["body"] != "great match!" || d["Room"] != "PortugalVSDenmark" {
				t.Errorf("data %v", d)
			}
		},
	},
	{
		// pushfleet sends to device tokens only: an FCM topic is refused
		// with a reason, never silently dropped.
		name:   "Android topic (unsupported)",
		body:   `{"notifications":[{"to":"/topics/foo-bar","platform":2,"message":"This is a Firebase Cloud Messaging Topic Message"}]}`,
		status: 422,
	},
}

func wantTargets(t *testing.T, in *events.Intent, p events.Platform, tokens ...string) {
	t.Helper()
	if len(in.Targets.Tokens) != len(tokens) {
		t.Fatalf("targets %+v, want %v on %s", in.Targets, tokens, p)
	}
	for i, tg := range in.Targets.Tokens {
		if tg.Platform != p || tg.Token != tokens[i] {
			t.Errorf("target %d = %+v, want %s %s", i, tg, p, tokens[i])
		}
	}
}

func wantText(t *testing.T, in *events.Intent, title, body string) {
	t.Helper()
	if in.Notification.Title != title || in.Notification.Body != body {
		t.Errorf("title/body %q/%q, want %q/%q", in.Notification.Title, in.Notification.Body, title, body)
	}
}

func TestGorushDocumentedExamples(t *testing.T) {
	h := newHarness(t, nil)
	for i, ex := range gorushExamples {
		t.Run(ex.name, func(t *testing.T) {
			r := h.do("POST", "/api/push", keyShop, ex.body, "Idempotency-Key", "readme-"+string(rune('a'+i)))
			if r.status != ex.status {
				t.Fatalf("status %d, want %d: %s", r.status, ex.status, r.body)
			}
			if ex.status != 200 {
				r.problem(t)
				return
			}
			var resp gateway.GorushResponse
			r.json(t, &resp)
			if resp.Counts != ex.counts || resp.Success != "ok" || resp.Logs == nil || len(resp.Logs) != 0 {
				t.Fatalf("response %s, want counts %d, logs [], success ok", r.body, ex.counts)
			}
			if !strings.Contains(string(r.body), `"logs":[]`) {
				t.Errorf("logs is not an empty array: %s", r.body)
			}
			var ins []*events.Intent
			for _, x := range resp.Intents {
				m := h.stored(x.Seq)
				if m.Subject != "push.intents.shop" || m.Header.Get("Nats-Msg-Id") != "shop:"+x.ID {
					t.Errorf("stored on %s with Nats-Msg-Id %q, want push.intents.shop, shop:%s", m.Subject, m.Header.Get("Nats-Msg-Id"), x.ID)
				}
				in, err := events.DecodeIntent(m.Data, events.Limits{})
				if err != nil {
					t.Fatalf("stored intent: %v", err)
				}
				ins = append(ins, in)
			}
			ex.check(t, ins)
			// The same request again is deduplicated: the Idempotency-Key
			// names each notification.
			r = h.do("POST", "/api/push", keyShop, ex.body, "Idempotency-Key", "readme-"+string(rune('a'+i)))
			r.json(t, &resp)
			for _, x := range resp.Intents {
				if !x.Duplicate {
					t.Errorf("retry of %s not a duplicate", x.ID)
				}
			}
		})
	}
}

func TestGorushRequestErrors(t *testing.T) {
	h := newHarness(t, func(c *gateway.Config) { c.MaxBatch = 2 })
	cases := []struct {
		name, body string
		status     int
		detail     string
	}{
		{"missing notifications", `{}`, 400, "Missing notifications field."},
		{"empty notifications", `{"notifications":[]}`, 400, "Notifications field is empty."},
		{"over the limit", `{"notifications":[{"tokens":["a"],"platform":2,"message":"m"},{"tokens":["a"],"platform":2,"message":"m"},{"tokens":["a"],"platform":2,"message":"m"}]}`, 400, "Number of notifications(3) over limit(2)"},
		{"no platform", `{"notifications":[{"tokens":["a"],"message":"m"}]}`, 422, "platform"},
		{"unknown platform", `{"notifications":[{"tokens":["a"],"platform":9,"message":"m"}]}`, 422, "9 is unknown"},
		{"no tokens", `{"notifications":[{"platform":1,"message":"m"}]}`, 422, "tokens"},
		{"dry run", `{"notifications":[{"tokens":["a"],"platform":2,"message":"m","dry_run":true}]}`, 422, "dry_run"},
		{"bad priority", `{"notifications":[{"tokens":["a"],"platform":2,"message":"m","priority":"urgent"}]}`, 422, "priority"},
		{"empty notification", `{"notifications":[{"tokens":["a"],"platform":2}]}`, 422, "notification"},
		{"not an android field", `{"notifications":[{"tokens":["a"],"platform":2,"message":"m","notification":{"colour":"#fff"}}]}`, 422, "notification.colour"},
		{"not JSON", `{"notifications":`, 400, "gorush request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/api/push", keyShop, tc.body)
			p := r.problem(t)
			if r.status != tc.status || !strings.Contains(p.Detail+" "+p.Field, tc.detail) {
				t.Fatalf("status %d %s, want %d containing %q", r.status, r.body, tc.status, tc.detail)
			}
		})
	}
	if h.count() != 0 {
		t.Errorf("%d intents stored, want none", h.count())
	}
	// gorush reads JSON whatever the Content-Type says (curl -d sends a form type).
	r := h.do("POST", "/api/push", keyShop, `{"notifications":[{"tokens":["a"],"platform":2,"message":"m"}]}`,
		"Content-Type", "application/x-www-form-urlencoded")
	if r.status != 200 {
		t.Fatalf("curl -d style request: %d %s", r.status, r.body)
	}
}

func TestGorushStat(t *testing.T) {
	h := newHarness(t, nil)
	h.do("POST", "/api/push", keyShop, `{"notifications":[{"tokens":["a","b"],"platform":1,"message":"m"},{"tokens":["c"],"platform":2,"message":"m"}]}`)
	h.do("POST", "/api/push", keyShop, `{"notifications":[{"tokens":["d"],"platform":3,"message":"m"}]}`)
	h.do("POST", "/v1/intents", keyShop, intent("n1", "shop"))
	st := h.stat(t)
	if st.IOS.PushSuccess != 2 || st.Android.PushSuccess != 1 || st.Huawei.PushError != 1 || st.TotalCount != 4 {
		t.Errorf("stat %+v", st)
	}
	if st.Intents["published"] != 3 || st.Note == "" || st.Since.IsZero() {
		t.Errorf("stat intents %v note %q since %v", st.Intents, st.Note, st.Since)
	}
}

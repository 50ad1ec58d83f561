package main

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// pushctl send builds every kind of target and content from flags: all
// devices, a platform filter, topics, a silent push with data, confirmed
// delivery; what does not fit together is refused (exit 2) with the
// intent's reason.
func TestSendTargetFlags(t *testing.T) {
	e := setup(t)
	intents, err := e.js.Stream(context.Background(), events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want func(in *events.Intent) bool
		err  string // refused with this in the reason
	}{
		{"all filtered", []string{"--all", "--platforms", "apns,fcm", "--title", "t"},
			func(in *events.Intent) bool {
				return in.Targets.All && reflect.DeepEqual(in.Targets.Platforms, []events.Platform{events.APNs, events.FCM})
			}, ""},
		{"topics", []string{"--topic", "fcm:news", "--condition", "'a' in topics", "--broadcast", "mi", "--title", "t", "--body", "b"},
			func(in *events.Intent) bool {
				return reflect.DeepEqual(in.Targets.Topics, []events.Topic{{Platform: events.FCM, Topic: "news"},
					{Platform: events.FCM, Condition: "'a' in topics"}, {Platform: events.Mi, All: true}})
			}, ""},
		{"silent", []string{"--tag", "news", "--silent", "--data", "cmd=resync"},
			func(in *events.Intent) bool { return in.Notification.Silent && in.Notification.Data["cmd"] == "resync" }, ""},
		{"confirm", []string{"--alias", "u1", "--title", "t", "--confirm-within", "1h", "--resend-every", "15m"},
			func(in *events.Intent) bool {
				return in.Confirm != nil && in.Confirm.Within.D() == time.Hour && in.Confirm.ResendEvery.D() == 15*time.Minute
			}, ""},
		{"silent with title", []string{"--all", "--silent", "--data", "c=1", "--title", "t"}, nil, "never shown"},
		{"filter on tokens", []string{"--platform", "apns", "--token", "ab01", "--platforms", "fcm", "--title", "t"}, nil, "targets.platforms"},
		{"all and tag", []string{"--all", "--tag", "x", "--title", "t"}, nil, "exactly one"},
		{"resend without confirm", []string{"--all", "--title", "t", "--resend-every", "1m"}, nil, "--confirm-within"},
		{"bad topic", []string{"--topic", "news", "--title", "t"}, nil, "PLATFORM:NAME"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.run(t, "", append([]string{"send", "--app", "demo"}, tc.args...)...)
			if tc.err != "" {
				if exitCode(err) != exitUsage || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("exit %d, %v; want a refusal naming %q", exitCode(err), err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("send: %v\n%s", err, out)
			}
			m, err := intents.GetLastMsgForSubject(context.Background(), events.IntentSubject("demo"))
			if err != nil {
				t.Fatal(err)
			}
			var in events.Intent
			if err := json.Unmarshal(m.Data, &in); err != nil {
				t.Fatal(err)
			}
			if in.ID != strings.TrimSpace(out) || !tc.want(&in) {
				t.Fatalf("published %s", m.Data)
			}
		})
	}
}

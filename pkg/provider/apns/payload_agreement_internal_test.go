package apns

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// bodyFor returns a body of x's that makes the APNs payload of n exactly
// size bytes (n's body is replaced).
func bodyFor(t *testing.T, n events.Notification, o *events.APNsOverrides, size int) string {
	t.Helper()
	n.Body = "x"
	b, err := events.APNsPayload(&n, events.APNsPushType(&n), o)
	if err != nil {
		t.Fatal(err)
	}
	if size < len(b) {
		t.Fatalf("payload is %d bytes with a 1-byte body, over %d", len(b), size)
	}
	return strings.Repeat("x", 1+size-len(b))
}

// Intake (events.Intent.ValidateFor) and the APNs sender (buildMessage)
// must agree on every notification: intake refuses exactly what the sender
// would refuse (a payload over APNs' limit, a reserved key, a malformed
// override), so that nothing accepted at intake is certain to fail at APNs
// and nothing sendable is refused; and the payload the size was checked on
// is the payload sent, byte for byte. Overrides, data, null deletions,
// escaping and the 4096/5120 boundaries are where two builders would drift.
func TestIntakeAndSenderAgreeOnAPNsPayload(t *testing.T) {
	badge := 3
	data := map[string]any{"conversation": "c-123", "n": 1.5, "nested": map[string]any{"a": []any{1, "b", nil}}, "html": "<b>&</b>"}
	overrides := &events.APNsOverrides{
		Payload: map[string]json.RawMessage{
			"extra":        json.RawMessage(`{"k":"v"}`),
			"conversation": json.RawMessage(`null`), // deletes a data key
			"aps":          json.RawMessage(`{"interruption-level":"time-sensitive","sound":null}`),
		},
		Aps: map[string]json.RawMessage{"relevance-score": json.RawMessage(`0.5`), "badge": json.RawMessage(`null`)},
	}
	alert := events.Notification{Title: "New message", Body: "from Alice", Sound: "default", Badge: &badge,
		ThreadID: "c-123", Category: "MSG", MutableContent: true}
	withData := alert
	withData.Data = data
	silent := events.Notification{ContentAvailable: true, Data: map[string]any{"sync": "inbox"}}
	backgroundWithTitle := events.Notification{PushType: "background", Title: strings.Repeat("t", 5000), Data: map[string]any{"k": "v"}}
	voip := events.Notification{PushType: "voip", Data: map[string]any{"call": "c-9"}}
	escaped := events.Notification{Title: "t", Body: strings.Repeat("<", 700)} // 6 bytes each once escaped

	type tc struct {
		name string
		n    events.Notification
		o    *events.APNsOverrides
		// size, when set, pads the body to make the payload exactly size bytes.
		size int
		ok   bool
	}
	tests := []tc{
		{"alert", alert, nil, 0, true},
		{"alert with data", withData, nil, 0, true},
		{"alert with data and overrides", withData, overrides, 0, true},
		{"silent", silent, nil, 0, true},
		{"silent with overrides", silent, overrides, 0, true},
		{"background drops a huge title", backgroundWithTitle, nil, 0, true},
		{"escaping counts", escaped, nil, 0, false},
		{"alert at 4096", alert, nil, 4096, true},
		{"alert at 4097", alert, nil, 4097, false},
		{"data and overrides at 4096", withData, overrides, 4096, true},
		{"data and overrides at 4097", withData, overrides, 4097, false},
		{"voip at 5120", voip, nil, 5120, true},
		{"voip at 5121", voip, nil, 5121, false},
		{"voip-sized alert at 4500", alert, nil, 4500, false},
		{"null override shrinks it under 4096", events.Notification{Title: "t", Body: strings.Repeat("x", 4200)}, &events.APNsOverrides{Aps: map[string]json.RawMessage{"alert": json.RawMessage(`null`)}}, 0, true},
		{"override grows it over 4096", alert, &events.APNsOverrides{Payload: map[string]json.RawMessage{"pad": json.RawMessage(`"` + strings.Repeat("p", 4100) + `"`)}}, 0, false},
		{"data key aps", events.Notification{Title: "t", Data: map[string]any{"aps": 1}}, nil, 0, false},
		{"payload.aps not an object", alert, &events.APNsOverrides{Payload: map[string]json.RawMessage{"aps": json.RawMessage(`5`)}}, 0, false},
	}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := tt.n
			if tt.size > 0 {
				n.Body = bodyFor(t, n, tt.o, tt.size)
			}
			var ov *events.Overrides
			if tt.o != nil {
				ov = &events.Overrides{APNs: tt.o}
			}
			job := &events.Job{ID: "i.apns.0.1a2b3c4d", IntentID: "i", App: "shop", Platform: events.APNs,
				Tokens: []string{"ab01"}, Notification: n, Overrides: ov, CreatedAt: now}
			in := &events.Intent{ID: "i", App: "shop", Notification: n, Overrides: ov,
				Targets: events.Targets{Tokens: []events.Target{{Platform: events.APNs, Token: "ab01"}}}}

			m, sendErr := buildMessage(job, "com.example.app", now)
			intakeErr := in.ValidateFor(events.APNs)
			if (sendErr == nil) != tt.ok || (intakeErr == nil) != tt.ok {
				t.Fatalf("sender: %v; intake: %v; want ok=%v from both", sendErr, intakeErr, tt.ok)
			}
			if !tt.ok {
				// The same class of refusal: too large at both, or malformed at both.
				tooLarge := errors.Is(sendErr, provider.ErrPayloadTooLarge)
				if !tooLarge && !errors.Is(sendErr, provider.ErrBadMessage) {
					t.Fatalf("sender error %v wraps neither ErrPayloadTooLarge nor ErrBadMessage", sendErr)
				}
				if got := strings.Contains(intakeErr.Error(), "over APNs' limit"); got != tooLarge {
					t.Fatalf("sender: %v; intake: %v: not the same refusal", sendErr, intakeErr)
				}
				return
			}
			if m.pushType != events.APNsPushType(&n) {
				t.Fatalf("sender push type %q, intake's %q", m.pushType, events.APNsPushType(&n))
			}
			checked, err := events.APNsPayload(&n, events.APNsPushType(&n), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.payload, checked) {
				t.Fatalf("payload sent differs from the payload checked:\nsent:    %s\nchecked: %s", m.payload, checked)
			}
			if tt.size > 0 && len(m.payload) != tt.size {
				t.Fatalf("payload of %d bytes, want exactly %d", len(m.payload), tt.size)
			}
			if len(m.payload) > events.APNsPayloadLimit(m.pushType) {
				t.Fatalf("payload of %d bytes accepted over the limit", len(m.payload))
			}
			var top map[string]any
			if err := json.Unmarshal(m.payload, &top); err != nil || top["aps"] == nil {
				t.Fatalf("payload %s: %v, want a JSON object with aps", m.payload, err)
			}
		})
	}
}

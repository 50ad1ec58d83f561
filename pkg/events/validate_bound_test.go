package events

import (
	"encoding/json"
	"strings"
	"testing"
)

// fitsAPNs skips building the APNs payload only where it cannot be over
// the limit: for the intents that expand most when re-encoded (every
// character a '<', which encoding/json writes as 6 bytes), in every field
// the payload copies, the built payload stays within APNs' limit whenever
// fitsAPNs says so, and DecodeIntent still refuses an intent over it.
func TestFitsAPNsIsAnUpperBound(t *testing.T) {
	worst := func(n int) *Intent {
		s := strings.Repeat("<", n)
		// Numbers re-encode longest as 1e20 → 100000000000000000000.
		data := map[string]any{s: s, "n": 1e20}
		return &Intent{ID: "x", App: "a", Targets: Targets{Tokens: []Target{{Platform: APNs, Token: "ab"}}},
			Notification: Notification{Title: s, Body: s, Sound: s, Category: s, ThreadID: s, Data: data},
			Overrides:    &Overrides{APNs: &APNsOverrides{}}}
	}
	for n := 0; n < 400; n += 7 {
		in := worst(n)
		raw, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		if !fitsAPNs(len(raw)) {
			continue
		}
		b, err := APNsPayload(&in.Notification, APNsPushType(&in.Notification), in.Overrides.APNs)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > APNsMaxPayload {
			t.Fatalf("a %d-byte intent fits by the bound, but its payload is %d bytes", len(raw), len(b))
		}
	}
	big := worst(0)
	big.Notification = Notification{Title: strings.Repeat("a", 4100)} // under MaxPayloadBytes, over APNs'
	raw, _ := json.Marshal(big)
	if fitsAPNs(len(raw)) {
		t.Fatal("a large intent passes the bound")
	}
	if _, err := DecodeIntent(raw, Limits{}); err == nil || !strings.Contains(err.Error(), "APNs payload would be") {
		t.Fatalf("DecodeIntent of a payload over APNs' limit: %v", err)
	}
	if !fitsAPNs(264) {
		t.Fatal("a typical one-token intent (264 bytes) still builds its payload to be checked")
	}
}

package events_test

import (
	"errors"
	"flag"
	"slices"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// A declared custom platform is valid and named like the built-ins in
// streams, subjects and durables; the built-ins are unchanged; bad or
// reserved names are refused with a reason.
func TestDeclarePlatform(t *testing.T) {
	if events.Platform("hook_t").Valid() {
		t.Fatal("hook_t valid before it was declared")
	}
	var l events.PlatformList
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&l, "platforms", "")
	if err := fs.Parse([]string{"--platforms", "hook_t, sms_t", "--platforms", "hook_t"}); err != nil {
		t.Fatal(err)
	}
	if l.String() != "hook_t,sms_t" {
		t.Fatalf("list %q", l.String())
	}
	p := events.Platform("hook_t")
	if !p.Valid() || !p.Custom() || events.APNs.Custom() {
		t.Fatal("hook_t not valid and custom after --platforms, or APNs custom")
	}
	if got, err := events.ParsePlatform("hook_t"); err != nil || got != p {
		t.Fatalf("ParsePlatform: %v %v", got, err)
	}
	for _, tc := range [][2]string{
		{events.SendStream(p), "PUSH_SEND_HOOK_T"},
		{events.RetryStream(p), "PUSH_RETRY_HOOK_T"},
		{events.SenderDurable(p), "hook_t-sender"},
		{events.SendSubject(p, "shop"), "push.send.hook_t.shop"},
		{events.SendStream(events.FCM), "PUSH_SEND_FCM"},
		{events.SenderDurable(events.FCM), "gcm-sender"},
		{events.SendStream("undeclared"), ""},
	} {
		if tc[0] != tc[1] {
			t.Errorf("got %q, want %q", tc[0], tc[1])
		}
	}
	if !slices.Equal(events.Platforms[:3], []events.Platform{events.APNs, events.FCM, events.Mi}) ||
		!slices.Contains(events.CustomPlatforms(), p) {
		t.Fatalf("Platforms %v, custom %v", events.Platforms, events.CustomPlatforms())
	}
	if p.ReplacesTokens() || !p.Reports(events.Delivered) || p.Reports(events.TokenReplaced) {
		t.Fatal("a custom platform reports every outcome but token_replaced")
	}
	for _, bad := range []string{"apns", "gcm", "feedback", "Web", "9x", "a.b", "", "with-dash", "a234567890123456789012345678901x"} {
		if _, err := events.DeclarePlatform(bad); !errors.Is(err, events.ErrInvalid) {
			t.Errorf("DeclarePlatform(%q): %v, want ErrInvalid", bad, err)
		}
	}
	// Feedback and jobs of the declared platform decode.
	if _, err := events.DecodeJob([]byte(`{"id":"j","app":"shop","platform":"hook_t","tokens":["https://x"]}`)); err != nil {
		t.Fatal(err)
	}
}

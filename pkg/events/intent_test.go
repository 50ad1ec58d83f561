package events_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/pushfleet/pushfleet/pkg/events"
)

func TestDecodeIntentErrorsNameTheField(t *testing.T) {
	valid := `"targets":{"tokens":[{"platform":"apns","token":"ab"}]},"notification":{"title":"t"}`
	tests := []struct {
		name      string
		body      string
		wantErr   error
		wantField string
	}{
		{"ok", `{"id":"a","app":"shop",` + valid + `}`, nil, ""},
		{"not json", `{"id":`, events.ErrMalformed, "invalid JSON"},
		{"invalid utf-8", "{\"id\":\"a\xff\"}", events.ErrMalformed, "UTF-8"},
		{"wrong type", `{"id":"a","app":"shop","targets":{"tokens":{}},"notification":{"title":"t"}}`, events.ErrMalformed, "targets.tokens"},
		{"missing id", `{"app":"shop",` + valid + `}`, events.ErrInvalid, "id"},
		{"bad id", `{"id":"a b","app":"shop",` + valid + `}`, events.ErrInvalid, "id"},
		{"missing app", `{"id":"a",` + valid + `}`, events.ErrInvalid, "app"},
		{"no targets", `{"id":"a","app":"shop","targets":{},"notification":{"title":"t"}}`, events.ErrInvalid, "targets"},
		{"unknown platform", `{"id":"a","app":"shop","targets":{"tokens":[{"platform":"gcm","token":"x"}]},"notification":{"title":"t"}}`, events.ErrInvalid, "targets.tokens[0].platform"},
		{"empty token", `{"id":"a","app":"shop","targets":{"tokens":[{"platform":"fcm","token":""}]},"notification":{"title":"t"}}`, events.ErrInvalid, "targets.tokens[0].token"},
		{"bad priority", `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"title":"t","priority":"urgent"}}`, events.ErrInvalid, "notification.priority"},
		{"oversized", `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"body":"` + strings.Repeat("x", 6000) + `"}}`, events.ErrInvalid, "notification"},
		{"nested typo", `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"titel":"t"}}`, events.ErrMalformed, "titel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.DecodeIntent([]byte(tc.body), events.Limits{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantField) {
				t.Fatalf("err %q does not name %q", err, tc.wantField)
			}
		})
	}
}

func TestTooManyTokens(t *testing.T) {
	in := &events.Intent{ID: "a", App: "shop", Notification: events.Notification{Title: "t"}}
	for range 3 {
		in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: events.FCM, Token: "x"})
	}
	var ve *events.ValidationError
	if err := in.Validate(events.Limits{MaxTokens: 2}); !errors.As(err, &ve) || ve.Field != "targets.tokens" {
		t.Fatalf("err = %v, want a ValidationError on targets.tokens", err)
	}
}

func TestJobIDDependsOnContent(t *testing.T) {
	a := events.JobID("i", events.APNs, 0, []string{"t1", "t2"})
	if a != events.JobID("i", events.APNs, 0, []string{"t1", "t2"}) {
		t.Fatal("job id not deterministic")
	}
	if a == events.JobID("i", events.APNs, 0, []string{"t1"}) {
		t.Fatal("a batch with other tokens got the same id: a redelivery would be deduplicated away")
	}
}

// What a provider is certain to refuse is refused at intake, naming the
// field: MiPush needs both title and body for a displayed notification
// (65011), APNs a payload within 4096 bytes (5120 for VoIP).
func TestValidateForPlatforms(t *testing.T) {
	yes, no := true, false
	big := strings.Repeat("x", 4100)
	tests := []struct {
		name      string
		p         events.Platform
		n         events.Notification
		o         *events.Overrides
		wantField string // "" when valid
	}{
		{"mi title only", events.Mi, events.Notification{Title: "t"}, nil, "notification.body"},
		{"mi body only", events.Mi, events.Notification{Body: "b"}, nil, "notification.title"},
		{"mi blank title", events.Mi, events.Notification{Title: " \t", Body: "b"}, nil, "notification.title"},
		{"mi both", events.Mi, events.Notification{Title: "t", Body: "b"}, nil, ""},
		{"mi data only is pass-through", events.Mi, events.Notification{Data: map[string]any{"k": "v"}}, nil, ""},
		{"mi title only as pass-through", events.Mi, events.Notification{Title: "t"},
			&events.Overrides{Mi: &events.MiOverrides{PassThrough: &yes}}, ""},
		{"mi data only forced displayed", events.Mi, events.Notification{Data: map[string]any{"k": "v"}},
			&events.Overrides{Mi: &events.MiOverrides{PassThrough: &no}}, "notification.title"},
		{"fcm title only", events.FCM, events.Notification{Title: "t"}, nil, ""},
		{"apns title only", events.APNs, events.Notification{Title: "t"}, nil, ""},
		{"apns payload over 4096", events.APNs, events.Notification{Title: "t", Data: map[string]any{"k": big}}, nil, "notification"},
		{"apns voip payload within 5120", events.APNs, events.Notification{PushType: "voip", Data: map[string]any{"k": big}}, nil, ""},
		{"apns aps override counts", events.APNs, events.Notification{Title: "t"},
			&events.Overrides{APNs: &events.APNsOverrides{Aps: map[string]json.RawMessage{"x": json.RawMessage(`"` + big + `"`)}}}, "notification"},
		{"apns reserved data key", events.APNs, events.Notification{Data: map[string]any{"aps": "x"}}, nil, "notification.data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &events.Intent{ID: "a", App: "shop", Notification: tc.n, Overrides: tc.o,
				Targets: events.Targets{Tokens: []events.Target{{Platform: tc.p, Token: "tok"}}}}
			err := in.Validate(events.Limits{})
			var ve *events.ValidationError
			switch {
			case tc.wantField == "" && err != nil:
				t.Fatalf("err = %v, want valid", err)
			case tc.wantField != "" && (!errors.As(err, &ve) || ve.Field != tc.wantField):
				t.Fatalf("err = %v, want a ValidationError on %s", err, tc.wantField)
			}
			// The same notification to an alias is checked per platform
			// once resolved, not at intake: the alias may have no such device.
			in.Targets = events.Targets{Alias: "u1"}
			if err := in.Validate(events.Limits{}); err != nil && tc.wantField != "notification.data" {
				t.Fatalf("alias intent: %v, want valid at intake", err)
			}
		})
	}
}

func TestExpiryMustFollowSendAt(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	in := &events.Intent{ID: "a", App: "shop", Targets: events.Targets{Alias: "u"},
		Notification: events.Notification{Title: "t", Expiry: &at}, SendAt: &at}
	var ve *events.ValidationError
	if err := in.Validate(events.Limits{}); !errors.As(err, &ve) || ve.Field != "notification.expiry" ||
		!strings.Contains(ve.Reason, "send_at") {
		t.Fatalf("err = %v, want notification.expiry naming send_at", err)
	}
	later := at.Add(time.Hour)
	in.Notification.Expiry = &later
	if err := in.Validate(events.Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSendAtHorizon(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		sendAt  time.Time
		horizon time.Duration
		ok      bool
	}{
		{"within", now.Add(29 * 24 * time.Hour), events.DefaultScheduleHorizon, true},
		{"two days, past the old 24h max age", now.Add(48 * time.Hour), events.DefaultScheduleHorizon, true},
		{"beyond", now.Add(31 * 24 * time.Hour), events.DefaultScheduleHorizon, false},
		{"after 2262", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), events.DefaultScheduleHorizon, false},
		{"year 9999", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), events.DefaultScheduleHorizon, false},
		{"in the past", now.Add(-time.Hour), events.DefaultScheduleHorizon, true},
		{"no bound", time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &events.Intent{SendAt: &tc.sendAt}
			err := in.CheckSendAt(now, tc.horizon)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && (!errors.Is(err, events.ErrInvalid) || !strings.Contains(err.Error(), "720h0m0s")) {
				t.Fatalf("err %q does not name the horizon", err)
			}
		})
	}
}

// The default intent limit sits below NATS's max_payload (1 MiB), so an
// oversize intent reaches the dispatcher and is refused with its reason.
func TestOversizeIntentNamesTheLimit(t *testing.T) {
	if events.DefaultLimits.MaxIntentBytes >= 1<<20 {
		t.Fatalf("default intent limit %d is not below max_payload", events.DefaultLimits.MaxIntentBytes)
	}
	body := `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"title":"t"},"pad":"` +
		strings.Repeat("x", 300<<10) + `"}`
	_, err := events.DecodeIntent([]byte(body), events.Limits{})
	var ve *events.ValidationError
	if !errors.As(err, &ve) || ve.Field != "(intent)" || !strings.Contains(ve.Reason, "--max-intent-bytes") {
		t.Fatalf("err = %v, want the size limit named", err)
	}
}

func TestCancelledIsAnOutcome(t *testing.T) {
	if !slices.Contains(events.Outcomes, events.Cancelled) || events.Cancelled != "cancelled" {
		t.Fatalf("Outcomes %v lacks cancelled", events.Outcomes)
	}
}

// An intent's explicit tokens follow CheckToken, the rule the feedback-sink
// applies to the feedback they get, and its alias or tag the registry's
// label rule (no white space, no control characters): before, a token or
// alias with a control character or a Unicode space was accepted here and
// its feedback refused by the sink, or its alias refused by the registry.
func TestIntentNamesFollowSinkAndRegistryRules(t *testing.T) {
	intent := func(targets string) []byte {
		return []byte(`{"id":"a","app":"shop","targets":` + targets + `,"notification":{"title":"t","body":"b"}}`)
	}
	bad := []struct{ name, s string }{
		{"BEL", "a\u0007b"}, {"DEL", "a\u007fb"}, {"C1 NEL", "a\u0085b"}, {"C1 CSI", "a\u009bb"},
		{"no-break space", "a\u00a0b"}, {"line separator", "a\u2028b"}, {"ideographic space", "a\u3000b"},
		{"tab", "a\tb"}, {"vertical tab", "a\vb"}, {"form feed", "a\fb"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			q, _ := json.Marshal(tc.s)
			for field, targets := range map[string]string{
				"targets.tokens[0].token": `{"tokens":[{"platform":"mi","token":` + string(q) + `}]}`,
				"targets.alias":           `{"alias":` + string(q) + `}`,
				"targets.tag":             `{"tag":` + string(q) + `}`,
			} {
				_, err := events.DecodeIntent(intent(targets), events.Limits{})
				var ve *events.ValidationError
				if !errors.As(err, &ve) || ve.Field != field {
					t.Errorf("%s %q: err = %v, want a ValidationError on %s", field, tc.s, err, field)
				}
			}
			if events.CheckToken(tc.s) == nil {
				t.Errorf("CheckToken accepts %q", tc.s)
			}
		})
	}
	for _, ok := range []string{"user-42", "user@example.com", "ünïcödé", "日本語", "a:b/c+d=", strings.Repeat("é", 256)} {
		q, _ := json.Marshal(ok)
		for _, targets := range []string{`{"alias":` + string(q) + `}`, `{"tag":` + string(q) + `}`} {
			if _, err := events.DecodeIntent(intent(targets), events.Limits{}); err != nil {
				t.Errorf("%s: %v", targets, err)
			}
		}
	}
	if _, err := events.DecodeIntent(intent(`{"alias":"`+strings.Repeat("é", 257)+`"}`), events.Limits{}); err == nil {
		t.Error("a 257-character alias was accepted")
	}
	// A label is refused exactly when the registry's rule refuses it: for
	// every rune of the BMP.
	for r := rune(0); r < 0x10000; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		s := "a" + string(r) + "b"
		registryOK := !unicode.IsSpace(r) && !unicode.IsControl(r)
		if got := events.ValidLabel(s); got != registryOK {
			t.Errorf("ValidLabel(%q) = %v, registry rule says %v", s, got, registryOK)
		}
		tokenOK := registryOK && r != ','
		if got := events.CheckToken(s) == nil; got != tokenOK {
			t.Errorf("CheckToken(%q) = %v, want %v", s, got, tokenOK)
		}
	}
}

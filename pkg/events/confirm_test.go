package events_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// A confirm spec is checked at intake: each bad one is refused naming the
// field and the reason.
func TestIntakeConfirm(t *testing.T) {
	const head = `{"id":"a","app":"shop","notification":{"title":"t"},`
	tokens := `"targets":{"tokens":[{"platform":"apns","token":"ab"}]},`
	tests := []struct {
		name, body string
		field      string // "" when valid
		reason     string
	}{
		{"within and resends", tokens + `"confirm":{"within":"1h","resend_every":"10m"}`, "", ""},
		{"within only", tokens + `"confirm":{"within":"30s"}`, "", ""},
		{"alias", `"targets":{"alias":"u"},"confirm":{"within":"2h","resend_every":"1h"}`, "", ""},
		{"all", `"targets":{"all":true},"confirm":{"within":"1m","resend_every":"1s"}`, "", ""},
		{"no within", tokens + `"confirm":{"resend_every":"10m"}`, "confirm.within", "below the least"},
		{"within too short", tokens + `"confirm":{"within":"500ms"}`, "confirm.within", "one-second resolution"},
		{"within too long", tokens + `"confirm":{"within":"200h"}`, "confirm.within", "beyond the longest of 168h"},
		{"resend too short", tokens + `"confirm":{"within":"1m","resend_every":"100ms"}`, "confirm.resend_every", "one-second resolution"},
		{"resend not shorter", tokens + `"confirm":{"within":"1m","resend_every":"1m"}`, "confirm.resend_every", "shorter than within"},
		{"resend negative", tokens + `"confirm":{"within":"1m","resend_every":"-1s"}`, "confirm.resend_every", "negative"},
		{"too many resends", tokens + `"confirm":{"within":"1h","resend_every":"2s"}`, "confirm.resend_every", "1799 re-sends, more than the 100"},
		{"topics", `"targets":{"topics":[{"platform":"fcm","topic":"news"}]},"confirm":{"within":"1h"}`, "confirm", "topics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkIntake(t, head+tc.body+"}", tc.field, tc.reason) })
	}
	// A duration that is not one is malformed, with the syntax to use.
	_, err := events.DecodeIntent([]byte(head+tokens+`"confirm":{"within":3600}}`), events.Limits{})
	if !errors.Is(err, events.ErrMalformed) || !strings.Contains(err.Error(), `"30s"`) {
		t.Fatalf("numeric within: %v", err)
	}
	// A long id leaves no room for its re-sends' ids.
	long := strings.Repeat("x", events.MaxConfirmIDLength+1)
	_, err = events.DecodeIntent([]byte(`{"id":"`+long+`","app":"shop","notification":{"title":"t"},`+tokens+`"confirm":{"within":"1h"}}`), events.Limits{})
	var ve *events.ValidationError
	if !errors.As(err, &ve) || ve.Field != "id" {
		t.Fatalf("long id with confirm: %v", err)
	}
}

func TestConfirmRoundTripAndResends(t *testing.T) {
	in := events.Intent{ID: "a", App: "shop", Targets: events.Targets{Alias: "u"},
		Notification: events.Notification{Title: "t"},
		Confirm:      &events.Confirm{Within: events.Duration(time.Hour), ResendEvery: events.Duration(20 * time.Minute)}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"confirm":{"within":"1h0m0s","resend_every":"20m0s"}`) {
		t.Fatalf("encoded %s", b)
	}
	out, err := events.DecodeIntent(b, events.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if *out.Confirm != *in.Confirm || out.Confirm.Resends() != 2 {
		t.Fatalf("round trip %+v, resends %d", out.Confirm, out.Confirm.Resends())
	}
	for _, tc := range []struct {
		within, every time.Duration
		want          int
	}{{time.Hour, 0, 0}, {10 * time.Second, 5 * time.Second, 1}, {10 * time.Second, 3 * time.Second, 3}, {2 * time.Second, time.Second, 1}} {
		c := events.Confirm{Within: events.Duration(tc.within), ResendEvery: events.Duration(tc.every)}
		if got := c.Resends(); got != tc.want {
			t.Errorf("Resends(%v, %v) = %d, want %d", tc.within, tc.every, got, tc.want)
		}
	}
}

func TestResendIDs(t *testing.T) {
	for _, tc := range []struct{ id, original string }{
		{events.ResendID("order-1", 3, 0), "order-1"},
		{events.ResendID("order-1", 3, 2), "order-1"},
		{events.ResendID("a:rb", 1, 0), "a:rb"},
		{"order-1", "order-1"},
		{"a:rx", "a:rx"},
		{"a:r1:x", "a:r1:x"},
		{":r1", ":r1"},
	} {
		if got := events.OriginalID(tc.id); got != tc.original {
			t.Errorf("OriginalID(%q) = %q, want %q", tc.id, got, tc.original)
		}
	}
	if got := events.ResendID("order-1", 12, 0); got != "order-1:r12" {
		t.Fatalf("ResendID = %q", got)
	}
}

func TestDecodeConfirmation(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		wantErr    error
		reason     string
	}{
		{"valid", `{"intent_id":"order-1","token":"ab01"}`, nil, ""},
		{"with platform", `{"intent_id":"order-1","token":"ab01","platform":"fcm"}`, nil, ""},
		{"no intent", `{"token":"ab01"}`, events.ErrInvalidConfirmation, "intent_id is required"},
		{"bad intent", `{"intent_id":"a b","token":"ab01"}`, events.ErrInvalidConfirmation, "intent_id must be"},
		{"no token", `{"intent_id":"x"}`, events.ErrInvalidConfirmation, "token is required"},
		{"token with comma", `{"intent_id":"x","token":"a,b"}`, events.ErrInvalidConfirmation, "commas"},
		{"unknown platform", `{"intent_id":"x","token":"a","platform":"webos"}`, events.ErrInvalidConfirmation, "unknown platform"},
		{"unknown field", `{"intent_id":"x","token":"a","app":"shop"}`, events.ErrMalformed, "unknown field"},
		{"trailing data", `{"intent_id":"x","token":"a"} {}`, events.ErrMalformed, "data after"},
		{"not JSON", `confirm`, events.ErrMalformed, "invalid"},
		{"too large", `{"intent_id":"x","token":"` + strings.Repeat("a", events.MaxConfirmationBytes) + `"}`, events.ErrInvalidConfirmation, "exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := events.DecodeConfirmation([]byte(tc.body))
			if tc.wantErr == nil {
				if err != nil || c.IntentID != "order-1" {
					t.Fatalf("DecodeConfirmation = %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.wantErr, tc.reason)
			}
		})
	}
}

// The confirmation examples satisfy both the JSON Schema and
// DecodeConfirmation, and the counter-examples fail both.
func TestConfirmationExamplesMatchSchema(t *testing.T) {
	schema := compile(t, "confirmation.schema.json")
	for _, dir := range []string{"", "invalid"} {
		paths, _ := filepath.Glob(filepath.Join("..", "..", "docs", "examples", "confirm", dir, "*.json"))
		if len(paths) < 2 {
			t.Fatalf("want examples in docs/examples/confirm/%s, found %v", dir, paths)
		}
		for _, path := range paths {
			t.Run(dir+"/"+filepath.Base(path), func(t *testing.T) {
				b, v := load(t, path)
				schemaErr := schema.Validate(v)
				_, err := events.DecodeConfirmation(b)
				if valid := dir == ""; valid != (schemaErr == nil) || valid != (err == nil) {
					t.Fatalf("schema: %v; DecodeConfirmation: %v", schemaErr, err)
				}
			})
		}
	}
}

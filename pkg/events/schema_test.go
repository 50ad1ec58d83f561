package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pushfleet/pushfleet/pkg/events"
)

func compile(t *testing.T, file string) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	s, err := c.Compile(filepath.Join("..", "..", "docs", file))
	if err != nil {
		t.Fatalf("compile %s: %v", file, err)
	}
	return s
}

func load(t *testing.T, path string) ([]byte, any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b, v
}

// The documented examples must satisfy both the JSON Schema and the Go
// validation, and the documented counter-examples must fail both: the two
// descriptions of the contract never drift apart.
func TestDocExamplesMatchSchemaAndValidation(t *testing.T) {
	intent := compile(t, "intent.schema.json")
	feedback := compile(t, "feedback.schema.json")
	examples, _ := filepath.Glob(filepath.Join("..", "..", "docs", "examples", "*.json"))
	if len(examples) == 0 {
		t.Fatal("no examples found in docs/examples")
	}
	feedbackForms := map[string]int{}
	for _, path := range examples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, v := load(t, path)
			if strings.HasPrefix(filepath.Base(path), "feedback") {
				if err := feedback.Validate(v); err != nil {
					t.Fatalf("schema: %v", err)
				}
				if _, err := events.DecodeFeedbackEvents(b); err != nil {
					t.Fatalf("decode: %v", err)
				}
				if _, batch := v.(map[string]any)["events"]; batch {
					feedbackForms["batch"]++
				} else {
					feedbackForms["single"]++
				}
				return
			}
			if err := intent.Validate(v); err != nil {
				t.Fatalf("schema: %v", err)
			}
			in, err := events.DecodeIntent(b, events.Limits{})
			if err != nil {
				t.Fatalf("DecodeIntent: %v", err)
			}
			// Unknown top-level fields survive a round trip.
			out, _ := json.Marshal(in)
			var orig, back map[string]any
			_ = json.Unmarshal(b, &orig)
			_ = json.Unmarshal(out, &back)
			for k := range orig {
				if _, ok := back[k]; !ok {
					t.Errorf("field %q lost in a decode/encode round trip", k)
				}
			}
		})
	}
	if feedbackForms["batch"] == 0 || feedbackForms["single"] == 0 {
		t.Errorf("feedback examples %v: want both the batch and the single form", feedbackForms)
	}
	invalid, _ := filepath.Glob(filepath.Join("..", "..", "docs", "examples", "invalid", "*.json"))
	for _, path := range invalid {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			b, v := load(t, path)
			if strings.HasPrefix(filepath.Base(path), "feedback") {
				if err := feedback.Validate(v); err == nil {
					t.Error("schema accepts a documented counter-example")
				}
				if _, err := events.DecodeFeedbackEvents(b); err == nil {
					t.Error("DecodeFeedbackEvents accepts a documented counter-example")
				}
				return
			}
			if err := intent.Validate(v); err == nil {
				t.Error("schema accepts a documented counter-example")
			}
			if _, err := events.DecodeIntent(b, events.Limits{}); err == nil {
				t.Error("DecodeIntent accepts a documented counter-example")
			}
		})
	}
}

// The feedback schema and DecodeFeedback agree on what an event may be:
// a tokenless event only when cancelled, app names that are subject
// tokens, tokens without white space, control characters or commas, and
// new_token with token_replaced only.
func TestFeedbackSchemaAgreesWithDecode(t *testing.T) {
	schema := compile(t, "feedback.schema.json")
	const at = `,"at":"2026-11-25T10:00:00Z"}`
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"delivered", `{"app":"shop","platform":"apns","token":"ab01","outcome":"delivered"` + at, true},
		{"cancelled with a token", `{"app":"shop","platform":"apns","token":"ab01","outcome":"cancelled"` + at, true},
		{"cancelled without a token", `{"app":"shop","platform":"fcm","token":"","outcome":"cancelled","reason":"alias"` + at, true},
		{"replacement", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"u"` + at, true},
		{"app with dashes", `{"app":"my_shop-2","platform":"mi","token":"abc+/=","outcome":"failed"` + at, true},
		{"empty token, delivered", `{"app":"shop","platform":"apns","token":"","outcome":"delivered"` + at, false},
		{"empty token, expired", `{"app":"shop","platform":"apns","token":"","outcome":"expired"` + at, false},
		{"app with a dot", `{"app":"shop.x","platform":"apns","token":"ab","outcome":"delivered"` + at, false},
		{"app with a wildcard", `{"app":">","platform":"apns","token":"ab","outcome":"delivered"` + at, false},
		{"empty app", `{"app":"","platform":"apns","token":"ab","outcome":"delivered"` + at, false},
		{"app too long", `{"app":"` + strings.Repeat("a", 65) + `","platform":"apns","token":"ab","outcome":"delivered"` + at, false},
		{"token with a space", `{"app":"shop","platform":"mi","token":"a b","outcome":"failed"` + at, false},
		{"token with a tab", `{"app":"shop","platform":"mi","token":"a\tb","outcome":"failed"` + at, false},
		{"token with a comma", `{"app":"shop","platform":"mi","token":"a,b","outcome":"failed"` + at, false},
		{"token with NUL", `{"app":"shop","platform":"mi","token":"a\u0000b","outcome":"failed"` + at, false},
		{"token with DEL", `{"app":"shop","platform":"mi","token":"a\u007fb","outcome":"failed"` + at, false},
		{"token with a C1 control", `{"app":"shop","platform":"mi","token":"a\u0085b","outcome":"failed"` + at, false},
		{"token with a no-break space", `{"app":"shop","platform":"mi","token":"a\u00a0b","outcome":"failed"` + at, false},
		{"token with an ideographic space", `{"app":"shop","platform":"mi","token":"a\u3000b","outcome":"failed"` + at, false},
		{"cancelled token with a space", `{"app":"shop","platform":"apns","token":" ","outcome":"cancelled"` + at, false},
		{"replacement without new_token", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced"` + at, false},
		{"replacement with an empty new_token", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":""` + at, false},
		{"new_token with a comma", `{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"u,v"` + at, false},
		{"new_token with delivered", `{"app":"shop","platform":"fcm","token":"t","outcome":"delivered","new_token":"u"` + at, false},
		{"new_token with cancelled", `{"app":"shop","platform":"fcm","token":"","outcome":"cancelled","new_token":"u"` + at, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := jsonschema.UnmarshalJSON(strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			schemaErr := schema.Validate(v)
			_, decodeErr := events.DecodeFeedback([]byte(tt.body))
			if (schemaErr == nil) != tt.ok {
				t.Errorf("schema: %v, want ok=%v", schemaErr, tt.ok)
			}
			if (decodeErr == nil) != tt.ok {
				t.Errorf("DecodeFeedback: %v, want ok=%v", decodeErr, tt.ok)
			}
			// The same event in the batch form, after a valid one: the
			// envelope names app and platform, and the batch stands or
			// falls with its worst event.
			batch := asBatch(t, tt.body)
			schemaErr = schema.Validate(mustJSON(t, batch))
			_, decodeErr = events.DecodeFeedbackEvents([]byte(batch))
			if (schemaErr == nil) != tt.ok {
				t.Errorf("schema, batch form: %v, want ok=%v\n%s", schemaErr, tt.ok, batch)
			}
			if (decodeErr == nil) != tt.ok {
				t.Errorf("DecodeFeedbackEvents, batch form: %v, want ok=%v\n%s", decodeErr, tt.ok, batch)
			}
		})
	}
}

// asBatch turns a single-form event into a batch of two: a valid event
// of the same app and platform, then it.
func asBatch(t *testing.T, single string) string {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal([]byte(single), &ev); err != nil {
		t.Fatal(err)
	}
	env := map[string]any{"app": ev["app"], "platform": ev["platform"]}
	delete(ev, "app")
	delete(ev, "platform")
	ok := map[string]any{"token": "ab01", "outcome": "delivered", "at": "2026-11-25T10:00:00Z"}
	env["events"] = []any{ok, ev}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The batch form's own rules, which the schema and DecodeFeedbackEvents
// share: 1 to 10,000 events, app and platform in the envelope only, the
// envelope carries nothing else, and the old single form still decodes.
func TestFeedbackBatchSchemaAgreesWithDecode(t *testing.T) {
	schema := compile(t, "feedback.schema.json")
	const ev = `{"token":"ab01","outcome":"delivered","at":"2026-11-25T10:00:00Z"}`
	many := func(n int) string { return strings.TrimSuffix(strings.Repeat(ev+",", n), ",") }
	tests := []struct {
		name, body string
		events     int // 0: refused
	}{
		{"one event", `{"app":"shop","platform":"apns","events":[` + ev + `]}`, 1},
		{"10000 events", `{"app":"shop","platform":"apns","events":[` + many(10000) + `]}`, 10000},
		{"confirmations", `{"app":"shop","platform":"fcm","events":[{"token":"t","outcome":"confirmed","at":"2026-11-25T10:00:00Z"},` +
			`{"token":"u","outcome":"unconfirmed","reason":"window","at":"2026-11-25T10:00:00Z"}]}`, 2},
		{"webpush subscription with commas", `{"app":"shop","platform":"webpush","events":[{"token":"{\"endpoint\":\"https://push.example/s/1\",\"keys\":{\"p256dh\":\"BP\",\"auth\":\"au\"}}","outcome":"delivered","at":"2026-11-25T10:00:00Z"}]}`, 1},
		{"single form", `{"app":"shop","platform":"apns","token":"ab01","outcome":"confirmed","at":"2026-11-25T10:00:00Z"}`, 1},
		{"10001 events", `{"app":"shop","platform":"apns","events":[` + many(10001) + `]}`, 0},
		{"no events", `{"app":"shop","platform":"apns","events":[]}`, 0},
		{"events not an array", `{"app":"shop","platform":"apns","events":{}}`, 0},
		{"no app", `{"platform":"apns","events":[` + ev + `]}`, 0},
		{"app with a dot", `{"app":"shop.x","platform":"apns","events":[` + ev + `]}`, 0},
		{"unknown platform", `{"app":"shop","platform":"wp","events":[` + ev + `]}`, 0},
		{"event with an app", `{"app":"shop","platform":"apns","events":[{"app":"demo","token":"ab","outcome":"delivered","at":"2026-11-25T10:00:00Z"}]}`, 0},
		{"event with a platform", `{"app":"shop","platform":"apns","events":[{"platform":"fcm","token":"ab","outcome":"delivered","at":"2026-11-25T10:00:00Z"}]}`, 0},
		{"envelope with a token", `{"app":"shop","platform":"apns","token":"ab","events":[` + ev + `]}`, 0},
		{"envelope with an outcome", `{"app":"shop","platform":"apns","outcome":"delivered","events":[` + ev + `]}`, 0},
		{"mi token with a comma", `{"app":"shop","platform":"mi","events":[` + ev + `,{"token":"a,b","outcome":"failed","at":"2026-11-25T10:00:00Z"}]}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			schemaErr := schema.Validate(mustJSON(t, tt.body))
			fbs, decodeErr := events.DecodeFeedbackEvents([]byte(tt.body))
			if (schemaErr == nil) != (tt.events > 0) {
				t.Errorf("schema: %v, want ok=%v", schemaErr, tt.events > 0)
			}
			if tt.events == 0 {
				if !errors.Is(decodeErr, events.ErrMalformed) {
					t.Errorf("DecodeFeedbackEvents: %v, want ErrMalformed", decodeErr)
				}
				return
			}
			if decodeErr != nil || len(fbs) != tt.events {
				t.Fatalf("DecodeFeedbackEvents: %d events, %v; want %d", len(fbs), decodeErr, tt.events)
			}
			for _, f := range fbs {
				if f.App != "shop" || !f.Platform.Valid() {
					t.Fatalf("event without the envelope's app and platform: %+v", f)
				}
			}
		})
	}
}

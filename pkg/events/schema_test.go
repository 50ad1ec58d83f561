package events_test

import (
	"bytes"
	"encoding/json"
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
	for _, path := range examples {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, v := load(t, path)
			if strings.HasPrefix(filepath.Base(path), "feedback") {
				if err := feedback.Validate(v); err != nil {
					t.Fatalf("schema: %v", err)
				}
				if _, err := events.DecodeFeedback(b); err != nil {
					t.Fatalf("decode: %v", err)
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
	invalid, _ := filepath.Glob(filepath.Join("..", "..", "docs", "examples", "invalid", "*.json"))
	for _, path := range invalid {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			b, v := load(t, path)
			if strings.HasPrefix(filepath.Base(path), "feedback") {
				if err := feedback.Validate(v); err == nil {
					t.Error("schema accepts a documented counter-example")
				}
				if _, err := events.DecodeFeedback(b); err == nil {
					t.Error("DecodeFeedback accepts a documented counter-example")
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
		})
	}
}

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
			if err := intent.Validate(v); err == nil {
				t.Error("schema accepts a documented counter-example")
			}
			if _, err := events.DecodeIntent(b, events.Limits{}); err == nil {
				t.Error("DecodeIntent accepts a documented counter-example")
			}
		})
	}
}

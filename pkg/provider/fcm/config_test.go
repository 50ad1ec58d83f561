package fcm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// keyFile returns a service account key file's content with the given
// fields replaced (a nil value deletes the field).
func keyFile(t *testing.T, edits map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	f := map[string]any{
		"type": "service_account", "project_id": "p", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "sa@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.googleapis.com/token",
	}
	for k, v := range edits {
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ecKey(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestAppConfigValidate(t *testing.T) {
	good := keyFile(t, nil)
	path := filepath.Join(t.TempDir(), "key.json")
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		a       AppConfig
		wantErr string // empty: valid
	}{
		{"inline", AppConfig{ProjectID: "p", CredentialsJSON: good}, ""},
		{"file", AppConfig{ProjectID: "p", CredentialsFile: path}, ""},
		{"pkcs1 key", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"private_key": pkcs1(t)})}, ""},
		{"default token_uri", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"token_uri": nil})}, ""},
		{"no project", AppConfig{CredentialsJSON: good}, "project_id is required"},
		{"bad project", AppConfig{ProjectID: "a/b", CredentialsJSON: good}, "project_id"},
		{"no credentials", AppConfig{ProjectID: "p"}, "credentials_json or credentials_file is required"},
		{"both credentials", AppConfig{ProjectID: "p", CredentialsJSON: good, CredentialsFile: path}, "only one"},
		{"missing file", AppConfig{ProjectID: "p", CredentialsFile: path + ".missing"}, "credentials_file"},
		{"negative rate", AppConfig{ProjectID: "p", CredentialsJSON: good, RatePerMinute: -1}, "rate_per_minute"},
		{"not JSON", AppConfig{ProjectID: "p", CredentialsJSON: "{"}, "credentials_json: not a service account key file"},
		{"user credentials", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"type": "authorized_user"})}, `credentials_json: type is "authorized_user"`},
		{"no email", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"client_email": nil})}, "client_email is required"},
		{"no key", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"private_key": nil})}, "private_key is required"},
		{"garbage key", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"private_key": "xyz"})}, "private_key: not PEM encoded"},
		{"ec key", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"private_key": ecKey(t)})}, "private_key: not an RSA key"},
		{"relative token_uri", AppConfig{ProjectID: "p", CredentialsJSON: keyFile(t, map[string]any{"token_uri": "/token"})}, "token_uri"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.a.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func pkcs1(t *testing.T) string {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		c       Config
		wantErr string
	}{
		{"zero", Config{}, ""},
		{"fake endpoint", Config{Endpoint: "https://127.0.0.1:8443/v1"}, ""},
		{"relative endpoint", Config{Endpoint: "/v1"}, "Config.Endpoint"},
		{"negative timeout", Config{BatchTimeout: -time.Second}, "Config.BatchTimeout"},
		{"negative batches", Config{MaxConcurrentBatches: -1}, "Config.MaxConcurrentBatches"},
		{"negative rate", Config{RatePerMinute: -1}, "Config.RatePerMinute"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want %q", err, tc.wantErr)
			}
		})
	}
	d := Config{}.withDefaults()
	if d.Endpoint != DefaultEndpoint || d.BatchTimeout != DefaultBatchTimeout || d.RatePerMinute != DefaultRatePerMinute ||
		d.MaxConcurrentBatches != DefaultMaxConcurrentBatches || d.MaxPayloadBytes != DefaultMaxPayloadBytes || d.Logger == nil {
		t.Fatalf("defaults not applied: %+v", d)
	}
}

func TestNewRejectsBadApp(t *testing.T) {
	_, err := New(Config{}, map[string]AppConfig{"ok": {ProjectID: "p", CredentialsJSON: keyFile(t, nil)}, "broken": {ProjectID: "p"}})
	if err == nil || !strings.Contains(err.Error(), `app "broken"`) {
		t.Fatalf("err %v, want one naming app broken", err)
	}
	if _, err := New(Config{Endpoint: "nope"}, nil); err == nil {
		t.Fatal("bad endpoint accepted")
	}
}

func TestSharedProjectTakesSmallestRate(t *testing.T) {
	key := keyFile(t, nil)
	s, err := New(Config{}, map[string]AppConfig{
		"a": {ProjectID: "p", CredentialsJSON: key, RatePerMinute: 1200},
		"b": {ProjectID: "p", CredentialsJSON: key, RatePerMinute: 600},
		"c": {ProjectID: "q", CredentialsJSON: key},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	apps := s.snapshot()
	if apps["a"].gate != apps["b"].gate || apps["a"].gate == apps["c"].gate {
		t.Fatal("apps of one project must share its gate, and only them")
	}
	if g := apps["a"].gate; g.base != 10 {
		t.Fatalf("shared project rate %v/s, want the smallest setting 600/min = 10/s", g.base)
	}
	if g := apps["c"].gate; g.base != DefaultRatePerMinute/60 {
		t.Fatalf("default rate %v/s", g.base)
	}

	// Changing only the rate keeps the app's client and cached token.
	if err := s.UpdateApps(map[string]AppConfig{
		"a": {ProjectID: "p", CredentialsJSON: key, RatePerMinute: 1200},
		"b": {ProjectID: "p", CredentialsJSON: key, RatePerMinute: 300},
		"c": {ProjectID: "q", CredentialsJSON: key},
	}); err != nil {
		t.Fatal(err)
	}
	after := s.snapshot()
	if after["b"].client != apps["b"].client || after["b"].creds != apps["b"].creds || after["a"] != apps["a"] {
		t.Fatal("a rate change rebuilt the client")
	}
	g := after["a"].gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g != apps["a"].gate || g.base != 5 {
		t.Fatalf("after the rate change: same gate %v, rate %v/s, want the same gate at 5/s", g == apps["a"].gate, g.base)
	}
}

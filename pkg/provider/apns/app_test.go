package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
)

func pemOf(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func TestAppConfigValidate(t *testing.T) {
	ok := AppConfig{Topic: "com.x", Environment: Production, Key: "pem", KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ"}
	tests := []struct {
		name   string
		mutate func(*AppConfig)
		field  string // "" means valid
	}{
		{"token auth", func(*AppConfig) {}, ""},
		{"key file", func(a *AppConfig) { a.Key, a.KeyFile = "", "/k.p8" }, ""},
		{"cert auth", func(a *AppConfig) { a.KeyID, a.TeamID, a.CertFile = "", "", "/c.pem" }, ""},
		{"no topic", func(a *AppConfig) { a.Topic = "" }, "topic"},
		{"topic with slash", func(a *AppConfig) { a.Topic = "a/b" }, "topic"},
		{"no environment", func(a *AppConfig) { a.Environment = "" }, "environment"},
		{"bad environment", func(a *AppConfig) { a.Environment = "development" }, "environment"},
		{"no key", func(a *AppConfig) { a.Key = "" }, "key or key_file"},
		{"key and key file", func(a *AppConfig) { a.KeyFile = "/k" }, "key, key_file"},
		{"no key id", func(a *AppConfig) { a.KeyID = "" }, "key_id"},
		{"no team id", func(a *AppConfig) { a.TeamID = "" }, "team_id"},
		{"bad key id", func(a *AppConfig) { a.KeyID = "AB-1" }, "key_id"},
		{"cert with key id", func(a *AppConfig) { a.Cert = "pem" }, "key_id, team_id"},
		{"cert and cert file", func(a *AppConfig) { a.KeyID, a.TeamID, a.Cert, a.CertFile = "", "", "x", "y" }, "cert, cert_file"},
		{"p12", func(a *AppConfig) { a.Key, a.KeyID, a.TeamID, a.P12File, a.P12Password = "", "", "", "/c.p12", "pw" }, ""},
		{"p12 without password", func(a *AppConfig) { a.Key, a.KeyID, a.TeamID, a.P12File = "", "", "", "/c.p12" }, ""},
		{"p12 with key", func(a *AppConfig) { a.KeyID, a.TeamID, a.P12File = "", "", "/c.p12" }, "p12_file"},
		{"p12 with key id", func(a *AppConfig) { a.Key, a.P12File = "", "/c.p12" }, "key_id, team_id"},
		{"p12 passwords", func(a *AppConfig) {
			a.Key, a.KeyID, a.TeamID, a.P12File, a.P12Password, a.P12PasswordFile = "", "", "", "/c.p12", "pw", "/pw"
		}, "p12_password, p12_password_file"},
		{"password without p12", func(a *AppConfig) { a.P12Password = "pw" }, "p12_password"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := ok
			tc.mutate(&a)
			err := a.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field)):
				t.Fatalf("error %v, want one starting with %q", err, tc.field)
			}
		})
	}
}

func TestLoadCredential(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	base := AppConfig{Topic: "com.x", Environment: Sandbox, KeyID: "ABC123DEFG", TeamID: "DEF123GHIJ"}
	tests := []struct {
		name string
		key  string
		file string
		want string // "" means loads
	}{
		{"ES256 key", pemOf(t, ec), "", ""},
		{"not PEM", "hello", "", "key: not a PEM"},
		{"RSA key", pemOf(t, rsaKey), "", "key: not an ECDSA"},
		{"missing file", "", "/nonexistent/k.p8", "key_file:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := base
			a.Key, a.KeyFile = tc.key, tc.file
			c, err := loadCredential(a)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("error %v, want prefix %q", err, tc.want)
			case tc.want == "" && (c.keyID != a.KeyID || c.teamID != a.TeamID || c.key == nil):
				t.Fatalf("credential %+v", c)
			}
		})
	}
	a := base
	a.Key = pemOf(t, ec)
	c1, _ := loadCredential(a)
	c2, _ := loadCredential(a)
	if c1.id != c2.id || strings.Contains(c1.id, "PRIVATE") {
		t.Fatalf("credential ids %q and %q: want equal and free of key material", c1.id, c2.id)
	}
	a.Key, a.KeyID, a.TeamID, a.Cert = "", "", "", "not a cert"
	if _, err := loadCredential(a); err == nil || !strings.HasPrefix(err.Error(), "cert:") {
		t.Fatalf("bad certificate: %v", err)
	}
}

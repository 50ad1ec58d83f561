package apns_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
	"software.sslmate.com/src/go-pkcs12"
)

// TestTwoAppsInOneSender: apps with different keys, teams and topics share a
// sender; each request carries its app's topic and JWT.
func TestTwoAppsInOneSender(t *testing.T) {
	fk, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	a, _ := fk.SandboxApp("com.example.alpha")
	b, _ := fk.SandboxApp("com.example.beta")
	if a.KeyID == b.KeyID || a.TeamID == b.TeamID {
		t.Fatal("sandbox apps share ids")
	}
	s, err := apns.New(fk.Config(), map[string]apns.AppConfig{"alpha": a, "beta": b})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for i, app := range []string{"alpha", "beta"} {
		wg.Go(func() {
			for _, r := range send(t, s, newJob(app, tokens(i*100, 20)...)) {
				if r.Kind != provider.Delivered {
					t.Errorf("%s: %v %s", app, r.Kind, r.Reason)
				}
			}
		})
	}
	wg.Wait()
	for i, topic := range []string{"com.example.alpha", "com.example.beta"} {
		req, ok := fk.LastRequest(token(i * 100))
		if !ok || req.Header.Get("apns-topic") != topic {
			t.Errorf("token of app %d: topic %q, want %q", i, req.Header.Get("apns-topic"), topic)
		}
	}
	if fk.JWTs(a.KeyID) != 1 || fk.JWTs(b.KeyID) != 1 {
		t.Fatalf("JWTs per key: %d, %d; want 1, 1", fk.JWTs(a.KeyID), fk.JWTs(b.KeyID))
	}
}

// TestUpdateAppsRotatesKey: rotating one app's key takes effect without a
// restart, keeps the other app's connections and closes the old pool.
func TestUpdateAppsRotatesKey(t *testing.T) {
	fk, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	keep, _ := fk.SandboxApp("com.example.keep")
	old, _ := fk.SandboxApp("com.example.rotate")
	cfg := fk.Config()
	cfg.ConnsPerPool = 1
	s, err := apns.New(cfg, map[string]apns.AppConfig{"keep": keep, "rotate": old})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	providertest.WantKind(t, send(t, s, newJob("keep", token(1)))[0], provider.Delivered)
	providertest.WantKind(t, send(t, s, newJob("rotate", token(2)))[0], provider.Delivered)
	if n := fk.Connections(); n != 2 {
		t.Fatalf("%d connections, want 2 (one per pool)", n)
	}

	rotated, _ := fk.SandboxApp("com.example.rotate")
	if err := s.UpdateApps(map[string]apns.AppConfig{"keep": keep, "rotate": rotated}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the old pool's connection to close", func() bool { return fk.OpenConnections() == 1 })
	providertest.WantKind(t, send(t, s, newJob("keep", token(3)))[0], provider.Delivered)
	if n := fk.Connections(); n != 2 {
		t.Fatalf("%d connections after update, want 2: the unchanged app must keep its connection", n)
	}
	providertest.WantKind(t, send(t, s, newJob("rotate", token(4)))[0], provider.Delivered)
	if fk.JWTs(rotated.KeyID) != 1 || fk.JWTs(old.KeyID) != 1 {
		t.Fatalf("JWTs: new key %d, old key %d; want 1, 1", fk.JWTs(rotated.KeyID), fk.JWTs(old.KeyID))
	}
	if n := fk.Connections(); n != 3 {
		t.Fatalf("%d connections, want 3", n)
	}
}

// TestUpdateAppsAddRemoveAndReject: removed apps become unknown, and an
// invalid update changes nothing and names the app and field.
func TestUpdateAppsAddRemoveAndReject(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	bad := f.app
	bad.KeyID = ""
	err := f.sender.UpdateApps(map[string]apns.AppConfig{testApp: f.app, "broken": bad})
	if err == nil || !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), "key_id") {
		t.Fatalf("err %v, want one naming app \"broken\" and key_id", err)
	}
	providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Delivered)

	other, _ := f.fake.SandboxApp("com.example.other")
	if err := f.sender.UpdateApps(map[string]apns.AppConfig{"other": other}); err != nil {
		t.Fatal(err)
	}
	r := send(t, f.sender, newJob(testApp, token(1)))[0]
	if r.Kind != provider.Permanent || !errors.Is(r.Err, provider.ErrUnknownApp) {
		t.Fatalf("removed app: %v %v", r.Kind, r.Err)
	}
	providertest.WantKind(t, send(t, f.sender, newJob("other", token(1)))[0], provider.Delivered)

	f.sender.Close()
	if err := f.sender.UpdateApps(nil); !errors.Is(err, apns.ErrClosed) {
		t.Fatalf("UpdateApps after Close: %v", err)
	}
	if r := send(t, f.sender, newJob("other", token(1)))[0]; !errors.Is(r.Err, provider.ErrUnknownApp) {
		t.Fatalf("Send after Close: %v", r.Err)
	}
}

// TestCertificateAuth: a client certificate from the fake's CA is accepted
// (inline or as files, key separate or in the same PEM); one from another CA
// is a credential error.
func TestCertificateAuth(t *testing.T) {
	fk, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	other, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	inline, err := fk.SandboxCertApp(testTopic)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, combined := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "combined.pem")
	for name, content := range map[string]string{certFile: inline.Cert, keyFile: inline.Key, combined: inline.Cert + inline.Key} {
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	files := apns.AppConfig{Topic: testTopic, Environment: apns.Sandbox, CertFile: certFile, KeyFile: keyFile}
	both := apns.AppConfig{Topic: testTopic, Environment: apns.Sandbox, CertFile: combined}
	foreign, _ := other.SandboxCertApp(testTopic)
	// The same certificate as a .p12: AES-256 and PBKDF2 as OpenSSL 3 and
	// current macOS write it (password in a file, with echo's newline), and
	// the legacy RC2/3DES form older Keychain Access exports (inline password).
	p12 := apns.AppConfig{Topic: testTopic, Environment: apns.Sandbox,
		P12File: writeP12(t, dir, "modern.p12", inline, pkcs12.Modern2023, "s3cret"), P12PasswordFile: filepath.Join(dir, "pw")}
	if err := os.WriteFile(p12.P12PasswordFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	legacy := apns.AppConfig{Topic: testTopic, Environment: apns.Sandbox,
		P12File: writeP12(t, dir, "legacy.p12", inline, pkcs12.LegacyRC2, "old"), P12Password: "old"}
	wrong := legacy
	wrong.P12Password = "guess"
	if _, err := apns.New(fk.Config(), map[string]apns.AppConfig{"wrong": wrong}); err == nil ||
		!strings.Contains(err.Error(), "p12_file: wrong password") || strings.Contains(err.Error(), "guess") {
		t.Fatalf("wrong .p12 password: %v, want an error naming p12_file and not the password", err)
	}
	s, err := apns.New(fk.Config(), map[string]apns.AppConfig{"inline": inline, "files": files, "both": both, "foreign": foreign,
		"p12": p12, "p12-legacy": legacy})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	providertest.WantKind(t, send(t, s, newJob("inline", token(1)))[0], provider.Delivered)
	providertest.WantKind(t, send(t, s, newJob("files", token(2)))[0], provider.Delivered)
	providertest.WantKind(t, send(t, s, newJob("both", token(2)))[0], provider.Delivered)
	for _, app := range []string{"p12", "p12-legacy"} {
		providertest.WantKind(t, send(t, s, newJob(app, token(4)))[0], provider.Delivered)
	}
	if req, _ := fk.LastRequest(token(1)); req.Header.Get("authorization") != "" {
		t.Fatal("certificate auth sent an authorization header")
	}
	r := send(t, s, newJob("foreign", token(3)))[0]
	providertest.WantKind(t, r, provider.CredentialError)
	if r.Reason != "BadCertificate" {
		t.Fatalf("reason %q, want BadCertificate", r.Reason)
	}
}

// writeP12 writes app's PEM certificate and key as a .p12 file made by enc.
func writeP12(t *testing.T, dir, name string, app apns.AppConfig, enc *pkcs12.Encoder, password string) string {
	t.Helper()
	pair, err := tls.X509KeyPair([]byte(app.Cert), []byte(app.Key))
	if err != nil {
		t.Fatal(err)
	}
	data, err := enc.Encode(pair.PrivateKey, pair.Leaf, nil, password)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// waitFor polls cond for up to 5 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

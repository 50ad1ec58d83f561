package hms_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

func TestAppConfigValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "secret")
	if err := os.WriteFile(good, []byte("  s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		a    hms.AppConfig
		ok   bool
	}{
		{"inline", hms.AppConfig{AppID: "100", ClientSecret: "s"}, true},
		{"file", hms.AppConfig{AppID: "100", ClientID: "200", ClientSecretFile: good}, true},
		{"no app id", hms.AppConfig{ClientSecret: "s"}, false},
		{"app id not a path segment", hms.AppConfig{AppID: "1/2", ClientSecret: "s"}, false},
		{"no secret", hms.AppConfig{AppID: "100"}, false},
		{"both secrets", hms.AppConfig{AppID: "100", ClientSecret: "s", ClientSecretFile: good}, false},
		{"missing file", hms.AppConfig{AppID: "100", ClientSecretFile: filepath.Join(dir, "nope")}, false},
		{"empty file", hms.AppConfig{AppID: "100", ClientSecretFile: empty}, false},
		{"two-line secret", hms.AppConfig{AppID: "100", ClientSecret: "a\nb"}, false},
	} {
		if err := tc.a.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []hms.Config{
		{PushURL: "ftp://x"}, {TokenURL: "https://"}, {BatchSize: hms.MaxBatch + 1}, {MaxInFlight: -1},
		{BackoffMin: time.Minute, BackoffMax: time.Second},
	} {
		if _, err := hms.New(c, nil); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// Apps are reloaded like fcm's and mi's: UpdateApps with the new set.
// Unchanged apps keep their cached token, a rotated secret file takes
// effect, removed apps become unknown, and a bad set changes nothing.
func TestUpdateApps(t *testing.T) {
	f := startFake(t, hmsfake.Options{})
	app := f.SandboxApp()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(app.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	app.ClientSecret, app.ClientSecretFile = "", secretFile
	other := f.SandboxApp()
	apps := map[string]hms.AppConfig{testApp: app, "other": other}
	s := newSender(t, f, nil, apps)
	sendOK(t, s, token(1))

	// The same set again: the cached token is kept.
	if err := s.UpdateApps(apps); err != nil {
		t.Fatal(err)
	}
	sendOK(t, s, token(2))
	if n := f.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests after reloading an unchanged app, want 1", n)
	}

	// The secret is rotated in AppGallery Connect and in the file.
	f.SetSecret(app.AppID, "rotated")
	f.ExpireTokens()
	if err := os.WriteFile(secretFile, []byte("rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateApps(apps); err != nil {
		t.Fatal(err)
	}
	sendOK(t, s, token(3))

	// A bad set is refused whole.
	bad := map[string]hms.AppConfig{testApp: app, "broken": {AppID: "1"}}
	if err := s.UpdateApps(bad); err == nil {
		t.Fatal("UpdateApps accepted an app without a secret")
	}
	if got := s.Apps(); !slices.Equal(got, []string{testApp, "other"}) {
		t.Fatalf("apps %v after a refused update", got)
	}

	// Removing an app makes it unknown.
	if err := s.UpdateApps(map[string]hms.AppConfig{"other": other}); err != nil {
		t.Fatal(err)
	}
	rs := providertest.Send(t, s, testJob(token(4)), 10*time.Second)
	providertest.WantKind(t, rs[0], provider.Permanent)
	if !errors.Is(rs[0].Err, provider.ErrUnknownApp) {
		t.Fatalf("err %v, want ErrUnknownApp", rs[0].Err)
	}
}

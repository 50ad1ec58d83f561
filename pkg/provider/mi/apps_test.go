package mi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// TestUpdateAppsRotatesSecret rotates a secret on the server, sees the old
// one rejected as a credential error, rotates it in the sender, and checks
// the connection survived.
func TestUpdateAppsRotatesSecret(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	if r := send(t, s, testJob(regid(1)))[0]; r.Kind != provider.Delivered {
		t.Fatal(r)
	}
	old := fake.SandboxApp("com.example.demo") // a second secret for the same package
	fake.AddApp("com.example.demo", "rotated-secret")
	if err := s.UpdateApps(map[string]mi.AppConfig{testApp: old}); err != nil {
		t.Fatal(err)
	}
	fake.RemoveApp(old.AppSecret)
	r := send(t, s, testJob(regid(2)))[0]
	if r.Kind != provider.CredentialError || r.Reason != "21301" || !errors.Is(r.Err, provider.ErrCredentials) {
		t.Fatalf("revoked secret: %v %q %v", r.Kind, r.Reason, r.Err)
	}
	if fake.Delivered(regid(2)) != 0 {
		t.Fatal("delivered with a revoked secret")
	}
	// Rotate through a secret file this time.
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("rotated-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.UpdateApps(map[string]mi.AppConfig{
		testApp: {PackageName: "com.example.demo", AppSecretFile: file},
		"other": fake.SandboxApp("com.example.other"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := send(t, s, testJob(regid(2)))[0]; r.Kind != provider.Delivered {
		t.Fatalf("after rotation: %v %q", r.Kind, r.Reason)
	}
	if got := s.Apps(); !slices.Equal(got, []string{testApp, "other"}) {
		t.Fatalf("Apps() = %v", got)
	}
	if c := fake.Connections(); c != 1 {
		t.Fatalf("%d connections: rotating a secret must keep the connection", c)
	}
	// Removing an app makes its jobs unknown; a bad update changes nothing.
	if err := s.UpdateApps(map[string]mi.AppConfig{"other": fake.SandboxApp("com.example.other")}); err != nil {
		t.Fatal(err)
	}
	if r := send(t, s, testJob(regid(3)))[0]; r.Kind != provider.Permanent || !errors.Is(r.Err, provider.ErrUnknownApp) {
		t.Fatalf("removed app: %v %v", r.Kind, r.Err)
	}
	if err := s.UpdateApps(map[string]mi.AppConfig{"x": {PackageName: "p"}}); err == nil {
		t.Fatal("an app without a secret was accepted")
	}
	if got := s.Apps(); !slices.Equal(got, []string{"other"}) {
		t.Fatalf("a failed update changed the apps: %v", got)
	}
}

func TestAliasAndTopic(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	m, err := mi.BuildMessage(&testJob().Notification, nil, "com.example.demo", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.SendAliases(context.Background(), testApp, m, []string{"alice", "bob,ob"})
	if err != nil || resp.Code != 0 || !strings.Contains(resp.Info, "2 ALIAS") {
		t.Fatalf("alias: %+v %v", resp, err)
	}
	if path, form := fake.LastRequest(); path != mi.PathAlias || len(form["alias"]) != 2 {
		t.Fatalf("alias request %s %v", path, form["alias"])
	}
	resp, err = s.SendTopic(context.Background(), testApp, m, "news")
	if err != nil || resp.Code != 0 || resp.Data.ID == "" {
		t.Fatalf("topic: %+v %v", resp, err)
	}
	if fake.Delivered("alice") != 1 || fake.Delivered("news") != 1 {
		t.Fatal("fake did not record the alias and topic sends")
	}
	if _, err := s.SendTopic(context.Background(), "nope", m, "news"); !errors.Is(err, provider.ErrUnknownApp) {
		t.Fatalf("unknown app: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     mi.Config
		wantErr string
	}{
		{"zero is fine", mi.Config{}, ""},
		{"bad base url", mi.Config{BaseURL: "ftp://x"}, "base_url"},
		{"host without scheme", mi.Config{Hosts: map[string]string{"china": "api.example"}}, "hosts[china]"},
		{"empty feedback host disables", mi.Config{FeedbackHosts: map[string]string{"europe": ""}}, ""},
		{"negative batch", mi.Config{BatchSize: -1}, "batch_size"},
		{"backoff inverted", mi.Config{BackoffMin: 2, BackoffMax: 1}, "backoff_min"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestAppConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		app     mi.AppConfig
		wantErr string
	}{
		{"inline secret", mi.AppConfig{PackageName: "com.a", AppSecret: "s"}, ""},
		{"no package", mi.AppConfig{AppSecret: "s"}, "package_name"},
		{"no secret", mi.AppConfig{PackageName: "com.a"}, "app_secret"},
		{"both secrets", mi.AppConfig{PackageName: "com.a", AppSecret: "s", AppSecretFile: "/f"}, "only one"},
		{"comma in package", mi.AppConfig{PackageName: "com.a,com.b", AppSecret: "s"}, "package_name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.app.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name    string
		apps    map[string]mi.AppConfig
		wantErr string
	}{
		{"unknown region", map[string]mi.AppConfig{"a": {PackageName: "p", AppSecret: "s", Region: "mars"}}, "region"},
		{"missing secret file", map[string]mi.AppConfig{"a": {PackageName: "p", AppSecretFile: "/nonexistent/secret"}}, "app_secret_file"},
		{"bad app name", map[string]mi.AppConfig{"a b": {PackageName: "p", AppSecret: "s"}}, "app name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := mi.New(mi.Config{}, tc.apps); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

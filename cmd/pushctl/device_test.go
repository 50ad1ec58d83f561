package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
)

// registryUsersConf gives app demo its own registry user, confined to
// push.registry.*.demo and its own inbox prefix (as deploy/nats-server does).
const registryUsersConf = `
port: -1
jetstream { store_dir: %q }
accounts {
  PUSHFLEET {
    jetstream: enabled
    users: [
      { user: admin, password: admin }
      { user: registry-demo, password: demo, permissions: {
          publish: { allow: ["push.registry.*.demo"] }
          subscribe: { allow: ["_INBOX_registry-demo.>"] }
      } }
    ]
  }
}
`

// pushctl device talks to push.registry.<verb>.<app> with the inbox prefix
// of the app's registry user, so it runs as registry-demo for app demo,
// and that user cannot reach another app's devices. Before, it used
// push.registry.<verb> and pushctl's inbox: only admin could run it.
func TestDeviceRunsAsTheAppsRegistryUser(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(registryUsersConf, filepath.Join(dir, "js"))), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithOptions(t, opts)
	admin, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	js, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := streams.CreateTokens(context.Background(), js, streams.Config{Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := registry.NewService(admin, tokens.NewDevices(js, kv), registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	// The service's subscriptions are on admin's connection: flush them to
	// the server before another connection sends the first request.
	if err := admin.Flush(); err != nil {
		t.Fatal(err)
	}

	runAs := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		env := map[string]string{"PUSHFLEET_NATS_URL": srv.ClientURL(), "PUSHFLEET_NATS_USER": "registry-demo", "PUSHFLEET_NATS_PASSWORD": "demo"}
		var out, errb bytes.Buffer
		err := run(ctx, args, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
		return out.String() + errb.String(), err
	}
	if out, err := runAs(10*time.Second, "device", "register", "--app", "demo", "--platform", "apns", "--token", "aa01", "--alias", "u1"); err != nil {
		t.Fatalf("register as registry-demo: %v\n%s", err, out)
	}
	out, err := runAs(10*time.Second, "device", "list", "--app", "demo", "--alias", "u1")
	if err != nil || !strings.Contains(out, "apns aa01") {
		t.Fatalf("list as registry-demo: %v\n%s", err, out)
	}
	if out, err := runAs(10*time.Second, "device", "stats", "--app", "demo", "-o", "json"); err != nil || !strings.Contains(out, `"total": 1`) {
		t.Fatalf("stats as registry-demo: %v\n%s", err, out)
	}
	if out, err := runAs(2*time.Second, "device", "register", "--app", "shop", "--platform", "apns", "--token", "evil", "--alias", "u1"); err == nil {
		t.Fatalf("registry-demo registered a device of app shop:\n%s", out)
	}
	if _, err := tokens.NewDevices(js, kv).Get(context.Background(), "shop", "apns", "evil"); err == nil {
		t.Fatal("a device of app shop was registered by registry-demo")
	}
	if out, err := runAs(10*time.Second, "device", "get", "--app", "a.b", "--platform", "apns", "--token", "x"); err == nil || !strings.Contains(err.Error(), "app") {
		t.Fatalf("get for app a.b: %v\n%s", err, out)
	}
}

package securitytest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// addRegistryClient adds the registry client of app to the options the way
// docs/SECURITY.md and the configuration tell an operator to: registry-demo's
// permissions with "demo" replaced by app, as user registry-<app>.
func addRegistryClient(t *testing.T, o *server.Options, app, password string) {
	t.Helper()
	var demo *server.User
	for _, u := range o.Users {
		if u.Username == "registry-demo" {
			demo = u
		}
	}
	if demo == nil || demo.Permissions == nil || demo.Permissions.Publish == nil || demo.Permissions.Subscribe == nil {
		t.Fatalf("%s has no user registry-demo with publish and subscribe permissions", confFile)
	}
	swap := func(in []string) (out []string) {
		for _, s := range in {
			out = append(out, strings.ReplaceAll(s, "demo", app))
		}
		return out
	}
	o.Users = append(o.Users, &server.User{
		Username: "registry-" + app, Password: password, Account: demo.Account,
		Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: swap(demo.Permissions.Publish.Allow)},
			Subscribe: &server.SubjectPermission{Allow: swap(demo.Permissions.Subscribe.Allow)},
		},
	})
}

// Every backend app has its own registry client user (registry-demo,
// registry-shop, added as the docs say): registry-demo calls the registry
// for demo, but is refused every endpoint of shop
// (push.registry.<verb>.shop) and the operators' stats-all; a request on
// its own subject whose body names shop (planting a device under shop's
// alias) is refused by the registry with 403 and changes nothing; it cannot
// subscribe to shop's inbox, the shared _INBOX.>, the producer's inbox or
// the registry requests themselves, and receives none of the device records
// the registry sends registry-shop.
func TestRegistryClientsAreConfinedToTheirApp(t *testing.T) {
	ctx := context.Background()
	shopPassword := randomHex(t, 16)
	as := startAuthServer(t, func(o *server.Options) { addRegistryClient(t, o, "shop", shopPassword) })
	as.passwords["registry-shop"] = shopPassword
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)

	// The registry, served by the feedback-sink's user as in production.
	sink := as.connect(t, "feedback-sink")
	kv, err := sink.js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := registry.NewService(sink.nc, tokens.NewDevices(sink.js, kv), registry.Config{})
	if err != nil {
		t.Fatalf("feedback-sink serves the registry: %v", err)
	}
	t.Cleanup(func() { _ = svc.Stop() })

	demo, shop := as.connect(t, "registry-demo"), as.connect(t, "registry-shop")
	snoops := []*nats.Subscription{
		demo.refusedSub(t, "_INBOX.>"),
		demo.refusedSub(t, "_INBOX_registry-shop.>"),
		demo.refusedSub(t, "_INBOX_pushctl.>"),
		demo.refusedSub(t, "push.registry.>"),
	}

	call := func(c *client, subject string, body any) (*nats.Msg, error) {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return c.nc.RequestWithContext(ctx, subject, b)
	}
	ok := func(who string, m *nats.Msg, err error) *nats.Msg {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if code := m.Header.Get(serviceErrorCode); code != "" {
			t.Fatalf("%s: %s %s", who, code, m.Header.Get(serviceError))
		}
		return m
	}
	shopToken := sandbox.Token(events.APNs, 900, false)
	shopDevice := map[string]any{"app": "shop", "platform": events.APNs, "token": shopToken, "alias": "alice"}
	m, err := call(shop, "push.registry.register.shop", shopDevice)
	ok("registry-shop registers a shop device", m, err)
	m, err = call(shop, "push.registry.get.shop", map[string]any{"app": "shop", "platform": events.APNs, "token": shopToken})
	ok("registry-shop reads its device", m, err)
	if !strings.Contains(string(m.Data), shopToken) {
		t.Fatalf("registry-shop's device record lacks its token: %s", m.Data)
	}
	demoToken := sandbox.Token(events.APNs, 901, false)
	m, err = call(demo, "push.registry.register.demo", map[string]any{"app": "demo", "platform": events.APNs, "token": demoToken, "alias": "bob"})
	ok("registry-demo registers a demo device", m, err)

	// registry-demo's refused subscriptions saw none of shop's answers.
	for _, s := range snoops {
		if m, err := s.NextMsg(300 * time.Millisecond); err == nil {
			t.Errorf("registry-demo's refused subscription to %s received %s: %d bytes", s.Subject, m.Subject, len(m.Data))
		} else if !errors.Is(err, nats.ErrTimeout) {
			t.Logf("%s: %v", s.Subject, err)
		}
	}

	// Every endpoint of shop is refused to registry-demo, and so is stats-all.
	for _, verb := range []string{registry.VerbRegister, registry.VerbUnregister, registry.VerbGet, registry.VerbUpdateTags,
		registry.VerbListByAlias, registry.VerbListByTag, registry.VerbStats} {
		subject := "push.registry." + verb + ".shop"
		demo.denied(t, subject, func(ctx context.Context) error {
			_, err := demo.nc.RequestWithContext(ctx, subject, []byte(`{"app":"shop","platform":"apns","token":"x"}`))
			return err
		})
	}
	demo.denied(t, "push.registry.stats-all", func(ctx context.Context) error {
		_, err := demo.nc.RequestWithContext(ctx, "push.registry.stats-all", []byte(`{}`))
		return err
	})

	// Planting a device under shop's alias through demo's own subject: the
	// registry trusts the subject's app, not the body's.
	attacker := sandbox.Token(events.APNs, 902, false)
	m, err = call(demo, "push.registry.register.demo", map[string]any{"app": "shop", "platform": events.APNs, "token": attacker, "alias": "alice"})
	if err != nil {
		t.Fatalf("registry-demo's forged request got no answer: %v", err)
	}
	if code := m.Header.Get(serviceErrorCode); code != "403" {
		t.Fatalf("a body for app shop on push.registry.register.demo answered %q %q, want 403", code, m.Header.Get(serviceError))
	}
	m, err = call(shop, "push.registry.list-by-alias.shop", map[string]any{"app": "shop", "alias": "alice"})
	ok("registry-shop lists its alias", m, err)
	var page registry.ListResponse
	if err := json.Unmarshal(m.Data, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Devices) != 1 || page.Devices[0].Token != shopToken {
		t.Fatalf("shop's alias alice holds %d devices after registry-demo's attempt, want only shop's own", len(page.Devices))
	}
	if _, _, err := tokens.NewStore(kv).Get(ctx, "shop", events.APNs, attacker); !errors.Is(err, tokens.ErrNotFound) {
		t.Fatalf("the forged device of shop is stored: %v", err)
	}
}

// The micro service error headers (nats.go/micro's, spelled out so that a
// change there shows here).
const (
	serviceErrorCode = "Nats-Service-Error-Code"
	serviceError     = "Nats-Service-Error"
)

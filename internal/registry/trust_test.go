package registry_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// requestRaw sends body on subject and returns the service's error code
// ("" for success) and description.
func requestRaw(t *testing.T, nc *nats.Conn, subject, body string) (code, desc string) {
	t.Helper()
	msg, err := nc.RequestWithContext(ctxT(t), subject, []byte(body))
	if err != nil {
		t.Fatalf("request on %s: %v", subject, err)
	}
	return msg.Header.Get(micro.ErrorCodeHeader), msg.Header.Get(micro.ErrorHeader)
}

// The subject's app is the authority: a request whose body names another
// app is refused, on every endpoint, and changes nothing. Before, every
// registry client could plant devices under any app's alias and read any
// app's devices.
func TestRequestForAnotherAppIsRefused(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	for _, a := range []string{"demo", "shop"} {
		if _, err := e.reg.Register(ctx, tokens.Device{App: a, Platform: events.APNs, Token: a + "01", Alias: "u1", Tags: []string{"t1"}}); err != nil {
			t.Fatal(err)
		}
	}
	before := map[string][]events.Target{}
	for _, a := range []string{"demo", "shop"} {
		m, err := e.reg.ListAlias(ctx, a, "u1", tokens.Page{})
		if err != nil {
			t.Fatal(err)
		}
		before[a] = m.Devices
	}
	bodies := map[string]func(app string) string{
		registry.VerbRegister: func(app string) string {
			return fmt.Sprintf(`{"app":%q,"platform":"apns","token":"attacker","alias":"u1","tags":["t1"]}`, app)
		},
		registry.VerbUnregister: func(app string) string { return fmt.Sprintf(`{"app":%q,"platform":"apns","token":%q}`, app, app+"01") },
		registry.VerbGet:        func(app string) string { return fmt.Sprintf(`{"app":%q,"platform":"apns","token":%q}`, app, app+"01") },
		registry.VerbUpdateTags: func(app string) string {
			return fmt.Sprintf(`{"app":%q,"platform":"apns","token":%q,"add":["x"]}`, app, app+"01")
		},
		registry.VerbListByAlias: func(app string) string { return fmt.Sprintf(`{"app":%q,"alias":"u1"}`, app) },
		registry.VerbListByTag:   func(app string) string { return fmt.Sprintf(`{"app":%q,"tag":"t1"}`, app) },
		registry.VerbStats:       func(app string) string { return fmt.Sprintf(`{"app":%q}`, app) },
	}
	for _, verb := range registry.Verbs {
		for _, c := range []struct{ subjectApp, bodyApp string }{
			{"shop", "demo"}, // a request for app demo on the subject of app shop
			{"demo", "shop"}, // on push.registry.<verb>.demo, a body for app shop
		} {
			t.Run(fmt.Sprintf("%s on %s for %s", verb, c.subjectApp, c.bodyApp), func(t *testing.T) {
				subject := registry.Subject(verb, c.subjectApp)
				code, desc := requestRaw(t, e.nc, subject, bodies[verb](c.bodyApp))
				if code != registry.CodeForbidden || !strings.Contains(desc, `"`+c.bodyApp+`"`) || !strings.Contains(desc, `"`+c.subjectApp+`"`) {
					t.Fatalf("answer %s %q, want %s naming both apps", code, desc, registry.CodeForbidden)
				}
			})
		}
	}
	for _, a := range []string{"demo", "shop"} {
		m, err := e.reg.ListAlias(ctx, a, "u1", tokens.Page{})
		if err != nil || !equalDevices(m.Devices, before[a]) {
			t.Errorf("app %s alias u1 lists %v (%v), want %v: a refused request changed it", a, m.Devices, err, before[a])
		}
		r, err := e.reg.Get(ctx, a, events.APNs, a+"01")
		if err != nil || len(r.Tags) != 1 || r.Tags[0] != "t1" {
			t.Errorf("app %s device %+v (%v): a refused request changed it", a, r, err)
		}
		if _, err := e.reg.Get(ctx, a, events.APNs, "attacker"); !errors.Is(err, tokens.ErrNotFound) {
			t.Errorf("app %s: the attacker's device was registered (%v)", a, err)
		}
	}

	// The Client sends each request on its own app's subject.
	var rerr *registry.Error
	_, err := e.client.Get(ctx, registry.DeviceRef{App: "shop", Platform: events.APNs, Token: "shop01"})
	if err != nil {
		t.Fatalf("client get on the app's own subject: %v", err)
	}
	if _, err := e.client.Get(ctx, registry.DeviceRef{App: "a.b", Platform: events.APNs, Token: "x"}); !errors.Is(err, registry.ErrBadRequest) || !errors.As(err, &rerr) {
		t.Fatalf("client get for app a.b: %v, want a local ErrBadRequest", err)
	}
}

func equalDevices(a, b []events.Target) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// A name that is not an app (a dot would make it several key tokens: the
// phantom alias entry of the review) is refused wherever it comes from.
func TestDottedAppIsRefused(t *testing.T) {
	e := start(t, false)
	phantom := app + ".alias." + tokens.TokenKey("u1")
	tests := []struct {
		name, subject, body, wantCode string
	}{
		{"in the body", registry.Subject(registry.VerbRegister, app),
			fmt.Sprintf(`{"app":%q,"platform":"apns","token":"aa"}`, phantom), registry.CodeForbidden},
		{"in the subject", registry.SubjectPrefix + "." + registry.VerbGet + ".a%b",
			`{"app":"a%b","platform":"apns","token":"aa"}`, registry.CodeBadRequest},
		{"app with a space", registry.SubjectPrefix + "." + registry.VerbStats + ".a b", `{}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantCode == "" { // not one subject token: nothing answers
				_, err := e.nc.RequestWithContext(ctxT(t), tt.subject, []byte(tt.body))
				if err == nil {
					t.Fatal("a request on a malformed subject was answered")
				}
				return
			}
			code, desc := requestRaw(t, e.nc, tt.subject, tt.body)
			if code != tt.wantCode || !strings.Contains(desc, "app") {
				t.Fatalf("answer %s %q, want %s naming the app", code, desc, tt.wantCode)
			}
		})
	}
	m, err := e.reg.ListAlias(ctxT(t), app, "u1", tokens.Page{})
	if err != nil || len(m.Devices) != 0 {
		t.Fatalf("alias u1 lists %v (%v), want nothing", m.Devices, err)
	}
}

// Counting every app is a separate endpoint without an app token, so that
// no per-app client can reach it; it refuses a body naming an app.
func TestStatsAllCountsEveryApp(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	for _, a := range []string{"demo", "shop"} {
		if _, err := e.reg.Register(ctx, tokens.Device{App: a, Platform: events.FCM, Token: a + ":1"}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := e.client.Stats(ctx, registry.StatsRequest{})
	if err != nil || all.Total != 2 {
		t.Fatalf("stats of every app %+v, %v", all, err)
	}
	one, err := e.client.Stats(ctx, registry.StatsRequest{App: "shop"})
	if err != nil || one.Total != 1 || one.Counts[0].App != "shop" {
		t.Fatalf("stats of shop %+v, %v", one, err)
	}
	if code, _ := requestRaw(t, e.nc, registry.Subject(registry.VerbStats, "shop"), ``); code != "" {
		t.Fatalf("stats of the subject's app with an empty body: %s", code)
	}
	if code, desc := requestRaw(t, e.nc, registry.Subject(registry.VerbStatsAll, ""), `{"app":"shop"}`); code != registry.CodeBadRequest {
		t.Fatalf("stats-all naming an app: %s %q, want 400", code, desc)
	}
}

// The NATS permission blocks proposed for deploy/nats-server: the
// feedback-sink serves push.registry.*.* (and stats-all), and each app's
// registry client is its own user, confined to push.registry.*.<app> and
// to its own inbox prefix. registry-demo registers demo's devices, is
// refused (by NATS) shop's subjects and stats-all, is refused (by the
// service) a body for shop on its own subject, and cannot read other
// clients' answers.
const permsConf = `
port: -1
jetstream { store_dir: %q }
FEEDBACK_SINK = {
  publish: {
    allow: [
      "$JS.API.STREAM.INFO.KV_push_tokens"
      "$JS.API.DIRECT.GET.KV_push_tokens.>"
      "$JS.API.CONSUMER.CREATE.KV_push_tokens.>"
      "$JS.API.CONSUMER.INFO.KV_push_tokens.*"
      "$JS.API.CONSUMER.MSG.NEXT.KV_push_tokens.*"
      "$JS.API.CONSUMER.DELETE.KV_push_tokens.*"
      "$JS.FC.KV_push_tokens.>"
      "$KV.push_tokens.>"
    ]
  }
  subscribe: {
    allow: [
      "_INBOX_feedback-sink.>"
      "push.registry.*.*"
      "push.registry.stats-all"
      "$SRV.PING"
      "$SRV.INFO"
      "$SRV.STATS"
      "$SRV.*.pushfleet-registry"
      "$SRV.*.pushfleet-registry.*"
    ]
  }
  allow_responses: true
}
REGISTRY_DEMO = {
  publish: { allow: ["push.registry.*.demo"] }
  subscribe: { allow: ["_INBOX_registry-demo.>"] }
}
REGISTRY_SHOP = {
  publish: { allow: ["push.registry.*.shop"] }
  subscribe: { allow: ["_INBOX_registry-shop.>"] }
}
accounts {
  PUSHFLEET {
    jetstream: enabled
    users: [
      { user: admin, password: admin }
      { user: feedback-sink, password: sink, permissions: $FEEDBACK_SINK }
      { user: registry-demo, password: demo, permissions: $REGISTRY_DEMO }
      { user: registry-shop, password: shop, permissions: $REGISTRY_SHOP }
    ]
  }
}
`

func TestPerAppRegistryUsersAreConfined(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(permsConf, filepath.Join(dir, "js"))), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := natstest.RunServerWithOptions(t, opts)
	connect := func(user, pass, prefix string, errs chan<- error) *nats.Conn {
		// PermissionErrOnSubscribe: a refused subscription reports it on
		// NextMsg.
		o := []nats.Option{nats.UserInfo(user, pass), nats.CustomInboxPrefix(prefix), nats.PermissionErrOnSubscribe(true)}
		if errs != nil {
			o = append(o, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				select {
				case errs <- err:
				default:
				}
			}))
		}
		nc, err := nats.Connect(srv.ClientURL(), o...)
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	ctx := ctxT(t)
	admin := connect("admin", "admin", "_INBOX_admin", nil)
	ajs, err := jetstream.New(admin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.CreateTokens(ctx, ajs, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}

	// The service as the feedback-sink, with its own bucket rights.
	sinkErrs := make(chan error, 16)
	snc := connect("feedback-sink", "sink", "_INBOX_feedback-sink", sinkErrs)
	sjs, err := jetstream.New(snc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := sjs.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := registry.NewService(snc, tokens.NewDevices(sjs, kv), registry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })

	demoErrs := make(chan error, 16)
	demo := registry.NewClient(connect("registry-demo", "demo", registry.InboxPrefix("demo"), demoErrs))
	shop := registry.NewClient(connect("registry-shop", "shop", registry.InboxPrefix("shop"), nil))

	d, err := demo.Register(ctx, registry.RegisterRequest{DeviceRef: registry.DeviceRef{App: "demo", Platform: events.APNs, Token: "aa01"}, Alias: "u1"})
	if err != nil || d.State != "active" {
		t.Fatalf("registry-demo registers a demo device: %+v, %v", d, err)
	}
	if _, err := shop.Register(ctx, registry.RegisterRequest{DeviceRef: registry.DeviceRef{App: "shop", Platform: events.APNs, Token: "bb01"}, Alias: "u1"}); err != nil {
		t.Fatalf("registry-shop registers a shop device: %v", err)
	}
	if st, err := demo.Stats(ctx, registry.StatsRequest{App: "demo"}); err != nil || st.Total != 1 {
		t.Fatalf("registry-demo counts demo's devices: %+v, %v", st, err)
	}

	// NATS refuses registry-demo the subjects of shop and stats-all.
	for _, call := range []struct {
		name string
		do   func(ctx context.Context) error
	}{
		{"register under shop's alias", func(ctx context.Context) error {
			_, err := demo.Register(ctx, registry.RegisterRequest{DeviceRef: registry.DeviceRef{App: "shop", Platform: events.APNs, Token: "evil"}, Alias: "u1"})
			return err
		}},
		{"read shop's device", func(ctx context.Context) error {
			_, err := demo.Get(ctx, registry.DeviceRef{App: "shop", Platform: events.APNs, Token: "bb01"})
			return err
		}},
		{"count every app", func(ctx context.Context) error {
			_, err := demo.Stats(ctx, registry.StatsRequest{})
			return err
		}},
	} {
		t.Run(call.name, func(t *testing.T) {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if err := call.do(cctx); err == nil {
				t.Fatal("answered")
			}
			select {
			case err := <-demoErrs:
				if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), "Publish") {
					t.Fatalf("async error %v, want a publish permissions violation", err)
				}
			case <-ctx.Done():
				t.Fatal("no permissions violation reported")
			}
		})
	}
	// On its own subject, a body for shop: the service refuses it.
	dnc := connect("registry-demo", "demo", registry.InboxPrefix("demo"), make(chan error, 1))
	resp, err := dnc.RequestWithContext(ctx, registry.Subject(registry.VerbRegister, "demo"),
		[]byte(`{"app":"shop","platform":"apns","token":"evil","alias":"u1"}`))
	if err != nil || resp.Header.Get(micro.ErrorCodeHeader) != registry.CodeForbidden {
		t.Fatalf("body for shop on demo's subject: %v %v, want 403", resp, err)
	}

	// Answers stay with their client: registry-demo may not listen on
	// shop's inbox nor on the shared one.
	for _, subj := range []string{registry.InboxPrefix("shop") + ".>", "_INBOX.>"} {
		sub, err := dnc.SubscribeSync(subj)
		if err != nil {
			t.Fatal(err)
		}
		if err := dnc.Flush(); err != nil {
			t.Fatal(err)
		}
		natstest.Eventually(t, 5*time.Second, func() bool {
			_, err := sub.NextMsg(10 * time.Millisecond)
			return errors.Is(err, nats.ErrPermissionViolation)
		}, "subscription to %s refused", subj)
	}

	m, err := shop.ListByAlias(ctx, registry.ListByAliasRequest{App: "shop", Alias: "u1"})
	if err != nil || len(m.Devices) != 1 || m.Devices[0].Token != "bb01" {
		t.Fatalf("shop's alias u1 lists %+v (%v), want only bb01", m, err)
	}
	select {
	case err := <-sinkErrs:
		t.Fatalf("the feedback-sink user hit %v", err)
	default:
	}
}

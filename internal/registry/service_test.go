package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

const app = "demo"

type env struct {
	nc     *nats.Conn
	client *registry.Client
	reg    *tokens.Devices
	svc    micro.Service
}

// start runs the service against a fresh bucket; with a cache when asked.
func start(t *testing.T, withCache bool) *env {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	kv, err := streams.CreateTokens(ctx, js, streams.Config{Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	reg := tokens.NewDevices(js, kv)
	cfg := registry.Config{StatsTTL: time.Minute}
	if withCache {
		cfg.Cache = tokens.NewCache(kv, tokens.CacheConfig{})
		done := make(chan error, 1)
		go func() { done <- cfg.Cache.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		if err := cfg.Cache.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := registry.NewService(nc, reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	return &env{nc: nc, client: registry.NewClient(nc), reg: reg, svc: svc}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ref(p events.Platform, token string) registry.DeviceRef {
	return registry.DeviceRef{App: app, Platform: p, Token: token}
}

func TestEndpointsRoundTrip(t *testing.T) {
	e := start(t, true)
	ctx := ctxT(t)
	c := e.client

	d, err := c.Register(ctx, registry.RegisterRequest{DeviceRef: ref(events.FCM, "fcm:tok/1"), Alias: "user-1",
		Tags: []string{"sports", "news"}, Locale: "en-GB", Attributes: map[string]string{"app_version": "3.2"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.State != "active" || d.Token != "fcm:tok/1" || !slices.Equal(d.Tags, []string{"news", "sports"}) || d.RegisteredAt == nil {
		t.Fatalf("registered %+v", d)
	}
	if _, err := c.Register(ctx, registry.RegisterRequest{DeviceRef: ref(events.APNs, "aa01"), Alias: "user-1"}); err != nil {
		t.Fatal(err)
	}

	got, err := c.Get(ctx, ref(events.FCM, "fcm:tok/1"))
	if err != nil || got.Alias != "user-1" || got.Locale != "en-GB" || got.Attributes["app_version"] != "3.2" {
		t.Fatalf("get %+v, %v", got, err)
	}

	page, err := c.ListByAlias(ctx, registry.ListByAliasRequest{App: app, Alias: "user-1"})
	if err != nil || len(page.Devices) != 2 || page.Next != "" {
		t.Fatalf("list by alias %+v, %v", page, err)
	}

	d, err = c.UpdateTags(ctx, registry.UpdateTagsRequest{DeviceRef: ref(events.FCM, "fcm:tok/1"), Add: []string{"promo"}, Remove: []string{"sports"}})
	if err != nil || !slices.Equal(d.Tags, []string{"news", "promo"}) {
		t.Fatalf("update tags %+v, %v", d, err)
	}
	page, err = c.ListByTag(ctx, registry.ListByTagRequest{App: app, Tag: "promo"})
	if err != nil || len(page.Devices) != 1 || page.Devices[0] != (events.Target{Platform: events.FCM, Token: "fcm:tok/1"}) {
		t.Fatalf("list by tag %+v, %v", page, err)
	}
	page, err = c.ListByTag(ctx, registry.ListByTagRequest{App: app, Tag: "sports"})
	if err != nil || len(page.Devices) != 0 || page.Devices == nil {
		t.Fatalf("list of a removed tag %+v, %v", page, err)
	}

	natstest.Eventually(t, 2*time.Second, func() bool {
		st, err := c.Stats(ctx, registry.StatsRequest{App: app})
		return err == nil && st.Total == 2 && st.Source == "cache"
	}, "stats count both devices")

	if err := c.Unregister(ctx, ref(events.FCM, "fcm:tok/1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, ref(events.FCM, "fcm:tok/1")); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("get after unregister: %v, want ErrNotFound", err)
	}
	if err := c.Unregister(ctx, ref(events.FCM, "fcm:tok/1")); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("unregister twice: %v, want ErrNotFound", err)
	}
	if _, err := c.UpdateTags(ctx, registry.UpdateTagsRequest{DeviceRef: ref(events.FCM, "fcm:tok/1"), Add: []string{"x"}}); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("tagging an unregistered device: %v, want ErrNotFound", err)
	}
}

func TestListPagesThroughTag(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	for i := range 25 {
		if _, err := e.client.Register(ctx, registry.RegisterRequest{DeviceRef: ref(events.Mi, fmt.Sprint("mi+", i)), Tags: []string{"all"}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	req := registry.ListByTagRequest{App: app, Tag: "all", Paging: registry.Paging{Limit: 10}}
	var sizes []int
	for {
		page, err := e.client.ListByTag(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(page.Devices))
		for _, d := range page.Devices {
			if seen[d.Token] {
				t.Errorf("%s listed twice", d.Token)
			}
			seen[d.Token] = true
		}
		if page.Next == "" {
			break
		}
		req.Cursor = page.Next
	}
	if fmt.Sprint(sizes) != "[10 10 5]" || len(seen) != 25 {
		t.Fatalf("pages %v, %d devices", sizes, len(seen))
	}
}

func TestStatsWithoutCacheAreCountedAndReused(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	for _, tok := range []string{"aa01", "aa02"} {
		if _, err := e.client.Register(ctx, registry.RegisterRequest{DeviceRef: ref(events.APNs, tok)}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := e.client.Stats(ctx, registry.StatsRequest{})
	if err != nil || first.Source != "scan" || first.Total != 2 || len(first.Counts) != 1 || first.Counts[0].State != string(tokens.Active) {
		t.Fatalf("stats %+v, %v", first, err)
	}
	if _, err := e.client.Register(ctx, registry.RegisterRequest{DeviceRef: ref(events.APNs, "aa03")}); err != nil {
		t.Fatal(err)
	}
	again, err := e.client.Stats(ctx, registry.StatsRequest{})
	if err != nil || again.Total != 2 || !again.AsOf.Equal(first.AsOf) {
		t.Fatalf("second stats within the TTL %+v, %v; want the reused answer", again, err)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	e := start(t, false)
	ctx := ctxT(t)
	tests := []struct {
		name, verb, body string
		wantCode         string
		wantDesc         string
	}{
		{"not json", registry.VerbRegister, `{"app":`, registry.CodeBadRequest, "malformed request"},
		{"empty body", registry.VerbGet, ``, registry.CodeBadRequest, "empty body"},
		{"unknown field", registry.VerbRegister, `{"app":"demo","platform":"apns","token":"aa","alais":"u"}`, registry.CodeBadRequest, "alais"},
		{"unknown platform", registry.VerbRegister, `{"app":"demo","platform":"wp","token":"aa"}`, registry.CodeBadRequest, "platform"},
		{"missing token", registry.VerbGet, `{"app":"demo","platform":"apns"}`, registry.CodeBadRequest, "token"},
		{"alias with space", registry.VerbRegister, `{"app":"demo","platform":"apns","token":"aa","alias":"a b"}`, registry.CodeBadRequest, "alias"},
		{"negative limit", registry.VerbListByTag, `{"app":"demo","tag":"t","limit":-1}`, registry.CodeBadRequest, "limit"},
		{"bad cursor", registry.VerbListByAlias, `{"app":"demo","alias":"u","cursor":"x"}`, registry.CodeBadRequest, "cursor"},
		{"missing tag", registry.VerbListByTag, `{"app":"demo"}`, registry.CodeBadRequest, "tag"},
		{"bad app in stats", registry.VerbStats, `{"app":"a.b"}`, registry.CodeForbidden, "app"},
		{"token with a comma", registry.VerbRegister, `{"app":"demo","platform":"mi","token":"a,b"}`, registry.CodeBadRequest, "token"},
		{"token with a control character", registry.VerbGet, `{"app":"demo","platform":"apns","token":"a\u0000b"}`, registry.CodeBadRequest, "token"},
		{"tag with a control character", registry.VerbListByTag, `{"app":"demo","tag":"t\u0007"}`, registry.CodeBadRequest, "tag"},
		{"unknown device", registry.VerbGet, `{"app":"demo","platform":"apns","token":"none"}`, registry.CodeNotFound, "no record for this token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := e.nc.RequestWithContext(ctx, registry.Subject(tt.verb, app), []byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			code, desc := msg.Header.Get(micro.ErrorCodeHeader), msg.Header.Get(micro.ErrorHeader)
			if code != tt.wantCode || !strings.Contains(desc, tt.wantDesc) {
				t.Fatalf("answer %s %q, want %s naming %q", code, desc, tt.wantCode, tt.wantDesc)
			}
			// The body is one readable line, for a plain `nats req`
			// (which prints "nil body" for an empty one).
			want := fmt.Sprintf("%s %s: %s", code, registryapi.StatusText(code), desc)
			if string(msg.Data) != want {
				t.Fatalf("body %q, want %q", msg.Data, want)
			}
		})
	}
	_, err := e.client.Register(ctx, registry.RegisterRequest{DeviceRef: ref("wp", "aa")})
	var rerr *registry.Error
	if !errors.Is(err, registry.ErrBadRequest) || !errors.As(err, &rerr) || rerr.Code != registry.CodeBadRequest {
		t.Fatalf("client error %v, want an *Error matching ErrBadRequest", err)
	}
}

func TestServiceIdentity(t *testing.T) {
	e := start(t, false)
	subj, err := micro.ControlSubject(micro.InfoVerb, registry.ServiceName, "")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := e.nc.RequestWithContext(ctxT(t), subj, nil)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(msg.Data, &info); err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, ep := range info.Endpoints {
		subjects = append(subjects, ep.Subject)
	}
	want := []string{"push.registry.register.*", "push.registry.unregister.*", "push.registry.get.*", "push.registry.update-tags.*",
		"push.registry.list-by-alias.*", "push.registry.list-by-tag.*", "push.registry.stats.*", "push.registry.stats-all"}
	if info.Name != "pushfleet-registry" || info.Version != registry.ServiceVersion || !slices.Equal(subjects, want) {
		t.Fatalf("info %s %s %v", info.Name, info.Version, subjects)
	}
}

func TestClientWithoutServiceFailsFast(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv)
	_, err := registry.NewClient(nc).Get(ctxT(t), ref(events.APNs, "aa"))
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("err %v, want nats.ErrNoResponders", err)
	}
}

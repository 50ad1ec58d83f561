package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Test keys: the keys file holds their SHA-256 only.
const (
	keyShop    = "shop-key-7f3a9c0d2e41b8f6a5c3d2e1f0a9b8c7"
	keyMulti   = "multi-key-0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	keyLimited = "limited-key-11223344556677889900aabbccddeeff"
	keyAll     = "all-key-ffeeddccbbaa00998877665544332211"
)

func keysYAML(entries ...string) string {
	return "keys:\n" + strings.Join(entries, "")
}

func keyEntry(name, key, apps string, extra string) string {
	return "  - name: " + name + "\n    sha256: " + gateway.HashKey(key) + "\n    apps: " + apps + "\n" + extra
}

func defaultKeys() string {
	return keysYAML(
		keyEntry("shop-backend", keyShop, "[shop]", ""),
		keyEntry("multi", keyMulti, "[shop, demo]", ""),
		keyEntry("limited", keyLimited, "[shop]", "    rate: 0.5\n    burst: 1\n"),
		keyEntry("ops", keyAll, `["*"]`, ""),
	)
}

type harness struct {
	t        *testing.T
	srv      *server.Server
	nc       *nats.Conn
	js       jetstream.JetStream
	g        *gateway.Gateway
	fleet    *metrics.Fleet
	url      string
	keysPath string
	cancel   context.CancelFunc
	done     chan error
}

// newHarness runs a JetStream server with the streams provisioned and a
// gateway serving on a loopback port; mod adjusts the configuration.
func newHarness(t *testing.T, mod func(*gateway.Config)) *harness {
	t.Helper()
	srv := natstest.RunServer(t)
	nc, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatalf("provision: %v", err)
	}
	dir := t.TempDir()
	keysPath := filepath.Join(dir, "keys.yaml")
	writeFile(t, keysPath, defaultKeys())
	cfg := gateway.Config{
		Addr:       "127.0.0.1:0",
		KeysFile:   keysPath,
		KeysReload: 20 * time.Millisecond,
		Rate:       1000,
		Burst:      1000,
		Timeout:    5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	fl := metrics.New()
	g, err := gateway.NewService(cfg, gateway.ProcessEnv{JS: js, NC: nc, Metrics: fl, DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	h := &harness{t: t, srv: srv, nc: nc, js: js, g: g, fleet: fl, url: g.URL(), keysPath: keysPath, done: make(chan error, 1)}
	rctx, rcancel := context.WithCancel(context.Background())
	h.cancel = rcancel
	go func() { h.done <- g.Run(rctx) }()
	natstest.Eventually(t, 5*time.Second, func() bool { return g.Ready() == nil }, "gateway ready")
	t.Cleanup(func() {
		rcancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return h
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil { // atomic, as a mounted Secret
		t.Fatal(err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) problem(t *testing.T) gateway.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (status %d, body %s)", ct, r.status, r.body)
	}
	var p gateway.Problem
	r.json(t, &p)
	if p.Status != r.status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Fatalf("problem %+v does not match status %d or misses type/title/detail", p, r.status)
	}
	return p
}

// do sends a request; key "" sends none; hdr adds headers.
func (h *harness) do(method, path, key string, body any, hdr ...string) response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// stored reads PUSH_INTENTS message seq.
func (h *harness) stored(seq uint64) *jetstream.RawStreamMsg {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.js.Stream(ctx, events.StreamIntents)
	if err != nil {
		h.t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, seq)
	if err != nil {
		h.t.Fatalf("get msg %d: %v", seq, err)
	}
	return m
}

// count is the number of messages on PUSH_INTENTS.
func (h *harness) count() uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := h.js.Stream(ctx, events.StreamIntents)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

func intent(id, app string) map[string]any {
	m := map[string]any{
		"app":          app,
		"targets":      map[string]any{"tokens": []any{map[string]any{"platform": "fcm", "token": "fcm-token-" + app}}},
		"notification": map[string]any{"title": "Hello", "body": "World"},
	}
	if id != "" {
		m["id"] = id
	}
	return m
}

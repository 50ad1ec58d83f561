package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// gatewayPermissions is the push-gateway user of the report and
// deploy/nats-server/pushfleet-auth.conf: publish intents, read its own
// publish acks, nothing else.
var gatewayPermissions = &server.Permissions{
	Publish:   &server.SubjectPermission{Allow: []string{"push.intents.*"}},
	Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_push-gateway.>"}},
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuffer is a log sink safe for the process's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The binary runs as the least-privilege push-gateway NATS user: ready
// once connected, publishes an intent that lands on PUSH_INTENTS, no
// permission violation in its log, and stops cleanly on SIGTERM.
func TestPushGatewayAsLeastPrivilegeUser(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.Users = []*server.User{
		{Username: "admin", Password: "admin-pw"},
		{Username: "push-gateway", Password: "gw-pw", Permissions: gatewayPermissions},
	}
	srv := natstest.RunServerWithOptions(t, &opts)
	// The admin provisions, as in production.
	adminURL := strings.Replace(srv.ClientURL(), "nats://", "nats://admin:admin-pw@", 1)
	_, js := connectURL(t, adminURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	const key = "cmd-test-key-0123456789abcdef0123456789"
	keys := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(keys, []byte("keys:\n  - name: shop\n    sha256: "+gateway.HashKey(key)+"\n    apps: [shop]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpAddr, apiAddr := freeAddr(t), freeAddr(t)
	env := map[string]string{
		"PUSHFLEET_NATS_URL":          srv.ClientURL(),
		"PUSHFLEET_NATS_USER":         "push-gateway",
		"PUSHFLEET_NATS_PASSWORD":     "gw-pw",
		"PUSHFLEET_HTTP_ADDR":         httpAddr,
		"PUSHFLEET_GATEWAY_ADDR":      apiAddr,
		"PUSHFLEET_GATEWAY_KEYS_FILE": keys,
		"PUSHFLEET_LOG_LEVEL":         "debug",
	}
	var logs syncBuffer
	rctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- run(rctx, nil, func(k string) string { return env[k] }, nil, io.Discard, &logs) }()

	natstest.Eventually(t, 10*time.Second, func() bool {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}, "ready; log:\n%s", &logs)

	body := `{"id":"cmd-1","app":"shop","targets":{"tokens":[{"platform":"apns","token":"abc123"}]},"notification":{"title":"hi"}}`
	req, _ := http.NewRequest("POST", "http://"+apiAddr+"/v1/intents", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("publish: %d %s\nlog:\n%s", resp.StatusCode, b, logs.String())
	}
	s, err := js.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, "push.intents.shop")
	if err != nil || m.Header.Get("Nats-Msg-Id") != "shop:cmd-1" {
		t.Fatalf("stored: %v %v", m, err)
	}
	// The gateway's metrics are on the process's /metrics.
	mresp, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{
		`pushfleet_gateway_requests_total{code="200",route="POST /v1/intents"} 1`,
		`pushfleet_gateway_intents_total{app="shop",result="published"} 1`,
		`pushfleet_gateway_request_duration_seconds_bucket{route="POST /v1/intents"`,
	} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	stop() // SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v\nlog:\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no stop after SIGTERM")
	}
	if strings.Contains(logs.String(), "ermissions violation") {
		t.Errorf("permission violation with the push-gateway user:\n%s", logs.String())
	}
}

func TestHashKey(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"hash-key"}, nil, strings.NewReader("secret\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out.String()); got != gateway.HashKey("secret") {
		t.Fatalf("hash-key printed %q", got)
	}
	if err := run(context.Background(), []string{"hash-key"}, nil, strings.NewReader(""), &out, io.Discard); err == nil {
		t.Fatal("hash-key of nothing succeeded")
	}
}

func TestRequiresKeysFile(t *testing.T) {
	srv := natstest.RunServer(t)
	env := map[string]string{"PUSHFLEET_NATS_URL": srv.ClientURL(), "PUSHFLEET_HTTP_ADDR": freeAddr(t), "PUSHFLEET_GATEWAY_ADDR": freeAddr(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := run(ctx, nil, func(k string) string { return env[k] }, nil, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "keys-file") {
		t.Fatalf("err %v, want one naming --gateway-keys-file", err)
	}
}

func connectURL(t *testing.T, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

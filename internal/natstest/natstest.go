// Package natstest starts in-process NATS JetStream servers for tests: one
// server with its store in t.TempDir(), or a small cluster on loopback.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options returns JetStream-enabled server options on a random loopback
// port with the store under dir.
func Options(dir string) server.Options {
	opts := natsserver.DefaultTestOptions // a copy: never mutate the shared global
	opts.Port = -1
	opts.JetStream = true
	opts.StoreDir = dir
	return opts
}

// RunServer starts a JetStream server for the test and shuts it down at the end.
func RunServer(t testing.TB) *server.Server {
	t.Helper()
	opts := Options(t.TempDir())
	return RunServerWithOptions(t, &opts)
}

// RunServerWithOptions starts a server with opts and shuts it down at the end.
func RunServerWithOptions(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready in 10s")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// Connect connects to s and returns the connection and its JetStream handle;
// both are closed at the end of the test.
func Connect(t testing.TB, s *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

// Eventually polls cond every 10ms until it holds or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %v: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

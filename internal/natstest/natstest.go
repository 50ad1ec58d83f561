// Package natstest starts in-process NATS JetStream servers for tests, each
// with its store in t.TempDir() and shut down at the end of the test:
//
//   - RunServer: one server on a random port, for tests that only need one.
//   - StartServer: one Server that can be shut down (as in a crash) and
//     restarted on the same port from the same store.
//   - StartCluster: a Cluster of such Servers on loopback, routed to each
//     other, whose nodes can be shut down and restarted one by one, with
//     helpers to find the leaders of the meta group, of a stream and of a
//     consumer.
//
// Connect opens a test's connection to a server; Eventually polls a
// condition.
package natstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsserver "github.com/nats-io/nats-server/v2/test"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readyTimeout bounds how long a server may take to accept connections
// (a restarted server recovers its store first).
const readyTimeout = 30 * time.Second

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
	s, err := run(opts, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// run starts a server with opts and waits until it accepts connections.
// With logs, the server logs to stderr (unless opts.NoLog).
func run(opts *server.Options, logs bool) (*server.Server, error) {
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if logs && !opts.NoLog {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("nats server not ready in %v", readyTimeout)
	}
	return s, nil
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

// StreamMsgs is how many messages stream holds now.
func StreamMsgs(t testing.TB, js jetstream.StreamManager, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

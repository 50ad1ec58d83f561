package natstest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
)

// connect dials urls, reconnecting forever as the services do.
func connect(t *testing.T, urls string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(urls, nats.DontRandomize(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.Timeout(2*time.Second))
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

// publish publishes n messages on subj, retrying each (with its id, so
// once) while the stream has no leader.
func publish(ctx context.Context, t *testing.T, js jetstream.JetStream, subj string, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		var err error
		for range 100 {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = js.Publish(actx, subj, fmt.Appendf(nil, "m%d", i), jetstream.WithMsgID(fmt.Sprint(i)))
			cancel()
			if err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
}

// retry calls f with a 5s deadline per try until it succeeds or ctx ends.
func retry(ctx context.Context, t *testing.T, what string, f func(context.Context) error) {
	t.Helper()
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(tctx)
		cancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The server comes back on the same URL from the same store: what was
// stored before the shutdown is still there, and a client that reconnects
// forever is back by itself.
func TestServerRestartKeepsStoredMessages(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := natstest.StartServer(t)
	nc, js := connect(t, s.URL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEEP", Subjects: []string{"keep.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	publish(ctx, t, js, "keep.a", 0, 20)
	url, dir := s.URL(), s.StoreDir

	s.Shutdown()
	if s.Server() != nil {
		t.Fatal("Server() is not nil after Shutdown")
	}
	natstest.Eventually(t, 10*time.Second, func() bool { return !nc.IsConnected() }, "client disconnected")
	s.Shutdown() // a no-op while down

	s.Restart(t)
	if s.URL() != url || s.StoreDir != dir {
		t.Fatalf("restarted on %s from %s, want %s from %s", s.URL(), s.StoreDir, url, dir)
	}
	if s.Server() == nil || !s.Server().JetStreamEnabled() {
		t.Fatal("restarted server not running with JetStream")
	}
	natstest.Eventually(t, 10*time.Second, nc.IsConnected, "client reconnected")
	if n := natstest.StreamMsgs(t, js, "KEEP"); n != 20 {
		t.Fatalf("%d messages after the restart, want 20", n)
	}
	publish(ctx, t, js, "keep.a", 20, 1)
	if n := natstest.StreamMsgs(t, js, "KEEP"); n != 21 {
		t.Fatalf("%d messages after publishing to the restarted server, want 21", n)
	}
}

// localMsgs is how many messages node holds of stream in its own store
// (not what the leader says).
func localMsgs(nd *natstest.Server, stream string) (uint64, error) {
	s := nd.Server()
	if s == nil {
		return 0, errors.New("down")
	}
	jsz, err := s.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		return 0, err
	}
	for _, acc := range jsz.AccountDetails {
		for _, sd := range acc.Streams {
			if sd.Name == stream {
				return sd.State.Msgs, nil
			}
		}
	}
	return 0, fmt.Errorf("no stream %s on %s", stream, nd.Name)
}

// A three-node cluster with an R3 stream loses the stream's leader: the
// others elect a new one and keep storing, and the node, restarted from its
// store, catches up with what was stored while it was down.
func TestClusterSurvivesNodeKill(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := natstest.StartCluster(t, 3)
	if len(c.Nodes()) != 3 || c.MetaLeader() == nil {
		t.Fatalf("%d nodes, meta leader %v", len(c.Nodes()), c.MetaLeader())
	}
	for i, nd := range c.Nodes() {
		if want := fmt.Sprintf("n%d", i+1); nd.Name != want || nd.Server().Name() != want {
			t.Fatalf("node %d is named %q (server %q), want %q", i, nd.Name, nd.Server().Name(), want)
		}
	}
	_, js := connect(t, c.URLs(0))
	// A JetStream API request can go unanswered while a fresh cluster
	// settles (seen on a loaded 2-core machine): each try is bounded.
	retry(ctx, t, "create stream R3", func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3.>"}, Replicas: 3})
		return err
	})
	retry(ctx, t, "create consumer worker", func(ctx context.Context) error {
		_, err := js.CreateOrUpdateConsumer(ctx, "R3", jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy})
		return err
	})
	var victim *natstest.Server
	natstest.Eventually(t, 10*time.Second, func() bool {
		victim = c.StreamLeader("$G", "R3")
		return victim != nil && c.ConsumerLeader("$G", "R3", "worker") != nil
	}, "stream and consumer leaders")
	publish(ctx, t, js, "r3.a", 0, 50)

	victim.Shutdown()
	publish(ctx, t, js, "r3.a", 50, 50)
	if l := c.StreamLeader("$G", "R3"); l == nil || l == victim {
		t.Fatalf("stream leader after %s went down: %v", victim, l)
	}
	if n := natstest.StreamMsgs(t, js, "R3"); n != 100 {
		t.Fatalf("%d messages with %s down, want 100", n, victim)
	}

	victim.Restart(t)
	c.WaitReady(t, 30*time.Second)
	natstest.Eventually(t, 30*time.Second, func() bool {
		n, err := localMsgs(victim, "R3")
		return err == nil && n == 100
	}, "%s holds the 100 messages", victim)
}

package streams_test

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A declared custom platform gets the built-ins' pair of streams: a work
// queue for its jobs (no roll-ups, no schedules, DiscardNew) and a
// sender-owned retry stream with schedules; the built-ins keep theirs.
// Not parallel: it declares a platform for the rest of the package.
func TestProvisionCustomPlatformStreams(t *testing.T) {
	p, err := events.DeclarePlatform("hook_s")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	if err := streams.Check(ctx, js); err != nil {
		t.Fatal(err)
	}
	send, err := js.Stream(ctx, "PUSH_SEND_HOOK_S")
	if err != nil {
		t.Fatal(err)
	}
	sc := send.CachedInfo().Config
	if sc.Retention != jetstream.WorkQueuePolicy || sc.Discard != jetstream.DiscardNew || sc.AllowMsgSchedules || sc.AllowRollup ||
		len(sc.Subjects) != 1 || sc.Subjects[0] != "push.send.hook_s.*" {
		t.Fatalf("PUSH_SEND_HOOK_S: %+v", sc)
	}
	retry, err := js.Stream(ctx, "PUSH_RETRY_HOOK_S")
	if err != nil {
		t.Fatal(err)
	}
	rc := retry.CachedInfo().Config
	if !rc.AllowMsgSchedules || len(rc.Subjects) != 1 || rc.Subjects[0] != "push.retry.hook_s.>" {
		t.Fatalf("PUSH_RETRY_HOOK_S: %+v", rc)
	}
	// A job published where the dispatcher publishes lands in the stream.
	if _, err := js.Publish(ctx, events.SendSubject(p, "shop"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for _, b := range []events.Platform{events.APNs, events.FCM, events.Mi} {
		if _, err := js.Stream(ctx, events.SendStream(b)); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
}

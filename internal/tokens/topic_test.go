package tokens_test

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A topic outcome is never token state: invalid_token or token_replaced
// for "topic:news" changes nothing and writes nothing, a delivery touches
// no record, and no device may register under a topic key.
func TestTopicOutcomesAreNeverTokenState(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	for _, f := range []events.Feedback{
		{App: app, Platform: events.FCM, Token: "topic:news", Outcome: events.InvalidToken, Reason: "UNREGISTERED"},
		{App: app, Platform: events.Mi, Token: events.BroadcastKey, Outcome: events.InvalidToken, Reason: "20301"},
		{App: app, Platform: events.FCM, Token: events.Topic{Condition: "'a' in topics"}.Key(), Outcome: events.InvalidToken},
		{App: app, Platform: events.FCM, Token: "topic:news", Outcome: events.TokenReplaced, NewToken: "x:1"},
	} {
		f.At = time.Now()
		change, err := e.reg.Store().Apply(ctx, &f)
		if err != nil || change != tokens.Unchanged {
			t.Fatalf("apply %s %s: %q, %v; want no change", f.Outcome, f.Token, change, err)
		}
	}
	if err := e.reg.Store().TouchSuccess(ctx, app, events.FCM, "topic:news", time.Now()); err != nil {
		t.Fatal(err)
	}
	keys, err := e.kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		t.Errorf("bucket holds %q after topic outcomes, want nothing", k)
	}
	for _, tok := range []string{"topic:news", "condition:0123456789abcdef", events.BroadcastKey} {
		_, err := e.reg.Register(ctx, tokens.Device{App: app, Platform: events.FCM, Token: tok})
		if !errors.Is(err, tokens.ErrInvalidDevice) {
			t.Errorf("register %q: %v, want ErrInvalidDevice", tok, err)
		}
	}
}

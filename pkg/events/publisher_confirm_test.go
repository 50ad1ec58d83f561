package events_test

import (
	"errors"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Publisher.Confirm stores a confirmation on push.confirm.<app> with its
// Nats-Msg-Id (a retry is stored once), and refuses a bad one without
// publishing.
func TestPublisherConfirm(t *testing.T) {
	ctx, js := publisherEnv(t)
	pub := events.NewPublisher(js)
	c := events.Confirmation{IntentID: "order-1", Token: "ab01"}
	first, err := pub.Confirm(ctx, "shop", c)
	if err != nil {
		t.Fatal(err)
	}
	again, err := pub.Confirm(ctx, "shop", c)
	if err != nil || !again.Duplicate || first.Stream != events.StreamConfirm {
		t.Fatalf("second publish: %+v, %v (first in %s)", again, err, first.Stream)
	}
	s, err := js.Stream(ctx, events.StreamConfirm)
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.ConfirmSubject("shop"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := events.DecodeConfirmation(m.Data); err != nil || *got != c {
		t.Fatalf("stored %s (%v)", m.Data, err)
	}
	for _, bad := range []struct {
		app string
		c   events.Confirmation
	}{
		{"shop.x", c},
		{"shop", events.Confirmation{IntentID: "order-1"}},
		{"shop", events.Confirmation{IntentID: "a b", Token: "ab01"}},
	} {
		if _, err := pub.Confirm(ctx, bad.app, bad.c); !errors.Is(err, events.ErrInvalidConfirmation) {
			t.Errorf("Confirm(%q, %+v) = %v, want ErrInvalidConfirmation", bad.app, bad.c, err)
		}
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("%d confirmations stored, want 1 (%v)", info.State.Msgs, err)
	}
}

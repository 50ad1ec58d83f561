package dispatch_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// An intent asking for confirmation is recorded for the confirmation
// service (push.confirm.watch.<app>.<hash>) when it is dispatched, once
// however often it is redelivered; a send_at one only when it is due; an
// intent without confirm records nothing.
func TestConfirmIntentIsWatchedWhenDispatched(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, nil)
	confirm := &events.Confirm{Within: events.Duration(time.Hour), ResendEvery: events.Duration(10 * time.Minute)}

	now := intent("c-now", "shop", tokens(events.APNs, "ab01")...)
	now.Confirm = confirm
	h.publish(t, "shop", now)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	// The same intent again (a producer's retry after the dedup window of
	// the stream, or a redelivery): one watch record.
	h.publishRaw(t, events.IntentSubject("shop"), mustJSON(t, now))
	h.handleNext(t, d, false, 5*time.Second)
	watches := h.stored(t, events.StreamConfirm, events.ConfirmWatchSubject("shop", "c-now"))
	if len(watches) != 1 {
		t.Fatalf("%d watch records, want 1", len(watches))
	}
	var got events.Intent
	if err := json.Unmarshal(watches[0].Data, &got); err != nil || got.ID != "c-now" || got.Confirm == nil || *got.Confirm != *confirm {
		t.Fatalf("watch record %s (%v)", watches[0].Data, err)
	}

	later := intent("c-later", "shop", tokens(events.APNs, "ab02")...)
	later.Confirm = confirm
	at := time.Now().Add(1200 * time.Millisecond)
	later.SendAt = &at
	h.publish(t, "shop", later)
	h.handleNext(t, d, false, 5*time.Second)
	if n := len(h.stored(t, events.StreamConfirm, events.ConfirmWatchSubject("shop", "c-later"))); n != 0 {
		t.Fatalf("a send_at intent watched before it is due (%d records)", n)
	}
	if v := h.handleNext(t, d, true, 10*time.Second); v.Action != consumer.Ack {
		t.Fatalf("due verdict %+v", v)
	}
	if n := len(h.stored(t, events.StreamConfirm, events.ConfirmWatchSubject("shop", "c-later"))); n != 1 {
		t.Fatalf("%d watch records of the due intent, want 1", n)
	}

	h.publish(t, "shop", intent("plain", "shop", tokens(events.APNs, "ab03")...))
	h.handleNext(t, d, false, 5*time.Second)
	if n := len(h.stored(t, events.StreamConfirm, events.ConfirmRoot+".>")); n != 2 {
		t.Fatalf("%d records in PUSH_CONFIRM, want the 2 of the confirm intents", n)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

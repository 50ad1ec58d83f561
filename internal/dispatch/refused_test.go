package dispatch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	registry "github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// failingAudience refuses every resolve with err.
type failingAudience struct{ err error }

func (a failingAudience) Resolve(context.Context, string, events.Targets, int, func([]events.Target) error) error {
	return a.err
}

// A registry refusal (registry.ErrInvalidDevice: the alias or tag is not one
// it can hold) cannot change on a retry: the intent is dead-lettered at
// once with the registry's reason. Before, it was retried until its
// attempts ran out and dead-lettered as "publish". Other resolve errors
// (the registry unreachable) are still retried.
func TestRegistryRefusalIsDeadLetteredAtOnce(t *testing.T) {
	refusal := fmt.Errorf("%w: alias: must be UTF-8 without white space or control characters", registry.ErrInvalidDevice)
	tests := []struct {
		name   string
		err    error
		action consumer.Action
		reason string
	}{
		{"invalid device", refusal, consumer.Dead, "targets refused by the token registry: invalid device: alias: must be UTF-8"},
		{"wrapped invalid device", fmt.Errorf("resolve: %w", refusal), consumer.Dead, "invalid device: alias"},
		{"registry unreachable", errors.New("nats: timeout"), consumer.Retry, "nats: timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			d := h.dispatcher(t, dispatch.Config{}, failingAudience{tc.err})
			h.publish(t, "shop", intent("a1", "shop"))
			v := h.handleNext(t, d, false, 5*time.Second)
			if v.Action != tc.action || !strings.Contains(v.Reason, tc.reason) {
				t.Fatalf("verdict %+v, want action %v with %q", v, tc.action, tc.reason)
			}
			if tc.action != consumer.Dead {
				return
			}
			if v.App != "shop" || v.IntentID != "a1" || v.Category != "invalid" {
				t.Fatalf("verdict %+v, want app shop, intent a1, category invalid", v)
			}
			if got := h.count("shop", "invalid"); got != 1 {
				t.Errorf("intents_total{result=invalid} = %v, want 1", got)
			}
			for _, p := range events.Platforms {
				if jobs := jobsOn(t, h.js, p); len(jobs) != 0 {
					t.Fatalf("%d %s jobs for a refused audience", len(jobs), p)
				}
			}
		})
	}
}

// A job dead-lettered by the dispatcher (its provider would refuse it)
// carries its reason in the Push-Reason header as one line of at most 200
// bytes, as the runner's dead letters do; the body keeps the whole reason.
// Before, the whole reason went into the header: MiPush's is 215 bytes, and
// a reason with a line break made the dead letter unpublishable.
func TestDeadJobReasonHeaderIsOneShortLine(t *testing.T) {
	h := newHarness(t)
	d := h.dispatcher(t, dispatch.Config{}, staticAudience(tokens(events.Mi, "m1")))
	in := intent("t1", "shop")
	in.Notification.Body = ""
	h.publish(t, "shop", in)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v", v)
	}
	dead := h.stored(t, events.StreamDead, events.DeadSubject(events.StageIntents, "shop"))
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	var dl events.DeadLetter
	if err := json.Unmarshal(dead[0].Data, &dl); err != nil {
		t.Fatal(err)
	}
	hdr := dead[0].Header.Get(events.HeaderReason)
	if hdr == "" || len(hdr) > 200 || strings.ContainsAny(hdr, "\r\n") {
		t.Fatalf("Push-Reason %q (%d bytes), want one line of at most 200 bytes", hdr, len(hdr))
	}
	if len(dl.Reason) <= 200 || !strings.HasPrefix(dl.Reason, hdr) || !strings.Contains(dl.Reason, "65011") {
		t.Fatalf("dead letter reason %q, want the whole reason (header %q)", dl.Reason, hdr)
	}
}

// A dead-lettered job fits what the server accepts: on a server whose
// max_payload is below the 512 KiB default, the dispatcher truncates the
// dead letter to the connection's limit (as the runner does) instead of
// failing to publish it and retrying the intent forever.
func TestDeadJobFitsTheServersMaxPayload(t *testing.T) {
	opts := natstest.Options(t.TempDir())
	opts.MaxPayload = 64 << 10
	_, js := natstest.Connect(t, natstest.RunServerWithOptions(t, &opts))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	ids, err := js.KeyValue(ctx, events.IntentIDsBucket)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{ctx: ctx, js: js, ids: ids, m: metrics.New()}
	// 1000 MiPush devices of 100-byte regids: a 100 KB job, and a dead
	// letter holding it and its tokens twice that.
	regids := make([]string, 1000)
	for i := range regids {
		regids[i] = fmt.Sprintf("%04d%s", i, strings.Repeat("r", 96))
	}
	d := h.dispatcher(t, dispatch.Config{}, staticAudience(tokens(events.Mi, regids...)))
	in := intent("big", "shop")
	in.Notification.Body = ""
	h.publish(t, "shop", in)
	if v := h.handleNext(t, d, false, 5*time.Second); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want the dead job published and the intent done", v)
	}
	dead := h.stored(t, events.StreamDead, events.DeadSubject(events.StageIntents, "shop"))
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	var dl events.DeadLetter
	if err := json.Unmarshal(dead[0].Data, &dl); err != nil {
		t.Fatal(err)
	}
	if !dl.Truncated || dl.PayloadSize < 100_000 || dl.PayloadSHA256 == "" || len(dead[0].Data) > 64<<10 {
		t.Fatalf("dead letter of %d bytes: truncated %v, payload size %d, sha256 %q", len(dead[0].Data), dl.Truncated, dl.PayloadSize, dl.PayloadSHA256)
	}
	if len(dl.Tokens)+dl.TokensOmitted != len(regids) {
		t.Fatalf("dead letter names %d tokens and omits %d, want %d in all", len(dl.Tokens), dl.TokensOmitted, len(regids))
	}
	dead1000 := 0
	for _, f := range feedbackOn(t, h) {
		if f.Outcome == events.Dead {
			dead1000++
		}
	}
	if dead1000 != len(regids) {
		t.Fatalf("%d dead outcomes, want %d", dead1000, len(regids))
	}
}

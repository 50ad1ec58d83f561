package faulttest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// dedupIntents is how many intents (one token per platform each) are
// published, delivered, and published again after the restart.
const dedupIntents = 20

// otherApp is an app the fleet has no credentials for, using the same ids.
const otherApp = "shop"

// The whole fleet (the all-in-one: its embedded JetStream server and every
// service) is restarted between two publications of the same intents,
// inside the dedup window: gracefully (SIGTERM) and by SIGKILL. Every token
// is delivered once: the stream forgets the ids of the intents it no longer
// holds when its server restarts, so the dispatcher's own record of the ids
// it took must survive the restart. Another app's intents with the same ids,
// published first, swallow none of them (ids are scoped by app).
func TestDedupAcrossRestart(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"sigterm", "sigkill"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			h := newBareHarness(t, "dedup-restart-"+how)
			fleet := h.startAllInOne()

			other := intent("dup-0", []events.Target{{Platform: events.APNs, Token: h.token(events.APNs, 999)}})
			other.App = otherApp
			h.publish(other)
			intents := make([]*events.Intent, dedupIntents)
			for i := range intents {
				var tgs []events.Target
				for _, p := range events.Platforms {
					tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, i)})
				}
				intents[i] = intent(fmt.Sprintf("dup-%d", i), tgs)
			}
			h.publish(intents...)
			if !h.settle() {
				return
			}
			before := h.totalDelivered()
			if bad := notDeliveredOnce(h, intents); len(bad) > 0 {
				t.Errorf("before the restart, %d tokens delivered other than once (%s's intents with the same ids published first), e.g. %v",
					len(bad), otherApp, bad[:min(len(bad), 5)])
			}

			start := time.Now()
			if how == "sigkill" {
				fleet.kill()
			} else {
				fleet.stop()
			}
			fleet.restart()
			h.waitFor(10*time.Second, "test connection back", func() bool { return h.nc.Status() == nats.CONNECTED })
			restart := time.Since(start)
			duplicates := 0
			for _, in := range intents {
				ack, err := h.tryPublish(in)
				if err != nil {
					t.Fatalf("publish %s again: %v", in.ID, err)
				}
				if ack.Duplicate {
					duplicates++
				}
			}

			h.settle()
			tl := h.tally()
			tl.Extra = append(tl.Extra, fmt.Sprintf("delivered_before_restart=%d restart=%s republished=%d stream_said_duplicate=%d",
				before, restart.Round(100*time.Millisecond), len(intents), duplicates))
			h.report(tl)
			if bad := notDeliveredOnce(h, intents); len(bad) > 0 {
				t.Errorf("after the restart and the second publication, %d tokens delivered other than once, e.g. %v",
					len(bad), bad[:min(len(bad), 5)])
			}
			tl.wantEach(t, otherApp, other.ID, other.Targets.Tokens, kindDead, "the fleet has no credentials for "+otherApp)
		})
	}
}

// startAllInOne runs the all-in-one binary (embedded JetStream server on a
// loopback port, dispatcher, the three senders pointed at the fakes, the
// feedback-sink) and connects the test to its server.
func (h *harness) startAllInOne() *proc {
	h.t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(h.t, 1)[0])
	apps := h.appsFile()
	// --nats-url= last: empty runs the embedded server (launch passes the
	// harness's URL first).
	args := []string{"--data", filepath.Join(h.t.TempDir(), "data"), "--listen", listen, "--log-level", "info"}
	for _, p := range events.Platforms {
		args = append(args, h.senderArgs(p, apps)...)
	}
	args = append(args, "--nats-url=")
	p := h.startProc("pushfleet", args...)
	h.useServer("nats://" + listen)
	return p
}

// notDeliveredOnce lists the tokens of intents the providers did not see
// exactly once.
func notDeliveredOnce(h *harness, intents []*events.Intent) []string {
	var bad []string
	for _, in := range intents {
		for _, tg := range in.Targets.Tokens {
			if n := h.delivered(tg); n != 1 {
				bad = append(bad, fmt.Sprintf("%s/%s×%d", in.ID, tg.Platform, n))
			}
		}
	}
	return bad
}

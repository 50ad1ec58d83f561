package faulttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Counts of the jetstream-restart scenario: intents of two tokens per
// platform.
const (
	jsRestartIntents     = 300
	jsRestartIntentsRace = 150
	jsRestartPerPlatform = 2
	// jsRestartLatency keeps provider calls in flight while the server goes.
	jsRestartLatency = 300 * time.Millisecond
	// jsRestartDown is how long the server stays down.
	jsRestartDown = 2 * time.Second
)

// The JetStream server is shut down while the fleet is busy and started
// again on the same port with the same file store. The services reconnect
// by themselves; what was in flight is acked late, retried or redelivered,
// and nothing is lost. (The services' connection is held off the restarted
// server until the test has counted what JetStream considers in flight.)
func TestJetStreamRestart(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "jetstream-restart")
	h.apns.SetLatency(jsRestartLatency)
	h.fcm.SetLatency(jsRestartLatency)
	h.mi.SetLatency(jsRestartLatency)
	g := &gate{}

	// Every intent is stored before the fleet starts, so that it is busy
	// from its first moment to its last.
	n := pick(jsRestartIntents, jsRestartIntentsRace)
	var targets []events.Target
	for i := range n {
		var tgs []events.Target
		for _, p := range events.Platforms {
			for j := range jsRestartPerPlatform {
				tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, i*jsRestartPerPlatform+j)})
			}
		}
		targets = append(targets, h.publish(intent(fmt.Sprintf("js-%d", i), tgs))...)
	}
	total := int64(len(targets))
	h.runInProcess(services{dispatcher: true, sink: true, senders: events.Platforms, dialer: g})
	h.waitFor(30*time.Second, "a third of the tokens delivered", func() bool { return h.totalDelivered() >= total/3 })

	g.closed.Store(true)
	atStop := h.totalDelivered()
	h.js.Shutdown()
	afterStop := h.totalDelivered()
	time.Sleep(jsRestartDown)
	duringDown := h.totalDelivered() - afterStop
	h.js.Restart(t)
	h.waitFor(10*time.Second, "test connection back", func() bool { return h.nc.Status() == nats.CONNECTED })
	var msgs, tokens int
	m, tk := h.inFlight(events.StreamIntents, events.DurableDispatcher)
	msgs, tokens = msgs+m, tokens+tk
	for _, p := range events.Platforms {
		m, tk := h.inFlight(events.SendStream(p), events.SenderDurable(p))
		msgs, tokens = msgs+m, tokens+tk
	}
	g.closed.Store(false)

	h.settle()
	tl := h.tally()
	tl.InFlight, tl.InFlightMsgs = tokens, msgs
	tl.Extra = append(tl.Extra, fmt.Sprintf("delivered_at_stop=%d delivered_during_shutdown=%d delivered_while_down=%d down=%s",
		atStop, afterStop-atStop, duringDown, jsRestartDown))
	tl.Extra = append(tl.Extra, fmt.Sprintf("jobs_stored_total=%d/%d nats_async_errors=%d", h.jobsStored(), n*len(events.Platforms), h.asyncErrors.Load()))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
}

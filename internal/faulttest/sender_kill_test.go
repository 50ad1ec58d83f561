package faulttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Counts of the sender-sigkill scenario: intents of senderKillBatch APNs
// tokens each (every intent becomes one job).
const (
	senderKillIntents     = 200
	senderKillIntentsRace = 100
	senderKillBatch       = 10
	// senderKillLatency holds every APNs answer, so that many requests are
	// in flight when the sender dies.
	senderKillLatency = 300 * time.Millisecond
)

// The apns-sender process is killed with SIGKILL while it holds jobs, some
// of their tokens already accepted by APNs, and restarted. Its unacked jobs
// come back after the AckWait and are sent again: nothing is lost, and only
// tokens of jobs in flight at the kill can be duplicated.
func TestSenderSIGKILL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "sender-sigkill")
	h.apns.SetLatency(senderKillLatency)
	h.runInProcess(services{dispatcher: true, sink: true})

	// The jobs are all stored before the sender starts, so that it is busy
	// from its first moment to its last.
	n := pick(senderKillIntents, senderKillIntentsRace)
	var targets []events.Target
	for i := range n {
		tgs := make([]events.Target, senderKillBatch)
		for j := range tgs {
			tgs[j] = events.Target{Platform: events.APNs, Token: h.token(events.APNs, i*senderKillBatch+j)}
		}
		targets = append(targets, h.publish(intent(fmt.Sprintf("sk-%d", i), tgs))...)
	}
	total := int64(len(targets))
	h.waitFor(30*time.Second, "every intent dispatched", h.allDispatched)
	// Once a third is delivered, APNs stalls: the requests made after that
	// stay unanswered, so the kill finds jobs in flight however loaded the
	// machine is.
	h.apns.HoldAfter(total / 3)
	sender := h.startProc("apns-sender", h.senderArgs(events.APNs, h.appsFile())...)
	h.waitFor(30*time.Second, "a third of the tokens delivered and APNs holding the next requests", func() bool {
		return h.apns.TotalDelivered() >= total/3 && h.apns.InFlight() > 0
	})
	sender.kill()
	h.apns.Release()
	atKill := h.apns.TotalDelivered()
	msgs, tokens := h.inFlight(events.SendStream(events.APNs), events.SenderDurable(events.APNs))
	if msgs == 0 {
		t.Fatalf("no job in flight at the kill (%d of %d delivered): the kill was not mid-flight", atKill, total)
	}
	sender.restart()

	h.settle()
	tl := h.tally()
	tl.InFlight, tl.InFlightMsgs = tokens, msgs
	tl.Extra = append(tl.Extra, fmt.Sprintf("delivered_at_kill=%d", atKill))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
}

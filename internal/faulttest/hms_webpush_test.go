package faulttest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// Counts of the hms and webpush scenarios: intents of newBatch tokens of
// one platform each.
const (
	newIntents     = 40
	newIntentsRace = 20
	newBatch       = 10
	// newFaultRetryAfter is the Retry-After of the injected 503s and 429s.
	newFaultRetryAfter = time.Second
	// newKillLatency holds every answer, so that requests are in flight
	// when the sender dies.
	newKillLatency = 300 * time.Millisecond
)

// newPlatforms are the platforms these scenarios cover.
var newPlatforms = []events.Platform{events.HMS, events.WebPush}

// publishNew publishes n intents per platform of newBatch tokens each.
func (h *harness) publishNew(prefix string, n int) []events.Target {
	var all []events.Target
	for _, p := range newPlatforms {
		for i := range n {
			tgs := make([]events.Target, newBatch)
			for j := range tgs {
				tgs[j] = events.Target{Platform: p, Token: h.token(p, i*newBatch+j)}
			}
			all = append(all, h.publish(intent(fmt.Sprintf("%s-%s-%d", prefix, p, i), tgs))...)
		}
	}
	return all
}

// failNew makes the next n requests to the hms and webpush fakes answer
// status (503 or 429) with Retry-After.
func (h *harness) failNew(n, status int) {
	f := fakeserver.Unavailable
	if status == http.StatusTooManyRequests {
		f = fakeserver.RateLimited
	}
	h.sb.HMS.FailNext(n, f, newFaultRetryAfter)
	h.sb.WebPush.FailNextWith(n, status, newFaultRetryAfter)
}

// Push Kit and the Web Push service answer 503 (HMS: the same answer as
// its flow control) to the first requests: the tokens come back, wait
// for Retry-After and are delivered; nothing is lost or dead-lettered.
func TestHMSAndWebPush503(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "hms-webpush-503")
	n := pick(newIntents, newIntentsRace)
	h.failNew(n, http.StatusServiceUnavailable)
	h.runInProcess(services{dispatcher: true, sink: true, senders: newPlatforms})
	targets := h.publishNew("n503", n)
	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("answers_503=%d per platform tokens=%d", n, len(targets)))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
}

// A 429 storm with Retry-After on both: every refused token is re-queued
// and delivered, none lost or dead-lettered.
func TestHMSAndWebPush429Storm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "hms-webpush-429")
	n := pick(newIntents, newIntentsRace)
	h.failNew(2*n, http.StatusTooManyRequests)
	h.runInProcess(services{dispatcher: true, sink: true, senders: newPlatforms})
	start := time.Now()
	h.publishNew("n429", n)
	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("answers_429=%d per platform retry_after=%s took=%.1fs", 2*n, newFaultRetryAfter, time.Since(start).Seconds()))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
}

// hms-sender and webpush-sender processes are killed with SIGKILL while
// they hold jobs, and restarted: their unacked jobs come back after the
// AckWait; nothing is lost, and only tokens of jobs in flight at the kill
// can be duplicated.
func TestHMSAndWebPushSenderSIGKILL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "hms-webpush-sigkill")
	h.sb.HMS.SetLatency(newKillLatency)
	h.sb.WebPush.SetLatency(newKillLatency)
	h.runInProcess(services{dispatcher: true, sink: true})
	n := pick(newIntents, newIntentsRace)
	targets := h.publishNew("nkill", n)
	h.waitFor(30*time.Second, "every intent dispatched", h.allDispatched)
	apps := h.appsFile()
	var inFlightTokens, inFlightMsgs int
	for _, p := range newPlatforms {
		sender := h.startProc(senderBinary(p), h.senderArgs(p, apps)...)
		h.waitFor(30*time.Second, string(p)+": first tokens delivered", func() bool {
			for _, tg := range targets {
				if tg.Platform == p && h.delivered(tg) > 0 {
					return true
				}
			}
			return false
		})
		sender.kill()
		msgs, tokens := h.inFlight(events.SendStream(p), events.SenderDurable(p))
		inFlightMsgs += msgs
		inFlightTokens += tokens
		sender.restart()
	}
	h.settle()
	tl := h.tally()
	tl.InFlight, tl.InFlightMsgs = inFlightTokens, inFlightMsgs
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
}

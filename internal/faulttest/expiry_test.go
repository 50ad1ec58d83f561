package faulttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
)

// Counts of the expiry-outage scenario: intents of expiryOutageBatch APNs
// tokens (one job each).
const (
	expiryOutageIntents = 8
	expiryOutageBatch   = 10
	// expiryOutageTTL is how far ahead the notifications expire: after a
	// job's second retry (1s, then 2s after it), before its third (4s after).
	// A stream TTL of expiry + 1s (as jobs once carried) removes the job
	// while it waits for that third try.
	expiryOutageTTL = 4500 * time.Millisecond
	// expiryOutageAfter is how long after the expiry APNs answers again.
	expiryOutageAfter = 2 * time.Second
)

// APNs answers 503 from the start while notifications with a short expiry
// wait in retries (the runner's backoff, the sender's circuit breaker), and
// recovers only after they expired. Every token must end expired: never
// sent after its expiry, never gone without a word (a job whose stream TTL
// outlived by the retry backoff used to vanish, and a probe whose job expired
// left the breaker half-open for good).
func TestExpiryDuringOutage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "expiry-outage")
	px := newOutageProxy(t, h.apns.URL(), h.apns.CertPool())
	px.down.Store(true)
	cfg := apns.Config{ProductionURL: px.URL(), SandboxURL: px.URL(), RootCAs: px.CertPool()}
	h.runInProcess(services{dispatcher: true, sink: true, senders: []events.Platform{events.APNs}, apnsConfig: &cfg})

	expiry := time.Now().Add(expiryOutageTTL)
	for i := range expiryOutageIntents {
		tgs := make([]events.Target, expiryOutageBatch)
		for j := range tgs {
			tgs[j] = events.Target{Platform: events.APNs, Token: h.token(events.APNs, i*expiryOutageBatch+j)}
		}
		in := intent(fmt.Sprintf("eo-%d", i), tgs)
		in.Notification.Expiry = &expiry
		h.publish(in)
	}
	h.waitFor(expiryOutageTTL, "the first tries answered 503", func() bool {
		return px.answered.Load() >= expiryOutageIntents*expiryOutageBatch
	})
	time.Sleep(time.Until(expiry.Add(expiryOutageAfter)))
	answered := px.answered.Load()
	px.down.Store(false)

	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("expiry_after=%s answers_503=%d recovered_after_expiry=%s requests_after=%d",
		expiryOutageTTL, answered, expiryOutageAfter, px.passed.Load()))
	h.report(tl)
	if tl.Expired() != tl.Sent {
		t.Errorf("%d of %d tokens ended expired, want every one (delivered %d, dead %d, lost %d)",
			tl.Expired(), tl.Sent, tl.Delivered(), tl.Dead(), tl.Lost)
	}
	if n := h.apns.TotalDelivered(); n != 0 {
		t.Errorf("APNs accepted %d notifications after the outage: every one had expired", n)
	}
}

// Counts of the expiry-stopped scenario: expiryStoppedIntents intents of one
// token per platform wait as jobs for senders, as many as intents for a
// dispatcher.
const (
	expiryStoppedIntents = 10
	// expiryStoppedTTL leaves the dispatcher time to store the jobs before
	// they expire, even while the package's binaries (seven services) are
	// being built by the scenarios running in parallel.
	expiryStoppedTTL = 8 * time.Second
	// expiryStoppedGrace is how long after the expiry the services start:
	// past the second a stream TTL used to add to it.
	expiryStoppedGrace = 2 * time.Second
)

// Notifications expire while no service runs to take them: jobs stored
// while no sender runs, intents stored while no dispatcher runs. When the
// services start, every token must end expired (a stream TTL used to
// remove both without a trace).
func TestExpiryWhileStopped(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "expiry-stopped")
	// publish publishes the intents of one half, expiring expiryStoppedTTL
	// from now, and returns their expiry.
	publish := func(prefix string, first int) time.Time {
		expiry := time.Now().Add(expiryStoppedTTL)
		for i := range expiryStoppedIntents {
			var tgs []events.Target
			for _, p := range events.Platforms {
				tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, first+i)})
			}
			in := intent(fmt.Sprintf("%s-%d", prefix, i), tgs)
			in.Notification.Expiry = &expiry
			h.publish(in)
		}
		return expiry
	}

	// Jobs: dispatched while no sender runs.
	dispatcher := h.runInProcess(services{dispatcher: true, sink: true})
	publish("es-job", 0)
	jobs := uint64(expiryStoppedIntents * len(events.Platforms))
	h.waitFor(expiryStoppedTTL-time.Second, "every job stored before its expiry", func() bool { return h.jobsStored() == jobs })
	dispatcher.stop()
	// Intents: stored while no dispatcher runs.
	expiry := publish("es-intent", expiryStoppedIntents)
	waiting := h.messages(events.StreamIntents)

	time.Sleep(time.Until(expiry.Add(expiryStoppedGrace)))
	h.runInProcess(services{dispatcher: true, sink: true, senders: events.Platforms})
	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("jobs_waiting=%d intents_waiting=%d services_back_after_expiry=%s",
		jobs, waiting, expiryStoppedGrace))
	h.report(tl)
	if tl.Expired() != tl.Sent {
		t.Errorf("%d of %d tokens ended expired, want every one (delivered %d, dead %d, lost %d)",
			tl.Expired(), tl.Sent, tl.Delivered(), tl.Dead(), tl.Lost)
	}
	if n := h.totalDelivered(); n != 0 {
		t.Errorf("the providers accepted %d notifications: every one had expired", n)
	}
}

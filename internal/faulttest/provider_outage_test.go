package faulttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
)

// Counts of the provider-503 scenario: intents of outageBatch APNs tokens;
// the first half is delivered before the outage, the second half published
// into it.
const (
	outageIntents     = 100
	outageIntentsRace = 50
	outageBatch       = 10
	// outageFor is how long APNs answers 503.
	outageFor = 6 * time.Second
)

// APNs answers 503 ServiceUnavailable to everything for several seconds,
// then recovers. The sender's circuit breaker holds jobs back instead of
// spending their retry budget; once APNs answers again every token is
// delivered, exactly once, and nothing is dead-lettered.
func TestProvider503(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "provider-503")
	px := newOutageProxy(t, h.apns.URL(), h.apns.CertPool())
	cfg := apns.Config{ProductionURL: px.URL(), SandboxURL: px.URL(), RootCAs: px.CertPool()}
	h.runInProcess(services{dispatcher: true, sink: true, senders: []events.Platform{events.APNs}, apnsConfig: &cfg})

	n := pick(outageIntents, outageIntentsRace)
	publish := func(from, to int) []events.Target {
		var all []events.Target
		for i := from; i < to; i++ {
			tgs := make([]events.Target, outageBatch)
			for j := range tgs {
				tgs[j] = events.Target{Platform: events.APNs, Token: h.token(events.APNs, i*outageBatch+j)}
			}
			all = append(all, h.publish(intent(fmt.Sprintf("out-%d", i), tgs))...)
		}
		return all
	}
	targets := publish(0, n/2)
	before := int64(len(targets))
	h.waitFor(30*time.Second, "first half delivered", func() bool { return h.apns.TotalDelivered() >= before })

	px.down.Store(true)
	targets = append(targets, publish(n/2, n)...)
	time.Sleep(outageFor)
	px.down.Store(false)
	answered := px.answered.Load()

	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("outage=%s answers_503=%d tokens_in_outage=%d", outageFor, answered, len(targets)-int(before)))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none: the outage burnt retry budgets", tl.DeadLetters)
	}
	if answered == 0 {
		t.Error("no request reached the outage: the scenario tested nothing")
	}
}

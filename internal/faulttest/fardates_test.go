package faulttest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

const (
	// farDatesSendersAfter is how long the jobs of the far-expiry intents
	// wait for a sender: past the 1s stream TTL that an expiry after 2262
	// used to overflow to.
	farDatesSendersAfter = 2 * time.Second
	// farDatesSoon is the send_at of the intent scheduled within the
	// horizon, after the senders start.
	farDatesSoon = 4 * time.Second
)

// Far dates: a notification expiring in year 9999 is delivered like any
// other (the expiry used to overflow a duration into a 1s TTL, on the intent
// and on its jobs); a send_at beyond the schedule horizon (a year ahead, and
// year 9999) is dead-lettered at intake with a reason naming the horizon
// (one used to be dropped by the stream's max age, the other fired at
// once). And a send_at within the horizon, on push.intents.<app> as the
// schema says, is held until then (it used to be ignored and sent at once).
func TestFarDates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "far-dates")
	h.runInProcess(services{dispatcher: true, sink: true})
	far := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	targets := func(i int) []events.Target {
		var tgs []events.Target
		for _, p := range events.Platforms {
			tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, i)})
		}
		return tgs
	}
	start := time.Now()

	goFar := intent("far-expiry-go", targets(0))
	goFar.Notification.Expiry = &far
	h.publish(goFar)
	rawFar := intent("far-expiry-raw", targets(1))
	rawFar.Notification.Expiry = &far
	h.publishRaw(app, rawFar.ID, rawIntent(t, rawFar), rawFar.Targets.Tokens)

	nextYear := start.AddDate(1, 0, 0).UTC()
	beyond := intent("far-send-at-next-year", targets(2))
	beyond.SendAt = &nextYear
	h.publishRaw(app, beyond.ID, rawIntent(t, beyond), beyond.Targets.Tokens)
	never := intent("far-send-at-9999", targets(3))
	never.SendAt = &far
	h.publishRaw(app, never.ID, rawIntent(t, never), never.Targets.Tokens)

	soonAt := start.Add(farDatesSoon)
	soon := intent("near-send-at", targets(4))
	soon.SendAt = &soonAt
	h.publishRaw(app, soon.ID, rawIntent(t, soon), soon.Targets.Tokens)

	// The far-expiry jobs wait for senders longer than a 1s TTL.
	farJobs := uint64(2 * len(events.Platforms))
	h.waitFor(10*time.Second, "the far-expiry intents dispatched", func() bool { return h.jobsStored() >= farJobs })
	time.Sleep(time.Until(start.Add(farDatesSendersAfter)))
	h.runInProcess(services{senders: events.Platforms})

	// Nothing of the scheduled intent may reach a provider before send_at.
	early := 0
	for time.Until(soonAt) > 250*time.Millisecond {
		for _, tg := range soon.Targets.Tokens {
			early += h.delivered(tg)
		}
		if early > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if early > 0 {
		t.Errorf("the intent with send_at %s from now was delivered %s after its publication", farDatesSoon,
			time.Since(start).Round(10*time.Millisecond))
	}

	h.settle()
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("senders_after=%s send_at_soon=%s", farDatesSendersAfter, farDatesSoon))
	h.report(tl)

	for _, in := range []*events.Intent{goFar, rawFar, soon} {
		tl.wantEach(t, app, in.ID, in.Targets.Tokens, kindDelivered, "expiry 9999, or send_at within the horizon")
	}
	for _, in := range []*events.Intent{beyond, never} {
		tl.wantEach(t, app, in.ID, in.Targets.Tokens, kindDead, "send_at "+in.SendAt.Format(time.RFC3339)+" beyond the horizon: an intake dead letter")
		sent := 0
		for _, tg := range in.Targets.Tokens {
			sent += h.delivered(tg)
		}
		if sent > 0 {
			t.Errorf("%s: the providers accepted %d of its notifications", in.ID, sent)
		}
		found := false
		for _, d := range tl.letters {
			if d.Stage != events.StageIntents || cmpOr(d.IntentID, header(d.Headers, events.HeaderIntentID)) != in.ID {
				continue
			}
			found = true
			if !strings.Contains(d.Reason, "horizon") {
				t.Errorf("%s: dead letter reason %q does not name the schedule horizon", in.ID, d.Reason)
			}
		}
		if !found {
			t.Errorf("%s (send_at %s): no intake dead letter", in.ID, in.SendAt.Format(time.RFC3339))
		}
	}
}

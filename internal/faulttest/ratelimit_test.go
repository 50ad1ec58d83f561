package faulttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// Counts of the ratelimit-429 scenario: intents of stormPerPlatform APNs
// and as many FCM tokens. APNs answers stormFactor times as many requests
// as it has tokens with 429 TooManyRequests and a Retry-After of
// stormRetryAfter; FCM's project quota lets a stormFCMQuotaShare of its
// tokens through per second (429 QUOTA_EXCEEDED with Retry-After beyond
// it), so the FCM storm lasts at least 1/stormFCMQuotaShare - 1 seconds.
const (
	stormIntents       = 100
	stormIntentsRace   = 50
	stormPerPlatform   = 5
	stormFactor        = 2.5
	stormRetryAfter    = 2 * time.Second
	stormFCMQuotaShare = 0.1
	// fcmHoldRefusals is how many requests FCM refuses in the
	// fcm-quota-hold scenario: the sender probes once per Retry-After while
	// it holds the project, so the hold lasts about as many of them.
	fcmHoldRefusals = 8
)

// A storm of 429 answers with Retry-After from APNs and FCM: every APNs
// token is refused two or three times over, and FCM only takes a fraction
// of the load per second. The senders wait as told (partial jobs re-queue
// only their refused tokens) and every token is delivered exactly once,
// nothing dead-lettered.
//
// FCM's storm is a quota (time-based), as FCM's is: a count-based storm
// (fcmfake.FailNext) meets the project hold of the FCM sender, under which
// jobs wait without being sent; see TestFCMHoldDoesNotSpendAttempts.
func TestRateLimitStorm(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "ratelimit-429")
	n := pick(stormIntents, stormIntentsRace)
	perPlatform := n * stormPerPlatform
	refusals := int(float64(perPlatform) * stormFactor)
	h.apns.FailNext(refusals, providertest.RateLimited, stormRetryAfter)
	quota := int(float64(perPlatform) * stormFCMQuotaShare)
	h.fcm.SetQuota(quota, time.Second)
	h.runInProcess(services{dispatcher: true, sink: true, senders: []events.Platform{events.APNs, events.FCM}})

	start := time.Now()
	for i := range n {
		var tgs []events.Target
		for _, p := range []events.Platform{events.APNs, events.FCM} {
			for j := range stormPerPlatform {
				tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, i*stormPerPlatform+j)})
			}
		}
		h.publish(intent(fmt.Sprintf("rl-%d", i), tgs))
	}
	h.settle()
	took := time.Since(start)
	tl := h.tally()
	fcmRefused := h.fcm.SendRequests() - h.fcm.TotalDelivered()
	tl.Extra = append(tl.Extra, fmt.Sprintf("apns_429=%d fcm_429=%d retry_after=%s fcm_quota=%d/s storm_took=%.1fs",
		refusals, fcmRefused, stormRetryAfter, quota, took.Seconds()))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
	// Every APNs token was refused at least twice, each time with Retry-After.
	if took < 2*stormRetryAfter {
		t.Errorf("the storm was over in %v: Retry-After (%v) not honoured", took, stormRetryAfter)
	}
	if fcmRefused == 0 {
		t.Errorf("FCM never answered QUOTA_EXCEEDED: the scenario did not storm FCM")
	}
}

// A count-based FCM storm meets the sender's project hold after
// QUOTA_EXCEEDED: while the project is held, jobs are answered Retry without
// any request, and one probe request per Retry-After tests the quota. Those
// rate limits must not spend the retry budget (they once did, and every
// token here was dead-lettered): with a budget of 4 attempts, 20 jobs of 5
// tokens and FCM refusing the next fcmHoldRefusals requests (a hold of at
// least that many Retry-After periods, far longer than 4 attempts' backoff),
// every token still ends delivered.
func TestFCMHoldDoesNotSpendAttempts(t *testing.T) {
	t.Parallel()
	const jobs, perJob, attempts, refusals = 20, 5, 4, fcmHoldRefusals
	h := newHarness(t, "fcm-quota-hold")
	h.fcm.FailNext(refusals, providertest.RateLimited, stormRetryAfter)
	h.runInProcess(services{dispatcher: true, sink: true, senders: []events.Platform{events.FCM}, maxAttempts: attempts})
	for i := range jobs {
		tgs := make([]events.Target, perJob)
		for j := range tgs {
			tgs[j] = events.Target{Platform: events.FCM, Token: h.token(events.FCM, i*perJob+j)}
		}
		h.publish(intent(fmt.Sprintf("hold-%d", i), tgs))
	}
	h.settle()
	tl := h.tally()
	requests := h.fcm.SendRequests()
	tl.Extra = append(tl.Extra, fmt.Sprintf("fcm_requests=%d max_attempts=%d", requests, attempts))
	h.report(tl)
	if want := int64(tl.Dead() * attempts); requests < want {
		t.Errorf("%d tokens dead-lettered after %d attempts each, but FCM got only %d requests (want ≥ %d): attempts were spent without sending",
			tl.Dead(), attempts, requests, want)
	}
}

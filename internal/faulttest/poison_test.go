package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// poisonGood is how many good intents (one token per platform each) surround
// the poison.
const (
	poisonGood     = 150
	poisonGoodRace = 60
)

// poison is one bad message and the dead letter it must produce.
type poison struct {
	name     string
	stage    string
	reason   string // the dead letter's reason contains it
	intentID string // "" when it cannot be read
	raw      []byte // original payload, to match letters without an intent id
	tokens   []events.Target
}

// Poison among good messages: malformed and invalid intents, a malformed
// job, a notification APNs would refuse as too large (caught before
// sending), an FCM override the SDK cannot represent, and a Mi message that
// MiPush itself rejects permanently (65011, no description). Exactly those
// are dead-lettered, each with its reason; every good token is delivered
// exactly once; the services keep serving.
func TestPoison(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "poison")
	h.runInProcess(services{dispatcher: true, sink: true, senders: events.Platforms})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	n := pick(poisonGood, poisonGoodRace)
	good := func(from, to int) []events.Target {
		var all []events.Target
		for i := from; i < to; i++ {
			var tgs []events.Target
			for _, p := range events.Platforms {
				tgs = append(tgs, events.Target{Platform: p, Token: token(p, i)})
			}
			all = append(all, h.publish(intent(fmt.Sprintf("good-%d", i), tgs))...)
		}
		return all
	}
	targets := good(0, n/2)

	apnsPoison := events.Target{Platform: events.APNs, Token: token(events.APNs, 900001)}
	fcmPoison := events.Target{Platform: events.FCM, Token: token(events.FCM, 900002)}
	miPoison := events.Target{Platform: events.Mi, Token: token(events.Mi, 900003)}
	big := intent("poison-apns-payload", []events.Target{apnsPoison})
	big.Notification.Body = strings.Repeat("x", 4500) // within the intent limit (5120), over APNs' 4096
	fcmBad := intent("poison-fcm-override", []events.Target{fcmPoison})
	fcmBad.Overrides = &events.Overrides{FCM: &events.FCMOverrides{Android: json.RawMessage(`{"ttl":"forever"}`)}}
	miBad := intent("poison-mi-no-description", []events.Target{miPoison})
	miBad.Notification = events.Notification{Title: "title but no description"}

	poisons := []poison{
		{name: "malformed intent JSON", stage: events.StageIntents, reason: "malformed intent",
			raw: []byte(`{"id":"poison-json","app":"demo","targets":{"tokens":[{"platform":"apns","token":"ab`)},
		{name: "unknown platform", stage: events.StageIntents, reason: "targets.tokens[0].platform", intentID: "poison-platform",
			raw: []byte(`{"id":"poison-platform","app":"demo","targets":{"tokens":[{"platform":"wp","token":"x1"}]},"notification":{"title":"x"}}`)},
		{name: "APNs payload too large", stage: string(events.APNs), reason: "PayloadTooLarge", intentID: big.ID,
			tokens: []events.Target{apnsPoison}},
		{name: "FCM override the SDK rejects", stage: string(events.FCM), reason: "overrides.fcm.android", intentID: fcmBad.ID,
			tokens: []events.Target{fcmPoison}},
		{name: "Mi answer 65011", stage: string(events.Mi), reason: "65011", intentID: miBad.ID,
			tokens: []events.Target{miPoison}},
		{name: "malformed job", stage: string(events.Mi), reason: "malformed",
			raw: []byte(`{"id":"poison-job","app":"demo","platform":"mi","tokens":["mi-poison"`)},
	}
	for _, p := range poisons[:2] {
		if _, err := h.jsc.Publish(ctx, events.IntentSubject(app), p.raw); err != nil {
			t.Fatal(err)
		}
	}
	targets = append(targets, h.publish(big, fcmBad, miBad)...)
	if _, err := h.jsc.Publish(ctx, events.SendSubject(events.Mi, app), poisons[5].raw); err != nil {
		t.Fatal(err)
	}
	targets = append(targets, good(n/2, n)...)

	settled := h.settle()
	tl := h.count(targets)
	h.report(tl)
	if !settled {
		return
	}

	letters := h.deadLetters()
	matched := make([]bool, len(letters))
	for _, p := range poisons {
		found := -1
		for i, d := range letters {
			if matched[i] || d.Stage != p.stage {
				continue
			}
			if (p.intentID != "" && d.IntentID == p.intentID) || (p.raw != nil && bytes.Equal(d.Original(), p.raw)) {
				found = i
				break
			}
		}
		if found < 0 {
			t.Errorf("%s: no dead letter at stage %s", p.name, p.stage)
			continue
		}
		matched[found] = true
		d := letters[found]
		if !strings.Contains(d.Reason, p.reason) {
			t.Errorf("%s: dead letter reason %q, want it to name %q", p.name, d.Reason, p.reason)
		}
		if len(d.Original()) == 0 {
			t.Errorf("%s: dead letter without the original message", p.name)
		}
		for _, tg := range p.tokens {
			if !containsToken(d.Tokens, tg.Token) {
				t.Errorf("%s: dead letter tokens %v lack %s", p.name, d.Tokens, tg.Token)
			}
			if n := h.delivered(tg); n != 0 {
				t.Errorf("%s: poisoned token delivered %d times", p.name, n)
			}
		}
	}
	for i, d := range letters {
		if !matched[i] {
			t.Errorf("unexpected dead letter: stage %s intent %q reason %q", d.Stage, d.IntentID, d.Reason)
		}
	}
	for _, tg := range targets {
		if isPoisoned(poisons, tg) {
			continue
		}
		if n := h.delivered(tg); n != 1 {
			t.Errorf("good token %s/%s delivered %d times, want 1", tg.Platform, tg.Token, n)
		}
	}
}

func containsToken(ts []string, tok string) bool {
	for _, t := range ts {
		if t == tok {
			return true
		}
	}
	return false
}

func isPoisoned(ps []poison, tg events.Target) bool {
	for _, p := range ps {
		for _, pt := range p.tokens {
			if pt == tg {
				return true
			}
		}
	}
	return false
}

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
	reason   string          // the dead letter's reason contains it
	intentID string          // its id, in the body or in the Push-Intent-Id header
	raw      []byte          // original payload, published raw when the stage is intents
	tokens   []events.Target // the tokens it was meant for
}

// Poison among good messages: malformed and invalid intents, intents a
// platform would certainly refuse (an APNs payload over 4096 bytes, a MiPush
// notification without a description: 65011), published raw as a producer
// without the Go publisher would, an FCM override the SDK cannot represent
// and a malformed job. Those a platform would refuse are dead-lettered at
// intake, with the field and the reason, before anything is sent; the FCM
// override at its sender; every good token is delivered exactly once; the
// services keep serving.
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
				tgs = append(tgs, events.Target{Platform: p, Token: h.token(p, i)})
			}
			all = append(all, h.publish(intent(fmt.Sprintf("good-%d", i), tgs))...)
		}
		return all
	}
	targets := good(0, n/2)

	apnsPoison := events.Target{Platform: events.APNs, Token: h.token(events.APNs, 900001)}
	fcmPoison := events.Target{Platform: events.FCM, Token: h.token(events.FCM, 900002)}
	miPoison := events.Target{Platform: events.Mi, Token: h.token(events.Mi, 900003)}
	big := intent("poison-apns-payload", []events.Target{apnsPoison})
	big.Notification.Body = strings.Repeat("x", 4500) // within the intent limit (5120), over APNs' 4096
	fcmBad := intent("poison-fcm-override", []events.Target{fcmPoison})
	fcmBad.Overrides = &events.Overrides{FCM: &events.FCMOverrides{Android: json.RawMessage(`{"ttl":"forever"}`)}}
	miBad := intent("poison-mi-no-description", []events.Target{miPoison})
	miBad.Notification = events.Notification{Title: "title but no description"}

	poisons := []poison{
		{name: "malformed intent JSON", stage: events.StageIntents, reason: "malformed intent", intentID: "poison-json",
			raw: []byte(`{"id":"poison-json","app":"demo","targets":{"tokens":[{"platform":"apns","token":"ab`)},
		{name: "unknown platform", stage: events.StageIntents, reason: "targets.tokens[0].platform", intentID: "poison-platform",
			raw:    []byte(`{"id":"poison-platform","app":"demo","targets":{"tokens":[{"platform":"wp","token":"x1"}]},"notification":{"title":"x"}}`),
			tokens: []events.Target{{Platform: "wp", Token: "x1"}}},
		{name: "APNs payload too large", stage: events.StageIntents, reason: "4096", intentID: big.ID,
			raw: rawIntent(t, big), tokens: []events.Target{apnsPoison}},
		{name: "FCM override the SDK rejects", stage: string(events.FCM), reason: "overrides.fcm.android", intentID: fcmBad.ID,
			tokens: []events.Target{fcmPoison}},
		{name: "MiPush title without description (65011)", stage: events.StageIntents, reason: "MiPush", intentID: miBad.ID,
			raw: rawIntent(t, miBad), tokens: []events.Target{miPoison}},
		{name: "malformed job", stage: string(events.Mi), reason: "malformed",
			raw: []byte(`{"id":"poison-job","app":"demo","platform":"mi","tokens":["mi-poison"`)},
	}
	for _, p := range poisons {
		if p.stage == events.StageIntents {
			h.publishRaw(app, p.intentID, p.raw, p.tokens)
		}
	}
	targets = append(targets, h.publish(fcmBad)...)
	if _, err := h.jsc.Publish(ctx, events.SendSubject(events.Mi, app), poisons[5].raw); err != nil {
		t.Fatal(err)
	}
	targets = append(targets, good(n/2, n)...)

	// Dead tokens (the fakes report them unregistered): invalid, and once
	// the registry knows, suppressed or invalid again, never lost.
	var deadTokens []events.Target
	for _, p := range events.Platforms {
		deadTokens = append(deadTokens, events.Target{Platform: p, Token: h.sb.Token(p, 900010, true)})
	}
	h.publish(intent("dead-tokens", deadTokens))

	settled := h.settle()
	if settled {
		h.publish(intent("dead-tokens-again", deadTokens))
		settled = h.settle()
	}
	tl := h.tally()
	h.report(tl)
	if !settled {
		return
	}
	tl.wantEach(t, app, "dead-tokens", deadTokens, kindInvalid, "the provider reports them unregistered")
	for _, tg := range deadTokens {
		k := tokenKey{app, "dead-tokens-again", tg.Platform, tg.Token}
		if outs := tl.byKey[k]; len(outs) != 1 || (outs[0] != kindSuppressed && outs[0] != kindInvalid) {
			t.Errorf("%s: outcomes %v, want one: suppressed (the registry knows the token is dead) or invalid", k, outs)
		}
	}

	letters := tl.letters
	matched := make([]bool, len(letters))
	for _, p := range poisons {
		found := -1
		for i, d := range letters {
			if matched[i] || d.Stage != p.stage {
				continue
			}
			if (p.intentID != "" && (d.IntentID == p.intentID || header(d.Headers, events.HeaderIntentID) == p.intentID)) ||
				(p.raw != nil && bytes.Equal(d.Original(), p.raw)) {
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
		if d.Attempts != 1 {
			t.Errorf("%s: dead-lettered after %d deliveries, want the first", p.name, d.Attempts)
		}
		if len(d.Original()) == 0 {
			t.Errorf("%s: dead letter without the original message", p.name)
		}
		for _, tg := range p.tokens {
			if p.stage != events.StageIntents && !containsToken(d.Tokens, tg.Token) {
				t.Errorf("%s: dead letter tokens %v lack %s", p.name, d.Tokens, tg.Token)
			}
			if tg.Platform.Valid() {
				if n := h.delivered(tg); n != 0 {
					t.Errorf("%s: poisoned token delivered %d times", p.name, n)
				}
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

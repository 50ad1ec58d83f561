package faulttest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

const (
	// intakeLimit is the dispatcher's default --max-intent-bytes: 256 KiB,
	// below the NATS server's max_payload (1 MiB), so that the check fires.
	intakeLimit = 256 << 10
	// nearMaxPayload is the size of an intent close to the server's
	// max_payload (1 MiB), with room for its headers.
	nearMaxPayload = 1<<20 - 8<<10
	// oversizeSettle bounds the wait: both must be dead-lettered at once.
	oversizeSettle = 30 * time.Second
)

// Oversize poison, against the dispatcher binary's defaults: an intent just
// above the intake limit and a malformed one close to the server's
// max_payload (its dead letter, with the payload base64-encoded, used to
// exceed max_payload: 11 failed attempts, then parked for good). Each ends
// as a dead letter with its reason on its first delivery; the large one's
// payload is truncated so that it fits, with the original size and SHA-256.
func TestOversizePoison(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "oversize")
	h.startProc("dispatcher", "--log-level", "info")
	h.runInProcess(services{sink: true, senders: []events.Platform{events.APNs}})

	// Just above the limit: a valid intent of explicit APNs tokens.
	justAbove := intent("oversize-limit", nil)
	sized := func(n int) []byte {
		justAbove.Targets.Tokens = justAbove.Targets.Tokens[:0]
		for i := range n {
			justAbove.Targets.Tokens = append(justAbove.Targets.Tokens, events.Target{Platform: events.APNs, Token: h.token(events.APNs, i)})
		}
		return rawIntent(t, justAbove)
	}
	per := len(sized(2)) - len(sized(1)) // every APNs token has the same length
	n := (intakeLimit-len(sized(1)))/per + 1
	small := sized(n)
	for len(small) <= intakeLimit {
		n++
		small = sized(n)
	}
	h.publishRaw(app, justAbove.ID, small, justAbove.Targets.Tokens)

	// Close to max_payload: the same, cut short (not JSON any more).
	const nearID = "oversize-near-max-payload"
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":%q,"app":%q,"targets":{"tokens":[`, nearID, app)
	var nearTargets []events.Target
	for i := 0; b.Len() < nearMaxPayload-200; i++ {
		tg := events.Target{Platform: events.APNs, Token: h.token(events.APNs, 100000+i)}
		e, _ := json.Marshal(tg)
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(e)
		nearTargets = append(nearTargets, tg)
	}
	large := []byte(b.String())
	h.publishRaw(app, nearID, large, nearTargets)

	settled := h.settleWithin(oversizeSettle)
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("intake_limit=%d just_above=%d near_max_payload=%d", intakeLimit, len(small), len(large)))
	for _, d := range tl.letters {
		tl.Extra = append(tl.Extra, fmt.Sprintf("letter_bytes=%d", d.size))
	}
	h.report(tl)
	if !settled {
		t.Errorf("an oversize intent is still on PUSH_INTENTS after %v: its dead letter was never stored", oversizeSettle)
	}

	for _, c := range []struct {
		id        string
		payload   []byte
		truncated bool
	}{{justAbove.ID, small, false}, {nearID, large, true}} {
		var found []letter
		for _, d := range tl.letters {
			if d.Stage == events.StageIntents && cmpOr(d.IntentID, header(d.Headers, events.HeaderIntentID)) == c.id {
				found = append(found, d)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s (%d bytes): %d intake dead letters, want 1", c.id, len(c.payload), len(found))
			continue
		}
		d := found[0]
		if !strings.Contains(d.Reason, "limit") {
			t.Errorf("%s: dead letter reason %q does not name the size limit", c.id, d.Reason)
		}
		if d.Attempts != 1 {
			t.Errorf("%s: dead-lettered after %d deliveries, want the first", c.id, d.Attempts)
		}
		if d.size > events.DefaultMaxDeadLetterBytes {
			t.Errorf("%s: dead letter of %d bytes, over the %d a dead letter may take", c.id, d.size, events.DefaultMaxDeadLetterBytes)
		}
		sum := sha256.Sum256(c.payload)
		if d.PayloadSize != len(c.payload) || d.PayloadSHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: dead letter describes a payload of %d bytes, SHA-256 %.12s…; want %d bytes, %.12s…",
				c.id, d.PayloadSize, d.PayloadSHA256, len(c.payload), hex.EncodeToString(sum[:]))
		}
		if d.Truncated != c.truncated {
			t.Errorf("%s: dead letter truncated=%v, want %v", c.id, d.Truncated, c.truncated)
		}
		if !c.truncated && string(d.Original()) != string(c.payload) {
			t.Errorf("%s: dead letter does not hold the whole original (%d of %d bytes)", c.id, len(d.Original()), len(c.payload))
		}
	}
	if n := h.apns.TotalDelivered(); n != 0 {
		t.Errorf("APNs accepted %d notifications of the oversize intents", n)
	}
}

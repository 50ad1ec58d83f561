package faulttest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// This file holds the one accounting every scenario goes through: the
// invariant that every token of every accepted intent ends with exactly one
// terminal outcome, read from what the fleet recorded (PUSH_FEEDBACK and
// PUSH_DEAD) once it settled, never from what a scenario believes happened.

// ---------------------------------------------------------------- the ledger

// intentKey names an intent: ids are scoped by app.
type intentKey struct{ app, id string }

// tokenKey is one notification: one token of one intent.
type tokenKey struct {
	app, id  string
	platform events.Platform
	token    string
}

func (k tokenKey) String() string {
	tok := k.token
	if len(tok) > 14 {
		tok = tok[:6] + "…" + tok[len(tok)-6:]
	}
	return fmt.Sprintf("%s/%s %s/%s", k.app, k.id, k.platform, tok)
}

// sentIntent is an intent the stream acknowledged: the tokens the invariant
// is about.
type sentIntent struct {
	key     intentKey
	targets []events.Target
}

// ledger records every intent a scenario published and the stream
// acknowledged, and the PUSH_INTENTS sequences it was stored at (to find
// the intent of an intake dead letter that cannot name it: a truncated
// payload of an oversize intent).
type ledger struct {
	mu      sync.Mutex
	intents map[intentKey]*sentIntent
	order   []intentKey
	bySeq   map[uint64]intentKey
}

// add records an acknowledged intent. A repeat of an id (a republish) adds
// the targets it did not have: the same notification, accounted once.
func (l *ledger) add(app, id string, targets []events.Target, ack *jetstream.PubAck) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.intents == nil {
		l.intents, l.bySeq = map[intentKey]*sentIntent{}, map[uint64]intentKey{}
	}
	k := intentKey{app, id}
	in := l.intents[k]
	if in == nil {
		in = &sentIntent{key: k}
		l.intents[k] = in
		l.order = append(l.order, k)
	}
	for _, tg := range targets {
		if !containsTarget(in.targets, tg) {
			in.targets = append(in.targets, tg)
		}
	}
	if ack != nil && ack.Stream == events.StreamIntents {
		l.bySeq[ack.Sequence] = k
	}
}

func containsTarget(ts []events.Target, tg events.Target) bool {
	for _, t := range ts {
		if t == tg {
			return true
		}
	}
	return false
}

// snapshot returns the recorded intents in publication order.
func (l *ledger) snapshot() []*sentIntent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*sentIntent, 0, len(l.order))
	for _, k := range l.order {
		c := *l.intents[k]
		c.targets = append([]events.Target(nil), c.targets...)
		out = append(out, &c)
	}
	return out
}

func (l *ledger) lookup(k intentKey) (*sentIntent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	in, ok := l.intents[k]
	return in, ok
}

func (l *ledger) atSeq(seq uint64) (*sentIntent, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k, ok := l.bySeq[seq]
	if !ok {
		return nil, false
	}
	return l.intents[k], true
}

// ---------------------------------------------------------------- outcomes

// kind is a terminal outcome as the tally counts it.
type kind int

const (
	kindDelivered  kind = iota
	kindInvalid         // invalid_token, or token_replaced
	kindExpired         // expired, before dispatch or before a provider request
	kindSuppressed      // the registry knew the token was dead
	kindCancelled       // the scheduled intent was cancelled
	kindDead            // a dead letter names the token, or its whole intent (intake)
	numKinds
)

var kindNames = [numKinds]string{"delivered", "invalid", "expired", "suppressed", "cancelled", "dead"}

func (k kind) String() string { return kindNames[k] }

// feedbackKind maps a feedback outcome to its terminal kind. failed is not
// terminal (a retry follows) and dead counts through its dead letter.
func feedbackKind(o events.Outcome) (kind, bool) {
	switch o {
	case events.Delivered:
		return kindDelivered, true
	case events.InvalidToken, events.TokenReplaced:
		return kindInvalid, true
	case events.Expired:
		return kindExpired, true
	case events.Suppressed:
		return kindSuppressed, true
	case events.Cancelled:
		return kindCancelled, true
	}
	return 0, false
}

// letter is a dead letter and the size of its stored message.
type letter struct {
	events.DeadLetter
	size int
}

// accounts is what PUSH_FEEDBACK and PUSH_DEAD say happened to each token.
type accounts struct {
	outcomes map[tokenKey][]kind
	// trail is every outcome recorded per token, terminal or not, to explain
	// a lost one.
	trail map[tokenKey][]string
	// deadFeedback: a dead feedback event, which must come with a dead letter.
	deadFeedback map[tokenKey]bool
	letters      []letter
	// unattributed dead letters name no token that can be known (malformed
	// messages); omitted counts tokens dead letters left out to fit.
	unattributed, omitted int
}

// account reads every feedback event and dead letter. Call it once the
// fleet settled.
func (h *harness) account() *accounts {
	h.t.Helper()
	a := &accounts{outcomes: map[tokenKey][]kind{}, trail: map[tokenKey][]string{}, deadFeedback: map[tokenKey]bool{}}
	h.readStream(events.StreamFeedback, func(msg jetstream.Msg) {
		fbs, err := events.DecodeFeedbackEvents(msg.Data())
		if err != nil {
			h.t.Errorf("undecodable feedback on %s: %v", msg.Subject(), err)
			return
		}
		for _, f := range fbs { // per token
			k := tokenKey{f.App, f.IntentID, f.Platform, f.Token}
			a.trail[k] = append(a.trail[k], string(f.Outcome))
			if f.Outcome == events.Dead {
				a.deadFeedback[k] = true
			}
			if kd, ok := feedbackKind(f.Outcome); ok {
				a.outcomes[k] = append(a.outcomes[k], kd)
			}
		}
	})
	h.readStream(events.StreamDead, func(msg jetstream.Msg) {
		var d events.DeadLetter
		if err := json.Unmarshal(msg.Data(), &d); err != nil {
			h.t.Errorf("undecodable dead letter on %s: %v", msg.Subject(), err)
			return
		}
		a.letters = append(a.letters, letter{DeadLetter: d, size: len(msg.Data())})
		keys, ok := h.letterTokens(&d)
		if !ok {
			a.unattributed++
		}
		a.omitted += d.TokensOmitted
		for _, k := range keys {
			a.outcomes[k] = append(a.outcomes[k], kindDead)
			a.trail[k] = append(a.trail[k], "dead letter ("+d.Stage+")")
		}
	})
	return a
}

// letterTokens lists the notifications a dead letter gives up on: a
// sender's, the tokens it names (or its job's); an intake dead letter, every
// token of its intent (see intakeIntent). ok is false when the letter names
// nothing that can be known (a malformed message).
func (h *harness) letterTokens(d *events.DeadLetter) ([]tokenKey, bool) {
	if p := events.Platform(d.Stage); p.Valid() {
		return senderLetterTokens(d, p)
	}
	if d.Stage != events.StageIntents {
		return nil, true // a feedback event that could not be stored: no token of an intent
	}
	in := h.intakeIntent(d)
	if in == nil {
		return nil, false
	}
	out := make([]tokenKey, len(in.targets))
	for i, tg := range in.targets {
		out[i] = tokenKey{in.key.app, in.key.id, tg.Platform, tg.Token}
	}
	return out, true
}

// senderLetterTokens lists the notifications a sender's dead letter gives
// up on: the tokens it names, else its job's, each under its own intent (a
// coalesced job holds several: a named token is taken as the job's first
// not yet named token of that value).
func senderLetterTokens(d *events.DeadLetter, p events.Platform) ([]tokenKey, bool) {
	job, err := events.DecodeJob(d.Original())
	if err != nil {
		// A payload cut to fit, or a job the sender refused: what the
		// letter names, completed by what can be read of the payload.
		var loose struct {
			IntentID string   `json:"intent_id"`
			App      string   `json:"app"`
			Tokens   []string `json:"tokens"`
		}
		_ = json.Unmarshal(d.Original(), &loose)
		app, id, tokens := cmpOr(d.App, loose.App), cmpOr(d.IntentID, loose.IntentID), d.Tokens
		if len(tokens) == 0 {
			tokens = loose.Tokens
		}
		out := make([]tokenKey, len(tokens))
		for i, tok := range tokens {
			out[i] = tokenKey{app, id, p, tok}
		}
		return out, len(out) > 0
	}
	app := cmpOr(d.App, job.App)
	if len(d.Tokens) == 0 {
		out := make([]tokenKey, len(job.Tokens))
		for i, tok := range job.Tokens {
			out[i] = tokenKey{app, cmpOr(d.IntentID, job.IntentOf(i)), p, tok}
		}
		return out, len(out) > 0
	}
	used := make([]bool, len(job.Tokens))
	out := make([]tokenKey, 0, len(d.Tokens))
	for _, tok := range d.Tokens {
		id := d.IntentID
		for i, jt := range job.Tokens {
			if jt == tok && !used[i] {
				used[i] = true
				id = cmpOr(id, job.IntentOf(i))
				break
			}
		}
		out = append(out, tokenKey{app, id, p, tok})
	}
	return out, len(out) > 0
}

// intakeIntent finds the intent an intake dead letter is about: by its
// PUSH_INTENTS sequence (which even a truncated payload keeps), else by the
// app and id the letter, the payload or the headers name.
func (h *harness) intakeIntent(d *events.DeadLetter) *sentIntent {
	if d.Stream == events.StreamIntents && d.Seq > 0 {
		if in, ok := h.ledger.atSeq(d.Seq); ok {
			return in
		}
	}
	var body struct {
		ID      string `json:"id"`
		App     string `json:"app"`
		Targets struct {
			Tokens []events.Target `json:"tokens"`
		} `json:"targets"`
	}
	_ = json.Unmarshal(d.Original(), &body)
	appName := cmpOr(d.App, body.App, subjectApp(d.Subject))
	id := cmpOr(d.IntentID, body.ID, header(d.Headers, events.HeaderIntentID))
	if id == "" {
		if mid := header(d.Headers, "Nats-Msg-Id"); mid != "" {
			id = mid
			if a, rest, ok := strings.Cut(mid, ":"); ok && a == appName {
				id = rest
			}
		}
	}
	if id == "" {
		return nil
	}
	if in, ok := h.ledger.lookup(intentKey{appName, id}); ok {
		return in
	}
	// Not one the scenario published (or published under another app):
	// what the payload names.
	return &sentIntent{key: intentKey{appName, id}, targets: body.Targets.Tokens}
}

// subjectApp is the app token of push.intents.<app> or push.due.<app>.
func subjectApp(subject string) string {
	for _, root := range []string{events.IntentsRoot, events.DueRoot} {
		if rest, ok := strings.CutPrefix(subject, root+"."); ok && !strings.Contains(rest, ".") {
			return rest
		}
	}
	return ""
}

func header(h map[string][]string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// ---------------------------------------------------------------- the tally

// tally is the final account of one scenario.
type tally struct {
	Scenario string
	// Sent is the number of notifications (intent, platform, token) of the
	// intents the stream acknowledged.
	Sent int
	// Outcomes counts notifications by their (first) terminal outcome.
	Outcomes [numKinds]int
	// Lost counts notifications without a terminal outcome; Duplicates the
	// terminal outcomes beyond the first of a notification.
	Lost, Duplicates int
	// DeadLetters counts messages on PUSH_DEAD, by "stage/reason" in Reasons.
	DeadLetters int
	Reasons     map[string]int
	// ProviderDups counts deliveries the fake providers saw beyond the
	// delivered outcomes recorded; Phantom counts delivered outcomes the
	// fakes never saw.
	ProviderDups, Phantom int
	// Unreported counts notifications the providers saw whose terminal
	// outcome is not delivered.
	Unreported int
	// Untracked counts terminal outcomes of tokens of no intent the
	// scenario published.
	Untracked int
	// Resent counts terminal outcomes of confirmed delivery's re-sends
	// (<id>:r<n>, events.ResendID) to tokens of a published intent: the
	// second account, apart from the intent's own outcome, which a re-send
	// neither settles nor duplicates.
	Resent int
	// InFlight is the notifications (tokens) in messages delivered to the
	// faulted stage and not acknowledged when the fault struck: the bound
	// on duplicates, zero unless the scenario strikes mid-flight.
	// InFlightMsgs is those messages.
	InFlight, InFlightMsgs int
	Extra                  []string
	Elapsed                time.Duration
	// Unsettled: the fleet still had work when the tally was taken, so
	// "lost" counts notifications not yet handled.
	Unsettled bool

	// byKey is each notification's terminal outcomes; letters the dead letters.
	byKey   map[tokenKey][]kind
	letters []letter
	sample  struct{ lost, dup, phantom []string }
}

// Delivered, Expired and Dead are the counts of those outcomes.
func (tl *tally) Delivered() int { return tl.Outcomes[kindDelivered] }
func (tl *tally) Expired() int   { return tl.Outcomes[kindExpired] }
func (tl *tally) Dead() int      { return tl.Outcomes[kindDead] }

// wantEach checks that every token of the intent ended with exactly one
// terminal outcome, want, and reports those that did not in one error.
func (tl *tally) wantEach(t *testing.T, appName, id string, targets []events.Target, want kind, why string) {
	t.Helper()
	var bad []string
	for _, tg := range targets {
		outs := tl.byKey[tokenKey{appName, id, tg.Platform, tg.Token}]
		if len(outs) != 1 || outs[0] != want {
			names := make([]string, len(outs))
			for i, o := range outs {
				names[i] = o.String()
			}
			bad = append(bad, fmt.Sprintf("%s/%s:[%s]", tg.Platform, shortToken(tg.Token), strings.Join(names, ",")))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s/%s: %d of %d tokens did not end %s (%s): %s", appName, id, len(bad), len(targets), want, why, strings.Join(bad, " "))
	}
}

// tally accounts for every notification of every intent the scenario
// published: call it once the fleet settled.
func (h *harness) tally() *tally {
	h.t.Helper()
	a := h.account()
	tl := &tally{Scenario: h.name, Reasons: map[string]int{}, Unsettled: h.unsettled,
		byKey: map[tokenKey][]kind{}, letters: a.letters}
	for _, l := range a.letters {
		tl.DeadLetters++
		tl.Reasons[l.Stage+"/"+shortReason(l.Reason)]++
	}
	tracked := map[tokenKey]bool{}
	delivered := map[events.Target]int{} // delivered outcomes per device, across intents
	for _, in := range h.ledger.snapshot() {
		for _, tg := range in.targets {
			k := tokenKey{in.key.app, in.key.id, tg.Platform, tg.Token}
			tracked[k] = true
			tl.Sent++
			outs := a.outcomes[k]
			tl.byKey[k] = outs
			switch {
			case len(outs) == 0:
				tl.Lost++
				if len(tl.sample.lost) < 5 {
					why := "no outcome"
					if len(a.trail[k]) > 0 {
						why = "only " + strings.Join(a.trail[k], ",")
					}
					if a.deadFeedback[k] {
						why = "dead feedback without a dead letter"
					}
					tl.sample.lost = append(tl.sample.lost, fmt.Sprintf("%s (%s)", k, why))
				}
				continue
			case len(outs) > 1:
				tl.Duplicates += len(outs) - 1
				if len(tl.sample.dup) < 5 {
					names := make([]string, len(outs))
					for i, o := range outs {
						names[i] = o.String()
					}
					tl.sample.dup = append(tl.sample.dup, fmt.Sprintf("%s: %s", k, strings.Join(names, ",")))
				}
			}
			tl.Outcomes[outs[0]]++
			for _, o := range outs {
				if o == kindDelivered {
					delivered[tg]++
				}
			}
		}
	}
	for k, outs := range a.outcomes {
		if tracked[k] {
			continue
		}
		if orig := (tokenKey{k.app, events.OriginalID(k.id), k.platform, k.token}); orig != k && tracked[orig] {
			tl.Resent += len(outs)
			for _, o := range outs {
				if o == kindDelivered { // the provider saw the re-send too
					delivered[events.Target{Platform: k.platform, Token: k.token}]++
				}
			}
			continue
		}
		tl.Untracked += len(outs)
	}
	if a.unattributed > 0 {
		tl.Extra = append(tl.Extra, fmt.Sprintf("unattributed_dead_letters=%d", a.unattributed))
	}
	if a.omitted > 0 {
		tl.Extra = append(tl.Extra, fmt.Sprintf("tokens_omitted_from_dead_letters=%d", a.omitted))
	}
	// What the providers saw against what the fleet recorded.
	seen := map[events.Target]bool{}
	for _, in := range h.ledger.snapshot() {
		for _, tg := range in.targets {
			if seen[tg] || !tg.Platform.Valid() {
				continue
			}
			seen[tg] = true
			n := h.delivered(tg)
			switch {
			case n > 0 && delivered[tg] == 0:
				// It reached the provider, yet its outcome is another
				// (expired on a redelivery after a crash, say).
				tl.Unreported++
				tl.ProviderDups += n - 1
			case n > delivered[tg]:
				tl.ProviderDups += n - delivered[tg]
				if len(tl.sample.dup) < 5 {
					tl.sample.dup = append(tl.sample.dup, fmt.Sprintf("%s/%s reached the provider %d× for %d delivered outcomes",
						tg.Platform, shortToken(tg.Token), n, delivered[tg]))
				}
			case n < delivered[tg]:
				tl.Phantom += delivered[tg] - n
				if len(tl.sample.phantom) < 5 {
					tl.sample.phantom = append(tl.sample.phantom, fmt.Sprintf("%s/%s delivered outcome %d×, provider saw %d", tg.Platform, shortToken(tg.Token), delivered[tg], n))
				}
			}
		}
	}
	return tl
}

func shortToken(tok string) string {
	if len(tok) > 14 {
		return tok[:6] + "…" + tok[len(tok)-6:]
	}
	return tok
}

// shortReason keeps dead-letter reasons readable on one line.
func shortReason(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 70 {
		s = s[:70] + "…"
	}
	return s
}

func (tl *tally) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tally scenario=%s sent=%d", tl.Scenario, tl.Sent)
	for k := range numKinds {
		fmt.Fprintf(&b, " %s=%d", kind(k), tl.Outcomes[k])
	}
	fmt.Fprintf(&b, " lost=%d duplicates=%d wall=%.1fs", tl.Lost, tl.Duplicates, tl.Elapsed.Seconds())
	reasons := "-"
	if len(tl.Reasons) > 0 {
		keys := make([]string, 0, len(tl.Reasons))
		for k := range tl.Reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s ×%d", k, tl.Reasons[k])
		}
		reasons = strings.Join(parts, "; ")
	}
	fmt.Fprintf(&b, " | dead_letters=%d (reasons: %s) in_flight_at_fault=%d in_flight_msgs=%d provider_dups=%d",
		tl.DeadLetters, reasons, tl.InFlight, tl.InFlightMsgs, tl.ProviderDups)
	if tl.Phantom > 0 {
		fmt.Fprintf(&b, " phantom_deliveries=%d", tl.Phantom)
	}
	if tl.Unreported > 0 {
		fmt.Fprintf(&b, " reached_provider_not_delivered=%d", tl.Unreported)
	}
	if tl.Untracked > 0 {
		fmt.Fprintf(&b, " untracked_outcomes=%d", tl.Untracked)
	}
	if tl.Resent > 0 {
		fmt.Fprintf(&b, " resent_outcomes=%d", tl.Resent)
	}
	for _, e := range tl.Extra {
		b.WriteString(" " + e)
	}
	if tl.Unsettled {
		b.WriteString(" UNSETTLED")
	}
	return b.String()
}

// report prints the tally (test log and standard output) and checks the
// invariant: nothing lost, no notification with more than one terminal
// outcome beyond what was in flight when the fault struck, no provider
// delivery beyond that either, and no delivered outcome the provider never
// saw.
func (h *harness) report(tl *tally) {
	h.t.Helper()
	tl.Elapsed = time.Since(h.start)
	line := tl.line()
	h.t.Log(line)
	fmt.Println(line)
	talliesMu.Lock()
	tallies = append(tallies, line)
	talliesMu.Unlock()
	if tl.Lost != 0 {
		h.t.Errorf("%d of %d notifications lost (no terminal outcome on PUSH_FEEDBACK, no dead letter on PUSH_DEAD), e.g. %v",
			tl.Lost, tl.Sent, tl.sample.lost)
	}
	if tl.Duplicates > tl.InFlight {
		h.t.Errorf("%d terminal outcomes beyond the first of their notification, more than the %d notifications in flight at the fault, e.g. %v",
			tl.Duplicates, tl.InFlight, tl.sample.dup)
	}
	if tl.ProviderDups > tl.InFlight {
		h.t.Errorf("%d deliveries at the providers beyond the delivered outcomes, more than the %d notifications in flight at the fault, e.g. %v",
			tl.ProviderDups, tl.InFlight, tl.sample.dup)
	}
	if tl.Phantom > 0 {
		h.t.Errorf("%d delivered outcomes the providers never saw, e.g. %v", tl.Phantom, tl.sample.phantom)
	}
}

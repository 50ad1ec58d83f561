package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of a Session, declared once.
const (
	// DefaultSessionTokens is the most tokens per intent of a session.
	DefaultSessionTokens = 1000
	// DefaultSessionInFlight is the most intents of a session published and
	// not yet acknowledged.
	DefaultSessionInFlight = 16
	// DefaultSessionAckWait bounds the wait for one intent's acknowledgement
	// before it is published again (with the same Nats-Msg-Id: stored once).
	DefaultSessionAckWait = 10 * time.Second
	// DefaultSessionAttempts is how often one intent is published before it
	// is counted as failed.
	DefaultSessionAttempts = 3
	// maxFailedIDs bounds SessionSummary.FailedIDs.
	maxFailedIDs = 100
)

// sessionPrefix leaves room in an intent id (128 characters) for "-<n>".
var sessionPrefix = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,100}$`)

// SessionOptions configure a Session. Zero values take the defaults.
type SessionOptions struct {
	// IDPrefix is required: the session's intents are "<IDPrefix>-1",
	// "<IDPrefix>-2", … (1-100 characters of A-Z a-z 0-9 _ : -). Ids are
	// deterministic: a stream restarted with the same prefix and the same
	// tokens in the same order republishes the same intents, which the
	// stream and the dispatcher drop as duplicates within the dedup window
	// (SessionSummary.Duplicates counts them).
	IDPrefix string
	// MaxTokens is the most tokens per intent (default DefaultSessionTokens,
	// at most the publisher's Limits.MaxTokens).
	MaxTokens int
	// MaxBytes is the most bytes of one encoded intent (default and at most
	// the publisher's Limits.MaxIntentBytes).
	MaxBytes int
	// MaxInFlight is the most intents published but not yet acknowledged
	// (default DefaultSessionInFlight).
	MaxInFlight int
	// AckWait bounds the wait for one acknowledgement (default
	// DefaultSessionAckWait); Attempts is how often an intent is published
	// before it counts as failed (default DefaultSessionAttempts).
	AckWait  time.Duration
	Attempts int
	// Overrides and SendAt are copied into every intent.
	Overrides *Overrides
	SendAt    *time.Time
}

// SessionSummary reports what a session published.
type SessionSummary struct {
	// Intents were acknowledged by the stream (Duplicates included); Tokens
	// are the tokens they carry.
	Intents, Tokens int
	// Duplicates were already stored (PubAck.Duplicate): a restarted stream
	// republishing intents of the dedup window.
	Duplicates int
	// Rejected tokens were refused by Add (invalid), never published.
	Rejected int
	// Failures are intents that could not be published after every
	// attempt; FailedTokens the tokens they carried; FailedIDs their ids
	// (the first 100): publish them again with the same prefix.
	Failures, FailedTokens int
	FailedIDs              []string
	// LastID is the id of the last intent published.
	LastID string
}

// ErrSessionClosed is returned by Add after Close.
var ErrSessionClosed = errors.New("events: session closed")

// Session streams the tokens of one notification into intents of bounded
// size. Give it the notification once (NewSession), then tokens from any
// source (Add, AddAll, AddChan), then Close: it publishes an intent every
// MaxTokens tokens (or MaxBytes bytes), asynchronously with at most
// MaxInFlight unacknowledged, and never holds more than one intent's
// tokens plus the intents in flight, whatever the number of tokens.
//
// A Session is not safe for concurrent use: one goroutine adds tokens.
type Session struct {
	p    *Publisher
	opts SessionOptions
	tmpl Intent // the notification, without targets
	// base is the encoded size of tmpl with an empty token list.
	base  int
	batch []Target
	size  int
	n     int
	ok    map[Platform]error // ValidateFor per platform, cached
	queue []*pending         // in flight, oldest first
	sum   SessionSummary
	added int
	done  bool
	// lastErr is the last publish failure, for Close.
	lastErr error
}

// pending is one published intent waiting for its acknowledgement.
type pending struct {
	id       string
	body     []byte
	tokens   int
	fut      jetstream.PubAckFuture
	err      error // publish refused before any future
	attempts int
	sent     time.Time
}

// NewSession starts a session publishing notification n for app. The
// notification is validated now, with a reason, as in Publish.
func (p *Publisher) NewSession(app string, n Notification, o SessionOptions) (*Session, error) {
	lim := p.limits.withDefaults()
	if !sessionPrefix.MatchString(o.IDPrefix) {
		return nil, &ValidationError{Field: "session.id_prefix", Reason: "must be 1-100 characters of A-Z a-z 0-9 _ : -"}
	}
	switch {
	case o.MaxTokens < 0 || o.MaxTokens > lim.MaxTokens:
		return nil, &ValidationError{Field: "session.max_tokens", Reason: fmt.Sprintf("must be 1..%d (the publisher's limit)", lim.MaxTokens)}
	case o.MaxBytes < 0 || o.MaxBytes > lim.MaxIntentBytes:
		return nil, &ValidationError{Field: "session.max_bytes", Reason: fmt.Sprintf("must be at most %d (the publisher's limit)", lim.MaxIntentBytes)}
	case o.MaxInFlight < 0 || o.Attempts < 0 || o.AckWait < 0:
		return nil, &ValidationError{Field: "session", Reason: "max_in_flight, attempts and ack_wait must not be negative"}
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = min(DefaultSessionTokens, lim.MaxTokens)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = lim.MaxIntentBytes
	}
	if o.MaxInFlight == 0 {
		o.MaxInFlight = DefaultSessionInFlight
	}
	if o.AckWait == 0 {
		o.AckWait = DefaultSessionAckWait
	}
	if o.Attempts == 0 {
		o.Attempts = DefaultSessionAttempts
	}
	s := &Session{p: p, opts: o, ok: map[Platform]error{},
		tmpl: Intent{ID: o.IDPrefix + "-" + strconv.Itoa(maxSessionIntents), App: app, Notification: n,
			Overrides: o.Overrides, SendAt: o.SendAt}}
	// Everything but the tokens, checked once: an alias stands in for them.
	probe := s.tmpl
	probe.Targets = Targets{Alias: "session"}
	if err := probe.Validate(lim); err != nil {
		return nil, err
	}
	now := p.now()
	if probe.Expired(now) {
		return nil, &ValidationError{Field: "notification.expiry", Reason: "is already in the past"}
	}
	if err := probe.CheckSendAt(now, p.horizon); err != nil {
		return nil, err
	}
	// The largest id the session may use sizes the envelope.
	probe.Targets = Targets{Tokens: []Target{}}
	b, err := json.Marshal(&probe)
	if err != nil {
		return nil, fmt.Errorf("encode intent: %w", err)
	}
	s.base = len(b) + len(`{"tokens":[]}`) // targets may be omitted when empty
	if s.base+targetBytes(Target{Platform: "x", Token: "x"}) > o.MaxBytes {
		return nil, &ValidationError{Field: "session.max_bytes", Reason: fmt.Sprintf(
			"%d bytes leave no room for a token: the notification alone encodes to %d", o.MaxBytes, s.base)}
	}
	return s, nil
}

// maxSessionIntents is the largest intent number assumed when sizing: ids
// up to 10^12 intents fit.
const maxSessionIntents = 999_999_999_999

// targetBytes bounds what one target adds to an encoded intent:
// {"platform":"…","token":"…"}, with a comma, every byte counted as if
// escaped when JSON might escape it.
func targetBytes(t Target) int {
	return len(`{"platform":"","token":""},`) + escapedLen(string(t.Platform)) + escapedLen(t.Token)
}

func escapedLen(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' || c >= 0x80:
			n += 6
		default:
			n++
		}
	}
	return n
}

// Add streams one token into the session. An invalid token is refused with
// a *ValidationError (counted in Rejected) and the session goes on; other
// errors (ctx ended, the session closed) end it.
func (s *Session) Add(ctx context.Context, t Target) error {
	if s.done {
		return ErrSessionClosed
	}
	s.added++
	if err := s.check(t); err != nil {
		s.sum.Rejected++
		return err
	}
	tb := targetBytes(t)
	if len(s.batch) > 0 && (len(s.batch) >= s.opts.MaxTokens || s.base+s.size+tb > s.opts.MaxBytes) {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	if s.batch == nil {
		s.batch = make([]Target, 0, s.opts.MaxTokens)
	}
	s.batch = append(s.batch, t)
	s.size += tb
	return nil
}

// check applies Validate's per-token rules, and the platform's rules for
// the notification once per platform.
func (s *Session) check(t Target) error {
	field := fmt.Sprintf("token #%d", s.added)
	lim := s.p.limits.withDefaults()
	switch {
	case t.Platform == "":
		return &ValidationError{Field: field + ".platform", Reason: "is required"}
	case !t.Platform.Valid():
		return &ValidationError{Field: field + ".platform", Reason: fmt.Sprintf("unknown platform %q (want %s)", t.Platform, platformChoices())}
	case len(t.Token) > lim.MaxTokenBytes:
		return &ValidationError{Field: field + ".token", Reason: fmt.Sprintf("%d bytes exceed the limit of %d", len(t.Token), lim.MaxTokenBytes)}
	}
	if err := CheckTokenFor(t.Platform, t.Token); err != nil {
		return &ValidationError{Field: field + ".token", Reason: err.Error()}
	}
	err, seen := s.ok[t.Platform]
	if !seen {
		err = s.tmpl.ValidateFor(t.Platform)
		s.ok[t.Platform] = err
	}
	return err
}

// AddAll streams every token of seq (a database cursor, a file…): it stops
// at the source's first error or at an error of Add other than an invalid
// token. Invalid tokens are counted in Rejected and skipped.
func (s *Session) AddAll(ctx context.Context, seq iter.Seq2[Target, error]) error {
	for t, err := range seq {
		if err != nil {
			return err
		}
		if err := s.Add(ctx, t); err != nil && !errors.Is(err, ErrInvalid) {
			return err
		}
	}
	return nil
}

// AddChan streams tokens from ch until it is closed or ctx ends, as AddAll.
func (s *Session) AddChan(ctx context.Context, ch <-chan Target) error {
	for {
		select {
		case t, ok := <-ch:
			if !ok {
				return nil
			}
			if err := s.Add(ctx, t); err != nil && !errors.Is(err, ErrInvalid) {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// flush publishes the tokens gathered so far as the next intent, after
// making room among the intents in flight.
func (s *Session) flush(ctx context.Context) error {
	if len(s.batch) == 0 {
		return nil
	}
	for len(s.queue) >= s.opts.MaxInFlight {
		if err := s.settleOldest(ctx); err != nil {
			return err
		}
	}
	s.n++
	in := s.tmpl
	in.ID = s.opts.IDPrefix + "-" + strconv.Itoa(s.n)
	in.Targets = Targets{Tokens: s.batch}
	body, err := json.Marshal(&in)
	if err != nil {
		return fmt.Errorf("encode intent %s: %w", in.ID, err)
	}
	// The bound is an upper estimate; the publisher's limit is the law.
	if err := checkSize(len(body), s.p.limits.withDefaults()); err != nil {
		return fmt.Errorf("intent %s: %w", in.ID, err)
	}
	pd := &pending{id: in.ID, body: body, tokens: len(s.batch)}
	s.publish(pd)
	s.queue = append(s.queue, pd)
	s.sum.LastID = in.ID
	// A new slice: the encoded body is all the pending intent keeps.
	s.batch, s.size = nil, 0
	return nil
}

func (s *Session) publish(pd *pending) {
	pd.attempts++
	pd.sent = time.Now()
	// A message of its own per attempt: the client may still hold (and
	// retry) the previous one.
	pd.fut, pd.err = s.p.js.PublishMsgAsync(intentMsg(s.tmpl.App, pd.id, pd.body))
}

// settleOldest waits for the oldest intent's acknowledgement, publishing
// it again (same Nats-Msg-Id) after an error or AckWait, up to Attempts.
func (s *Session) settleOldest(ctx context.Context) error {
	pd := s.queue[0]
	for {
		err := pd.err
		if err == nil {
			timer := time.NewTimer(max(time.Until(pd.sent.Add(s.opts.AckWait)), 0))
			select {
			case ack := <-pd.fut.Ok():
				timer.Stop()
				s.sum.Intents++
				s.sum.Tokens += pd.tokens
				if ack.Duplicate {
					s.sum.Duplicates++
				}
				s.pop()
				return nil
			case err = <-pd.fut.Err():
			case <-timer.C:
				err = fmt.Errorf("no acknowledgement in %v", s.opts.AckWait)
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
			timer.Stop()
		}
		if pd.attempts >= s.opts.Attempts {
			s.sum.Failures++
			s.sum.FailedTokens += pd.tokens
			if len(s.sum.FailedIDs) < maxFailedIDs {
				s.sum.FailedIDs = append(s.sum.FailedIDs, pd.id)
			}
			s.lastErr = fmt.Errorf("intent %s: %w", pd.id, err)
			s.pop()
			return nil
		}
		select {
		case <-time.After(time.Duration(pd.attempts) * 100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
		s.publish(pd)
	}
}

func (s *Session) pop() {
	s.queue[0] = nil
	s.queue = s.queue[1:]
}

// Close publishes the last tokens, waits for every acknowledgement and
// returns the summary. The error is ctx's, or the last publish failure
// when Failures > 0 (the summary names the failed intents). Intents still
// unacknowledged when ctx ends count as failures: publish again with the
// same prefix to finish the stream.
func (s *Session) Close(ctx context.Context) (SessionSummary, error) {
	if s.done {
		return s.sum, ErrSessionClosed
	}
	s.done = true
	err := s.flush(ctx)
	if err != nil {
		s.sum.FailedTokens += len(s.batch) // never published
	}
	for err == nil && len(s.queue) > 0 {
		err = s.settleOldest(ctx)
	}
	for _, pd := range s.queue {
		s.sum.Failures++
		s.sum.FailedTokens += pd.tokens
		if len(s.sum.FailedIDs) < maxFailedIDs {
			s.sum.FailedIDs = append(s.sum.FailedIDs, pd.id)
		}
	}
	s.queue = nil
	if err == nil && s.sum.Failures > 0 {
		err = s.lastErr
	}
	return s.sum, err
}

// Stream publishes notification n for app to every token of seq in one
// session and returns its summary: NewSession, AddAll and Close.
func (p *Publisher) Stream(ctx context.Context, app string, n Notification, o SessionOptions, seq iter.Seq2[Target, error]) (SessionSummary, error) {
	s, err := p.NewSession(app, n, o)
	if err != nil {
		return SessionSummary{}, err
	}
	addErr := s.AddAll(ctx, seq)
	sum, err := s.Close(ctx)
	return sum, errors.Join(addErr, err)
}

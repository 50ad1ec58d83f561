package confirm

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Watch is the state of one watched intent: key "<app>.<hash of id>" of
// KV push_confirm.
type Watch struct {
	App string `json:"app"`
	ID  string `json:"id"`
	// Intent is the intent as dispatched: what its re-sends repeat.
	Intent json.RawMessage `json:"intent"`
	// Start is when the dispatcher recorded it; Deadline is Start plus
	// confirm.within.
	Start    time.Time     `json:"start"`
	Deadline time.Time     `json:"deadline"`
	Every    time.Duration `json:"every"`
	// Resends is how many re-sends the window holds; tick n (1-based) is
	// re-send n up to Resends, and tick Resends+1 ends the window.
	Resends int `json:"resends"`
	// Next is the next tick to handle; Sent the re-sends done.
	Next int `json:"next"`
	Sent int `json:"sent"`
	// Closing is set when the last tick begins and Done when it reported
	// every token still unconfirmed: a token delivered after Closing is
	// reported unconfirmed at once.
	Closing bool `json:"closing,omitempty"`
	Done    bool `json:"done,omitempty"`
}

// TickAt is when tick n fires: every Every up to the re-sends, then the
// deadline.
func (w *Watch) TickAt(n int) time.Time {
	if n <= w.Resends {
		return w.Start.Add(time.Duration(n) * w.Every)
	}
	return w.Deadline
}

// TokenState is the state of one token of a watched intent: key
// "<app>.<hash of id>.<hash of token>".
type TokenState struct {
	Platform events.Platform `json:"platform"`
	Token    string          `json:"token"`
	// State is delivered (awaiting confirmation), confirmed, unconfirmed,
	// or the token's other final outcome (invalid_token, expired…).
	State events.Outcome `json:"state"`
	// At is when the state was set.
	At time.Time `json:"at"`
	// ConfirmSeq is the PUSH_CONFIRM sequence of the confirmation that
	// confirmed it: only that message's redelivery reports it again.
	ConfirmSeq uint64 `json:"confirm_seq,omitempty"`
}

// Keys of KV push_confirm. Ids and tokens are hashed: KV keys allow only
// [-/_=.a-zA-Z0-9].
func watchKey(app, id string) string { return app + "." + hash(id) }
func tokenKey(app, id, token string) string {
	return watchKey(app, id) + "." + hash(token)
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// isConflict reports a compare-and-set that lost: a cluster reports it as
// ErrKeyRevisionMismatch, a single server a Create on an existing key as
// ErrKeyExists.
func isConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// entry is a decoded value with its revision, for compare-and-set.
type entry[T any] struct {
	v   T
	rev uint64
}

func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (*entry[T], error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, fmt.Errorf("decode %s: %w", key, err)
	}
	return &entry[T]{v: v, rev: e.Revision()}, nil
}

func createJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	return kv.Create(ctx, key, b)
}

func updateJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any, rev uint64) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	return kv.Update(ctx, key, b, rev)
}

// tokenStates lists the token states of intent id of app, each with its
// revision, keyed by their KV key.
func tokenStates(ctx context.Context, kv jetstream.KeyValue, app, id string) (map[string]*entry[TokenState], error) {
	w, err := kv.Watch(ctx, watchKey(app, id)+".*", jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	defer func() { _ = w.Stop() }()
	out := map[string]*entry[TokenState]{}
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return nil, errors.New("token watch closed")
			}
			if e == nil { // every current value was sent
				return out, nil
			}
			var ts TokenState
			if err := json.Unmarshal(e.Value(), &ts); err != nil {
				return nil, fmt.Errorf("decode %s: %w", e.Key(), err)
			}
			out[e.Key()] = &entry[TokenState]{v: ts, rev: e.Revision()}
		}
	}
}

// Status is what pushctl status shows of a watched intent.
type Status struct {
	Watch Watch `json:"watch"`
	// Tokens are the tokens with a state, then (State "sent") the
	// explicit tokens without an outcome yet.
	Tokens []TokenStatus `json:"tokens"`
	// NextResend is when the next re-send goes out, if one is to come.
	NextResend *time.Time `json:"next_resend,omitempty"`
}

// TokenStatus is one token's line of a Status.
type TokenStatus struct {
	Platform events.Platform `json:"platform"`
	Token    string          `json:"token"`
	// State is sent, delivered, pending_resend (delivered, not confirmed,
	// a re-send to come), confirmed, unconfirmed, or another final outcome.
	State string     `json:"state"`
	At    *time.Time `json:"at,omitempty"`
}

// States shown by Status besides the outcomes.
const (
	StateSent          = "sent"
	StatePendingResend = "pending_resend"
)

// ErrNotWatched: no watched intent with this app and id (never asked for
// confirmation, not dispatched yet, or its state expired).
var ErrNotWatched = errors.New("intent is not watched for confirmation")

// ReadStatus reads the state of intent id of app from KV push_confirm.
func ReadStatus(ctx context.Context, kv jetstream.KeyValue, app, id string) (*Status, error) {
	w, err := getJSON[Watch](ctx, kv, watchKey(app, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotWatched, app, id)
	}
	if err != nil {
		return nil, err
	}
	ts, err := tokenStates(ctx, kv, app, id)
	if err != nil {
		return nil, err
	}
	st := &Status{Watch: w.v}
	pending := !w.v.Done && !w.v.Closing && w.v.Next <= w.v.Resends
	if pending {
		at := w.v.TickAt(w.v.Next)
		st.NextResend = &at
	}
	seen := map[string]bool{}
	for _, e := range ts {
		seen[e.v.Token] = true
		state := string(e.v.State)
		if e.v.State == events.Delivered && pending {
			state = StatePendingResend
		}
		at := e.v.At
		st.Tokens = append(st.Tokens, TokenStatus{Platform: e.v.Platform, Token: e.v.Token, State: state, At: &at})
	}
	sortTokens(st.Tokens)
	// The explicit tokens of a token-list intent without an outcome yet.
	in, err := intentOf(&w.v)
	if err != nil {
		return nil, err
	}
	for _, t := range in.Targets.Tokens {
		if !seen[t.Token] {
			seen[t.Token] = true
			st.Tokens = append(st.Tokens, TokenStatus{Platform: t.Platform, Token: t.Token, State: StateSent})
		}
	}
	return st, nil
}

func sortTokens(ts []TokenStatus) {
	slices.SortFunc(ts, func(a, b TokenStatus) int {
		return cmp.Or(cmp.Compare(a.Platform, b.Platform), cmp.Compare(a.Token, b.Token))
	})
}

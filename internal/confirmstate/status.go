package confirmstate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

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

// ReadStatus reads the state of intent id of app.
func ReadStatus(ctx context.Context, kv Reader, app, id string) (*Status, error) {
	w, err := Get[Watch](ctx, kv, WatchKey(app, id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s/%s", ErrNotWatched, app, id)
	}
	if err != nil {
		return nil, err
	}
	ts, err := TokenStates(ctx, kv, app, id)
	if err != nil {
		return nil, err
	}
	st := &Status{Watch: w.Value}
	pending := !w.Value.Done && !w.Value.Closing && w.Value.Next <= w.Value.Resends
	if pending {
		at := w.Value.TickAt(w.Value.Next)
		st.NextResend = &at
	}
	seen := map[string]bool{}
	for _, e := range ts {
		seen[e.Value.Token] = true
		state := string(e.Value.State)
		if e.Value.State == events.Delivered && pending {
			state = StatePendingResend
		}
		at := e.Value.At
		st.Tokens = append(st.Tokens, TokenStatus{Platform: e.Value.Platform, Token: e.Value.Token, State: state, At: &at})
	}
	sortTokens(st.Tokens)
	// The explicit tokens of a token-list intent without an outcome yet.
	in, err := w.Value.DecodeIntent()
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

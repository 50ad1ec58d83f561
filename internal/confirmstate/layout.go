package confirmstate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Watch is the state of one watched intent, at WatchKey.
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

// DecodeIntent decodes the watched intent.
func (w *Watch) DecodeIntent() (*events.Intent, error) {
	var in events.Intent
	if err := json.Unmarshal(w.Intent, &in); err != nil {
		return nil, fmt.Errorf("decode watched intent %s: %w", w.ID, err)
	}
	return &in, nil
}

// TokenState is the state of one token of a watched intent, at TokenKey.
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

// WatchKey is the key of intent id of app: "<app>.<hash of id>". Ids and
// tokens are hashed because KV keys allow only [-/_=.a-zA-Z0-9]; a change
// here orphans every stored state.
func WatchKey(app, id string) string { return app + "." + hash(id) }

// TokenKey is the key of token of intent id of app, under its watch:
// "<app>.<hash of id>.<hash of token>".
func TokenKey(app, id, token string) string { return WatchKey(app, id) + "." + hash(token) }

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

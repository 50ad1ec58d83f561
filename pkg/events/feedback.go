package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Outcome is the fate of one notification to one token.
type Outcome string

// Outcomes carried by feedback events.
const (
	// Delivered: the provider accepted the notification.
	Delivered Outcome = "delivered"
	// InvalidToken: the provider says the token is dead; never push to it again.
	InvalidToken Outcome = "invalid_token"
	// TokenReplaced: the provider gave a new token for this device (NewToken).
	TokenReplaced Outcome = "token_replaced"
	// Failed: a provider or credential error stopped this attempt; it will be retried.
	Failed Outcome = "failed"
	// Expired: the notification's expiry passed before it could be sent.
	Expired Outcome = "expired"
	// Dead: the notification was given up on; the dead letter holds the reason.
	Dead Outcome = "dead"
	// Suppressed: the registry knows the token is invalid, so it was not sent.
	Suppressed Outcome = "suppressed"
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{Delivered, InvalidToken, TokenReplaced, Failed, Expired, Dead, Suppressed}

// Feedback is one event on push.feedback.<platform>.<app>: what happened to
// one token. Anyone may subscribe; the feedback-sink turns it into token state.
type Feedback struct {
	App      string   `json:"app"`
	Platform Platform `json:"platform"`
	Token    string   `json:"token"`
	Outcome  Outcome  `json:"outcome"`
	// Reason is the provider's own reason string (e.g. "Unregistered",
	// "UNREGISTERED", "20301") or pushfleet's for outcomes it decided.
	Reason   string `json:"reason,omitempty"`
	IntentID string `json:"intent_id,omitempty"`
	JobID    string `json:"job_id,omitempty"`
	// At is when the provider's answer for this token arrived, or, for an
	// outcome pushfleet decided without asking (expired, suppressed, dead
	// after retries), when it decided.
	At time.Time `json:"at"`
	// ProviderAt is the provider's own time for the outcome, when it gives one
	// (APNs 410: the last time the token was valid).
	ProviderAt *time.Time `json:"provider_at,omitempty"`
	// NewToken is set for token_replaced.
	NewToken string `json:"new_token,omitempty"`
}

// EffectiveTime is the time the outcome is true from: the provider's when known.
func (f *Feedback) EffectiveTime() time.Time {
	if f.ProviderAt != nil && !f.ProviderAt.IsZero() {
		return *f.ProviderAt
	}
	return f.At
}

// DecodeFeedback parses a feedback event; errors wrap ErrMalformed.
func DecodeFeedback(b []byte) (*Feedback, error) {
	var f Feedback
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w feedback: %v", ErrMalformed, err)
	}
	if f.App == "" || f.Token == "" || !f.Platform.Valid() || f.Outcome == "" {
		return nil, fmt.Errorf("%w feedback: app, platform, token and outcome are required", ErrMalformed)
	}
	return &f, nil
}

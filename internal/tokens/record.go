package tokens

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// State is a token's lifecycle state.
type State string

// Token states.
const (
	Active  State = "active"
	Invalid State = "invalid"
	Retired State = "retired"
)

// Record is the stored state of one device token.
type Record struct {
	App      string          `json:"app"`
	Platform events.Platform `json:"platform"`
	Token    string          `json:"token"`
	State    State           `json:"state"`
	// Reason is the provider's reason for the last invalidation.
	Reason string `json:"reason,omitempty"`
	// InvalidAt is when the token became invalid (the provider's time when it
	// gives one), used to ignore stale events.
	InvalidAt *time.Time `json:"invalid_at,omitempty"`
	// LastSuccess is the latest known delivery (updated in batches).
	LastSuccess *time.Time `json:"last_success,omitempty"`
	// ReplacedBy is the new token of a retired one.
	ReplacedBy string `json:"replaced_by,omitempty"`
	// RegisteredAt is the latest registration; a registration after
	// InvalidAt reactivates the token.
	RegisteredAt *time.Time `json:"registered_at,omitempty"`

	// Registry fields.
	Alias      string            `json:"alias,omitempty"`
	Tags       []string          `json:"tags,omitempty"`
	Locale     string            `json:"locale,omitempty"`
	Attributes map[string]string `json:"attributes,omitempty"`

	UpdatedAt time.Time `json:"updated_at"`
}

// maxPlainToken is the longest token stored in the key as is (base64); longer
// ones are hashed to keep keys short.
const maxPlainToken = 300

// Key is the KV key of a token: <app>.<platform>.<encoded token>. Tokens are
// base64url-encoded (FCM tokens contain ':' which keys do not allow), or
// SHA-256 hashed ("h" prefix) when very long. Key does not check its
// parts: app is used as is, so it must be a valid app name
// (events.ValidApp), which every Store and Devices method checks before
// building a key (an error wrapping ErrInvalidDevice otherwise).
func Key(app string, p events.Platform, token string) string {
	return app + "." + string(p) + "." + TokenKey(token)
}

// TokenKey is the last key token for a device token.
func TokenKey(token string) string {
	if len(token) > maxPlainToken {
		sum := sha256.Sum256([]byte(token))
		return "h" + hex.EncodeToString(sum[:])
	}
	return "t" + base64.RawURLEncoding.EncodeToString([]byte(token))
}

// Short returns a loggable fingerprint of a token: never log tokens in full.
func Short(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

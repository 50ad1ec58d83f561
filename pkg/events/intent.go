package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Intent is what a producer publishes on push.intents.<app>: one notification
// for a set of targets. ID is the idempotency key within its app (sent as
// Nats-Msg-Id "<app>:<id>", see IntentMsgID).
//
// Unknown top-level fields are kept in Extra and survive a decode/encode round
// trip; unknown fields inside nested objects are rejected, because there they
// are almost always typos ("tittle") that would silently lose content.
type Intent struct {
	ID           string       `json:"id"`
	App          string       `json:"app"`
	Targets      Targets      `json:"targets"`
	Notification Notification `json:"notification"`
	Overrides    *Overrides   `json:"overrides,omitempty"`
	// SendAt delays delivery until the given time (rounded up to the
	// second). The dispatcher holds the intent in a schedule of its own
	// (PUSH_SCHEDULES) until then; at most the schedule horizon ahead
	// (--schedule-horizon, DefaultScheduleHorizon).
	SendAt *time.Time `json:"send_at,omitempty"`
	// Confirm asks every device the notification reaches to confirm it;
	// unconfirmed ones are sent it again until Confirm.Within ends (see
	// Confirm and docs/CONTRACT.md, "Confirmed delivery").
	Confirm *Confirm `json:"confirm,omitempty"`

	// Extra holds unknown top-level fields, kept verbatim.
	Extra map[string]json.RawMessage `json:"-"`
}

// Targets says who receives an intent: explicit tokens, every device of an
// alias, every device carrying a tag, every registered device of the app
// (All), or provider topics (Topics). Exactly one kind must be set. Platforms narrows an alias, a tag or
// All to the devices of those platforms; explicit tokens name their own.
type Targets struct {
	Tokens []Target `json:"tokens,omitempty"`
	Alias  string   `json:"alias,omitempty"`
	Tag    string   `json:"tag,omitempty"`
	// All targets every registered device of the app (invalid ones are
	// suppressed, retired ones skipped), streamed from the registry.
	All bool `json:"all,omitempty"`
	// Topics are provider-side audiences (FCM topics and conditions,
	// MiPush topics and MiPush's all-devices broadcast): sent as they are,
	// with one outcome each (see Topic).
	Topics []Topic `json:"topics,omitempty"`
	// Platforms, when set, keeps only the devices of these platforms
	// (alias, tag and all only). Nil means every platform.
	Platforms []Platform `json:"platforms,omitempty"`
}

// Includes reports whether the platform filter lets p through (no filter:
// every platform).
func (t *Targets) Includes(p Platform) bool {
	if len(t.Platforms) == 0 {
		return true
	}
	for _, q := range t.Platforms {
		if q == p {
			return true
		}
	}
	return false
}

// Target is one device token on one platform.
type Target struct {
	Platform Platform `json:"platform"`
	Token    string   `json:"token"`
}

// Priority is the delivery priority of a notification.
type Priority string

// Priorities. High wakes the device at once; normal lets the provider save power.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = "normal"
)

// Notification is the platform-neutral content of a push.
type Notification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
	Sound string `json:"sound,omitempty"`
	Badge *int   `json:"badge,omitempty"`
	// Data is the app's custom payload. FCM and Mi carry string values only:
	// their senders encode other values as JSON text.
	Data        map[string]any `json:"data,omitempty"`
	CollapseKey string         `json:"collapse_key,omitempty"`
	Priority    Priority       `json:"priority,omitempty"`
	// Expiry is when the notification stops being worth delivering. Past it
	// the push is never sent and feedback says "expired".
	Expiry *time.Time `json:"expiry,omitempty"`
	// PushType is the APNs push type (alert, background, voip, liveactivity, ...).
	PushType         string `json:"push_type,omitempty"`
	ThreadID         string `json:"thread_id,omitempty"`
	Category         string `json:"category,omitempty"`
	MutableContent   bool   `json:"mutable_content,omitempty"`
	ContentAvailable bool   `json:"content_available,omitempty"`
	// Silent makes a data-only push that is never shown (a command to the
	// app): an APNs background push (apns-push-type background, priority
	// 5, content-available 1, no alert, sound or badge), an FCM data
	// message (no notification block) and a MiPush pass-through message
	// (pass_through=1). It carries data and nothing displayable: title,
	// body, sound, badge and mutable_content are refused with it.
	Silent bool `json:"silent,omitempty"`
}

// Overrides carry raw platform-specific fields, applied on top of what the
// sender derives from Notification.
type Overrides struct {
	APNs *APNsOverrides `json:"apns,omitempty"`
	FCM  *FCMOverrides  `json:"fcm,omitempty"`
	Mi   *MiOverrides   `json:"mi,omitempty"`
}

// APNsOverrides are merged into the APNs payload: Payload at the top level,
// Aps inside the "aps" dictionary.
type APNsOverrides struct {
	Payload map[string]json.RawMessage `json:"payload,omitempty"`
	Aps     map[string]json.RawMessage `json:"aps,omitempty"`
}

// FCMOverrides are FCM HTTP v1 message objects (AndroidConfig, APNSConfig,
// WebpushConfig), as documented by Firebase, plus the analytics label.
type FCMOverrides struct {
	Android        json.RawMessage `json:"android,omitempty"`
	APNs           json.RawMessage `json:"apns,omitempty"`
	Webpush        json.RawMessage `json:"webpush,omitempty"`
	AnalyticsLabel string          `json:"analytics_label,omitempty"`
}

// MiOverrides are MiPush form fields: Extra becomes extra.<key>=<value>.
type MiOverrides struct {
	Extra       map[string]string `json:"extra,omitempty"`
	ChannelID   string            `json:"channel_id,omitempty"`
	PassThrough *bool             `json:"pass_through,omitempty"`
	NotifyType  *int              `json:"notify_type,omitempty"`
}

// intentFields lists the known top-level keys; everything else goes to Extra.
var intentFields = map[string]bool{
	"id": true, "app": true, "targets": true, "notification": true,
	"overrides": true, "send_at": true, "confirm": true,
}

type intentAlias Intent // no methods: avoids recursion

// UnmarshalJSON decodes known fields strictly and keeps unknown top-level
// ones. The common intent has no unknown field and takes one strict pass;
// only when that fails does a second look tell a kept top-level extra from
// a real error.
func (in *Intent) UnmarshalJSON(b []byte) error {
	var a intentAlias
	strictErr := decodeStrict(b, &a)
	if strictErr == nil {
		*in = Intent(a)
		in.Extra = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	known := make(map[string]json.RawMessage, len(raw))
	var extra map[string]json.RawMessage
	for k, v := range raw {
		if intentFields[k] {
			known[k] = v
			continue
		}
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra[k] = v
	}
	if extra == nil {
		return strictErr // nothing to keep: the strict error stands
	}
	kb, err := json.Marshal(known)
	if err != nil {
		return err
	}
	a = intentAlias{}
	if err := decodeStrict(kb, &a); err != nil {
		return err
	}
	*in = Intent(a)
	in.Extra = extra
	return nil
}

// decodeStrict decodes exactly one JSON value, rejecting unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: data after the intent")
	}
	return nil
}

// MarshalJSON encodes the intent with its kept unknown fields.
func (in Intent) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(intentAlias(in))
	if err != nil || len(in.Extra) == 0 {
		return b, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range in.Extra {
		if _, clash := m[k]; !clash {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// DecodeIntent parses and validates an intent. Errors wrap ErrMalformed (not
// JSON, or a field of the wrong type) or ErrInvalid (a *ValidationError
// naming the field and the reason).
func DecodeIntent(b []byte, lim Limits) (*Intent, error) {
	if err := checkSize(len(b), lim.withDefaults()); err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w intent: not valid UTF-8", ErrMalformed)
	}
	var in Intent
	// UnmarshalJSON directly: json.Unmarshal would scan the whole intent
	// once more before calling it, and it checks syntax itself.
	if err := in.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("%w intent: %s", ErrMalformed, describeJSONError(err))
	}
	if err := in.validate(lim, len(b)); err != nil {
		return &in, err
	}
	return &in, nil
}

// checkSize refuses an encoded intent larger than lim.MaxIntentBytes.
func checkSize(n int, lim Limits) error {
	if n > lim.MaxIntentBytes {
		return &ValidationError{Field: "(intent)", Reason: fmt.Sprintf(
			"%d bytes exceeds the limit of %d (--max-intent-bytes)", n, lim.MaxIntentBytes)}
	}
	return nil
}

// describeJSONError turns encoding/json's errors into a sentence naming the field.
func describeJSONError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case asErr(err, &te):
		field := te.Field
		if field == "" {
			field = "(intent)"
		}
		return fmt.Sprintf("field %s: expected %s, got JSON %s", field, te.Type, te.Value)
	case asErr(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, err)
	}
	return err.Error()
}

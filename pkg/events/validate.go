package events

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound what an intent may carry. The zero value means DefaultLimits.
type Limits struct {
	// MaxIntentBytes caps the encoded intent.
	MaxIntentBytes int
	// MaxTokens caps the explicit token list.
	MaxTokens int
	// MaxTokenBytes caps one device token.
	MaxTokenBytes int
	// MaxPayloadBytes caps the notification content (title, body, data and
	// overrides) encoded as JSON: the largest provider payload is APNs VoIP's 5120.
	MaxPayloadBytes int
}

// DefaultLimits are the limits the dispatcher applies unless configured.
var DefaultLimits = Limits{
	MaxIntentBytes:  1 << 20,
	MaxTokens:       10000,
	MaxTokenBytes:   4096,
	MaxPayloadBytes: 5120,
}

func (l Limits) withDefaults() Limits {
	if l.MaxIntentBytes == 0 {
		l.MaxIntentBytes = DefaultLimits.MaxIntentBytes
	}
	if l.MaxTokens == 0 {
		l.MaxTokens = DefaultLimits.MaxTokens
	}
	if l.MaxTokenBytes == 0 {
		l.MaxTokenBytes = DefaultLimits.MaxTokenBytes
	}
	if l.MaxPayloadBytes == 0 {
		l.MaxPayloadBytes = DefaultLimits.MaxPayloadBytes
	}
	return l
}

var (
	// idPattern keeps ids usable as a subject token (scheduling) and a header.
	idPattern = regexp.MustCompile(`^[A-Za-z0-9_:-]{1,128}$`)
	// namePattern is for apps, aliases and tags: subject tokens and KV key parts.
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	// labelPattern allows richer aliases and tags (they are encoded in keys).
	labelPattern = regexp.MustCompile(`^[^\s]{1,256}$`)
)

// ValidApp reports whether s can name an app (it is a subject token).
func ValidApp(s string) bool { return namePattern.MatchString(s) }

var pushTypes = map[string]bool{
	"alert": true, "background": true, "location": true, "voip": true,
	"complication": true, "fileprovider": true, "mdm": true,
	"liveactivity": true, "pushtotalk": true, "widgets": true, "controls": true,
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks the intent against the contract and lim (zero fields take
// DefaultLimits). It returns the first problem as a *ValidationError.
func (in *Intent) Validate(lim Limits) error {
	lim = lim.withDefaults()
	if in.ID == "" {
		return invalid("id", "is required")
	}
	if !idPattern.MatchString(in.ID) {
		return invalid("id", "must be 1-128 characters of A-Z a-z 0-9 _ : -")
	}
	if in.App == "" {
		return invalid("app", "is required")
	}
	if !ValidApp(in.App) {
		return invalid("app", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	}
	if err := in.Targets.validate(lim); err != nil {
		return err
	}
	if err := in.Notification.validate(); err != nil {
		return err
	}
	if in.Notification.Title == "" && in.Notification.Body == "" && len(in.Notification.Data) == 0 && !in.Notification.ContentAvailable {
		return invalid("notification", "is empty: set title, body, data or content_available")
	}
	if n := in.payloadSize(); n > lim.MaxPayloadBytes {
		return invalid("notification", "payload of %d bytes exceeds the limit of %d", n, lim.MaxPayloadBytes)
	}
	if o := in.Overrides; o != nil && o.FCM != nil {
		for name, raw := range map[string]json.RawMessage{"android": o.FCM.Android, "apns": o.FCM.APNs, "webpush": o.FCM.Webpush} {
			if len(raw) > 0 && !isJSONObject(raw) {
				return invalid("overrides.fcm."+name, "must be a JSON object")
			}
		}
	}
	return nil
}

// Expired reports whether the notification's expiry has passed at now.
func (in *Intent) Expired(now time.Time) bool {
	return in.Notification.Expiry != nil && !in.Notification.Expiry.After(now)
}

func (t *Targets) validate(lim Limits) error {
	kinds := 0
	if len(t.Tokens) > 0 {
		kinds++
	}
	if t.Alias != "" {
		kinds++
	}
	if t.Tag != "" {
		kinds++
	}
	switch {
	case kinds == 0:
		return invalid("targets", "is required: set tokens, alias or tag")
	case kinds > 1:
		return invalid("targets", "set exactly one of tokens, alias or tag")
	}
	if t.Alias != "" && !labelPattern.MatchString(t.Alias) {
		return invalid("targets.alias", "must be 1-256 characters without spaces")
	}
	if t.Tag != "" && !labelPattern.MatchString(t.Tag) {
		return invalid("targets.tag", "must be 1-256 characters without spaces")
	}
	if len(t.Tokens) > lim.MaxTokens {
		return invalid("targets.tokens", "%d tokens exceed the limit of %d per intent", len(t.Tokens), lim.MaxTokens)
	}
	for i, tg := range t.Tokens {
		field := fmt.Sprintf("targets.tokens[%d]", i)
		if tg.Platform == "" {
			return invalid(field+".platform", "is required")
		}
		if !tg.Platform.Valid() {
			return invalid(field+".platform", "unknown platform %q (want apns, fcm or mi)", tg.Platform)
		}
		switch {
		case tg.Token == "":
			return invalid(field+".token", "is required")
		case len(tg.Token) > lim.MaxTokenBytes:
			return invalid(field+".token", "%d bytes exceed the limit of %d", len(tg.Token), lim.MaxTokenBytes)
		case !utf8.ValidString(tg.Token):
			return invalid(field+".token", "is not valid UTF-8")
		case strings.ContainsAny(tg.Token, " \t\r\n,"):
			return invalid(field+".token", "must not contain spaces or commas")
		}
	}
	return nil
}

func (n *Notification) validate() error {
	for field, s := range map[string]string{
		"notification.title": n.Title, "notification.body": n.Body, "notification.sound": n.Sound,
		"notification.collapse_key": n.CollapseKey, "notification.thread_id": n.ThreadID,
		"notification.category": n.Category,
	} {
		if !utf8.ValidString(s) {
			return invalid(field, "is not valid UTF-8")
		}
	}
	switch n.Priority {
	case "", PriorityHigh, PriorityNormal:
	default:
		return invalid("notification.priority", "must be high or normal, got %q", n.Priority)
	}
	if n.PushType != "" && !pushTypes[n.PushType] {
		return invalid("notification.push_type", "unknown APNs push type %q", n.PushType)
	}
	if len(n.CollapseKey) > 64 {
		return invalid("notification.collapse_key", "must be at most 64 bytes (APNs apns-collapse-id)")
	}
	if n.Badge != nil && *n.Badge < 0 {
		return invalid("notification.badge", "must not be negative")
	}
	for k := range n.Data {
		if k == "" {
			return invalid("notification.data", "keys must not be empty")
		}
		if !utf8.ValidString(k) {
			return invalid("notification.data", "key %q is not valid UTF-8", k)
		}
	}
	return nil
}

// payloadSize is the encoded size of the content every provider has to carry.
func (in *Intent) payloadSize() int {
	n := len(in.Notification.Title) + len(in.Notification.Body)
	if len(in.Notification.Data) > 0 {
		b, _ := json.Marshal(in.Notification.Data)
		n += len(b)
	}
	if in.Overrides != nil {
		b, _ := json.Marshal(in.Overrides)
		n += len(b)
	}
	return n
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil
}

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
// MaxIntentBytes stays well below NATS's max_payload (1 MiB), so that an
// oversize intent is stored, rejected by the check with its reason and still
// fits in a dead letter, instead of being refused by the server unseen.
var DefaultLimits = Limits{
	MaxIntentBytes:  256 << 10,
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
	// labelPattern allows richer aliases and tags (they are encoded in
	// keys): 1-256 characters without white space (\s is ASCII only in Go;
	// \p{Z} adds the Unicode spaces) or control characters, the registry's
	// rule, so that an intent never names an alias the registry refuses.
	labelPattern = regexp.MustCompile(`^[^\s\p{Z}\p{Cc}]{1,256}$`)
)

// ValidLabel reports whether s can be an alias or a tag: valid UTF-8 of 1
// to 256 characters without white space or control characters.
func ValidLabel(s string) bool { return utf8.ValidString(s) && labelPattern.MatchString(s) }

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
func (in *Intent) Validate(lim Limits) error { return in.validate(lim, 0) }

// validate is Validate for an intent decoded from rawSize bytes (0: not
// known), which bounds what its provider payloads can weigh.
func (in *Intent) validate(lim Limits, rawSize int) error {
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
	for i, tp := range in.Targets.Topics {
		if tp.Platform == FCM && tp.Topic != "" {
			if n := fcmContentSize(&in.Notification); n > FCMMaxTopicPayload {
				return invalid(fmt.Sprintf("targets.topics[%d]", i), "FCM takes at most %d bytes of title, body and data in a message to a topic, this one has %d",
					FCMMaxTopicPayload, n)
			}
			break
		}
	}
	if err := in.validateConfirm(); err != nil {
		return err
	}
	if exp := in.Notification.Expiry; exp != nil && in.SendAt != nil && !exp.After(*in.SendAt) {
		return invalid("notification.expiry", "%s is not after send_at %s: the push would never be sent",
			exp.Format(time.RFC3339), in.SendAt.Format(time.RFC3339))
	}
	// Explicit tokens, topics and a platform filter name their platforms,
	// so what those providers require is checked now; an alias, a tag or
	// all without a filter is checked per platform once resolved.
	for _, p := range in.Targets.platforms() {
		if err := in.validateFor(p, rawSize); err != nil {
			return err
		}
	}
	return nil
}

// DefaultScheduleHorizon is how far ahead send_at may be unless configured:
// 30 days. Further dates are refused with a reason instead of being held (or
// overflowing a duration) for years.
const DefaultScheduleHorizon = 30 * 24 * time.Hour

// CheckSendAt refuses a send_at further than horizon past now (horizon <= 0:
// no bound). It compares times only, so a send_at in year 9999 overflows
// nothing.
func (in *Intent) CheckSendAt(now time.Time, horizon time.Duration) error {
	if in.SendAt == nil || horizon <= 0 || !in.SendAt.After(now.Add(horizon)) {
		return nil
	}
	return invalid("send_at", "%s is beyond the schedule horizon of %v (--schedule-horizon)",
		in.SendAt.UTC().Format(time.RFC3339), horizon)
}

// ValidateFor checks what platform p's provider requires of the notification,
// so that an intent certain to be refused there is refused at intake with a
// reason instead: MiPush shows a notification only with both a title and a
// description (error 65011 otherwise), and APNs refuses a payload over 4096
// bytes (5120 for VoIP).
func (in *Intent) ValidateFor(p Platform) error { return in.validateFor(p, 0) }

func (in *Intent) validateFor(p Platform, rawSize int) error {
	switch p {
	case Mi:
		var o *MiOverrides
		if in.Overrides != nil {
			o = in.Overrides.Mi
		}
		return validateMi(&in.Notification, o)
	case APNs:
		var o *APNsOverrides
		if in.Overrides != nil {
			o = in.Overrides.APNs
		}
		if fitsAPNs(rawSize) {
			return nil
		}
		return validateAPNs(&in.Notification, o)
	case HMS:
		return validateHMS(&in.Notification)
	}
	return nil
}

// platforms lists the platforms known at intake, in Platforms order: those
// of the explicit tokens, or the platform filter of an alias, a tag or all.
func (t *Targets) platforms() []Platform {
	seen := make([]bool, len(Platforms)) // custom platforms may be declared
	mark := func(q Platform) {
		for i, p := range Platforms {
			if q == p {
				seen[i] = true
			}
		}
	}
	for _, tg := range t.Tokens {
		mark(tg.Platform)
	}
	for _, tp := range t.Topics {
		mark(tp.Platform)
	}
	if len(t.Tokens) == 0 {
		for _, p := range t.Platforms {
			mark(p)
		}
	}
	var out []Platform
	for i, p := range Platforms {
		if seen[i] {
			out = append(out, p)
		}
	}
	return out
}

// validateMi mirrors pkg/provider/mi's BuildMessage: a message with a title
// or a body is displayed (pass_through 0) unless overridden, and MiPush
// refuses a displayed one without both (65011 "Title or Description is
// empty!"; all-whitespace counts as empty).
func validateMi(n *Notification, o *MiOverrides) error {
	if n.Silent {
		if o != nil && o.PassThrough != nil && !*o.PassThrough {
			return invalid("overrides.mi.pass_through", "must not be false in a silent push (notification.silent): "+
				"MiPush shows every message that is not pass-through")
		}
		return nil
	}
	displayed := n.Title != "" || n.Body != ""
	if o != nil && o.PassThrough != nil {
		displayed = !*o.PassThrough
	}
	if !displayed {
		return nil
	}
	const why = "MiPush displays a notification only with both a title and a body (its description), " +
		"else error 65011; set both, or neither for a pass-through (data) message"
	if strings.TrimSpace(n.Title) == "" {
		return invalid("notification.title", "is required for MiPush: %s", why)
	}
	if strings.TrimSpace(n.Body) == "" {
		return invalid("notification.body", "is required for MiPush: %s", why)
	}
	return nil
}

// apnsOverhead bounds what building an APNs payload adds to the content it
// copies from the intent: the aps dictionary's keys and the defaults it
// fills in.
const apnsOverhead = 2048

// fitsAPNs reports whether an intent decoded from rawSize bytes cannot
// make an APNs payload over the smallest limit, so that building one just
// to measure it can be skipped (it is most of a small intent's intake).
// Every string, and every raw data value, of the payload comes from the
// intent, and re-encoding a JSON byte takes at most 6 (a '<' becomes
// "\u003c").
func fitsAPNs(rawSize int) bool {
	return rawSize > 0 && 6*rawSize+apnsOverhead <= APNsMaxPayload
}

// validateAPNs builds the APNs payload as pkg/provider/apns does (with the
// same builder, APNsPayload) and checks its size: the exact size, not an
// estimate, so that no sendable push is refused and no refused one sent.
func validateAPNs(n *Notification, o *APNsOverrides) error {
	pushType := APNsPushType(n)
	b, err := APNsPayload(n, pushType, o)
	if err != nil {
		return err
	}
	if limit := APNsPayloadLimit(pushType); len(b) > limit {
		return invalid("notification", "the APNs payload would be %d bytes, over APNs' limit of %d for push type %s",
			len(b), limit, pushType)
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
	if t.All {
		kinds++
	}
	if t.Topics != nil {
		kinds++
	}
	switch {
	case kinds == 0:
		return invalid("targets", "is required: set tokens, alias, tag, all or topics")
	case kinds > 1:
		return invalid("targets", "set exactly one of tokens, alias, tag, all or topics")
	case t.Topics != nil && len(t.Topics) == 0:
		return invalid("targets.topics", "is empty: name at least one topic")
	}
	if err := t.validatePlatforms(); err != nil {
		return err
	}
	if err := t.validateTopics(); err != nil {
		return err
	}
	if t.Alias != "" && !ValidLabel(t.Alias) {
		return invalid("targets.alias", "must be 1-256 characters without white space or control characters")
	}
	if t.Tag != "" && !ValidLabel(t.Tag) {
		return invalid("targets.tag", "must be 1-256 characters without white space or control characters")
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
			return invalid(field+".platform", "unknown platform %q (want %s)", tg.Platform, platformChoices())
		}
		// The configured limit first, then the rule the feedback-sink and
		// the registry apply (CheckToken): a token accepted here always
		// gets feedback the sink takes.
		if tg.Token != "" && len(tg.Token) > lim.MaxTokenBytes {
			return invalid(field+".token", "%d bytes exceed the limit of %d", len(tg.Token), lim.MaxTokenBytes)
		}
		if err := CheckTokenFor(tg.Platform, tg.Token); err != nil {
			return invalid(field+".token", "%v", err)
		}
	}
	return nil
}

// validatePlatforms checks the platform filter: only with an alias, a tag
// or all, not empty, known platforms, no repeats.
func (t *Targets) validatePlatforms() error {
	if t.Platforms == nil {
		return nil
	}
	if len(t.Tokens) > 0 || t.Topics != nil {
		return invalid("targets.platforms", "applies to alias, tag and all only: tokens and topics name their platforms")
	}
	if len(t.Platforms) == 0 {
		return invalid("targets.platforms", "is empty and would reach no device: omit it for every platform")
	}
	seen := map[Platform]bool{}
	for i, p := range t.Platforms {
		field := fmt.Sprintf("targets.platforms[%d]", i)
		if !p.Valid() {
			return invalid(field, "unknown platform %q (want %s)", p, platformChoices())
		}
		if seen[p] {
			return invalid(field, "platform %q is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

// validateSilent checks a silent push: data only, nothing displayable.
func (n *Notification) validateSilent() error {
	if !n.Silent {
		return nil
	}
	const why = "must not be set in a silent push (notification.silent): a silent push is never shown"
	switch {
	case n.Title != "":
		return invalid("notification.title", why)
	case n.Body != "":
		return invalid("notification.body", why)
	case n.Sound != "":
		return invalid("notification.sound", why)
	case n.Badge != nil:
		return invalid("notification.badge", why)
	case n.MutableContent:
		return invalid("notification.mutable_content", why)
	case n.PushType != "" && n.PushType != apnsPushBackground:
		return invalid("notification.push_type", "must be background or unset in a silent push (notification.silent), got %q", n.PushType)
	case len(n.Data) == 0:
		return invalid("notification.data", "is required in a silent push (notification.silent): it carries the command to the app")
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
	return n.validateSilent()
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

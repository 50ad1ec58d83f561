package tokens

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Device is what an app registers: one token on one platform, with the
// alias (usually the user) and tags it can be reached by.
type Device struct {
	App      string
	Platform events.Platform
	Token    string
	// Alias names the owner of the device (a user id); an intent to the
	// alias reaches every device registered with it.
	Alias string
	// Tags are topics or segments; an intent to a tag reaches every device
	// carrying it. Register replaces the whole set; UpdateTags edits it.
	Tags       []string
	Locale     string
	Attributes map[string]string
}

// Bounds on what a device may carry. Aliases and tags follow the intent
// contract (1-256 characters without white space), so anything that can be
// registered can be targeted.
const (
	MaxTags           = 64
	MaxLabelRunes     = 256
	MaxLocaleBytes    = 35
	MaxAttributes     = 32
	MaxAttrKeyBytes   = 64
	MaxAttrValueBytes = 256
)

func invalidDevice(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidDevice, field, fmt.Sprintf(format, args...))
}

// checkRef validates the identity of a device: app, platform and token.
// Every entry point that builds a record or index key calls it first: the
// app is a key token as is (events.ValidApp: never a '.', '*', '>', white
// space or control character), so a name that is not one could address
// another app's keys or forge an index entry. Tokens follow the intent
// contract (events.CheckToken); they are encoded in keys.
func checkRef(app string, p events.Platform, token string) error {
	switch {
	case !events.ValidApp(app):
		return invalidDevice("app", "must be 1-64 characters of A-Z a-z 0-9 _ -")
	case !p.Valid():
		return invalidDevice("platform", "unknown platform %q (want apns, fcm, mi, hms, webpush or a declared custom platform)", p)
	}
	return checkToken("token", p, token)
}

// checkToken validates a device token of platform p (events.CheckTokenFor:
// a Web Push token is a subscription as JSON).
func checkToken(field string, p events.Platform, token string) error {
	if err := events.CheckTokenFor(p, token); err != nil {
		return invalidDevice(field, "%v", err)
	}
	return nil
}

// badLabelRune reports white space and control characters.
func badLabelRune(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// checkLabel validates an alias or a tag.
func checkLabel(field, s string) error {
	switch {
	case s == "":
		return invalidDevice(field, "is empty")
	case !utf8.ValidString(s) || strings.IndexFunc(s, badLabelRune) >= 0:
		return invalidDevice(field, "must be UTF-8 without white space or control characters")
	case utf8.RuneCountInString(s) > MaxLabelRunes:
		return invalidDevice(field, "longer than %d characters", MaxLabelRunes)
	}
	return nil
}

// normalizeTags validates tags and returns them sorted without duplicates.
func normalizeTags(field string, tags []string) ([]string, error) {
	for i, t := range tags {
		if err := checkLabel(fmt.Sprintf("%s[%d]", field, i), t); err != nil {
			return nil, err
		}
	}
	out := slices.Compact(slices.Sorted(slices.Values(tags)))
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// normalize validates d and returns it with its tags sorted and deduplicated.
func (d Device) normalize() (Device, error) {
	if err := checkRef(d.App, d.Platform, d.Token); err != nil {
		return d, err
	}
	if events.IsTopicKey(d.Token) {
		// Topic outcomes are reported under these names: a device
		// registered as one could be confused with a topic.
		return d, invalidDevice("token", "must not start with %q or %q, nor be %q: those name topic outcomes",
			events.TopicKeyPrefix, events.ConditionKeyPrefix, events.BroadcastKey)
	}
	if d.Alias != "" {
		if err := checkLabel("alias", d.Alias); err != nil {
			return d, err
		}
	}
	tags, err := normalizeTags("tags", d.Tags)
	if err != nil {
		return d, err
	}
	if len(tags) > MaxTags {
		return d, invalidDevice("tags", "%d tags exceed the limit of %d", len(tags), MaxTags)
	}
	d.Tags = tags
	if len(d.Locale) > MaxLocaleBytes || strings.IndexFunc(d.Locale, unicode.IsSpace) >= 0 {
		return d, invalidDevice("locale", "must be a language tag of at most %d bytes", MaxLocaleBytes)
	}
	if len(d.Attributes) > MaxAttributes {
		return d, invalidDevice("attributes", "%d attributes exceed the limit of %d", len(d.Attributes), MaxAttributes)
	}
	for k, v := range d.Attributes {
		if k == "" || len(k) > MaxAttrKeyBytes || len(v) > MaxAttrValueBytes {
			return d, invalidDevice("attributes", "keys must be 1-%d bytes and values at most %d", MaxAttrKeyBytes, MaxAttrValueBytes)
		}
	}
	if len(d.Attributes) == 0 {
		d.Attributes = nil
	}
	return d, nil
}

package mi

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// MaxTimeToLive is MiPush's longest (and default) offline storage time.
const MaxTimeToLive = 14 * 24 * time.Hour

// Message is a MiPush message encoded as form fields, without its targets.
// Build it once per job and send it to any number of targets. Its
// time_to_live is computed when a request is made (the time left then), and
// no request is made once its expiry has passed.
type Message struct {
	form    []byte
	content int
	expiry  time.Time // zero: none
	built   time.Time
}

// Expiry is the notification's expiry (zero: none).
func (m Message) Expiry() time.Time { return m.expiry }

// fieldsAt is the encoded fields of a request made at now.
func (m Message) fieldsAt(now time.Time) []byte {
	if m.expiry.IsZero() {
		return m.form
	}
	f := formBuilder{b: append(make([]byte, 0, len(m.form)+32), m.form...)}
	f.add("time_to_live", strconv.FormatInt(provider.TTL(m.expiry, now, MaxTimeToLive).Milliseconds(), 10))
	return f.b
}

// ContentBytes is the size of the message's content fields (title,
// description, payload and extras), checked against Config.MaxContentBytes.
func (m Message) ContentBytes() int { return m.content }

// Form returns the encoded fields, time_to_live as of BuildMessage (for
// tests and logs; no secret in it).
func (m Message) Form() string { return string(m.fieldsAt(m.built)) }

// BuildMessage maps a notification and its Mi overrides onto MiPush fields:
//
//	title, description       Title, Body
//	payload                  Data as one JSON object string
//	pass_through             0; 1 when overridden, for a silent push
//	                         (Notification.Silent: always, whatever the
//	                         override), or when there is neither title nor
//	                         body (a data-only message must be pass-through:
//	                         MiPush rejects an empty notification)
//	notify_type              -1 (all effects) or the override
//	notify_id                positive 31-bit FNV-1a hash of CollapseKey, so a
//	                         newer message with the same key replaces the older
//	time_to_live             ms until Expiry when the request is made, at
//	                         most two weeks (MaxTimeToLive; far expiries,
//	                         past 2262 or in 9999, never overflow)
//	restricted_package_name  the app's package
//	extra.sound_uri          a raw resource derived from Sound, when Sound is
//	                         a URI or a plain resource name
//	extra.<k>                Overrides.Extra (wins over derived extras)
//	extra.channel_id         Overrides.ChannelID (wins over Extra)
//
// It fails with ErrExpired when Expiry has passed and with
// provider.ErrBadMessage when Data cannot be encoded.
func BuildMessage(n *events.Notification, o *events.MiOverrides, packageName string, now time.Time) (Message, error) {
	var f formBuilder
	f.add("restricted_package_name", packageName)
	content := 0
	if n.Title != "" {
		f.add("title", n.Title)
		content += len(n.Title)
	}
	if n.Body != "" {
		f.add("description", n.Body)
		content += len(n.Body)
	}
	if len(n.Data) > 0 {
		b, err := json.Marshal(n.Data)
		if err != nil {
			return Message{}, fmt.Errorf("%w: data: %v", provider.ErrBadMessage, err)
		}
		f.add("payload", string(b))
		content += len(b)
	}
	passThrough := n.Silent || n.Title == "" && n.Body == ""
	notifyType := -1
	if o != nil {
		if o.PassThrough != nil && !n.Silent { // a silent push is always pass-through
			passThrough = *o.PassThrough
		}
		if o.NotifyType != nil {
			notifyType = *o.NotifyType
		}
	}
	if passThrough {
		f.add("pass_through", "1")
	} else {
		f.add("pass_through", "0")
	}
	f.add("notify_type", strconv.Itoa(notifyType))
	if n.CollapseKey != "" {
		f.add("notify_id", strconv.FormatUint(uint64(notifyID(n.CollapseKey)), 10))
	}
	var expiry time.Time
	if n.Expiry != nil {
		expiry = *n.Expiry
		if provider.TTL(expiry, now, MaxTimeToLive) < time.Millisecond {
			return Message{}, fmt.Errorf("%w (%s ago)", ErrExpired, now.Sub(expiry).Round(time.Millisecond))
		}
	}
	extra := map[string]string{}
	if s := soundURI(n.Sound, packageName); s != "" {
		extra["sound_uri"] = s
	}
	if o != nil {
		for k, v := range o.Extra {
			extra[strings.TrimPrefix(k, "extra.")] = v
		}
		if o.ChannelID != "" {
			extra["channel_id"] = o.ChannelID
		}
	}
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		f.add("extra."+k, extra[k])
		content += len(extra[k])
	}
	return Message{form: f.b, content: content, expiry: expiry, built: now}, nil
}

// notifyID hashes a collapse key to a positive int32 (never 0).
func notifyID(key string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(key))
	if id := h.Sum32() & 0x7fffffff; id != 0 {
		return id
	}
	return 1
}

// soundURI derives extra.sound_uri: a URI is used as is, a plain resource
// name ("ding" or "ding.mp3") becomes android.resource://<pkg>/raw/ding,
// anything else (including "default", which MiPush plays anyway) is dropped.
func soundURI(sound, pkg string) string {
	switch {
	case sound == "" || sound == "default":
		return ""
	case strings.Contains(sound, "://"):
		return sound
	}
	name := strings.TrimSuffix(sound, path.Ext(sound))
	if name == "" {
		return ""
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return "" // not an Android resource name
		}
	}
	return "android.resource://" + pkg + "/raw/" + name
}

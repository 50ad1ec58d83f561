package events

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// CheckTokenFor returns why s cannot be a device token of platform p, or
// nil. It is CheckToken, except for Web Push, whose token is a browser
// subscription as JSON (commas included): there it is a structural check,
// a JSON object with an https endpoint and both keys (pkg/provider/webpush
// ParseToken checks the keys themselves at the sender, which reports a bad
// one as a permanent failure).
func CheckTokenFor(p Platform, s string) error {
	if p != WebPush {
		return CheckToken(s)
	}
	// Commas aside (JSON has them), the same rules as CheckToken: the
	// JSON of PushSubscription.toJSON() has no white space.
	if err := CheckToken(strings.ReplaceAll(s, ",", "_")); err != nil {
		return err
	}
	return checkSubscription(s)
}

// checkSubscription is the minimal structural check of a Web Push
// subscription token: {"endpoint":"https://…","keys":{"p256dh":"…","auth":"…"}}.
func checkSubscription(s string) error {
	var sub struct {
		Endpoint string `json:"endpoint"`
		Keys     struct {
			P256dh string `json:"p256dh"`
			Auth   string `json:"auth"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(s), &sub); err != nil {
		return errors.New("is not a Web Push subscription (the JSON of PushSubscription.toJSON())")
	}
	switch {
	case !strings.HasPrefix(sub.Endpoint, "https://") || len(sub.Endpoint) == len("https://"):
		return errors.New("is not a Web Push subscription: endpoint must be an https URL")
	case sub.Keys.P256dh == "":
		return errors.New("is not a Web Push subscription: keys.p256dh is required")
	case sub.Keys.Auth == "":
		return errors.New("is not a Web Push subscription: keys.auth is required")
	}
	return nil
}

// HMSMaxMessageBytes is Push Kit's limit on the message without its token
// list (answer 80300008), pkg/provider/hms's DefaultMaxMessageBytes.
const HMSMaxMessageBytes = 4096

// hmsMaxTTL is pkg/provider/hms's DefaultMaxTTL: the longest android.ttl,
// which counts in the size.
const hmsMaxTTL = 15 * 24 * time.Hour

// The Push Kit message as pkg/provider/hms encodes it (message.go), for its
// size: keep the two in step (pkg/provider/hms tests compare them).
type hmsMessage struct {
	Data    string     `json:"data,omitempty"`
	Android hmsAndroid `json:"android"`
}

type hmsAndroid struct {
	CollapseKey  *int             `json:"collapse_key,omitempty"`
	Urgency      string           `json:"urgency,omitempty"`
	TTL          string           `json:"ttl,omitempty"`
	Notification *hmsNotification `json:"notification,omitempty"`
}

type hmsNotification struct {
	Title        string `json:"title,omitempty"`
	Body         string `json:"body,omitempty"`
	Sound        string `json:"sound,omitempty"`
	DefaultSound bool   `json:"default_sound,omitempty"`
	Tag          string `json:"tag,omitempty"`
	ClickAction  struct {
		Type int `json:"type"`
	} `json:"click_action"`
}

// HMSMessageSize is the encoded size of the Push Kit message
// pkg/provider/hms builds for n, without tokens and with the longest ttl:
// what Push Kit's 4096-byte limit bounds.
func HMSMessageSize(n *Notification) int {
	var m hmsMessage
	if len(n.Data) > 0 {
		b, err := json.Marshal(n.Data)
		if err != nil {
			return math.MaxInt
		}
		m.Data = string(b)
	}
	switch n.Priority {
	case PriorityHigh:
		m.Android.Urgency = "HIGH"
	case PriorityNormal:
		m.Android.Urgency = "NORMAL"
	}
	m.Android.TTL = strconv.FormatInt(int64(math.Ceil(hmsMaxTTL.Seconds())), 10) + "s"
	tag := ""
	if n.CollapseKey != "" {
		if k, ok := HMSCollapseKey(n.CollapseKey); ok {
			m.Android.CollapseKey = &k
		} else {
			tag = n.CollapseKey
		}
	}
	if n.Title != "" || n.Body != "" {
		a := &hmsNotification{Title: n.Title, Body: n.Body, Tag: tag}
		a.ClickAction.Type = 3
		if n.Sound != "" && n.Sound != "default" {
			a.Sound = n.Sound
		} else {
			a.DefaultSound = true
		}
		m.Android.Notification = a
	}
	b, err := json.Marshal(&m)
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}

// HMSCollapseKey reports whether a collapse key is Push Kit's
// android.collapse_key, an integer -1…100, and which; any other collapse
// key is a notification tag (android.notification.tag).
func HMSCollapseKey(s string) (int, bool) {
	k, err := strconv.Atoi(s)
	return k, err == nil && k >= -1 && k <= 100
}

// validateHMS mirrors pkg/provider/hms's check before sending: the
// message without tokens within 4096 bytes. Any collapse key is usable: an
// integer -1…100 is android.collapse_key, anything else a notification tag
// (dropped, as the sender does, from a data message).
func validateHMS(n *Notification) error {
	if size := HMSMessageSize(n); size > HMSMaxMessageBytes {
		return invalid("notification", "the Push Kit (hms) message would be %d bytes, over its limit of %d",
			size, HMSMaxMessageBytes)
	}
	return nil
}

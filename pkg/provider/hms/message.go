package hms

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// The Push Kit v1 request body (HMS-Core/hms-push-serverdemo-go
// push/model/message.go, message_hm.go): only the fields pushfleet sets.
type sendRequest struct {
	ValidateOnly bool     `json:"validate_only"`
	Message      *message `json:"message"`
}

type message struct {
	// Data is the custom payload: a string (the app's data map as JSON).
	Data    string         `json:"data,omitempty"`
	Android *androidConfig `json:"android,omitempty"`
	Token   []string       `json:"token,omitempty"`
}

type androidConfig struct {
	// CollapseKey is -1…100 (-1: all offline messages are kept).
	CollapseKey  *int                 `json:"collapse_key,omitempty"`
	Urgency      string               `json:"urgency,omitempty"` // HIGH | NORMAL
	TTL          string               `json:"ttl,omitempty"`     // "86400s"
	Notification *androidNotification `json:"notification,omitempty"`
}

type androidNotification struct {
	Title        string       `json:"title,omitempty"`
	Body         string       `json:"body,omitempty"`
	Sound        string       `json:"sound,omitempty"`
	DefaultSound bool         `json:"default_sound,omitempty"`
	Tag          string       `json:"tag,omitempty"`
	ClickAction  *clickAction `json:"click_action"`
}

// clickAction is mandatory in android.notification; type 3 opens the app.
type clickAction struct {
	Type int `json:"type"`
}

// clickOpenApp is click_action type 3, "open the app's home page".
const clickOpenApp = 3

// template is a job's message without ttl and tokens, which are set per
// request, right before it is made.
type template struct {
	m      message
	expiry time.Time // zero: none
}

// buildTemplate maps a job's notification onto a Push Kit message:
//   - title or body: a notification message (android.notification with
//     click_action type 3, sound or default_sound); neither: a data
//     ("transparent") message;
//   - data: the data map as a JSON object in the string field "data";
//   - priority high/normal: android.urgency HIGH/NORMAL;
//   - collapse_key: an integer in -1…100 is android.collapse_key, any
//     other string becomes android.notification.tag (which replaces an
//     earlier notification with the same tag on the device);
//   - badge, thread id, category and the APNs fields have no Push Kit v1
//     Android equivalent that needs no more configuration: not sent.
func buildTemplate(n *events.Notification) (*template, error) {
	t := &template{}
	if n.Expiry != nil {
		t.expiry = *n.Expiry
	}
	if len(n.Data) > 0 {
		b, err := json.Marshal(n.Data)
		if err != nil {
			return nil, fmt.Errorf("%w: data: %v", provider.ErrBadMessage, err)
		}
		t.m.Data = string(b)
	}
	a := &androidConfig{}
	switch n.Priority {
	case events.PriorityHigh:
		a.Urgency = "HIGH"
	case events.PriorityNormal:
		a.Urgency = "NORMAL"
	}
	tag := ""
	if n.CollapseKey != "" {
		if k, err := strconv.Atoi(n.CollapseKey); err == nil && k >= -1 && k <= 100 {
			a.CollapseKey = &k
		} else {
			tag = n.CollapseKey
		}
	}
	if n.Title != "" || n.Body != "" {
		a.Notification = &androidNotification{Title: n.Title, Body: n.Body, Tag: tag,
			ClickAction: &clickAction{Type: clickOpenApp}}
		if n.Sound != "" && n.Sound != "default" {
			a.Notification.Sound = n.Sound
		} else {
			a.Notification.DefaultSound = true
		}
	}
	t.m.Android = a
	return t, nil
}

// size is the encoded message without tokens: what MaxMessageBytes bounds.
func (t *template) size(maxTTL time.Duration) int {
	m := t.m
	a := *m.Android
	a.TTL = ttlString(maxTTL)
	m.Android = &a
	b, _ := json.Marshal(&m) // only strings, ints and bools: cannot fail
	return len(b)
}

// body encodes the request for tokens with the ttl left at now.
func (t *template) body(tokens []string, now time.Time, maxTTL time.Duration) ([]byte, error) {
	m := t.m
	m.Token = tokens
	if !t.expiry.IsZero() {
		a := *m.Android
		a.TTL = ttlString(provider.TTL(t.expiry, now, maxTTL))
		m.Android = &a
	}
	return json.Marshal(sendRequest{Message: &m})
}

// ttlString is a duration in Push Kit's format, whole seconds rounded up
// and at least one (a ttl of 0 could be refused as in the past, 80100004).
func ttlString(d time.Duration) string {
	secs := int64(math.Ceil(d.Seconds()))
	return strconv.FormatInt(max(secs, 1), 10) + "s"
}

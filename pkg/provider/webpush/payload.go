package webpush

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Payload is the JSON the service worker's push event receives
// (event.data.json()): what it needs to call showNotification(title,
// {body, tag, data}).
type Payload struct {
	Title string         `json:"title,omitempty"`
	Body  string         `json:"body,omitempty"`
	Tag   string         `json:"tag,omitempty"`
	Badge *int           `json:"badge,omitempty"`
	Data  map[string]any `json:"data,omitempty"`
}

// topicPattern is RFC 8030 section 5.4: at most 32 characters of the URL-
// and filename-safe base64 alphabet.
var topicPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// message is a job's notification, built once and pushed to every token.
type message struct {
	payload []byte
	expiry  time.Time // zero: none
	urgency string
	topic   string
}

func (m *message) expired(now time.Time) bool { return !m.expiry.IsZero() && !now.Before(m.expiry) }

// ttl is the TTL header's value, in whole seconds: the time left until the
// expiry, clamped to [0, max]; max without expiry.
func (m *message) ttl(now time.Time, max time.Duration) int {
	if m.expiry.IsZero() {
		return int(max / time.Second)
	}
	return int(provider.TTL(m.expiry, now, max) / time.Second)
}

// buildMessage encodes the job's notification and maps its fields onto the
// RFC 8030 headers. A payload longer than maxPayload is ErrPayloadTooLarge.
func buildMessage(job *events.Job, maxPayload int) (*message, error) {
	n := job.Notification
	b, err := json.Marshal(Payload{Title: n.Title, Body: n.Body, Tag: n.CollapseKey, Badge: n.Badge, Data: n.Data})
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", provider.ErrBadMessage, err)
	}
	if len(b) > maxPayload {
		return nil, fmt.Errorf("%w: %d bytes of payload JSON, at most %d fit one encrypted record",
			provider.ErrPayloadTooLarge, len(b), maxPayload)
	}
	m := &message{payload: b, urgency: urgencyOf(n.Priority)}
	if n.Expiry != nil {
		m.expiry = *n.Expiry
	}
	if topicPattern.MatchString(n.CollapseKey) {
		m.topic = n.CollapseKey // replaces a pending message of the same topic
	}
	return m, nil
}

// urgencyOf maps the fleet's priority onto RFC 8030 section 5.3 Urgency:
// high is "high" (wakes the device), normal "normal"; none sends no header,
// which the push service reads as "normal".
func urgencyOf(p events.Priority) string {
	switch p {
	case events.PriorityHigh:
		return "high"
	case events.PriorityNormal:
		return "normal"
	}
	return ""
}

package apns

import (
	"fmt"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/sideshow/apns2"
)

// pushBackground is the push type that changes the request's priority.
const pushBackground = "background"

// topicSuffix is what Apple appends to the bundle id for each push type;
// types absent here use the bare bundle id.
var topicSuffix = map[string]string{
	"alert": "", "background": "", "mdm": "",
	"voip":         ".voip",
	"complication": ".complication",
	"fileprovider": ".pushkit.fileprovider",
	"liveactivity": ".push-type.liveactivity",
	"pushtotalk":   ".voip-ptt",
	"location":     ".location-query",
	"widgets":      ".push-type.widgets",
	"controls":     ".push-type.controls",
}

// Priorities of apns-priority. priorityImmediate is APNs' default, so it
// is never sent: one header fewer per request.
const (
	priorityImmediate = 10
	priorityPowerSave = 5
)

// MaxExpiration is the furthest apns-expiration is set ahead: APNs stores a
// notification for an offline device for at most 30 days, so a later
// expiry (years ahead, up to 9999) is sent as now + 30 days.
const MaxExpiration = 30 * 24 * time.Hour

// message is everything the requests of one job share; only the device
// token differs per token.
//
// No apns-id is sent: APNs assigns one, and a value unique to every request
// would enter the HTTP/2 header table each time (HPACK churn: ~34 more
// header bytes per push, and the headers every request reuses evicted
// sooner), for an id pushfleet neither logs nor reports.
type message struct {
	topic    string
	pushType string
	// priority is the apns-priority sent; 0 omits the header (APNs then
	// uses 10).
	priority int
	// expiry is the notification's expiry (zero: none): no request is made
	// once it has passed. expiration is the apns-expiration sent, expiry
	// clamped to MaxExpiration ahead.
	expiry     time.Time
	expiration time.Time
	collapseID string
	payload    []byte
}

// buildMessage maps a job onto APNs headers and payload for an app whose
// bundle id is topic, at now. Errors wrap provider.ErrBadMessage or
// provider.ErrPayloadTooLarge.
func buildMessage(job *events.Job, topic string, now time.Time) (*message, error) {
	n := &job.Notification
	pt := pushTypeOf(n)
	suffix, ok := topicSuffix[pt]
	if !ok {
		return nil, fmt.Errorf("%w: unknown APNs push type %q", provider.ErrBadMessage, pt)
	}
	var o *events.APNsOverrides
	if job.Overrides != nil {
		o = job.Overrides.APNs
	}
	payload, err := buildPayload(n, pt, o)
	if err != nil {
		return nil, err
	}
	m := &message{
		topic:      withSuffix(topic, suffix),
		pushType:   pt,
		priority:   sentPriority(priorityOf(n.Priority, pt)),
		collapseID: n.CollapseKey,
		payload:    payload,
	}
	if n.Expiry != nil {
		m.expiry, m.expiration = *n.Expiry, *n.Expiry
		if limit := now.Add(MaxExpiration); m.expiry.After(limit) {
			m.expiration = limit
		}
	}
	return m, nil
}

// expired reports whether m's notification has expired at now.
func (m *message) expired(now time.Time) bool {
	return !m.expiry.IsZero() && !m.expiry.After(now)
}

// notification is the apns2 request of m for one device token.
func (m *message) notification(token string) *apns2.Notification {
	return &apns2.Notification{
		DeviceToken: token,
		Topic:       m.topic,
		PushType:    apns2.EPushType(m.pushType),
		Priority:    m.priority,
		Expiration:  m.expiration,
		CollapseID:  m.collapseID,
		Payload:     m.payload,
	}
}

// pushTypeOf is the notification's push type (events.APNsPushType): the
// one it names, else background for a silent content-available push, else
// alert.
func pushTypeOf(n *events.Notification) string { return events.APNsPushType(n) }

// priorityOf maps pushfleet's priority: high → 10, normal → 5, unset → 10;
// background pushes are always 5 (Apple rejects 10).
func priorityOf(p events.Priority, pushType string) int {
	if pushType == pushBackground || p == events.PriorityNormal {
		return priorityPowerSave
	}
	return priorityImmediate
}

// sentPriority is the apns-priority to send for p: none for APNs' default.
func sentPriority(p int) int {
	if p == priorityImmediate {
		return 0
	}
	return p
}

func withSuffix(topic, suffix string) string {
	if strings.HasSuffix(topic, suffix) {
		return topic
	}
	return topic + suffix
}

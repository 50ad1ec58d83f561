package apns

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Payload limits of APNs; over them APNs answers 413 PayloadTooLarge.
const (
	MaxPayload     = 4096
	MaxVoIPPayload = 5120
)

var jsonNull = []byte("null")

// buildPayload encodes the APNs body of n for pushType:
//
//   - aps carries alert {title, body}, sound, badge, thread-id, category,
//     mutable-content and content-available; a background push carries only
//     content-available (plus thread-id/category), as Apple requires;
//   - n.Data keys sit at the top level next to aps ("aps" itself is refused);
//   - o.Payload keys are set at the top level, o.Aps keys inside aps (an
//     "aps" object in o.Payload is merged into aps too); a JSON null removes
//     the derived key.
//
// Errors wrap provider.ErrBadMessage or provider.ErrPayloadTooLarge.
func buildPayload(n *events.Notification, pushType string, o *events.APNsOverrides) ([]byte, error) {
	aps := map[string]any{}
	background := pushType == pushBackground
	if !background {
		if alert := alertOf(n); len(alert) > 0 {
			aps["alert"] = alert
		}
		if n.Sound != "" {
			aps["sound"] = n.Sound
		}
		if n.Badge != nil {
			aps["badge"] = *n.Badge
		}
		if n.MutableContent {
			aps["mutable-content"] = 1
		}
	}
	if n.ContentAvailable || background {
		aps["content-available"] = 1
	}
	if n.ThreadID != "" {
		aps["thread-id"] = n.ThreadID
	}
	if n.Category != "" {
		aps["category"] = n.Category
	}
	top := make(map[string]any, len(n.Data)+1)
	for k, v := range n.Data {
		if k == "aps" {
			return nil, fmt.Errorf("%w: data key \"aps\" is reserved by APNs; use overrides.apns.aps", provider.ErrBadMessage)
		}
		top[k] = v
	}
	if o != nil {
		for k, v := range o.Payload {
			if k == "aps" {
				var inner map[string]json.RawMessage
				if err := json.Unmarshal(v, &inner); err != nil {
					return nil, fmt.Errorf("%w: overrides.apns.payload.aps must be a JSON object", provider.ErrBadMessage)
				}
				merge(aps, inner)
				continue
			}
			merge(top, map[string]json.RawMessage{k: v})
		}
		merge(aps, o.Aps)
	}
	top["aps"] = aps
	b, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot encode the APNs payload: %v", provider.ErrBadMessage, err)
	}
	limit := MaxPayload
	if pushType == pushVoIP {
		limit = MaxVoIPPayload
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%w: APNs payload of %d bytes exceeds %d for push type %s",
			provider.ErrPayloadTooLarge, len(b), limit, pushType)
	}
	return b, nil
}

func alertOf(n *events.Notification) map[string]string {
	alert := map[string]string{}
	if n.Title != "" {
		alert["title"] = n.Title
	}
	if n.Body != "" {
		alert["body"] = n.Body
	}
	return alert
}

// merge sets raw values into dst; a JSON null deletes the key.
func merge(dst map[string]any, src map[string]json.RawMessage) {
	for k, v := range src {
		if bytes.Equal(bytes.TrimSpace(v), jsonNull) {
			delete(dst, k)
			continue
		}
		dst[k] = v
	}
}

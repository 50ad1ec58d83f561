package events

import (
	"bytes"
	"encoding/json"
)

// APNs payload limits: APNs refuses a larger payload with 413
// PayloadTooLarge.
const (
	APNsMaxPayload     = 4096
	APNsMaxVoIPPayload = 5120
)

// APNs push types that change how the payload is built.
const (
	apnsPushAlert      = "alert"
	apnsPushBackground = "background"
	apnsPushVoIP       = "voip"
)

// APNsPushType is the APNs push type (apns-push-type) of n: background for
// a silent push (Notification.Silent), else the one it names, else
// background for a content-available push without title, body, sound or
// badge, else alert.
func APNsPushType(n *Notification) string {
	switch {
	case n.Silent:
		return apnsPushBackground
	case n.PushType != "":
		return n.PushType
	case n.ContentAvailable && n.Title == "" && n.Body == "" && n.Sound == "" && n.Badge == nil:
		return apnsPushBackground
	}
	return apnsPushAlert
}

// APNsPayloadLimit is the most bytes APNs takes as the payload of pushType.
func APNsPayloadLimit(pushType string) int {
	if pushType == apnsPushVoIP {
		return APNsMaxVoIPPayload
	}
	return APNsMaxPayload
}

// APNsPayload encodes the APNs payload (the request body) of n for
// pushType. It is the one builder of that payload: pkg/provider/apns sends
// what it returns, and intake (Intent.ValidateFor) checks its size, so the
// two can never disagree.
//
//   - aps carries alert {title, body}, sound, badge, thread-id, category,
//     mutable-content and content-available; a background push carries only
//     content-available (plus thread-id and category), as Apple requires;
//   - n.Data keys sit at the top level next to aps ("aps" itself is refused);
//   - o.Payload keys are set at the top level, o.Aps keys inside aps (an
//     "aps" object in o.Payload is merged into aps too); a JSON null removes
//     the derived key.
//
// The size is not checked (APNsPayloadLimit). Errors are *ValidationError
// naming the field.
func APNsPayload(n *Notification, pushType string, o *APNsOverrides) ([]byte, error) {
	aps := apnsAps(n, pushType)
	top := make(map[string]any, len(n.Data)+1)
	for k, v := range n.Data {
		if k == "aps" {
			return nil, invalid("notification.data", `key "aps" is reserved by APNs; use overrides.apns.aps`)
		}
		top[k] = v
	}
	if o != nil {
		for k, v := range o.Payload {
			if k != "aps" {
				mergeRaw(top, map[string]json.RawMessage{k: v})
				continue
			}
			var inner map[string]json.RawMessage
			if err := json.Unmarshal(v, &inner); err != nil {
				return nil, invalid("overrides.apns.payload.aps", "must be a JSON object")
			}
			mergeRaw(aps, inner)
		}
		mergeRaw(aps, o.Aps)
	}
	top["aps"] = aps
	b, err := json.Marshal(top)
	if err != nil {
		return nil, invalid("notification", "cannot encode the APNs payload: %v", err)
	}
	return b, nil
}

// apnsAps is the aps dictionary APNs derives from n: a background push
// carries only content-available (and thread-id, category).
func apnsAps(n *Notification, pushType string) map[string]any {
	aps := map[string]any{}
	background := pushType == apnsPushBackground
	if !background {
		alert := map[string]string{}
		if n.Title != "" {
			alert["title"] = n.Title
		}
		if n.Body != "" {
			alert["body"] = n.Body
		}
		if len(alert) > 0 {
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
	return aps
}

// mergeRaw sets raw values into dst; a JSON null deletes the key.
func mergeRaw(dst map[string]any, src map[string]json.RawMessage) {
	for k, v := range src {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(dst, k)
			continue
		}
		dst[k] = v
	}
}

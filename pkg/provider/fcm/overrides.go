package fcm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"firebase.google.com/go/v4/messaging"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// applyOverrides merges the intent's raw FCM objects (AndroidConfig,
// APNSConfig, WebpushConfig in FCM v1 JSON) over what buildTemplate derived:
// objects merge key by key, other values replace, and null removes a derived
// key. The result is decoded into the SDK's types, so a value the SDK cannot
// represent fails here (Permanent, naming the field) instead of being
// silently dropped.
func applyOverrides(m *messaging.Message, o *events.FCMOverrides) error {
	var err error
	if m.Android, err = merge("overrides.fcm.android", m.Android, o.Android); err != nil {
		return err
	}
	if m.Android != nil {
		// FCM's REST enum is upper case; the SDK only accepts lower case.
		m.Android.Priority = strings.ToLower(m.Android.Priority)
	}
	if m.APNS, err = merge("overrides.fcm.apns", m.APNS, o.APNs); err != nil {
		return err
	}
	if m.Webpush, err = merge("overrides.fcm.webpush", m.Webpush, o.Webpush); err != nil {
		return err
	}
	if o.AnalyticsLabel != "" {
		m.FCMOptions = &messaging.FCMOptions{AnalyticsLabel: o.AnalyticsLabel}
	}
	return nil
}

// merge returns derived with the JSON object raw merged over it.
func merge[T any](field string, derived *T, raw json.RawMessage) (*T, error) {
	if len(raw) == 0 {
		return derived, nil
	}
	bad := func(path string, err error) error {
		return &buildError{reason: path, sentinel: provider.ErrBadMessage, err: err}
	}
	over, err := decodeObject(raw)
	if err != nil {
		return nil, bad(field, errors.New("must be a JSON object"))
	}
	base := map[string]any{}
	if derived != nil {
		b, err := json.Marshal(derived)
		if err != nil {
			return nil, bad(field, err)
		}
		if base, err = decodeObject(b); err != nil {
			return nil, bad(field, err)
		}
	}
	mergeObjects(base, over)
	if len(base) == 0 {
		return nil, nil // the override removed everything
	}
	b, err := json.Marshal(base)
	if err != nil {
		return nil, bad(field, err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, bad(field, err)
	}
	back, err := json.Marshal(out)
	if err != nil {
		return nil, bad(field, err)
	}
	kept, err := decodeObject(back)
	if err != nil {
		return nil, bad(field, err)
	}
	if path := dropped(over, kept, field); path != "" {
		return nil, bad(path, errors.New("is not supported by the Firebase Admin SDK and would be dropped"))
	}
	return out, nil
}

// decodeObject decodes a JSON object, keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not an object")
	}
	return m, nil
}

// mergeObjects merges src into dst: objects recursively, null deletes.
func mergeObjects(dst, src map[string]any) {
	for k, v := range src {
		if v == nil {
			delete(dst, k)
			continue
		}
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				mergeObjects(dv, sv)
				continue
			}
		}
		dst[k] = v
	}
}

// dropped returns the path of the first key of over (with a non-default
// value) that did not survive the SDK round trip, or "".
func dropped(over, kept map[string]any, path string) string {
	for _, k := range sortedKeys(over) {
		v := over[k]
		if isDefault(v) {
			continue
		}
		kv, ok := kept[k]
		if !ok {
			return path + "." + k
		}
		if ov, ok := v.(map[string]any); ok {
			if kv, ok := kv.(map[string]any); ok {
				if p := dropped(ov, kv, path+"."+k); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// isDefault reports JSON values that omitempty drops and FCM treats as unset.
func isDefault(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

package fcm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// maxTTL is FCM's longest android.ttl, and the longest webpush TTL it
// takes: four weeks.
const maxTTL = 28 * 24 * time.Hour

// maxAPNsExpiration is the furthest apns-expiration is set ahead: APNs keeps
// a notification for at most 30 days.
const maxAPNsExpiration = 30 * 24 * time.Hour

// buildError is a job that cannot become an FCM message; it becomes a
// Permanent result for every token.
type buildError struct {
	reason   string
	sentinel error
	err      error
}

func (e *buildError) Error() string   { return e.reason + ": " + e.err.Error() }
func (e *buildError) Unwrap() []error { return []error{e.sentinel, e.err} }

// buildTemplate turns a job into the message every token shares; only
// Token differs between the messages of a batch, so the SDK structs built
// here are shared (the SDK only reads them).
//
// Mapping: title and body become the notification; data values that are not
// strings are sent as their JSON text (FCM carries strings only: 3 → "3",
// true → "true", {"a":1} → "{\"a\":1}", null → "null"); priority, collapse
// key, sound, badge and the time left until expiry (android.ttl and the
// webpush TTL clamped to 0..4 weeks, apns-expiration to at most 30 days
// ahead, so far expiries such as the year 9999 never overflow) fill the
// android, apns and webpush blocks; the raw FCM
// overrides are then merged on top, key by key.
func buildTemplate(job *events.Job, now time.Time, maxPayload int) (*messaging.Message, error) {
	n := &job.Notification
	data, err := encodeData(n.Data)
	if err != nil {
		return nil, &buildError{reason: "notification.data", sentinel: provider.ErrBadMessage, err: err}
	}
	if size := payloadSize(n, data); size > maxPayload {
		return nil, &buildError{reason: "payload too large", sentinel: provider.ErrPayloadTooLarge,
			err: fmt.Errorf("title, body and data take %d bytes, FCM allows %d", size, maxPayload)}
	}
	m := &messaging.Message{Data: data}
	// A silent push is a data message: never a notification block (intake
	// refuses a title or body with it; a job built elsewhere loses them).
	if !n.Silent && (n.Title != "" || n.Body != "") {
		m.Notification = &messaging.Notification{Title: n.Title, Body: n.Body}
	}
	m.Android = androidConfig(n, now)
	m.APNS = apnsConfig(n, now)
	m.Webpush = webpushConfig(n, now)
	if o := fcmOverrides(job); o != nil {
		if err := applyOverrides(m, o); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// messagesFor builds one message per token from the template.
func messagesFor(tmpl *messaging.Message, tokens []string) []*messaging.Message {
	ms := make([]messaging.Message, len(tokens))
	ps := make([]*messaging.Message, len(tokens))
	for i, t := range tokens {
		ms[i] = *tmpl
		ms[i].Token = t
		ps[i] = &ms[i]
	}
	return ps
}

func fcmOverrides(job *events.Job) *events.FCMOverrides {
	if job.Overrides == nil {
		return nil
	}
	return job.Overrides.FCM
}

// encodeData converts the app's data to FCM's string map.
func encodeData(d map[string]any) (map[string]string, error) {
	if len(d) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(d))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for k, v := range d {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		buf.Reset()
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("value of %q: %w", k, err)
		}
		out[k] = string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	}
	return out, nil
}

// payloadSize is what FCM counts against its 4096-byte limit, at least.
func payloadSize(n *events.Notification, data map[string]string) int {
	size := len(n.Title) + len(n.Body)
	for k, v := range data {
		size += len(k) + len(v)
	}
	return size
}

func androidConfig(n *events.Notification, now time.Time) *messaging.AndroidConfig {
	a := &messaging.AndroidConfig{CollapseKey: n.CollapseKey, Priority: string(n.Priority)}
	if n.Expiry != nil {
		ttl := provider.TTL(*n.Expiry, now, maxTTL).Truncate(time.Millisecond)
		a.TTL = &ttl
	}
	if !n.Silent && (n.Sound != "" || n.Badge != nil) {
		a.Notification = &messaging.AndroidNotification{Sound: n.Sound, NotificationCount: n.Badge}
	}
	if a.CollapseKey == "" && a.Priority == "" && a.TTL == nil && a.Notification == nil {
		return nil
	}
	return a
}

func apnsConfig(n *events.Notification, now time.Time) *messaging.APNSConfig {
	h := map[string]string{}
	if n.Expiry != nil {
		exp := *n.Expiry
		if limit := now.Add(maxAPNsExpiration); exp.After(limit) {
			exp = limit
		}
		h["apns-expiration"] = strconv.FormatInt(max(exp.Unix(), 0), 10)
	}
	if n.CollapseKey != "" {
		h["apns-collapse-id"] = n.CollapseKey
	}
	pushType := n.PushType
	if n.Silent {
		pushType = "background" // a silent push reaches iOS as a background push
	}
	if pushType != "" {
		h["apns-push-type"] = pushType
	}
	contentAvailable := n.ContentAvailable || n.Silent
	switch {
	case n.Silent || (n.ContentAvailable && n.Title == "" && n.Body == ""):
		h["apns-priority"] = "5" // Apple requires 5 for background pushes
	case n.Priority == events.PriorityHigh:
		h["apns-priority"] = "10"
	case n.Priority == events.PriorityNormal:
		h["apns-priority"] = "5"
	}
	var aps *messaging.Aps
	switch {
	case n.Silent:
		aps = &messaging.Aps{ThreadID: n.ThreadID, Category: n.Category, ContentAvailable: true}
	case n.Sound != "" || n.Badge != nil || n.ThreadID != "" || n.Category != "" || n.MutableContent || contentAvailable:
		aps = &messaging.Aps{Sound: n.Sound, Badge: n.Badge, ThreadID: n.ThreadID, Category: n.Category,
			MutableContent: n.MutableContent, ContentAvailable: contentAvailable}
	}
	if len(h) == 0 && aps == nil {
		return nil
	}
	c := &messaging.APNSConfig{}
	if len(h) > 0 {
		c.Headers = h
	}
	if aps != nil {
		c.Payload = &messaging.APNSPayload{Aps: aps}
	}
	return c
}

func webpushConfig(n *events.Notification, now time.Time) *messaging.WebpushConfig {
	h := map[string]string{}
	if n.Expiry != nil {
		h["TTL"] = strconv.FormatInt(int64(provider.TTL(*n.Expiry, now, maxTTL)/time.Second), 10)
	}
	switch n.Priority {
	case events.PriorityHigh:
		h["Urgency"] = "high"
	case events.PriorityNormal:
		h["Urgency"] = "normal"
	}
	if len(h) == 0 {
		return nil
	}
	return &messaging.WebpushConfig{Headers: h}
}

// resultsFor gives every token the Permanent result of a build error.
func resultsFor(tokens []string, err error) []provider.Result {
	var be *buildError
	if !errors.As(err, &be) {
		return provider.All(tokens, provider.Permanent, "invalid message", fmt.Errorf("%w: %v", provider.ErrBadMessage, err))
	}
	return provider.All(tokens, provider.Permanent, be.Error(), be)
}

// sortedKeys is for deterministic error messages.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

package fcmfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// FCM limits the fake enforces.
const (
	// MaxMessageBytes is the size limit of a message to a token or condition.
	MaxMessageBytes = 4096
	// MaxTopicMessageBytes is the size limit of a message to a topic.
	MaxTopicMessageBytes = 2048
	// maxTTLSeconds is four weeks, FCM's longest android.ttl.
	maxTTLSeconds = 2419200
)

var (
	ttlPattern   = regexp.MustCompile(`^\d+(\.\d{1,9})?s$`)
	labelPattern = regexp.MustCompile(`^[a-zA-Z0-9-_.~%]{1,50}$`)
	topicPattern = regexp.MustCompile(`^[a-zA-Z0-9-_.~%]+$`)
)

// messageKeys are the fields of an FCM v1 Message.
var messageKeys = map[string]bool{
	"name": true, "data": true, "notification": true, "android": true, "webpush": true,
	"apns": true, "fcm_options": true, "token": true, "topic": true, "condition": true,
}

// sendRequest is the body of messages:send.
type sendRequest struct {
	ValidateOnly bool            `json:"validate_only"`
	Message      json.RawMessage `json:"message"`
}

// target is who a valid message goes to.
type target struct {
	token, topic, condition string
}

// key is the target as one string, for counters.
func (t target) key() string {
	switch {
	case t.token != "":
		return t.token
	case t.topic != "":
		return "/topics/" + t.topic
	}
	return "condition:" + t.condition
}

// decodeRequest parses and validates a messages:send body the way FCM does:
// syntax and type errors carry only a google.rpc.BadRequest detail, semantic
// errors also the FcmError INVALID_ARGUMENT.
func decodeRequest(body []byte) (sendRequest, target, *apiError) {
	var req sendRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		e := badArgument("", "Invalid JSON payload received. "+err.Error(), false)
		return req, target{}, &e
	}
	if len(req.Message) == 0 || string(req.Message) == "null" {
		e := badArgument("message", "Request contains an invalid argument: message is required.", false)
		return req, target{}, &e
	}
	t, e := validateMessage(req.Message)
	return req, t, e
}

func validateMessage(raw json.RawMessage) (target, *apiError) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return target{}, fail(badArgument("message", "Invalid JSON payload received. 'message' is not an object.", false))
	}
	for k := range m {
		if !messageKeys[k] {
			return target{}, fail(badArgument("message", fmt.Sprintf("Invalid JSON payload received. Unknown name %q at 'message': Cannot find field.", k), false))
		}
	}
	t, e := validateTarget(m)
	if e != nil {
		return t, e
	}
	checks := []func(map[string]json.RawMessage) *apiError{
		func(m map[string]json.RawMessage) *apiError { return checkData("message.data", m["data"]) },
		checkNotification, checkAndroid, checkAPNs, checkWebpush, checkOptions,
	}
	for _, check := range checks {
		if e := check(m); e != nil {
			return t, e
		}
	}
	limit := MaxMessageBytes
	if t.topic != "" {
		limit = MaxTopicMessageBytes
	}
	// The target is not payload: measure the message without it.
	if size := len(raw) - len(m["token"]) - len(m["topic"]) - len(m["condition"]); size > limit {
		return t, fail(badArgument("message", fmt.Sprintf("Message is too big: %d bytes exceed the limit of %d.", size, limit), true))
	}
	return t, nil
}

func validateTarget(m map[string]json.RawMessage) (target, *apiError) {
	var t target
	for name, dst := range map[string]*string{"token": &t.token, "topic": &t.topic, "condition": &t.condition} {
		if raw, ok := m[name]; ok {
			if err := json.Unmarshal(raw, dst); err != nil {
				return t, fail(typeError("message."+name, "TYPE_STRING", raw))
			}
		}
	}
	n := 0
	for _, s := range []string{t.token, t.topic, t.condition} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return t, fail(badArgument("message", "Exactly one of token, topic or condition must be set.", true))
	}
	if t.topic != "" && !topicPattern.MatchString(strings.TrimPrefix(t.topic, "/topics/")) {
		return t, fail(badArgument("message.topic", "Invalid topic name.", true))
	}
	if t.condition != "" && !validCondition(t.condition) {
		return t, fail(badArgument("message.condition", "Invalid condition expression provided.", true))
	}
	return t, nil
}

// conditionAtom is one "'topic' in topics" of a condition.
var conditionAtom = regexp.MustCompile(`^['"]([a-zA-Z0-9-_.~%]+)['"]\s*in\s*topics\b`)

// validCondition accepts what FCM does: "'t' in topics" atoms joined by
// && and ||, negated by !, grouped by balanced parentheses, at most five
// atoms. Operands and operators must alternate.
func validCondition(c string) bool {
	atoms, depth := 0, 0
	wantOperand := true
	for s := strings.TrimSpace(c); s != ""; s = strings.TrimSpace(s) {
		switch {
		case wantOperand && s[0] == '!':
			s = s[1:]
		case wantOperand && s[0] == '(':
			depth++
			s = s[1:]
		case wantOperand:
			m := conditionAtom.FindString(s)
			if m == "" {
				return false
			}
			atoms++
			wantOperand = false
			s = s[len(m):]
		case s[0] == ')':
			if depth--; depth < 0 {
				return false
			}
			s = s[1:]
		case strings.HasPrefix(s, "&&") || strings.HasPrefix(s, "||"):
			wantOperand = true
			s = s[2:]
		default:
			return false
		}
	}
	return !wantOperand && depth == 0 && atoms >= 1 && atoms <= 5
}

// checkData requires an object of strings without reserved keys.
func checkData(field string, raw json.RawMessage) *apiError {
	if raw == nil {
		return nil
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &data); err != nil {
		return fail(typeError(field, "TYPE_MESSAGE", raw))
	}
	for k, v := range data {
		if len(v) == 0 || v[0] != '"' {
			return fail(typeError(field+"["+strconv.Quote(k)+"].value", "TYPE_STRING", v))
		}
		if reservedDataKey(k) {
			return fail(badArgument(field, fmt.Sprintf("Invalid data payload key: %s", k), true))
		}
	}
	return nil
}

// reservedDataKey reports the keys FCM keeps for itself.
func reservedDataKey(k string) bool {
	lk := strings.ToLower(k)
	return lk == "from" || lk == "message_type" || strings.HasPrefix(lk, "google") || strings.HasPrefix(lk, "gcm")
}

func checkNotification(m map[string]json.RawMessage) *apiError {
	return checkStrings("message.notification", m["notification"], "title", "body", "image")
}

func checkAndroid(m map[string]json.RawMessage) *apiError {
	raw, ok := m["android"]
	if !ok {
		return nil
	}
	var a map[string]json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return fail(typeError("message.android", "TYPE_MESSAGE", raw))
	}
	if e := checkStrings("message.android", raw, "collapse_key", "priority", "ttl", "restricted_package_name"); e != nil {
		return e
	}
	if v, ok := a["ttl"]; ok {
		var ttl string
		_ = json.Unmarshal(v, &ttl)
		if !ttlPattern.MatchString(ttl) {
			return fail(badArgument("message.android.ttl", fmt.Sprintf("Invalid value at 'message.android.ttl' (type.googleapis.com/google.protobuf.Duration), %q", ttl), false))
		}
		if secs, _ := strconv.ParseFloat(strings.TrimSuffix(ttl, "s"), 64); secs > maxTTLSeconds {
			return fail(badArgument("message.android.ttl", "TTL must not exceed 4 weeks (2419200s).", true))
		}
	}
	if v, ok := a["priority"]; ok {
		var p string
		_ = json.Unmarshal(v, &p)
		if lp := strings.ToLower(p); lp != "normal" && lp != "high" {
			return fail(badArgument("message.android.priority", fmt.Sprintf("Invalid value at 'message.android.priority' (type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority), %q", p), false))
		}
	}
	if e := checkData("message.android.data", a["data"]); e != nil {
		return e
	}
	return checkObject("message.android.notification", a["notification"])
}

func checkAPNs(m map[string]json.RawMessage) *apiError {
	raw, ok := m["apns"]
	if !ok {
		return nil
	}
	var a map[string]json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return fail(typeError("message.apns", "TYPE_MESSAGE", raw))
	}
	if e := checkStringMap("message.apns.headers", a["headers"]); e != nil {
		return e
	}
	return checkObject("message.apns.payload", a["payload"])
}

func checkWebpush(m map[string]json.RawMessage) *apiError {
	raw, ok := m["webpush"]
	if !ok {
		return nil
	}
	var wp map[string]json.RawMessage
	if err := json.Unmarshal(raw, &wp); err != nil {
		return fail(typeError("message.webpush", "TYPE_MESSAGE", raw))
	}
	if e := checkStringMap("message.webpush.headers", wp["headers"]); e != nil {
		return e
	}
	return checkStringMap("message.webpush.data", wp["data"])
}

func checkOptions(m map[string]json.RawMessage) *apiError {
	raw, ok := m["fcm_options"]
	if !ok {
		return nil
	}
	var o struct {
		AnalyticsLabel *string `json:"analytics_label"`
	}
	if err := json.Unmarshal(raw, &o); err != nil {
		return fail(typeError("message.fcm_options", "TYPE_MESSAGE", raw))
	}
	if o.AnalyticsLabel != nil && !labelPattern.MatchString(*o.AnalyticsLabel) {
		return fail(badArgument("message.fcm_options.analytics_label", "Analytics label must match ^[a-zA-Z0-9-_.~%]{1,50}$.", true))
	}
	return nil
}

// checkStrings requires the named fields of the object raw, if present, to be strings.
func checkStrings(field string, raw json.RawMessage, names ...string) *apiError {
	if raw == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fail(typeError(field, "TYPE_MESSAGE", raw))
	}
	for _, n := range names {
		if v, ok := obj[n]; ok && (len(v) == 0 || v[0] != '"') {
			return fail(typeError(field+"."+n, "TYPE_STRING", v))
		}
	}
	return nil
}

// checkStringMap requires raw, if present, to be an object of strings.
func checkStringMap(field string, raw json.RawMessage) *apiError {
	if raw == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fail(typeError(field, "TYPE_MESSAGE", raw))
	}
	for k, v := range obj {
		if len(v) == 0 || v[0] != '"' {
			return fail(typeError(field+"["+strconv.Quote(k)+"].value", "TYPE_STRING", v))
		}
	}
	return nil
}

// checkObject requires raw, if present, to be a JSON object.
func checkObject(field string, raw json.RawMessage) *apiError {
	if raw == nil {
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return fail(typeError(field, "TYPE_MESSAGE", raw))
	}
	return nil
}

// typeError is FCM's answer to a JSON value of the wrong type.
func typeError(field, want string, got json.RawMessage) apiError {
	return badArgument(field, fmt.Sprintf("Invalid value at '%s' (%s), %s", field, want, got), false)
}

func fail(e apiError) *apiError { return &e }

// tokenLooksValid reports whether t could be a registration token: FCM
// tokens are base64url text with a ':' separator.
func tokenLooksValid(t string) bool {
	if len(t) == 0 || len(t) > 4096 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':' || c == '.') {
			return false
		}
	}
	return true
}

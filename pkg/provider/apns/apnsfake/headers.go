package apnsfake

import (
	"net/http"
	"strconv"
	"strings"
)

// Payload limits Apple enforces with 413 PayloadTooLarge.
const (
	maxPayload     = 4096
	maxVoIPPayload = 5120
	maxCollapseID  = 64
)

// topicSuffixes is the apns-topic suffix each push type requires; types
// mapped to "" use the bare bundle id.
var topicSuffixes = map[string]string{
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

// apnsHeaders are the request headers APNs refuses to see twice.
var apnsHeaders = []string{"apns-id", "apns-topic", "apns-push-type", "apns-priority",
	"apns-expiration", "apns-collapse-id", "authorization"}

// requestHeaders are the validated APNs headers of a request.
type requestHeaders struct {
	pushType string
	topic    string // may be empty until checkTopic
	apnsID   string
}

// checkHeaders applies Apple's header rules, in Apple's reason vocabulary.
func checkHeaders(h http.Header) (requestHeaders, *apiError) {
	for _, name := range apnsHeaders {
		if len(h.Values(name)) > 1 {
			return requestHeaders{}, errorOf(http.StatusBadRequest, "DuplicateHeaders")
		}
	}
	rh := requestHeaders{pushType: h.Get("apns-push-type"), topic: h.Get("apns-topic"), apnsID: h.Get("apns-id")}
	if rh.pushType == "" {
		rh.pushType = "alert"
	}
	if _, ok := topicSuffixes[rh.pushType]; !ok {
		return rh, errorOf(http.StatusBadRequest, "InvalidPushType")
	}
	if p := h.Get("apns-priority"); p != "" {
		switch n, err := strconv.Atoi(p); {
		case err != nil || (n != 1 && n != 5 && n != 10):
			return rh, errorOf(http.StatusBadRequest, "BadPriority")
		case n == 10 && rh.pushType == "background":
			// "Always use priority 5. Using priority 10 is an error."
			return rh, errorOf(http.StatusBadRequest, "BadPriority")
		}
	}
	if e := h.Get("apns-expiration"); e != "" {
		if n, err := strconv.ParseInt(e, 10, 64); err != nil || n < 0 {
			return rh, errorOf(http.StatusBadRequest, "BadExpirationDate")
		}
	}
	if len(h.Get("apns-collapse-id")) > maxCollapseID {
		return rh, errorOf(http.StatusBadRequest, "BadCollapseId")
	}
	if rh.apnsID != "" && !isUUID(rh.apnsID) {
		return rh, errorOf(http.StatusBadRequest, "BadMessageId")
	}
	return rh, nil
}

// checkTopic resolves the request's topic: it must carry the suffix of its
// push type and name a bundle id the credentials may push to. Certificate
// auth falls back to the certificate's topic, token auth requires one.
func checkTopic(rh *requestHeaders, p principal) *apiError {
	if rh.topic == "" {
		if p.certTopic == "" {
			return errorOf(http.StatusBadRequest, "MissingTopic")
		}
		rh.topic = p.certTopic + topicSuffixes[rh.pushType]
	}
	suffix := topicSuffixes[rh.pushType]
	if !strings.HasSuffix(rh.topic, suffix) {
		return errorOf(http.StatusBadRequest, "BadTopic")
	}
	bundle := strings.TrimSuffix(rh.topic, suffix)
	if bundle == "" {
		return errorOf(http.StatusBadRequest, "BadTopic")
	}
	if len(p.topics) > 0 && !p.topics[bundle] {
		return errorOf(http.StatusBadRequest, "TopicDisallowed")
	}
	return nil
}

// payloadLimit is Apple's size limit for pushType.
func payloadLimit(pushType string) int {
	if pushType == "voip" {
		return maxVoIPPayload
	}
	return maxPayload
}

// isUUID reports whether s is a canonical 8-4-4-4-12 hex UUID.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

package webpush

import (
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Subscription is a browser's PushSubscription: where to push (Endpoint)
// and the keys the payload is encrypted to. It is the Web Push "device
// token": a job's token is a subscription encoded by Token.
type Subscription struct {
	Endpoint string `json:"endpoint"`
	Keys     Keys   `json:"keys"`
}

// Keys are the subscription's public key and authentication secret,
// base64url as PushSubscription.toJSON() gives them.
type Keys struct {
	// P256dh is the user agent's P-256 public key, 65 bytes uncompressed.
	P256dh string `json:"p256dh"`
	// Auth is the 16-byte authentication secret.
	Auth string `json:"auth"`
}

// Token limits.
const (
	// MaxTokenBytes is the longest token accepted: the fleet's own limit on
	// one device token (events.DefaultLimits.MaxTokenBytes).
	MaxTokenBytes = 4096
	p256dhLen     = 65
	authLen       = 16
)

// ErrBadSubscription marks a token that is not a usable subscription.
var ErrBadSubscription = errors.New("webpush: not a valid push subscription")

// Token encodes s as the fleet's token for it: the JSON of
// PushSubscription.toJSON() without expirationTime, keys in the order
// endpoint, keys.p256dh, keys.auth, and both keys in unpadded base64url.
// ParseToken accepts what a browser hands out (any key order, padded or
// standard base64, an expirationTime field); Canonical turns such a token
// into this form, so one subscription always has one token.
func Token(s Subscription) string {
	b, _ := json.Marshal(s) // strings only: cannot fail
	return string(b)
}

// ParseToken decodes and validates a token: the JSON of a push
// subscription whose endpoint is an https URL and whose keys decode to a
// P-256 point (p256dh) and 16 bytes (auth).
func ParseToken(token string) (Subscription, error) {
	s, _, err := parseSubscription(token)
	return s, err
}

// target is a parsed subscription, ready to encrypt to.
type target struct {
	endpoint string
	origin   string // the VAPID audience
	ua       *ecdh.PublicKey
	auth     []byte
}

func parseSubscription(token string) (Subscription, *target, error) {
	var s Subscription
	if len(token) > MaxTokenBytes {
		return s, nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadSubscription, len(token), MaxTokenBytes)
	}
	if err := json.Unmarshal([]byte(token), &s); err != nil {
		return s, nil, fmt.Errorf("%w: not subscription JSON: %v", ErrBadSubscription, err)
	}
	origin, err := endpointOrigin(s.Endpoint)
	if err != nil {
		return s, nil, err
	}
	ua, err := decodeKey(s.Keys.P256dh)
	if err != nil || len(ua) != p256dhLen {
		return s, nil, fmt.Errorf("%w: keys.p256dh is not 65 bytes of base64url", ErrBadSubscription)
	}
	uaKey, err := ecdh.P256().NewPublicKey(ua)
	if err != nil {
		return s, nil, fmt.Errorf("%w: keys.p256dh is not a P-256 point: %v", ErrBadSubscription, err)
	}
	auth, err := decodeKey(s.Keys.Auth)
	if err != nil || len(auth) != authLen {
		return s, nil, fmt.Errorf("%w: keys.auth is not 16 bytes of base64url", ErrBadSubscription)
	}
	s.Keys.P256dh = base64.RawURLEncoding.EncodeToString(ua)
	s.Keys.Auth = base64.RawURLEncoding.EncodeToString(auth)
	return s, &target{endpoint: s.Endpoint, origin: origin, ua: uaKey, auth: auth}, nil
}

// Canonical returns the canonical token (see Token) of a valid token.
func Canonical(token string) (string, error) {
	s, err := ParseToken(token)
	if err != nil {
		return "", err
	}
	return Token(s), nil
}

// endpointOrigin checks a push endpoint and returns its origin
// (scheme://host[:port]), the VAPID audience.
func endpointOrigin(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: endpoint: %v", ErrBadSubscription, err)
	case u.Scheme != "https":
		return "", fmt.Errorf("%w: endpoint must be an https URL (RFC 8030 section 8)", ErrBadSubscription)
	case u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("%w: endpoint %q is not an absolute https://host/path URL", ErrBadSubscription, endpoint)
	}
	return u.Scheme + "://" + u.Host, nil
}

// decodeKey decodes base64url, padded or not, and, as browsers and some
// libraries hand keys out in it, standard base64.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

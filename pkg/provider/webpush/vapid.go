package webpush

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"
)

// VAPID JWT lifetime: RFC 8292 section 2 allows exp at most 24 hours
// ahead. A JWT is minted for jwtLife and reused for every message to the
// same push service origin until less than jwtRenewBefore is left, so every
// JWT sent has at least an hour to run (clock skew) and at most 12 h.
const (
	jwtLife        = 12 * time.Hour
	jwtRenewBefore = time.Hour
	// maxCachedAudiences bounds an app's JWT cache: the push service
	// origins it talks to (a handful in practice: FCM, Mozilla, Apple,
	// Microsoft's regional hosts).
	maxCachedAudiences = 1024
)

// jwtHeader is base64url({"typ":"JWT","alg":"ES256"}).
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"ES256"}`))

// signer mints an app's VAPID Authorization header values, one per push
// service origin (the JWT's aud), cached until near expiry.
type signer struct {
	key        *ecdsa.PrivateKey
	privateRaw []byte
	k          string // base64url public key, the k= parameter
	subject    string

	mu    sync.Mutex
	cache map[string]cachedJWT // by audience
}

type cachedJWT struct {
	header string // "vapid t=..., k=..."
	exp    time.Time
}

func newSigner(keys vapidKeys, subject string) (*signer, error) {
	key, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), keys.privateRaw)
	if err != nil {
		return nil, err
	}
	return &signer{key: key, privateRaw: keys.privateRaw, k: keys.public, subject: subject, cache: map[string]cachedJWT{}}, nil
}

// authorization returns the Authorization header for a request to a push
// resource of origin audience (RFC 8292 section 3: "vapid t=<JWT>,
// k=<public key>").
func (s *signer) authorization(audience string, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.cache[audience]; ok && c.exp.Sub(now) > jwtRenewBefore {
		return c.header, nil
	}
	exp := now.Add(jwtLife).Truncate(time.Second)
	claims, err := json.Marshal(struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}{audience, exp.Unix(), s.subject})
	if err != nil {
		return "", err
	}
	input := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte // JWS ES256: r and s, 32 bytes each (RFC 7518 section 3.4)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	h := "vapid t=" + input + "." + base64.RawURLEncoding.EncodeToString(sig[:]) + ", k=" + s.k
	if len(s.cache) >= maxCachedAudiences {
		clear(s.cache)
	}
	s.cache[audience] = cachedJWT{header: h, exp: exp}
	return h, nil
}

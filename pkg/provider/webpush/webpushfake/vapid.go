package webpushfake

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// vapid is a VAPID authorization that passed verification.
type vapid struct {
	jwt      string
	key      []byte // k=, the 65-byte public key
	audience string
	subject  string
	expiry   time.Time
}

// authError is a rejected VAPID authorization: the status to answer
// (401 for a missing or bad JWT, 403 for a key the subscription is not
// bound to) and why.
type authError struct {
	status int
	reason string
}

// verifyVAPID checks an Authorization header per RFC 8292: the "vapid"
// scheme with t= (an ES256 JWT) and k= (the P-256 public key, base64url,
// section 3), the JWT signed by k, aud the push resource's origin, exp in
// the future and at most maxLife away (section 2), sub a mailto: or https:
// URI (section 2.1).
func verifyVAPID(header, origin string, now time.Time, maxLife time.Duration) (*vapid, *authError) {
	bad := func(format string, args ...any) *authError {
		return &authError{status: 401, reason: fmt.Sprintf(format, args...)}
	}
	scheme, params, ok := strings.Cut(header, " ")
	if header == "" {
		return nil, bad("missing Authorization")
	}
	if !ok || !strings.EqualFold(scheme, "vapid") {
		return nil, bad("authorization scheme %q, want vapid", scheme)
	}
	var t, k string
	for _, p := range strings.Split(params, ",") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(name) {
		case "t":
			t = value
		case "k":
			k = value
		}
	}
	if t == "" || k == "" {
		return nil, bad("vapid authorization needs t= and k=")
	}
	key, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k, "="))
	if err != nil {
		return nil, bad("k= is not base64url")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
	if err != nil {
		return nil, bad("k= is not an uncompressed P-256 point")
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return nil, bad("t= is not a compact JWT")
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil || hdr.Alg != "ES256" {
		return nil, bad("JWT header: want alg ES256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return nil, bad("JWT signature: want 64 bytes r||s")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return nil, bad("JWT signature does not verify with k=")
	}
	var claims struct {
		Aud string      `json:"aud"`
		Exp json.Number `json:"exp"`
		Sub string      `json:"sub"`
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, bad("JWT claims: %v", err)
	}
	if claims.Aud != origin {
		return nil, bad("JWT aud %q, want the push resource's origin %q", claims.Aud, origin)
	}
	exp, err := claims.Exp.Int64()
	if err != nil {
		return nil, bad("JWT exp %q is not a NumericDate", claims.Exp)
	}
	expiry := time.Unix(exp, 0)
	switch {
	case !expiry.After(now):
		return nil, bad("JWT expired at %s", expiry.UTC().Format(time.RFC3339))
	case expiry.After(now.Add(maxLife)):
		return nil, bad("JWT exp %s is more than %v ahead (RFC 8292 section 2)", expiry.UTC().Format(time.RFC3339), maxLife)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		return nil, bad("JWT sub %q: want a mailto: or https: URI", claims.Sub)
	}
	if strings.HasPrefix(claims.Sub, "mailto:mailto:") {
		return nil, bad("JWT sub %q names the mailto: scheme twice", claims.Sub)
	}
	return &vapid{jwt: t, key: key, audience: claims.Aud, subject: claims.Sub, expiry: expiry}, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	return nil
}

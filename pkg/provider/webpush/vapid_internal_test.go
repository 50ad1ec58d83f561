package webpush

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSignerCachesPerAudienceUntilNearExpiry(t *testing.T) {
	vk, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sg, err := newSigner(vapidKeys{public: base64.RawURLEncoding.EncodeToString(vk.PublicKey().Bytes()), privateRaw: vk.Bytes()}, "mailto:ops@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a1, _ := sg.authorization("https://fcm.googleapis.com", now)
	a2, _ := sg.authorization("https://fcm.googleapis.com", now.Add(10*time.Hour))
	if a1 != a2 {
		t.Fatal("a JWT with 2h left was not reused")
	}
	b1, _ := sg.authorization("https://updates.push.services.mozilla.com", now)
	if b1 == a1 {
		t.Fatal("two audiences share a JWT")
	}
	a3, _ := sg.authorization("https://fcm.googleapis.com", now.Add(11*time.Hour+time.Minute))
	if a3 == a1 {
		t.Fatal("a JWT with less than an hour left was reused")
	}
	claims := jwtClaims(t, a3)
	if claims["aud"] != "https://fcm.googleapis.com" || claims["sub"] != "mailto:ops@example.com" {
		t.Fatalf("claims %v", claims)
	}
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	if d := exp.Sub(now.Add(11*time.Hour + time.Minute)); d < 11*time.Hour || d > jwtLife {
		t.Fatalf("exp %v after signing, want about %v", d, jwtLife)
	}
	if !strings.HasSuffix(a3, ", k="+sg.k) || !strings.HasPrefix(a3, "vapid t=") {
		t.Fatalf("header %q, want vapid t=..., k=...", a3)
	}
}

func jwtClaims(t *testing.T, header string) map[string]any {
	t.Helper()
	tok := strings.TrimPrefix(strings.Split(header, ",")[0], "vapid t=")
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEncryptRejectsOversizedPayload(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	auth := make([]byte, 16)
	if _, err := encrypt(make([]byte, MaxPayload(DefaultRecordSize)), ua.PublicKey(), auth, DefaultRecordSize); err != nil {
		t.Fatalf("largest payload: %v", err)
	}
	if _, err := encrypt(make([]byte, MaxPayload(DefaultRecordSize)+1), ua.PublicKey(), auth, DefaultRecordSize); err == nil {
		t.Fatal("one byte over MaxPayload encrypted")
	}
	body, _ := encrypt([]byte("x"), ua.PublicKey(), auth, 3070)
	if len(body) != 3070 {
		t.Fatalf("body of %d bytes, want padded to the record size 3070", len(body))
	}
}

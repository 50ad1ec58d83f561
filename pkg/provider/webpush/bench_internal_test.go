package webpush

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func benchTarget(b *testing.B) (*target, *signer) {
	ua, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	vk, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	sg, err := newSigner(vapidKeys{public: "k", privateRaw: vk.Bytes()}, "mailto:ops@example.com")
	if err != nil {
		b.Fatal(err)
	}
	return &target{endpoint: "https://push.example/x", origin: "https://push.example", ua: ua.PublicKey(), auth: auth}, sg
}

var benchPayload, _ = json.Marshal(Payload{Title: "hello", Body: strings.Repeat("x", 200), Data: map[string]any{"k": "v"}})

// BenchmarkEncryptSignCached is this package's cost per message: RFC 8291
// encryption with crypto/ecdh (fresh ephemeral key, ECDH, HKDF, AES-GCM
// over the 4096-byte record) and the VAPID header from the per-(app,
// audience) cache.
func BenchmarkEncryptSignCached(b *testing.B) {
	t, sg := benchTarget(b)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encrypt(benchPayload, t.ua, t.auth, DefaultRecordSize); err != nil {
			b.Fatal(err)
		}
		if _, err := sg.authorization(t.origin, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptSignUncached signs a fresh JWT for every message, as
// webpush-go does, with this package's encryption.
func BenchmarkEncryptSignUncached(b *testing.B) {
	t, sg := benchTarget(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encrypt(benchPayload, t.ua, t.auth, DefaultRecordSize); err != nil {
			b.Fatal(err)
		}
		clear(sg.cache)
		if _, err := sg.authorization(t.origin, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncryptOnly is the RFC 8291 encryption alone.
func BenchmarkEncryptOnly(b *testing.B) {
	t, _ := benchTarget(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encrypt(benchPayload, t.ua, t.auth, DefaultRecordSize); err != nil {
			b.Fatal(err)
		}
	}
}

package webpush_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
)

func TestParseToken(t *testing.T) {
	ua, _ := ecdh.P256().GenerateKey(rand.Reader)
	pub := ua.PublicKey().Bytes()
	auth := make([]byte, 16)
	rand.Read(auth)
	p256 := base64.RawURLEncoding.EncodeToString(pub)
	a := base64.RawURLEncoding.EncodeToString(auth)
	canonical := `{"endpoint":"https://fcm.googleapis.com/fcm/send/abc:def","keys":{"p256dh":"` + p256 + `","auth":"` + a + `"}}`

	// What a browser's PushSubscription.toJSON() gives: expirationTime, keys
	// in another order, base64url with padding.
	browser := `{"endpoint":"https://fcm.googleapis.com/fcm/send/abc:def","expirationTime":null,"keys":{"auth":"` +
		base64.URLEncoding.EncodeToString(auth) + `","p256dh":"` + base64.URLEncoding.EncodeToString(pub) + `"}}`
	for name, tok := range map[string]string{"canonical": canonical, "browser": browser,
		"standard base64": strings.NewReplacer(p256, base64.StdEncoding.EncodeToString(pub)).Replace(canonical)} {
		got, err := webpush.Canonical(tok)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != canonical {
			t.Fatalf("%s: canonical\n%s\nwant\n%s", name, got, canonical)
		}
	}

	offCurve := make([]byte, 65)
	offCurve[0] = 4
	bad := map[string]string{
		"not JSON":      "0123abcd",
		"empty":         "",
		"http endpoint": strings.Replace(canonical, "https://", "http://", 1),
		"relative":      strings.Replace(canonical, "https://fcm.googleapis.com", "", 1),
		"userinfo":      strings.Replace(canonical, "https://", "https://u:p@", 1),
		"short auth":    strings.Replace(canonical, a, "AAAA", 1),
		"short p256dh":  strings.Replace(canonical, p256, p256[:40], 1),
		"off curve":     strings.Replace(canonical, p256, base64.RawURLEncoding.EncodeToString(offCurve), 1),
		"no keys":       `{"endpoint":"https://push.example/x"}`,
		"too long":      strings.Replace(canonical, "abc:def", strings.Repeat("a", webpush.MaxTokenBytes), 1),
	}
	for name, tok := range bad {
		if _, err := webpush.ParseToken(tok); !errors.Is(err, webpush.ErrBadSubscription) {
			t.Errorf("%s: err %v, want ErrBadSubscription", name, err)
		}
	}
}

func TestAppConfigValidate(t *testing.T) {
	k := newVAPID(t)
	good := k.app()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*webpush.AppConfig){
		"no public key":    func(a *webpush.AppConfig) { a.PublicKey = "" },
		"no private key":   func(a *webpush.AppConfig) { a.PrivateKey = "" },
		"both private":     func(a *webpush.AppConfig) { a.PrivateKeyFile = "/x" },
		"subject no URI":   func(a *webpush.AppConfig) { a.Subject = "ops@example.com" },
		"subject with gap": func(a *webpush.AppConfig) { a.Subject = "mailto:a b@example.com" },
	}
	for name, mutate := range cases {
		a := good
		mutate(&a)
		if err := a.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	other := newVAPID(t)
	mismatched := good
	mismatched.PublicKey = other.app().PublicKey
	if _, err := webpush.New(webpush.Config{}, map[string]webpush.AppConfig{"a": mismatched}); err == nil {
		t.Error("New accepted a public key that is not the private key's")
	}
	if _, err := webpush.New(webpush.Config{RecordSize: 64}, nil); err == nil {
		t.Error("New accepted RecordSize 64")
	}
}

package apns_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// newKey generates a .p8-style signing key: its PEM and public key.
func newKey(t testing.TB) (string, *ecdsa.PublicKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), &key.PublicKey
}

// keyApp registers a fresh signing key for topics (any topic if none) and
// returns an app using it.
func keyApp(t testing.TB, fk *apnsfake.Server, keyID, teamID, topic string, env apns.Environment, topics ...string) apns.AppConfig {
	t.Helper()
	pemKey, pub := newKey(t)
	fk.AddKey(keyID, teamID, pub, topics...)
	return apns.AppConfig{Topic: topic, Environment: env, KeyID: keyID, TeamID: teamID, Key: pemKey}
}

// TestJWTSharedByEveryConnection: many pushes over many connections, by
// three apps in both environments that share one key, show the fake one JWT.
func TestJWTSharedByEveryConnection(t *testing.T) {
	fk, err := apnsfake.Start(apnsfake.Options{MaxJWTsPerKey: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	base := keyApp(t, fk, "KEY1234567", "TEAM123456", "com.example.a", apns.Production)
	apps := map[string]apns.AppConfig{"a": base}
	b := base
	b.Topic, b.Environment = "com.example.b", apns.Sandbox
	apps["b"] = b
	c := base
	c.Topic = "com.example.c"
	apps["c"] = c
	cfg := fk.Config()
	cfg.ConnsPerPool, cfg.MaxStreamsPerConn = 4, 5
	cfg.Logger = testLogger()
	s, err := apns.New(cfg, apps)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fk.SetLatency(5 * time.Millisecond) // keep streams busy so every connection is used

	var wg sync.WaitGroup
	for i, app := range []string{"a", "b", "c", "a", "b", "c"} {
		wg.Go(func() {
			for _, r := range send(t, s, newJob(app, tokens(i*40, 40)...)) {
				if r.Kind != provider.Delivered {
					t.Errorf("%s: %v %s", app, r.Kind, r.Reason)
				}
			}
		})
	}
	wg.Wait()
	if n := fk.JWTs("KEY1234567"); n != 1 {
		t.Fatalf("fake saw %d distinct JWTs of the key, want 1", n)
	}
	// Two pools (production, sandbox) of four connections each.
	if n := fk.Connections(); n < 5 || n > 8 {
		t.Fatalf("fake accepted %d connections, want 5-8 (2 pools of 4)", n)
	}
}

// TestJWTRenewedOnExpiredProviderToken: the sender renews once on
// ExpiredProviderToken, the retry is delivered, and a second expired answer
// within the renewal interval does not mint again.
func TestJWTRenewedOnExpiredProviderToken(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, nil)
	kid := f.app.KeyID
	providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Delivered)

	f.fake.ExpireJWTs(kid)
	// Concurrent requests bearing the expired JWT: those answered before the
	// renewal are Retry, those sent after it carry the new JWT.
	batch := tokens(10, 30)
	var retry []string
	for _, r := range send(t, f.sender, newJob(testApp, batch...)) {
		switch {
		case r.Kind == provider.Retry && r.Reason == "ExpiredProviderToken":
			retry = append(retry, r.Token)
		case r.Kind != provider.Delivered:
			t.Fatalf("kind %v reason %q, want retry (ExpiredProviderToken) or delivered", r.Kind, r.Reason)
		}
	}
	if len(retry) == 0 {
		t.Fatal("no request was answered ExpiredProviderToken")
	}
	for _, r := range send(t, f.sender, newJob(testApp, retry...)) {
		providertest.WantKind(t, r, provider.Delivered)
	}
	if n := f.fake.JWTs(kid); n != 2 {
		t.Fatalf("%d JWTs seen after renewal, want 2 (renewed exactly once)", n)
	}

	// A fresh JWT called expired again (clock skew): no second mint within
	// 20 minutes; the app's credentials are reported instead.
	f.fake.ExpireJWTs(kid)
	for range 2 {
		r := send(t, f.sender, newJob(testApp, token(2)))[0]
		providertest.WantKind(t, r, provider.CredentialError)
		if !errors.Is(r.Err, provider.ErrCredentials) {
			t.Fatalf("err %v does not wrap ErrCredentials", r.Err)
		}
	}
	if n := f.fake.JWTs(kid); n != 2 {
		t.Fatalf("%d JWTs seen, want still 2: renewal must be rate-limited", n)
	}
}

// TestJWTRenewIntervalElapsed: once the renewal interval has passed, a new
// ExpiredProviderToken renews again.
func TestJWTRenewIntervalElapsed(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.JWTRenewInterval = time.Nanosecond })
	kid := f.app.KeyID
	providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Delivered)
	for range 3 {
		f.fake.ExpireJWTs(kid)
		providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Retry)
		providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Delivered)
	}
	if n := f.fake.JWTs(kid); n != 4 {
		t.Fatalf("%d JWTs seen, want 4 (first plus three renewals)", n)
	}
}

// TestTooManyProviderTokenUpdates: the fake's rotation limit answers 429
// TooManyProviderTokenUpdates, a credential error.
func TestTooManyProviderTokenUpdates(t *testing.T) {
	f := newFixture(t, apnsfake.Options{MaxJWTsPerKey: 1}, func(c *apns.Config) { c.JWTRenewInterval = time.Nanosecond })
	providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Delivered)
	f.fake.ExpireJWTs(f.app.KeyID)
	providertest.WantKind(t, send(t, f.sender, newJob(testApp, token(1)))[0], provider.Retry) // renewed
	r := send(t, f.sender, newJob(testApp, token(1)))[0]
	providertest.WantKind(t, r, provider.CredentialError)
	if r.Reason != "TooManyProviderTokenUpdates" {
		t.Fatalf("reason %q", r.Reason)
	}
}

// TestJWTValidation: the fake refuses JWTs it cannot trust, and the sender
// reports them as credential errors.
func TestJWTValidation(t *testing.T) {
	fk, err := apnsfake.Start(apnsfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fk.Close()
	good := keyApp(t, fk, "GOODKEY123", "TEAM123456", testTopic, apns.Sandbox, testTopic)
	wrongTeam := good
	wrongTeam.TeamID = "OTHERTEAM1"
	unknownKid := good
	unknownKid.KeyID = "UNKNOWN123"
	otherKey := good
	otherKey.Key, _ = newKey(t) // not the registered key: the signature fails
	otherTopic := good
	otherTopic.Topic = "com.example.other"
	cfg := fk.Config()
	s, err := apns.New(cfg, map[string]apns.AppConfig{
		"good": good, "team": wrongTeam, "kid": unknownKid, "sig": otherKey, "topic": otherTopic,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for app, want := range map[string]string{
		"team": "InvalidProviderToken", "kid": "InvalidProviderToken", "sig": "InvalidProviderToken",
	} {
		r := send(t, s, newJob(app, token(1)))[0]
		providertest.WantKind(t, r, provider.CredentialError)
		if r.Reason != want {
			t.Errorf("%s: reason %q, want %q", app, r.Reason, want)
		}
	}
	r := send(t, s, newJob("topic", token(1)))[0]
	providertest.WantKind(t, r, provider.Permanent)
	if r.Reason != "TopicDisallowed" {
		t.Errorf("topic: reason %q, want TopicDisallowed", r.Reason)
	}
	providertest.WantKind(t, send(t, s, newJob("good", token(1)))[0], provider.Delivered)
}

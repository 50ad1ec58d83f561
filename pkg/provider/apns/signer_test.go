package apns

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"
)

func TestSignerRenewExpired(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s := newSigner(&credential{key: key, keyID: "K", teamID: "T"}, 20*time.Minute)
	first := s.tok.GenerateIfExpired()
	now := time.Now()
	if got := s.renewExpired("bearer "+first, now); got != renewed {
		t.Fatalf("first expiry: %v, want renewed", got)
	}
	second := s.tok.GenerateIfExpired()
	if second == first {
		t.Fatal("renewal kept the JWT")
	}
	if got := s.renewExpired("bearer "+first, now); got != superseded {
		t.Fatalf("late answer for the old JWT: %v, want superseded", got)
	}
	if got := s.renewExpired("bearer "+second, now.Add(19*time.Minute)); got != refused {
		t.Fatalf("second expiry within 20m: %v, want refused", got)
	}
	if got := s.renewExpired("bearer "+second, now.Add(21*time.Minute)); got != renewed {
		t.Fatalf("expiry after 20m: %v, want renewed", got)
	}
}

package apnsfake

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"

	"github.com/pushfleet/pushfleet/pkg/provider/apns"
)

// SandboxApp generates a signing key with fresh 10-character key and team
// ids, registers it for topic and returns the app's configuration (inline
// .p8 PEM, environment sandbox). Use it with Config() so the sender reaches
// the fake without any file.
func (s *Server) SandboxApp(topic string) (apns.AppConfig, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return apns.AppConfig{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return apns.AppConfig{}, err
	}
	keyID, teamID := randomID(), randomID()
	s.AddKey(keyID, teamID, &key.PublicKey, topic)
	return apns.AppConfig{
		Topic:       topic,
		Environment: apns.Sandbox,
		Key:         string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		KeyID:       keyID,
		TeamID:      teamID,
	}, nil
}

// SandboxCertApp issues a client certificate for topic from the fake's own
// CA and returns the app's configuration (inline PEM certificate and key,
// environment sandbox), for certificate auth.
func (s *Server) SandboxCertApp(topic string) (apns.AppConfig, error) {
	certPEM, keyPEM, err := s.clientCA.clientCertPEM(topic)
	if err != nil {
		return apns.AppConfig{}, err
	}
	return apns.AppConfig{Topic: topic, Environment: apns.Sandbox, Cert: string(certPEM), Key: string(keyPEM)}, nil
}

// randomID is 10 random characters of A-Z and 0-9, the shape of Apple's
// key and team ids.
func randomID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

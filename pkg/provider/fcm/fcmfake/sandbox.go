package fcmfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
)

// ServiceAccount is a generated service account key, as the Google Cloud
// console downloads it.
type ServiceAccount struct {
	Email string
	KeyID string
	// JSON is the key file, with token_uri pointing at the fake.
	JSON []byte
}

// SandboxApp registers projectID and returns an fcm.AppConfig for it with a
// freshly generated service account named after app, so a sender configured
// with SenderConfig can send to the fake without any files.
func (s *Server) SandboxApp(app, projectID string) (fcm.AppConfig, error) {
	s.AddProject(projectID)
	sa, err := s.NewServiceAccount(app, projectID)
	if err != nil {
		return fcm.AppConfig{}, err
	}
	return fcm.AppConfig{ProjectID: projectID, CredentialsJSON: string(sa.JSON)}, nil
}

// NewServiceAccount generates an RSA key for the service account name of
// projectID and registers its public half. Calling it again for the same
// name adds a key (a rotation); RevokeKey retires one.
func (s *Server) NewServiceAccount(name, projectID string) (ServiceAccount, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("fcmfake: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return ServiceAccount{}, fmt.Errorf("fcmfake: encode key: %w", err)
	}
	kid, err := randomHex(20)
	if err != nil {
		return ServiceAccount{}, err
	}
	email := fmt.Sprintf("%s@%s.iam.gserviceaccount.com", accountName(name), projectID)
	b, err := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  projectID,
		"private_key_id":              kid,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                email,
		"client_id":                   "1000000000000000000" + kid[:2],
		"auth_uri":                    s.URL() + "/o/oauth2/auth",
		"token_uri":                   s.TokenURL(),
		"auth_provider_x509_cert_url": s.URL() + "/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	if err != nil {
		return ServiceAccount{}, err
	}
	s.mu.Lock()
	acct := s.accounts[email]
	if acct == nil {
		acct = &account{email: email, projectID: projectID, keys: map[string]*rsa.PublicKey{}}
		s.accounts[email] = acct
	}
	acct.keys[kid] = &key.PublicKey
	s.mu.Unlock()
	return ServiceAccount{Email: email, KeyID: kid, JSON: b}, nil
}

// RevokeKey retires a service account key: token requests signed with it
// answer 400 invalid_grant. Access tokens already issued stay valid.
func (s *Server) RevokeKey(email, keyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if acct := s.accounts[email]; acct != nil {
		delete(acct.keys, keyID)
	}
}

// accountName turns an app name into a valid service account id.
func accountName(app string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(app) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "pushfleet"
	}
	return b.String()
}

package fcm

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
)

// defaultTokenURI is Google's OAuth token endpoint, used when a service
// account file has no token_uri.
const defaultTokenURI = "https://oauth2.googleapis.com/token"

// AppConfig is one app's FCM project and service account. The service
// account key is given inline (CredentialsJSON) or as a file path
// (CredentialsFile), exactly one of them; a file is read by New and
// UpdateApps, so rotating the file and reloading rotates the key.
type AppConfig struct {
	// ProjectID is the Firebase project the app's registration tokens belong to.
	ProjectID string `json:"project_id"`
	// CredentialsJSON is the service account key file's content.
	CredentialsJSON string `json:"credentials_json,omitempty"`
	// CredentialsFile is the path of the service account key file.
	CredentialsFile string `json:"credentials_file,omitempty"`
	// RatePerMinute overrides Config.RatePerMinute for this app's project
	// (apps sharing a project share its limit; the smallest setting wins).
	RatePerMinute int `json:"rate_per_minute,omitempty"`
}

// Validate checks the fields and the service account key, reading
// CredentialsFile. Errors name the offending field.
func (a AppConfig) Validate() error {
	if _, err := a.load(); err != nil {
		return fmt.Errorf("fcm: %w", err)
	}
	return nil
}

// serviceAccount is what the sender needs of a service account key file.
type serviceAccount struct {
	raw      []byte
	email    string
	keyID    string
	tokenURI string
}

// load validates a and parses its service account key.
func (a AppConfig) load() (*serviceAccount, error) {
	switch {
	case a.ProjectID == "":
		return nil, errors.New("project_id is required")
	case strings.ContainsAny(a.ProjectID, "/?#% \t\r\n"):
		return nil, fmt.Errorf("project_id %q is not a project id", a.ProjectID)
	case a.CredentialsJSON == "" && a.CredentialsFile == "":
		return nil, errors.New("credentials_json or credentials_file is required")
	case a.CredentialsJSON != "" && a.CredentialsFile != "":
		return nil, errors.New("set only one of credentials_json and credentials_file")
	case a.RatePerMinute < 0:
		return nil, errors.New("rate_per_minute must not be negative")
	}
	field, raw := "credentials_json", []byte(a.CredentialsJSON)
	if a.CredentialsFile != "" {
		field = "credentials_file"
		b, err := os.ReadFile(a.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("credentials_file: %w", err)
		}
		raw = b
	}
	sa, err := parseServiceAccount(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", field, err)
	}
	return sa, nil
}

// parseServiceAccount checks a service account key file the way
// golang.org/x/oauth2/google will use it, so a bad key fails at load time.
func parseServiceAccount(raw []byte) (*serviceAccount, error) {
	var f struct {
		Type         string `json:"type"`
		PrivateKeyID string `json:"private_key_id"`
		PrivateKey   string `json:"private_key"`
		ClientEmail  string `json:"client_email"`
		TokenURI     string `json:"token_uri"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("not a service account key file: %v", err)
	}
	switch {
	case f.Type != "service_account":
		return nil, fmt.Errorf("type is %q, want \"service_account\"", f.Type)
	case f.ClientEmail == "":
		return nil, errors.New("client_email is required")
	case f.PrivateKey == "":
		return nil, errors.New("private_key is required")
	}
	if err := checkRSAKey(f.PrivateKey); err != nil {
		return nil, fmt.Errorf("private_key: %w", err)
	}
	if f.TokenURI == "" {
		f.TokenURI = defaultTokenURI
	}
	if u, err := url.Parse(f.TokenURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("token_uri %q must be an absolute http(s) URL", f.TokenURI)
	}
	return &serviceAccount{raw: raw, email: f.ClientEmail, keyID: f.PrivateKeyID, tokenURI: f.TokenURI}, nil
}

// checkRSAKey accepts PKCS#8 and PKCS#1 RSA keys in PEM, as oauth2 does.
func checkRSAKey(p string) error {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return errors.New("not PEM encoded")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return errors.New("not an RSA key")
		}
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return errors.New("not a PKCS#8 or PKCS#1 RSA key")
	}
	return nil
}

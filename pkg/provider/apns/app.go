package apns

import (
	"errors"
	"fmt"
	"strings"
)

// Environment selects the APNs endpoint an app's device tokens belong to.
type Environment string

// The two APNs environments. A token from one is BadDeviceToken in the other.
const (
	Production Environment = "production"
	Sandbox    Environment = "sandbox"
)

// AppConfig is one app's APNs settings.
//
// Token auth (recommended) sets Key or KeyFile (the .p8 PKCS#8 PEM), KeyID
// and TeamID. Certificate auth sets either P12File (the .p12 exported from
// Keychain Access or made by OpenSSL, legacy or AES-encrypted) with its
// password, or Cert or CertFile (PEM certificate chain) and Key or KeyFile
// (its PEM private key; may be omitted when the certificate PEM also holds
// the key).
type AppConfig struct {
	// Topic is the app's bundle id; push-type suffixes (.voip, ...) are
	// added by the sender.
	Topic string `json:"topic"`
	// Environment is "production" or "sandbox". It is required: a wrong
	// guess makes APNs call every token BadDeviceToken.
	Environment Environment `json:"environment"`

	// Key is inline PEM key material; KeyFile a path to it. Set at most one.
	Key     string `json:"key,omitempty"`
	KeyFile string `json:"key_file,omitempty"`
	// KeyID (10 characters) and TeamID (10 characters) name the .p8 key.
	KeyID  string `json:"key_id,omitempty"`
	TeamID string `json:"team_id,omitempty"`

	// Cert is an inline PEM client certificate; CertFile a path to it.
	Cert     string `json:"cert,omitempty"`
	CertFile string `json:"cert_file,omitempty"`

	// P12File is a PKCS#12 (.p12) file holding the client certificate and
	// its key; P12Password or P12PasswordFile (set at most one) unlock it.
	P12File         string `json:"p12_file,omitempty"`
	P12Password     string `json:"p12_password,omitempty"`
	P12PasswordFile string `json:"p12_password_file,omitempty"`
}

// usesCert reports whether the app authenticates with a client certificate.
func (a AppConfig) usesCert() bool { return a.Cert != "" || a.CertFile != "" || a.P12File != "" }

// Validate checks the fields without reading files; the first problem is
// returned, naming the field.
func (a AppConfig) Validate() error {
	switch {
	case a.Topic == "":
		return errors.New("topic: is required (the app's bundle id)")
	case strings.ContainsAny(a.Topic, " \t\r\n/"):
		return fmt.Errorf("topic: %q must not contain spaces or slashes", a.Topic)
	}
	switch a.Environment {
	case Production, Sandbox:
	case "":
		return errors.New("environment: is required (production or sandbox)")
	default:
		return fmt.Errorf("environment: want production or sandbox, got %q", a.Environment)
	}
	if a.Key != "" && a.KeyFile != "" {
		return errors.New("key, key_file: set only one")
	}
	if a.Cert != "" && a.CertFile != "" {
		return errors.New("cert, cert_file: set only one")
	}
	if a.P12Password != "" && a.P12PasswordFile != "" {
		return errors.New("p12_password, p12_password_file: set only one")
	}
	if a.P12File == "" && (a.P12Password != "" || a.P12PasswordFile != "") {
		return errors.New("p12_password: only with p12_file")
	}
	if a.P12File != "" && (a.Cert != "" || a.CertFile != "" || a.Key != "" || a.KeyFile != "") {
		return errors.New("p12_file: holds the certificate and its key; set no cert, cert_file, key or key_file with it")
	}
	if a.usesCert() {
		if a.KeyID != "" || a.TeamID != "" {
			return errors.New("key_id, team_id: only for token auth, not with cert or cert_file")
		}
		return nil
	}
	switch {
	case a.Key == "" && a.KeyFile == "":
		return errors.New("key or key_file: is required (the .p8 signing key), or set cert_file for certificate auth")
	case a.KeyID == "":
		return errors.New("key_id: is required with a signing key")
	case a.TeamID == "":
		return errors.New("team_id: is required with a signing key")
	case !isIdentifier(a.KeyID):
		return fmt.Errorf("key_id: %q must be letters and digits", a.KeyID)
	case !isIdentifier(a.TeamID):
		return fmt.Errorf("team_id: %q must be letters and digits", a.TeamID)
	}
	return nil
}

// isIdentifier reports whether s is non-empty ASCII letters and digits, the
// shape of Apple's key and team ids.
func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

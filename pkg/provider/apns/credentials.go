package apns

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"software.sslmate.com/src/go-pkcs12"
)

// credential is an app's loaded authentication material. Apps with equal
// ids share connections (and, for token auth, one JWT).
type credential struct {
	// id identifies the material without revealing it: the key/team ids and a
	// hash of the key, or a hash of the certificate and key.
	id string
	// Token auth.
	teamID, keyID string
	key           *ecdsa.PrivateKey
	// Certificate auth.
	cert *tls.Certificate
}

// label is a short loggable name of the credential.
func (c *credential) label() string {
	if c.cert != nil {
		return "cert:" + c.id[len(c.id)-12:]
	}
	return "key:" + c.teamID + "/" + c.keyID
}

// loadCredential reads and parses a's key or certificate. a must be valid.
func loadCredential(a AppConfig) (*credential, error) {
	keyPEM, err := material(a.Key, a.KeyFile, "key_file")
	if err != nil {
		return nil, err
	}
	if a.usesCert() {
		return loadCert(a, keyPEM)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, errors.New(keyField(a) + ": not a PEM .p8 key")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PKCS#8 key: %v", keyField(a), err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New(keyField(a) + ": not an ECDSA (ES256) key")
	}
	sum := sha256.Sum256(block.Bytes)
	return &credential{
		id:     "token/" + a.TeamID + "/" + a.KeyID + "/" + hex.EncodeToString(sum[:8]),
		teamID: a.TeamID, keyID: a.KeyID, key: key,
	}, nil
}

func loadCert(a AppConfig, keyPEM []byte) (*credential, error) {
	if a.P12File != "" {
		return loadP12(a)
	}
	certPEM, err := material(a.Cert, a.CertFile, "cert_file")
	if err != nil {
		return nil, err
	}
	if len(keyPEM) == 0 {
		keyPEM = certPEM // a combined PEM holds both
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("cert: cannot load the certificate and key pair: %v", err)
	}
	return certCredential(pair, keyPEM), nil
}

// certCredential names a certificate credential by a hash of its chain and
// of its key's encoding, so that equal material shares connections.
func certCredential(pair tls.Certificate, key []byte) *credential {
	h := sha256.New()
	for _, der := range pair.Certificate {
		h.Write(der)
	}
	h.Write(key)
	return &credential{id: "cert/" + hex.EncodeToString(h.Sum(nil)[:8]), cert: &pair}
}

// loadP12 reads a's PKCS#12 file: the certificate, its key and the chain.
func loadP12(a AppConfig) (*credential, error) {
	data, err := os.ReadFile(a.P12File)
	if err != nil {
		return nil, fmt.Errorf("p12_file: %w", err)
	}
	password := a.P12Password
	if a.P12PasswordFile != "" {
		b, err := os.ReadFile(a.P12PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("p12_password_file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n") // as written by echo
	}
	key, leaf, chain, err := pkcs12.DecodeChain(data, password)
	if errors.Is(err, pkcs12.ErrIncorrectPassword) {
		return nil, errors.New("p12_file: wrong password (p12_password or p12_password_file)")
	}
	if err != nil {
		return nil, fmt.Errorf("p12_file: not a readable PKCS#12 certificate and key: %v", err)
	}
	pair := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("p12_file: unusable private key: %v", err)
	}
	return certCredential(pair, der), nil
}

// material returns inline PEM, or the file's contents.
func material(inline, file, fileField string) ([]byte, error) {
	if inline != "" {
		return []byte(inline), nil
	}
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fileField, err)
	}
	return b, nil
}

func keyField(a AppConfig) string {
	if a.KeyFile != "" {
		return "key_file"
	}
	return "key"
}

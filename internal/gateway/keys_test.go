package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/natstest"
)

func TestParseKeys(t *testing.T) {
	h := gateway.HashKey("k")
	cases := []struct {
		name, file, err string
	}{
		{"ok yaml", "keys:\n  - {name: a, sha256: " + h + ", apps: [shop, demo], rate: 5, burst: 10}\n", ""},
		{"ok json", `{"keys":[{"name":"a","sha256":"` + strings.ToUpper(h) + `","apps":["*"]}]}`, ""},
		{"no keys", "keys: []\n", ""},
		{"plain key instead of hash", "keys:\n  - {name: a, sha256: my-secret, apps: [shop]}\n", "64 hex digits"},
		{"no name", "keys:\n  - {sha256: " + h + ", apps: [shop]}\n", "name is required"},
		{"no apps", "keys:\n  - {name: a, sha256: " + h + "}\n", "apps is required"},
		{"bad app", "keys:\n  - {name: a, sha256: " + h + ", apps: [shop.eu]}\n", "app \"shop.eu\""},
		{"same name", "keys:\n  - {name: a, sha256: " + h + ", apps: [shop]}\n  - {name: a, sha256: " + gateway.HashKey("other") + ", apps: [shop]}\n", "name used twice"},
		{"same hash", "keys:\n  - {name: a, sha256: " + h + ", apps: [shop]}\n  - {name: b, sha256: " + h + ", apps: [shop]}\n", "listed twice"},
		{"typo", "keys:\n  - {name: a, sha256: " + h + ", apps: [shop], rat: 5}\n", "unknown field"},
		{"negative rate", "keys:\n  - {name: a, sha256: " + h + ", apps: [shop], rate: -1}\n", "negative"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gateway.ParseKeys([]byte(tc.file))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestKeysLookupAndLimiterKeptOnReload(t *testing.T) {
	ks := gateway.NewKeys(1, 1)
	f, err := gateway.ParseKeys([]byte("keys:\n  - {name: a, sha256: " + gateway.HashKey("secret") + ", apps: [shop]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ks.Apply(f)
	k, ok := ks.Lookup("secret")
	if !ok || k.Name != "a" || !k.Allows("shop") || k.Allows("demo") {
		t.Fatalf("lookup: %+v %v", k, ok)
	}
	if _, ok := ks.Lookup("Secret"); ok {
		t.Fatal("a different key matched")
	}
}

// A reload keeps the bucket of an unchanged key: rotating another key
// never refills it.
func TestRateLimitSurvivesReload(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do("POST", "/v1/intents", keyLimited, intent("s1", "shop")); r.status != 200 {
		t.Fatalf("first: %d", r.status)
	}
	const added = "added-key-5566778899aabbccddeeff0011223344"
	writeFile(t, h.keysPath, defaultKeys()+keyEntry("added", added, "[shop]", ""))
	natstest.Eventually(t, 5*time.Second, func() bool {
		return h.do("POST", "/v1/intents", added, intent("s2", "shop")).status == 200
	}, "added key accepted")
	if r := h.do("POST", "/v1/intents", keyLimited, intent("s3", "shop")); r.status != 429 {
		t.Fatalf("limited key after a reload: %d, want 429 (bucket refilled by the reload?)", r.status)
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1.
func writeCert(t *testing.T, dir, cn string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:        true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir, "gateway-test")
	h := newHarness(t, func(c *gateway.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(h.url, "https://") {
		t.Fatalf("url %s", h.url)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get(h.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https /healthz: %d", resp.StatusCode)
	}
	// Plain HTTP on the TLS port fails.
	if resp, err := http.Get(strings.Replace(h.url, "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
	// A mismatched --tls-cert/--tls-key refuses to start.
	if err := (gateway.Config{Addr: ":0", KeysFile: "k", TLSCert: certFile}).Validate(); err == nil {
		t.Fatal("cert without key accepted")
	}
}

package securitytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
)

// Services reach NATS over mutual TLS with --nats-ca, --nats-cert and
// --nats-key (config.Common.NATSOptions), the apns-sender authenticating
// with an nkey seed file (--nats-nkey) and keeping its permissions from the
// shipped configuration, the others with their passwords. Clients without a
// certificate the server's CA issued, without TLS, or with an unknown nkey
// are refused.
func TestMutualTLSAndNKey(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t, dir)
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	seedFile := filepath.Join(dir, "apns-sender.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	var apnsPerms *server.Permissions
	as := startAuthServer(t, func(o *server.Options) {
		tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
			CertFile: pki.file("server.crt"), KeyFile: pki.file("server.key"), CaFile: pki.file("ca.crt"), Verify: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		o.TLSConfig, o.TLS, o.TLSVerify, o.TLSTimeout = tc, true, true, 2
		// apns-sender by nkey, with the permissions and account of its user.
		i := slices.IndexFunc(o.Users, func(u *server.User) bool { return u.Username == "apns-sender" })
		u := o.Users[i]
		apnsPerms = u.Permissions
		o.Users = slices.Delete(o.Users, i, i+1)
		o.Nkeys = append(o.Nkeys, &server.NkeyUser{Nkey: pub, Permissions: u.Permissions, Account: u.Account})
	})
	url := as.url()
	if !strings.HasPrefix(url, "tls://") || apnsPerms == nil {
		t.Fatalf("server not configured for TLS with the apns-sender nkey: %s", url)
	}
	tlsEnv := map[string]string{
		"PUSHFLEET_NATS_CA": pki.file("ca.crt"), "PUSHFLEET_NATS_CERT": pki.file("client.crt"), "PUSHFLEET_NATS_KEY": pki.file("client.key"),
	}

	// connect dials as config.Common c would, failing at once rather than
	// retrying as the services do.
	connect := func(c config.Common) error {
		opts, err := c.NATSOptions("probe", slog.New(slog.DiscardHandler))
		if err != nil {
			return err
		}
		nc, err := nats.Connect(c.NATSURL, append(opts, nats.Timeout(2*time.Second), nats.NoReconnect())...)
		if err == nil {
			nc.Close()
		}
		return err
	}
	good := config.Common{NATSURL: url, NATSCA: pki.file("ca.crt"), NATSCert: pki.file("client.crt"), NATSKey: pki.file("client.key"),
		NATSUser: "admin", NATSPassword: as.passwords["admin"]}
	if err := connect(good); err != nil {
		t.Fatalf("admin over mutual TLS: %v", err)
	}
	refused := []struct {
		name string
		edit func(c *config.Common)
	}{
		{"no client certificate", func(c *config.Common) { c.NATSCert, c.NATSKey = "", "" }},
		{"client certificate of another CA", func(c *config.Common) {
			c.NATSCert, c.NATSKey = pki.file("rogue-client.crt"), pki.file("rogue-client.key")
		}},
		{"no TLS", func(c *config.Common) {
			c.NATSURL = strings.Replace(url, "tls://", "nats://", 1)
			c.NATSCA, c.NATSCert, c.NATSKey = "", "", ""
		}},
		{"server not trusted", func(c *config.Common) { c.NATSCA = pki.file("rogue-ca.crt") }},
		{"wrong password", func(c *config.Common) { c.NATSPassword = "not-it" }},
		{"unknown nkey", func(c *config.Common) {
			other, _ := nkeys.CreateUser()
			s, _ := other.Seed()
			path := filepath.Join(dir, "other.nk")
			_ = os.WriteFile(path, s, 0o600)
			c.NATSUser, c.NATSPassword, c.NATSNKey = "", "", path
		}},
	}
	for _, r := range refused {
		c := good
		r.edit(&c)
		if err := connect(c); err == nil {
			t.Errorf("%s: connected", r.name)
		} else {
			t.Logf("%s: refused: %v", r.name, err)
		}
	}

	// The fleet over mutual TLS, delivering end to end.
	withTLS := func(c *config.Common) {
		c.NATSCA, c.NATSCert, c.NATSKey = pki.file("ca.crt"), pki.file("client.crt"), pki.file("client.key")
	}
	admin := as.connect(t, "admin", withTLS)
	provisionAsAdmin(t, admin.js)
	fakes := sandboxtest.Start(t)
	fr := startFleet(t, url, fakes, func(service string) map[string]string {
		env := map[string]string{}
		for k, v := range tlsEnv {
			env[k] = v
		}
		if service == "apns-sender" {
			env["PUSHFLEET_NATS_NKEY"] = seedFile
		} else {
			env["PUSHFLEET_NATS_USER"], env["PUSHFLEET_NATS_PASSWORD"] = service, as.passwords[service]
		}
		return env
	})
	waitBound(t, fr, admin.js)
	producer := as.connect(t, "producer", withTLS)
	registry := as.connect(t, "registry-demo", withTLS)
	deliverEverywhere(t, producer.js, admin.js, registry.nc, fakes, fr)
	time.Sleep(300 * time.Millisecond)
	if v := as.log.violations(); len(v) > 0 {
		t.Errorf("permissions violations over TLS:\n%s", strings.Join(v, "\n"))
	}
	if logs := fr.allLogs(); strings.Contains(logs, string(seed)) {
		t.Error("the nkey seed appears in the logs")
	}
	// The nkey user is confined like the password user it replaces.
	apns := as.connect(t, "apns-sender", withTLS, func(c *config.Common) { c.NATSUser, c.NATSPassword, c.NATSNKey = "", "", seedFile })
	apns.deniedSub(t, "push.send.fcm.>")
	apns.deniedSub(t, "_INBOX_gcm-sender.>")
}

// pki is a test CA with a server certificate for 127.0.0.1 and a client
// certificate, plus a rogue CA with its own client certificate, as PEM files.
type pki struct{ dir string }

func (p pki) file(name string) string { return filepath.Join(p.dir, name) }

func newPKI(t *testing.T, dir string) pki {
	t.Helper()
	p := pki{dir: dir}
	ca, caKey := p.issue(t, "ca", &x509.Certificate{Subject: pkix.Name{CommonName: "pushfleet test CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}, nil, nil)
	p.issue(t, "server", &x509.Certificate{Subject: pkix.Name{CommonName: "nats"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	p.issue(t, "client", &x509.Certificate{Subject: pkix.Name{CommonName: "pushfleet-service"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	rogue, rogueKey := p.issue(t, "rogue-ca", &x509.Certificate{Subject: pkix.Name{CommonName: "rogue CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}, nil, nil)
	p.issue(t, "rogue-client", &x509.Certificate{Subject: pkix.Name{CommonName: "pushfleet-service"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, rogue, rogueKey)
	return p
}

// issue signs tmpl with parent (self-signed when nil) and writes
// <name>.crt and <name>.key.
func (p pki) issue(t *testing.T, name string, tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.file(name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.file(name+".key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

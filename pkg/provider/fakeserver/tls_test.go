package fakeserver

import (
	"crypto/x509"
	"testing"
)

func TestSelfSignedVerifiesForLoopback(t *testing.T) {
	cert, pool, err := SelfSigned("testfake")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := cert.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: pool}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	other, _, err := SelfSigned("testfake")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: pool}); err == nil {
		t.Error("a second certificate verifies against the first one's pool: keys are shared")
	}
}

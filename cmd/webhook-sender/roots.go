package main

import "crypto/x509"

// systemRoots is the system's CA pool, or an empty one where there is none.
func systemRoots() *x509.CertPool {
	if pool, err := x509.SystemCertPool(); err == nil {
		return pool
	}
	return x509.NewCertPool()
}

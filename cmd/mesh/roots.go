package main

import (
	"crypto/x509"
	"os"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The container image is FROM scratch: no /etc/ssl. There the TLS clients
// (HTTPS webhooks, peers and targets) verify against the roots Mesh carries
// (golang.org/x/crypto/x509roots/fallback's bundle), registered as Go's
// fallback. Only there: importing the fallback package parsed every root at
// start, 1.5 MB of heap on each node, though a node on a host with a CA
// bundle never reads them, and Go loads the system's own at its first TLS
// handshake, if it ever makes one.
func useFallbackRootsIfNoneInstalled(getenv func(string) string) {
	if !rootsInstalled(getenv, linuxRootFiles, linuxRootDirs) {
		pool, _ := bundledRoots()
		x509.SetFallbackRoots(pool)
	}
}

// bundledRoots parses the roots Mesh carries, and says how many it took.
func bundledRoots() (*x509.CertPool, int) {
	pool, n := x509.NewCertPool(), 0
	for c := range bundle.Roots() {
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil {
			continue // the bundle is tested upstream; a bad root costs only itself
		}
		if c.Constraint == nil {
			pool.AddCert(cert)
		} else {
			pool.AddCertWithConstraint(cert, c.Constraint)
		}
		n++
	}
	return pool, n
}

// The bundles and directories crypto/x509 reads on Linux (root_linux.go).
var (
	linuxRootFiles = []string{
		"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem",
		"/etc/pki/tls/cacert.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
		"/etc/ssl/cert.pem",
	}
	linuxRootDirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}
)

// rootsInstalled reports whether Go will find roots of the system's:
// SSL_CERT_FILE or SSL_CERT_DIR set, or one of files or dirs present and
// not empty.
func rootsInstalled(getenv func(string) string, files, dirs []string) bool {
	if getenv("SSL_CERT_FILE") != "" || getenv("SSL_CERT_DIR") != "" {
		return true
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 0 {
			return true
		}
	}
	for _, d := range dirs {
		if entries, err := os.ReadDir(d); err == nil && len(entries) > 0 {
			return true
		}
	}
	return false
}

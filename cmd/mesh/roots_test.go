package main

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The fallback roots are for a system without any (the FROM scratch
// image): a CA bundle, a directory of certificates or SSL_CERT_FILE /
// SSL_CERT_DIR each mean the system has its own.
func TestTheBundledRootsAreForASystemWithoutAny(t *testing.T) {
	dir := t.TempDir()
	empty, full, certs := filepath.Join(dir, "empty.crt"), filepath.Join(dir, "ca.crt"), filepath.Join(dir, "certs")
	_ = os.WriteFile(empty, nil, 0o644)
	_ = os.WriteFile(full, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	_ = os.Mkdir(certs, 0o755)
	none := func(string) string { return "" }
	cases := []struct {
		name   string
		getenv func(string) string
		files  []string
		dirs   []string
		want   bool
	}{
		{"nothing there", none, []string{filepath.Join(dir, "missing.crt"), empty}, []string{certs, filepath.Join(dir, "missing")}, false},
		{"a bundle", none, []string{empty, full}, nil, true},
		{"a directory with a certificate", none, nil, []string{dir}, true},
		{"SSL_CERT_FILE", func(k string) string { return map[string]string{"SSL_CERT_FILE": full}[k] }, nil, nil, true},
		{"SSL_CERT_DIR", func(k string) string { return map[string]string{"SSL_CERT_DIR": dir}[k] }, nil, nil, true},
	}
	for _, c := range cases {
		if got := rootsInstalled(c.getenv, c.files, c.dirs); got != c.want {
			t.Errorf("%s: roots installed %v, want %v", c.name, got, c.want)
		}
	}
	want := 0
	for range bundle.Roots() {
		want++
	}
	if _, n := bundledRoots(); n != want || n < 100 {
		t.Fatalf("took %d of the bundle's %d roots", n, want)
	}
}

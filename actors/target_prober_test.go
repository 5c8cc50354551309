package actors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// probeTarget makes one probe of the TARGETS entry raw, trusting tlsServer's
// certificate when one is given, and returns its result.
func probeTarget(t *testing.T, raw string, tlsServer *httptest.Server) domain.ProbeResult {
	t.Helper()
	target, err := config.ParseTarget(raw)
	if err != nil {
		t.Fatal(err)
	}
	client := newHTTPClient(forTargets, 2*time.Second, nil)
	if tlsServer != nil {
		client.Transport.(*http.Transport).TLSClientConfig = tlsServer.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	}
	rec := &recorder{}
	p := NewTargetProber(TargetProberConfig{Target: target, Timeout: 2 * time.Second, Client: client, Dial: dialer(2*time.Second, nil),
		UserAgent: "mesh/test", Owner: rec, Log: zerolog.Nop()})
	p.run(context.Background())
	if rs := rec.all(); len(rs) == 1 {
		return rs[0]
	}
	t.Fatalf("%s: no result", raw)
	return domain.ProbeResult{}
}

func TestAnHTTPTargetIsUpOnA2xxOrWhatItAsksFor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "all systems go")
		case "/created":
			w.WriteHeader(http.StatusCreated)
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "broken", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		entry string
		up    bool
		why   string
	}{
		{"/ok", true, ""},
		{"/created", true, ""},
		{"/broken", false, "answered 503 Service Unavailable"},
		{"/ok#status=204", false, "answered 200 OK, not 204"},
		{"/empty#status=204", true, ""},
		{"/broken#status=503", true, ""},
		{"/ok#body=systems%20go", true, ""},
		{"/ok#body=maintenance", false, `without "maintenance" in the first 64 KiB`},
		{"/ok#status=200&body=go", true, ""},
	} {
		r := probeTarget(t, srv.URL+tc.entry, nil)
		if r.OK != tc.up || (!tc.up && !strings.Contains(r.Err.Error(), tc.why)) {
			t.Errorf("%s: up %v (%v), want up %v (%s)", tc.entry, r.OK, r.Err, tc.up, tc.why)
		}
		if r.Subject.Name != strings.SplitN(srv.URL+tc.entry, "#", 2)[0] {
			t.Errorf("%s: reported as %q", tc.entry, r.Subject.Name)
		}
	}
}

// A redirect to https on the same host is the same service; a redirect to
// another host (a login page elsewhere) is not.
func TestARedirectIsFollowedOnlyOnTheSameHost(t *testing.T) {
	secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure") }))
	secure.Config.ErrorLog = log.New(io.Discard, "", 0) // the probe that does not trust it fails the handshake
	secure.StartTLS()
	defer secure.Close()
	_, securePort, _ := net.SplitHostPort(strings.TrimPrefix(secure.URL, "https://"))
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/to-https":
			http.Redirect(w, r, "https://127.0.0.1:"+securePort+"/", http.StatusMovedPermanently)
		case "/to-login":
			http.Redirect(w, r, "http://login.invalid/sso?next=/", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer plain.Close()

	if r := probeTarget(t, plain.URL+"/to-https", secure); !r.OK || r.Cert.Fingerprint == "" {
		t.Errorf("http to https on the same host: up %v (%v), cert %+v; want up, with the certificate", r.OK, r.Err, r.Cert)
	}
	if r := probeTarget(t, plain.URL+"/to-login", secure); r.OK || r.Err.Error() != "redirected to another host, login.invalid" {
		t.Errorf("a redirect elsewhere: up %v (%v); want down, saying where it led", r.OK, r.Err)
	}
	if r := probeTarget(t, plain.URL+"/loop", nil); r.OK || !strings.Contains(r.Err.Error(), "more than 5 times") {
		t.Errorf("a redirect loop: up %v (%v)", r.OK, r.Err)
	}
	if r := probeTarget(t, plain.URL+"/to-https#status=301", nil); r.OK {
		t.Error("a target that asks for 301 is followed past it, and the final answer is 200: it should be down")
	}
}

// A target's credentials (user and password in its URL) go on with a
// redirect that stays on the same scheme, host and port, relative or
// absolute, and with one from http to https on the same host; never to
// another port or host.
func TestATargetsCredentialsGoOnlyWhereTheyWereMeantFor(t *testing.T) {
	var elsewhere atomic.Value // what the other port was sent
	elsewhere.Store("")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Store(r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer other.Close()
	var target *httptest.Server
	target = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/relative":
			http.Redirect(w, r, "/protected", http.StatusFound)
		case "/absolute":
			http.Redirect(w, r, target.URL+"/protected", http.StatusFound)
		case "/other-port":
			http.Redirect(w, r, other.URL+"/protected", http.StatusFound)
		case "/protected":
			if u, p, ok := r.BasicAuth(); !ok || u != "u" || p != "pw" {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}
	}))
	defer target.Close()
	withUser := strings.Replace(target.URL, "http://", "http://u:pw@", 1)
	for _, path := range []string{"/relative", "/absolute"} {
		if r := probeTarget(t, withUser+path, nil); !r.OK {
			t.Errorf("%s redirect on the same host and port: down (%v), want up with the credentials", path, r.Err)
		}
	}
	if r := probeTarget(t, withUser+"/other-port", nil); r.OK || elsewhere.Load() != "" {
		t.Errorf("a redirect to another port: up %v, sent %q there; want down, no credentials", r.OK, elsewhere.Load())
	}
}

func TestAnHTTPSTargetsCertificateIsReported(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake this test makes fail on purpose
	srv.StartTLS()
	defer srv.Close()
	leaf := srv.Certificate()
	sum := sha256.Sum256(leaf.Raw)
	r := probeTarget(t, srv.URL+"/", srv)
	if !r.OK || !r.Cert.NotAfter.Equal(leaf.NotAfter) || r.Cert.Fingerprint != hex.EncodeToString(sum[:]) {
		t.Fatalf("up %v (%v), cert %+v; want up with the server's certificate, expiring %s", r.OK, r.Err, r.Cert, leaf.NotAfter)
	}
	if r := probeTarget(t, srv.URL+"/", nil); r.OK || !strings.Contains(r.Err.Error(), "certificate") {
		t.Fatalf("a certificate this node does not trust: up %v (%v); want down, saying why", r.OK, r.Err)
	}
}

func TestATCPTargetIsUpWhileItsPortAcceptsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if r := probeTarget(t, "tcp://"+addr, nil); !r.OK || r.Subject.Name != "tcp://"+addr {
		t.Fatalf("listening port: %+v", r)
	}
	ln.Close()
	if r := probeTarget(t, "tcp://"+addr, nil); r.OK || !strings.Contains(r.Err.Error(), "refused") {
		t.Fatalf("closed port: up %v (%v)", r.OK, r.Err)
	}
}

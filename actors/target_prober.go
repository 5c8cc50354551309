package actors

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// TargetProberConfig is what one target's prober is built from.
type TargetProberConfig struct {
	Target  config.Target
	Timeout time.Duration
	// Client is the HTTP targets' client, newHTTPClient(forTargets, ...),
	// shared by all; Dial opens a TCP target's connections.
	Client    *http.Client
	Dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	UserAgent string
	Owner     Reporter
	Metrics   *Metrics // nil counts nothing
	Log       zerolog.Logger
}

// NewTargetProber returns the prober of one target: a TCP connection for
// tcp://, else an HTTP GET checked as the target asks (see checkAnswer).
func NewTargetProber(cfg TargetProberConfig) *Prober {
	t := cfg.Target
	p := &Prober{subject: t.Subject(), timeout: cfg.Timeout, owner: cfg.Owner, logger: cfg.Log, metrics: cfg.Metrics.ForSubject(t.Subject())}
	if t.TCP() {
		p.check = func(ctx context.Context) (domain.Cert, error) {
			conn, err := cfg.Dial(ctx, "tcp", t.Addr)
			if err != nil {
				return domain.Cert{}, err
			}
			return domain.Cert{}, conn.Close()
		}
		return p
	}
	r, err := newProbeRequest(t.URL, cfg.UserAgent)
	if err != nil {
		// config.ParseTarget only lets through URLs that parse.
		panic(fmt.Sprintf("target %s: bad URL: %v", t.Name, err))
	}
	p.check = func(ctx context.Context) (domain.Cert, error) {
		req, err := r.new(ctx)
		if err != nil {
			return domain.Cert{}, err
		}
		resp, err := cfg.Client.Do(req)
		if err != nil {
			return domain.Cert{}, err
		}
		defer resp.Body.Close()
		return certOf(resp), checkAnswer(t, resp)
	}
	return p
}

// checkAnswer says whether an answer is the target up: its status is the
// one the target asks for, else any 2xx; and its body, as far as
// config.MaxTargetBody, holds the target's word if it asks for one.
func checkAnswer(t config.Target, resp *http.Response) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, config.MaxTargetBody))
	switch {
	case t.Status != 0 && resp.StatusCode != t.Status:
		return fmt.Errorf("answered %s, not %d", resp.Status, t.Status)
	case t.Status == 0 && (resp.StatusCode < 200 || resp.StatusCode > 299):
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			return fmt.Errorf("answered %s with no redirect to follow", resp.Status)
		}
		return fmt.Errorf("answered %s", resp.Status)
	case t.Body == "":
		return nil
	case err != nil:
		return fmt.Errorf("answered %s, and the body broke off: %v", resp.Status, err)
	case !bytes.Contains(body, []byte(t.Body)):
		return fmt.Errorf("answered %s without %q in the first %d KiB", resp.Status, t.Body, config.MaxTargetBody>>10)
	}
	return nil
}

// maxRedirects bounds the redirects a target's probe follows.
const maxRedirects = 5

// sameHostRedirects follows a target's redirects while they stay on its
// host, in any scheme or port: http to https is the same service; a
// redirect elsewhere (a login page, a parked domain) is not, and the
// target is down. The target's credentials go on only where they were
// meant for: the same scheme, host and port, or from http to https on the
// same host.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) > maxRedirects {
		return fmt.Errorf("redirected more than %d times", maxRedirects)
	}
	first := via[0].URL
	if !strings.EqualFold(req.URL.Hostname(), first.Hostname()) {
		return fmt.Errorf("redirected to another host, %s", req.URL.Host)
	}
	if auth := via[0].Header.Get("Authorization"); auth != "" && keepsCredentials(first, req.URL) {
		req.Header.Set("Authorization", auth)
	} else {
		req.Header.Del("Authorization")
	}
	return nil
}

// keepsCredentials reports whether a redirect from one URL of a target to
// another may carry the target's credentials.
func keepsCredentials(from, to *url.URL) bool {
	sameOrigin := from.Scheme == to.Scheme && strings.EqualFold(from.Host, to.Host)
	upgrade := from.Scheme == "http" && to.Scheme == "https" && strings.EqualFold(from.Hostname(), to.Hostname())
	return sameOrigin || upgrade
}

// certOf is the certificate the answer came over: its leaf's expiry and
// fingerprint; zero over plain HTTP.
func certOf(resp *http.Response) domain.Cert {
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return domain.Cert{}
	}
	leaf := resp.TLS.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	return domain.Cert{NotAfter: leaf.NotAfter, Fingerprint: hex.EncodeToString(sum[:])}
}

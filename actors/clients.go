package actors

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"
)

// clientPurpose says what an HTTP client is for. Each purpose's client
// differs from the others on purpose, and newHTTPClient says why.
type clientPurpose int

const (
	forProbes clientPurpose = iota
	forRelays
	forWebhooks
	forOutside
	forTargets
)

// A Cut is asked before every connection a node's clients open (probes,
// relays, the isolation guard's outside checks, webhooks, Alertmanager)
// whether the network lets it through: nil, or the error the dial fails
// with. Only `mesh demo --isolate` sets one: its nodes share one process
// and one loopback, so it cuts a node off by its dials, not the machine's
// network, and every request dials afresh. Shoutrrr's services dial on
// their own and are not asked.
type Cut func(addr string) error

// newHTTPClient returns the client for one purpose. What they share: every
// step of a request (dial, TLS handshake, response headers) is bounded by
// timeout, response headers by 64 KiB, and redirects are not followed (a
// probe answers for the peer itself, not for wherever it points; a relay or
// webhook that redirects is misconfigured). cut, when not nil, is asked
// before each dial.
func newHTTPClient(purpose clientPurpose, timeout time.Duration, cut Cut) *http.Client {
	t := &http.Transport{
		DialContext:            dialer(timeout, cut),
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	c := &http.Client{
		Transport:     t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	switch purpose {
	case forProbes:
		// A fresh connection per probe, no keep-alive: a pooled connection
		// can hide a peer that no longer accepts new ones. No proxy: a
		// probe measures direct reachability. No Client.Timeout: each
		// probe's context carries its deadline, and a second one would cost
		// a timer and a context per probe for nothing.
		t.DisableKeepAlives = true
	case forRelays:
		// Pooled: relays measure nothing, and a round posts to every peer,
		// so one idle connection per peer saves a handshake a round. No
		// proxy: peers talk to each other directly.
		t.MaxIdleConnsPerHost = 1
		t.IdleConnTimeout = 90 * time.Second
		c.Timeout = timeout
	case forWebhooks:
		// Pooled, and through the environment's proxy: chat services are
		// outside, and often reached through one. Each attempt's context
		// carries its deadline, which grows with a message's attempts (see
		// Channel.deliver): the answer is not bounded apart from it.
		t.Proxy = http.ProxyFromEnvironment
		t.ResponseHeaderTimeout = 0
	case forTargets:
		// As a probe's: a fresh connection each time, no proxy. A redirect
		// is followed while it stays on the target's host (http to https
		// is up; a login page elsewhere is not the service): see
		// sameHostRedirects.
		t.DisableKeepAlives = true
		c.CheckRedirect = sameHostRedirects
	case forOutside:
		// The isolation guard's check that the outside still answers: by
		// the way the chat service is reached (the environment's proxy),
		// on a fresh connection, which is what a lost network refuses.
		t.Proxy = http.ProxyFromEnvironment
		t.DisableKeepAlives = true
	}
	if cut != nil {
		// A pooled connection opened before the cut would outlive it:
		// with a cut, every request dials, and so is asked.
		t.DisableKeepAlives = true
	}
	return c
}

// dialer opens connections within timeout, asking cut first when it is
// not nil.
func dialer(timeout time.Duration, cut Cut) func(ctx context.Context, network, addr string) (net.Conn, error) {
	dial := (&net.Dialer{Timeout: timeout}).DialContext
	if cut == nil {
		return dial
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if err := cut(addr); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return dial(ctx, network, addr)
	}
}

// hostOf is what logs may say of a service's URL: its host, never its path
// or user, which may hold a token or a password; fallback if it has none.
func hostOf(raw, fallback string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Host
	}
	return fallback
}

// errBadURL is postJSON's error for a URL no request can be made of.
var errBadURL = errors.New("invalid URL")

// postJSON posts body as JSON to a chat service or an Alertmanager. Its
// error never quotes the URL, which may hold a token or a password: the
// client's would, so only its cause is kept; a URL no request can be made
// of is errBadURL.
func postJSON(ctx context.Context, client *http.Client, to string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, to, bytes.NewReader(body))
	if err != nil {
		return nil, errBadURL
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err
	}
	return resp, err
}

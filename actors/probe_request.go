package actors

import (
	"context"
	"net/http"
	"net/url"
)

// probeRequest is what a probe's GET is made from, once per peer or
// target; each probe makes its own request from it. A request kept per
// subject to be cloned was a quarter of a node's live heap at a thousand
// peers (BENCHMARKS.md, "Memory at 1000 peers"), and a clone allocates as
// much as a new request.
//
// It keeps strings rather than a header: a header is a map, and a map per
// peer was 0.4 MB of a node's live heap at a thousand peers, where every
// peer's header was the same User-Agent.
type probeRequest struct {
	url           string // without its user: a password goes in authorization
	userAgent     string
	authorization string // when the URL has a user: Basic, its user and password
}

// newProbeRequest reads rawURL once. A user and password in it go in an
// Authorization header rather than the URL, so that they go on with a
// redirect that stays on the target (see sameHostRedirects): the URL of an
// absolute redirect has no user in it.
func newProbeRequest(rawURL, userAgent string) (probeRequest, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return probeRequest{}, err
	}
	r := probeRequest{userAgent: userAgent}
	if u.User != nil {
		password, _ := u.User.Password()
		basic := &http.Request{Header: http.Header{}}
		basic.SetBasicAuth(u.User.Username(), password)
		r.authorization = basic.Header.Get("Authorization")
		u.User = nil
	}
	r.url = u.String()
	return r, nil
}

// new makes one probe's request, within ctx, with a header of its own: the
// client may add to it (cookies, a redirect's).
func (r probeRequest) new(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", r.userAgent)
	if r.authorization != "" {
		req.Header.Set("Authorization", r.authorization)
	}
	return req, nil
}

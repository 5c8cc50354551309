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
type probeRequest struct {
	url    string      // without its user: a password goes in header
	header http.Header // User-Agent, and Authorization when the URL has a user
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
	req := &http.Request{Header: http.Header{}}
	req.Header.Set("User-Agent", userAgent)
	if u.User != nil {
		password, _ := u.User.Password()
		req.SetBasicAuth(u.User.Username(), password)
		u.User = nil
	}
	return probeRequest{url: u.String(), header: req.Header}, nil
}

// new makes one probe's request, within ctx. Its header is its own: the
// client may add to it (cookies, a redirect's).
func (r probeRequest) new(ctx context.Context) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header = r.header.Clone()
	return req, nil
}

package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"
)

// MaxNotifyURLs bounds NOTIFY_URLS: each URL is a channel with its own
// queue of up to a few hundred messages, kept in the state file.
const MaxNotifyURLs = 16

// NotifyURL is one entry of NOTIFY_URLS: a Shoutrrr service URL.
type NotifyURL struct {
	URL string
	// Service is the Shoutrrr service, lowercase: the URL's scheme, or
	// its part before a "+" (discord+https://...). Logs and metrics name
	// the channel by it; the rest of the URL holds tokens.
	Service string
}

// splitURLs splits a list of URLs on spaces, tabs and line breaks: a URL
// never holds one unescaped (RFC 3986), while commas, semicolons and
// pipes all occur in service URLs' queries (ntfy's tags=a,b). A comma
// right before another URL's scheme is the one mistake the rule invites
// (a list written as PEERS is): it is refused, naming the entry, rather
// than taken as one URL with a comma in its path or query.
func splitURLs(v string) ([]string, error) {
	entries := strings.Fields(v)
	for i, e := range entries {
		if at := commaURL.FindStringIndex(e); at != nil {
			return nil, fmt.Errorf("entry %d holds a second URL after a comma (%q): separate the entries with spaces or line breaks", i+1, e[at[0]:at[1]])
		}
	}
	return entries, nil
}

// commaURL is a comma followed by a URL's scheme.
var commaURL = regexp.MustCompile(`,[a-zA-Z][a-zA-Z0-9+.-]*://`)

// splitNames splits a list of names or durations (PEERS,
// FOLLOWUP_INTERVALS) on commas and on spaces, tabs and line breaks alike:
// neither ever occurs inside one.
func splitNames(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// setNotifyURLs checks every entry of NOTIFY_URLS with Shoutrrr itself, as
// far as that needs no network: Matrix logs in when it is set up, so a
// Matrix URL is checked for its scheme here and for the rest at its first
// message.
func setNotifyURLs(c *Config, v string) error {
	entries, err := splitURLs(v)
	if err != nil {
		return err
	}
	if len(entries) > MaxNotifyURLs {
		return fmt.Errorf("%d URLs, more than %d", len(entries), MaxNotifyURLs)
	}
	services := (&router.ServiceRouter{}).ListServices()
	for i, raw := range entries {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" {
			return fmt.Errorf("entry %d is not a URL such as telegram://token@telegram?chats=@channel", i+1)
		}
		service := strings.ToLower(strings.SplitN(u.Scheme, "+", 2)[0])
		if !slices.Contains(services, service) {
			return fmt.Errorf("entry %d: %q is not a service Shoutrrr knows (%s)", i+1, service, strings.Join(services, ", "))
		}
		if service != "matrix" {
			if _, err := NewNotifyService(raw); err != nil {
				return fmt.Errorf("entry %d (%s): %s", i+1, service, Redact(err.Error(), raw))
			}
		}
		c.NotifyURLs = append(c.NotifyURLs, NotifyURL{URL: raw, Service: service})
	}
	return nil
}

// NewNotifyService sets up the Shoutrrr service of a NOTIFY_URLS entry, as
// Shoutrrr's router does, but keeps the reason when the service refuses
// its URL (the router says only "failed to initialize service"). Its error
// may quote the URL: pass it through Redact before it is shown.
func NewNotifyService(raw string) (types.Service, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	scheme, custom, _ := strings.Cut(u.Scheme, "+")
	svc, err := (&router.ServiceRouter{}).NewService(scheme)
	if err != nil {
		return nil, err
	}
	if custom != "" {
		c, ok := svc.(types.CustomURLService)
		if !ok {
			return nil, fmt.Errorf("%s takes no %s+ URL", scheme, scheme)
		}
		if u, err = c.GetConfigURLFromCustom(u); err != nil {
			return nil, err
		}
	}
	if err := svc.Initialize(u, nil); err != nil {
		return nil, err
	}
	return svc, nil
}

// setAlertmanagerURLs takes the Alertmanagers to post alerts to: each its
// base URL (http://alertmanager:9093) or the alerts endpoint itself, as an
// Alertmanager behind a path prefix needs. User and password in the URL
// are sent as basic auth.
func setAlertmanagerURLs(c *Config, v string) error {
	entries, err := splitURLs(v)
	if err != nil {
		return err
	}
	for i, raw := range entries {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("entry %d is not an http or https URL such as http://alertmanager:9093", i+1)
		}
		if !strings.HasSuffix(u.Path, AlertmanagerAlertsPath) {
			u.Path = strings.TrimSuffix(u.Path, "/") + AlertmanagerAlertsPath
		}
		c.AlertmanagerURLs = append(c.AlertmanagerURLs, u.String())
	}
	return nil
}

// AlertmanagerAlertsPath is where Alertmanager's v2 API takes alerts.
const AlertmanagerAlertsPath = "/api/v2/alerts"

// setCluster takes the cluster's name, the "cluster" label of the alerts:
// a few words of letters, digits, dots, dashes and underscores.
func setCluster(c *Config, v string) error {
	if len(v) > 64 || strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_')
	}) {
		return errors.New("must be up to 64 letters, digits, dots, dashes or underscores")
	}
	c.Cluster = v
	return nil
}

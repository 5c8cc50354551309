package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

// MaxTargets bounds TARGETS: every node probes every target each
// POLL_INTERVAL, and relays its view of each to every peer.
const MaxTargets = 100

// MaxTargetName bounds a target's name, and so a relayed one.
const MaxTargetName = 512

// maxBodyWord bounds the word a target's body must hold: it is looked for
// in the first MaxTargetBody bytes of the answer.
const maxBodyWord = 256

// MaxTargetBody is how much of an HTTP target's answer is read, for a
// body= check and to let the server finish its answer.
const MaxTargetBody = 64 << 10

// Target is one service every node probes (TARGETS): not a node, it gets
// no relays and is not asked for /ping.
type Target struct {
	// Name is how /state, relays, messages and metrics show it: the URL
	// without its user info (a password) and its options. The key in
	// /state's "targets".
	Name string
	// URL is what an HTTP target's probe asks for: the URL given, user
	// info and all, without the options. Empty for a TCP target.
	URL string
	// Addr is a TCP target's host:port. Empty for an HTTP target.
	Addr string
	// Status is the status an HTTP target must answer with; 0 is any 2xx.
	Status int
	// Body is a word the answer's body must hold; "" is no check.
	Body string
	// Maintenance are its recurring maintenance windows (the option
	// maintenance=, a window as MAINTENANCE writes one).
	Maintenance []domain.Window
}

// Subject is the target as what a node watches: its name, and that it is
// a target.
func (t Target) Subject() domain.Subject { return domain.Target(t.Name) }

// TCP reports whether the target is a port that must accept connections.
func (t Target) TCP() bool { return t.Addr != "" }

// HTTPS reports whether the target is probed over TLS, and so has a
// certificate whose expiry is watched.
func (t Target) HTTPS() bool { return strings.HasPrefix(t.URL, "https://") }

// setTargets parses TARGETS: URLs separated by spaces or line breaks.
//
//	https://example.com/health            up on any 2xx
//	https://example.com/#status=204        up on 204 only
//	https://example.com/#body=Welcome      up on a 2xx whose body holds "Welcome"
//	https://example.com/#status=200&body=ok
//	tcp://db.internal:5432                 up when the port accepts a connection
//
// The options go in the URL's fragment, which is never sent to the server;
// a body word with spaces is written URL-encoded (%20). An error names the
// entry by its number and its name, never its user info.
func setTargets(c *Config, v string) error {
	entries, err := splitURLs(v)
	if err != nil {
		return err
	}
	if len(entries) > MaxTargets {
		return fmt.Errorf("%d targets, more than %d", len(entries), MaxTargets)
	}
	seen := map[string]bool{}
	for i, raw := range entries {
		t, err := ParseTarget(raw)
		if err != nil {
			return fmt.Errorf("entry %d: %v", i+1, err)
		}
		// Names equal but for case are refused too: a relay that lists two
		// such keys is refused as ambiguous (wire's noTwinKeys), and every
		// relay of this node would be.
		folded := strings.ToLower(t.Name)
		if seen[folded] {
			return fmt.Errorf("entry %d: %s is listed twice (perhaps in another case)", i+1, t.Name)
		}
		seen[folded] = true
		c.Targets = append(c.Targets, t)
	}
	return nil
}

// ParseTarget parses one entry of TARGETS.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return Target{}, errors.New("not a URL such as https://example.com/health or tcp://db.internal:5432")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	options := u.Fragment
	u.Fragment, u.RawFragment = "", ""
	user := u.User
	u.User = nil
	name := u.String()
	if len(name) > MaxTargetName {
		return Target{}, fmt.Errorf("longer than %d characters", MaxTargetName)
	}
	if err := ValidateName(u.Host); err != nil {
		return Target{}, fmt.Errorf("%s: host: %v", name, err)
	}
	t := Target{Name: name}
	switch u.Scheme {
	case "http", "https":
		u.User = user
		t.URL = u.String()
	case "tcp":
		if user != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || options != "" {
			return Target{}, fmt.Errorf("%s: a tcp target is tcp://host:port, with nothing after", name)
		}
		if u.Port() == "" {
			return Target{}, fmt.Errorf("%s: a tcp target needs a port", name)
		}
		t.Name, t.Addr = "tcp://"+u.Host, u.Host
		return t, nil
	default:
		return Target{}, fmt.Errorf("%s: scheme must be http, https or tcp", name)
	}
	if options == "" {
		return t, nil
	}
	opts, err := url.ParseQuery(options)
	if err != nil {
		return Target{}, fmt.Errorf("%s: options #%s are not key=value&key=value", name, options)
	}
	for key, values := range opts {
		if len(values) != 1 {
			return Target{}, fmt.Errorf("%s: option %s given twice", name, key)
		}
		switch v := values[0]; key {
		case "status":
			n, err := strconv.Atoi(v)
			if err != nil || n < 100 || n > 599 {
				return Target{}, fmt.Errorf("%s: status=%s is not an HTTP status 100-599", name, v)
			}
			t.Status = n
		case "body":
			if v == "" || len(v) > maxBodyWord {
				return Target{}, fmt.Errorf("%s: body= must be a word of 1 to %d bytes", name, maxBodyWord)
			}
			t.Body = v
		case "maintenance":
			w, err := ParseWindows(v)
			if err != nil {
				return Target{}, fmt.Errorf("%s: maintenance=: %v", name, err)
			}
			t.Maintenance = w
		default:
			return Target{}, fmt.Errorf("%s: unknown option %q (status=, body= and maintenance= are known)", name, key)
		}
	}
	return t, nil
}

// ValidateTargetName reports whether name can be a target's name, as
// ParseTarget makes them: a relayed one is held to it, so that a relay
// cannot plant names no target could have.
func ValidateTargetName(name string) error {
	if len(name) > MaxTargetName {
		return fmt.Errorf("longer than %d characters", MaxTargetName)
	}
	t, err := ParseTarget(name)
	if err != nil {
		return err
	}
	if t.Name != name {
		return errors.New("not a target's name: lower-case scheme and host, no user info, no options")
	}
	return nil
}

// setCertWarn reads CERT_WARN: a Go duration or a number of days ("14d").
func setCertWarn(c *Config, v string) error {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > 3650 {
			return errors.New("must be a number of days such as 14d (1-3650), or a duration such as 336h")
		}
		c.CertWarn = time.Duration(n) * 24 * time.Hour
		return nil
	}
	if err := positiveDuration(v, &c.CertWarn); err != nil {
		return errors.New("must be a number of days such as 14d, or a duration such as 336h")
	}
	return nil
}

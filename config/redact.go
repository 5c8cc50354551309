package config

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Redact removes from text, an error of a notification service's library,
// every part of rawURL (a NOTIFY_URLS entry) that its service keeps
// secret. The libraries quote the URLs they post to, built from those
// parts and rewritten on the way (Slack's token has / where the entry has
// -, a Teams tenant moves from the host into the path), so two things are
// done: every URL in the text is cut to its scheme and host, and then each
// secret part goes wherever it still stands, in each form it is written.
func Redact(text, rawURL string) string {
	text = strings.ReplaceAll(text, rawURL, "[url]")
	u, err := url.Parse(rawURL)
	if err != nil {
		return urlsCut(text, nil)
	}
	secrets := secretParts(u)
	text = urlsCut(text, secrets)
	for _, s := range secrets {
		text = replaceSecret(text, s)
	}
	return text
}

// hostIsSecret lists the services whose URL holds a key where the host
// would be: discord://token@webhook-id, ifttt://key, notifiarr://apikey,
// pushbullet://token, pushover://shoutrrr:token@user-key,
// teams://group@tenant/..., wecom://key. Elsewhere the host is a server's
// name, which logs may show.
var hostIsSecret = map[string]bool{"discord": true, "ifttt": true, "notifiarr": true, "pushbullet": true, "pushover": true, "teams": true, "wecom": true}

// fixedUsers are the words a service's URL has as its user and that are
// no secret: replacing them would garble the text ("webhook" written
// "web***" for Slack's hook:token@channel).
var fixedUsers = map[string][]string{"slack": {"hook", "xoxb", "xoxp"}, "pushover": {"shoutrrr"}, "join": {"shoutrrr"}}

// publicQueryKeys are query keys whose values name a server, not a secret:
// Teams' host=org.webhook.office.com is the very server a failure is about.
var publicQueryKeys = map[string]bool{"host": true}

// secretParts are the parts of u its service keeps secret, in every form
// they may take in a library's error, longest first, so that a part that
// holds another goes whole.
func secretParts(u *url.URL) []string {
	service := strings.ToLower(strings.SplitN(u.Scheme, "+", 2)[0])
	var parts []string
	if u.User != nil {
		if user := u.User.Username(); !slices.Contains(fixedUsers[service], user) {
			parts = append(parts, user)
		}
		if p, ok := u.User.Password(); ok {
			parts = append(parts, p)
		}
	}
	if hostIsSecret[service] {
		parts = append(parts, u.Hostname())
	}
	parts = append(parts, strings.Split(u.Path, "/")...)
	for key, vs := range u.Query() {
		if !publicQueryKeys[strings.ToLower(key)] {
			parts = append(parts, vs...)
		}
	}
	parts = append(parts, u.Fragment)
	var forms []string
	for _, p := range parts {
		forms = append(forms, p, url.PathEscape(p), url.QueryEscape(p))
		if service == "slack" {
			forms = append(forms, strings.ReplaceAll(p, "-", "/")) // hooks.slack.com/services/A/B/C
		}
	}
	forms = slices.DeleteFunc(forms, func(f string) bool { return len(f) < minSecretLength })
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(forms)
}

// minSecretLength is the shortest part taken for a secret: shorter ones
// (a Matrix room's server's "com", a port) are none, and replacing them
// would garble the text.
const minSecretLength = 4

// wordLength is the length from which a secret is replaced wherever it
// stands; a shorter one only as a word of its own, so that a user "ops"
// or "hook" does not turn "webhook" into "web***".
const wordLength = 12

// replaceSecret replaces s in text with ***.
func replaceSecret(text, s string) string {
	if len(s) >= wordLength {
		return strings.ReplaceAll(text, s, "***")
	}
	var b strings.Builder
	for {
		i := strings.Index(text, s)
		if i < 0 {
			break
		}
		end := i + len(s)
		b.WriteString(text[:i])
		if isWordByte(text, i-1) || isWordByte(text, end) {
			b.WriteString(s)
		} else {
			b.WriteString("***")
		}
		text = text[end:]
	}
	b.WriteString(text)
	return b.String()
}

// isWordByte reports whether text[i] exists and is a letter or a digit.
func isWordByte(text string, i int) bool {
	if i < 0 || i >= len(text) {
		return false
	}
	c := text[i]
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// aURL is a URL as errors quote them: a scheme, and everything up to a
// space, a quote or a bracket.
var aURL = regexp.MustCompile("[a-zA-Z][a-zA-Z0-9+.-]*://[^\\s\"'`<>]+")

// urlsCut cuts every URL in text to its scheme and host: its user, path
// and query are where services keep their tokens. A host that is one of
// secrets goes too.
func urlsCut(text string, secrets []string) string {
	return aURL.ReplaceAllStringFunc(text, func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "[url]"
		}
		host := u.Host
		for _, s := range secrets {
			if strings.Contains(host, s) {
				host = "***"
				break
			}
		}
		cut := u.Scheme + "://" + host
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			cut += "/…"
		}
		return cut
	})
}

// withoutUserInfo is a setting's value, or an error quoting it, with the
// user and password of each URL or host in it replaced by ***: PEERS,
// CONNECTIVITY_URL and AGGREGATOR_URL may hold "http://user:password@host",
// and a bad one is quoted when the node refuses to start.
func withoutUserInfo(text string) string {
	return anEntry.ReplaceAllStringFunc(text, func(entry string) string {
		at := strings.LastIndex(entry, "@")
		if at < 0 {
			return entry
		}
		start := 0
		if i := strings.Index(entry, "://"); i >= 0 && i < at {
			start = i + len("://")
		} else if i := strings.IndexAny(entry, `"'`); i >= 0 && i < at {
			start = i + 1 // a quoted entry: keep the quote
		}
		return entry[:start] + "***" + entry[at:]
	})
}

// anEntry is one entry of a list setting: what lies between spaces and commas.
var anEntry = regexp.MustCompile(`[^\s,]+`)

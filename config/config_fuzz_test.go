package config

import (
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParsePeers feeds PEERS arbitrary lists. It must never panic; what it
// accepts must be peers a prober can use: valid, distinct names, and a base
// URL of that name over http or https.
func FuzzParsePeers(f *testing.F) {
	for _, seed := range []string{
		"a.example,b.example:4000,http://c.example:8080",
		"https://[::1]:4000, 127.0.0.1:1 ,",
		"a,a", "me,other", ",,,", "http://u:p@a.example", "https://a.example/path?q",
		"ftp://a.example", "a.example:99999", "[::1", "é.example", strings.Repeat("a.", 130),
	} {
		f.Add(seed, "me")
	}
	f.Fuzz(func(t *testing.T, list, node string) {
		peers, err := ParsePeers(list, node)
		if err != nil {
			if peers != nil {
				t.Fatalf("a refused list returned peers %v", peers)
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range peers {
			if err := ValidateName(p.Name); err != nil {
				t.Fatalf("accepted name %q: %v", p.Name, err)
			}
			if seen[p.Name] {
				t.Fatalf("accepted %q twice", p.Name)
			}
			seen[p.Name] = true
			u, err := url.Parse(p.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host != p.Name || u.Path != "" || u.User != nil {
				t.Fatalf("accepted peer %+v with an unusable URL (%v)", p, err)
			}
			if p.Name == strings.ToLower(node) {
				t.Fatalf("the node itself, %q, is among its peers", node)
			}
		}
	})
}

// FuzzLoad feeds the config loader arbitrary values for every setting. It
// must never panic; an error is one line; and a secret never appears in it.
//
// To tell a leak from a coincidence, the relay secret always carries the
// marker "S3CR3T:" and the webhook's token is whatever follows "tok:" in
// it; the values of the other settings, which an error may quote, are taken
// out of the message before it is searched.
func FuzzLoad(f *testing.F) {
	f.Add("a.example,b.example", "5s", "4", "value", "https://discord.com/api/webhooks/1/tok:abc", "15m,1h", ":4000", "info")
	f.Add("", "0s", "-1", "", "hooks.slack.com/tok:x", "1h,,2h", "localhost", "loud")
	f.Add("a", "1e9h", "99999999999999999999", "x", "http://[::1/tok:", "-5m", "[::]:70000", "")
	f.Fuzz(func(t *testing.T, peers, interval, threshold, secret, webhook, followups, listen, level string) {
		secret = "S3CR3T:" + secret
		env := map[string]string{
			"PEERS": peers, "POLL_INTERVAL": interval, "FAILURE_THRESHOLD": threshold, "RELAY_SECRET": secret,
			"WEBHOOK_URL": webhook, "FOLLOWUP_INTERVALS": followups, "LISTEN_ADDR": listen, "LOG_LEVEL": level,
		}
		_, err := Load(nil, func(k string) string { return env[k] }, func() (string, error) { return "me", nil }, io.Discard)
		if err == nil {
			return
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Fatalf("error spans lines: %q", msg)
		}
		rest := msg
		for _, v := range []string{peers, interval, threshold, followups, listen, level} {
			if v != "" {
				rest = strings.ReplaceAll(rest, strconv.Quote(v), "")
				rest = strings.ReplaceAll(rest, v, "")
			}
		}
		secrets := []string{secret}
		if _, token, ok := strings.Cut(webhook, "tok:"); ok && token != "" {
			secrets = append(secrets, "tok:"+token)
		}
		for _, s := range secrets {
			if strings.Contains(rest, s) {
				t.Fatalf("error %q holds the secret %q", msg, s)
			}
		}
	})
}

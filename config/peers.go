package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/dupunkto/mesh/actors/domain"
)

// Peer is one node this node probes.
type Peer struct {
	// Name is host[:port] without the scheme: the key in /state's "peers".
	Name string
	// URL is the peer's base URL (scheme://host[:port]); probes go to URL+"/ping".
	URL string
}

// Subject is the peer as what a node watches: its name, and that it is a
// peer.
func (p Peer) Subject() domain.Subject { return domain.Peer(p.Name) }

// MaxNameLength bounds a peer name, as DNS bounds a host name.
const MaxNameLength = 253

// ParsePeers turns the PEERS list into peers, separated by commas, spaces
// or line breaks (splitNames). An entry is `host`,
// `host:port` or an http(s) URL; a bare entry is probed over https. The entry
// whose name equals node is skipped so that every node can share one list;
// a list that names only this node gives no peers (a cluster of one).
func ParsePeers(list, node string) ([]Peer, error) {
	peers := []Peer{}
	seen := make(map[string]bool)
	entries := 0
	for _, entry := range splitNames(list) {
		entries++
		p, hostPort, err := parsePeer(entry)
		if err != nil {
			return nil, err
		}
		// NODE may carry the port the entry's scheme leaves out of the name
		// (NODE=h:80 and PEERS=http://h:80): it is this node all the same.
		if p.Name == strings.ToLower(node) || hostPort == strings.ToLower(node) {
			continue
		}
		if seen[p.Name] {
			return nil, fmt.Errorf("peer %q is listed twice", p.Name)
		}
		seen[p.Name] = true
		peers = append(peers, p)
	}
	if entries == 0 {
		return nil, fmt.Errorf("no peers listed")
	}
	return peers, nil
}

// parsePeer parses one PEERS entry into the peer and its host[:port] as
// written, default port and all.
// Errors quote the entry as written, not with the scheme a bare entry is
// given.
func parsePeer(entry string) (Peer, string, error) {
	full := entry
	if !strings.Contains(entry, "://") {
		full = "https://" + entry
	}
	u, err := url.Parse(full)
	if err != nil {
		return Peer{}, "", fmt.Errorf("peer %q is not a host or URL", entry)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Peer{}, "", fmt.Errorf("peer %q: scheme must be http or https", entry)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Peer{}, "", fmt.Errorf("peer %q: only scheme://host[:port] is allowed", entry)
	}
	hostPort := strings.ToLower(u.Host)
	if err := ValidateName(hostPort); err != nil {
		return Peer{}, "", fmt.Errorf("peer %q: %w", entry, err)
	}
	// The scheme's own port is left out of the name, as browsers and the
	// page leave it out: http://h:80 is h, https://h:443 is h, and so one
	// peer is never listed under two names.
	name := hostPort
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		name = strings.TrimSuffix(hostPort, ":"+port)
	}
	return Peer{Name: name, URL: u.Scheme + "://" + name}, hostPort, nil
}

// ValidateName reports whether name is a valid host[:port]: a DNS name or IP
// literal (IPv6 in brackets when a port follows), an optional port 1-65535,
// and at most MaxNameLength characters in all. Relayed views are held to the
// same rule, so a hostile relay cannot plant names no peer could have.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("empty host")
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("name longer than %d characters", MaxNameLength)
	}
	host := name
	if h, port, err := net.SplitHostPort(name); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 || port[0] == '0' {
			return fmt.Errorf("port %q is not 1-65535", port)
		}
		host = h
	} else if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
		host = name[1 : len(name)-1]
		if net.ParseIP(host) == nil {
			return fmt.Errorf("%q is not an IP address", host)
		}
		return nil
	} else if strings.Contains(name, ":") {
		return fmt.Errorf("%q is not host[:port]", name)
	}
	if ip := net.ParseIP(host); ip != nil {
		return nil
	}
	if !validHostname(host) {
		return fmt.Errorf("%q is not a valid host name", host)
	}
	return nil
}

// validHostname accepts DNS labels of letters, digits, '-' and '_' (the
// latter appears in container and service names), 1-63 characters each, not
// starting or ending with '-'.
func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return false
			}
		}
	}
	return true
}

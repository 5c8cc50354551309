package wire

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"
)

// Between Mesh nodes a relay proves it comes from a holder of RELAY_SECRET
// without carrying the secret: its Authorization header holds a MAC of the
// body as sent (gzipped or not), keyed from the secret. The body names its
// sender and says when it was sent (sent_at), so the MAC covers both; the
// receiver refuses one it has seen before (see httpapi's replay guard).
// Someone on the path of a plain-HTTP link learns what the relays say,
// never the secret, and cannot make a relay of their own or replay one.
//
// A node says it takes these in AcceptRelayHeader ("mac"). The seed's
// nodes, and Mesh nodes before this, know only the bare secret (or
// "Bearer secret"): a sender tries the MAC first and goes back to the
// secret for a peer whose answer does not list "mac".
const AcceptMAC = "mac"

// macScheme is the Authorization scheme of a relay's MAC.
const macScheme = "Mesh-HMAC-SHA256 "

// macInfo binds the key to its one use: a key derived for anything else
// from the same secret is another key.
const macInfo = "mesh relay mac v1"

// MACKey derives the key relays are MACed with from RELAY_SECRET.
func MACKey(secret string) []byte {
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, macInfo, sha256.Size)
	if err != nil {
		panic(err) // only for a length over 255 hashes
	}
	return key
}

// RelayMAC returns the Authorization value for a relay body as sent.
func RelayMAC(key, body []byte) string {
	m := NewMAC(key)
	m.Write(body)
	return macScheme + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// MACOf returns the MAC an Authorization value carries, and whether it is
// one at all (a bare secret or a bearer token is not).
func MACOf(authorization string) ([]byte, bool) {
	enc, ok := strings.CutPrefix(authorization, macScheme)
	if !ok {
		return nil, false
	}
	mac, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(mac) != sha256.Size {
		return nil, true // a MAC, malformed: it verifies against nothing
	}
	return mac, true
}

// NewMAC returns the hash that makes a relay's MAC with key, for a
// receiver to write the body through as it reads it; hmac.Equal compares
// its sum with the MAC the relay carried, in constant time.
func NewMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }

package wire

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"hash"
)

// A relay's MAC proves only that its sender holds RELAY_SECRET, which every
// node does: any one of them could relay in another's name. So each node
// that keeps a key of its own (NODE_KEY_FILE, made beside STATE_FILE)
// also signs every relay it sends, the body as sent, with Ed25519, and
// names the key in KeyHeader. A receiver pins the first key it sees for
// each peer's name (trust on first use, kept in its state file, as SSH's
// known_hosts does) and refuses relays in that name signed by another key,
// or not signed at all: a node can then lie only under its own name.
//
// The headers are new to the seed's nodes, which ignore them; a node of
// the seed's format, or a Mesh node without a key, sends none, and is
// taken as it was until a key is pinned for its name.
const (
	KeyHeader       = "Mesh-Key"
	SignatureHeader = "Mesh-Signature"
)

// signatureOptions make the signature Ed25519ph (RFC 8032): of the body's
// SHA-512, which a receiver computes as it reads the body, as it does the
// MAC, rather than holding the bytes as sent. The context binds the
// signature to its one use.
var signatureOptions = &ed25519.Options{Hash: crypto.SHA512, Context: "mesh relay signature v1"}

// SignRelay returns the SignatureHeader value for a relay body as sent.
func SignRelay(priv ed25519.PrivateKey, body []byte) string {
	digest := sha512.Sum512(body)
	sig, err := priv.Sign(nil, digest[:], signatureOptions)
	if err != nil {
		panic(err) // only for options this file does not give
	}
	return base64.RawURLEncoding.EncodeToString(sig)
}

// NewSignatureHash returns the hash a receiver writes a relay's body
// through as it reads it, for VerifyRelay.
func NewSignatureHash() hash.Hash { return sha512.New() }

// VerifyRelay reports whether signature (a SignatureHeader value) is
// pub's signature of the body whose NewSignatureHash sum is digest.
func VerifyRelay(pub ed25519.PublicKey, digest []byte, signature string) bool {
	sig, err := base64.RawURLEncoding.DecodeString(signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.VerifyWithOptions(pub, digest, sig, signatureOptions) == nil
}

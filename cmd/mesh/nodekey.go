package main

import (
	"crypto/ed25519"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// publicKey is the public half of the node's key as its peers pin it and
// PEER_KEYS takes it; "" for a node without a key.
func publicKey(key ed25519.PrivateKey) string {
	if key == nil {
		return ""
	}
	return domain.EncodeKey(key.Public().(ed25519.PublicKey))
}

// logNodeKey says, at start, where the node's key came from: made now
// (first start, or a rebuilt machine, whose peers will refuse its relays
// until they are given the new key), or none at all, with what that
// costs a cluster that relays.
func logNodeKey(log zerolog.Logger, cfg config.Config, key ed25519.PrivateKey, made bool) {
	switch {
	case made:
		log.Info().Str("path", cfg.NodeKeyFile).Str("key", publicKey(key)).
			Msg("made this node's key: its peers pin it at its first relay; peers that pinned another key for this name refuse its relays until given this one (PEER_KEYS)")
	case key == nil && cfg.RelaySecret != "":
		log.Warn().Msg("this node has no key of its own (no STATE_FILE or NODE_KEY_FILE), so its relays are not signed: anyone holding RELAY_SECRET can relay in its name")
	}
}

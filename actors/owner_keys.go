package actors

import (
	"maps"

	"github.com/rs/zerolog"
)

// Peers' keys, as the owner pins them. The /relay handler refuses a relay
// in a peer's name signed with another key than the one pinned, or not
// signed at all once one is; the owner decides what is pinned, so that two
// first relays with different keys, taken side by side, cannot both be.

// pinKey pins key for node if no key is pinned for it yet (trust on first
// use), and reports whether a relay signed with key (or, "", not signed)
// may be kept: a relay the handler let through before another key was
// pinned for its sender is not.
func (o *Owner) pinKey(b *batch, node, key string) bool {
	pinned, ok := o.keys[node]
	switch {
	case ok:
		if pinned != key {
			o.cfg.Log.Debug().Str("peer", node).Msg("relay signed with another key than the one pinned meanwhile; ignored")
			return false
		}
		return true
	case key == "":
		return true // a seed node, or a node without a key of its own: nothing to pin
	}
	keys := maps.Clone(o.keys)
	if keys == nil {
		keys = map[string]string{}
	}
	keys[node] = key
	o.keys, b.keys = keys, true
	o.cfg.Log.Info().Str("peer", node).Str("key", key).Msg("pinned the peer's key: its relays signed with another are refused from now on")
	return true
}

// restoredKeys are the keys a state file kept pinned, for the peers the
// node still has, with those PEER_KEYS gives in their place.
func restoredKeys(saved, given map[string]string, index map[string]int, log zerolog.Logger) map[string]string {
	keys := map[string]string{}
	for peer, key := range saved {
		if _, ok := index[peer]; ok {
			keys[peer] = key
		}
	}
	for peer, key := range given {
		if was, ok := keys[peer]; ok && was != key {
			log.Info().Str("peer", peer).Str("key", key).Str("was", was).Msg("the peer's key given in PEER_KEYS replaces the one pinned")
		}
		keys[peer] = key
	}
	return keys
}

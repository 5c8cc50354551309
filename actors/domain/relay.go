package domain

// What became of a relay post, sent or received, as the "result" label of
// Mesh's relay counters counts it. The relay sender and the /relay handler
// say it; the metrics count it. Labels are fixed words, never a URL or a
// secret.
const (
	RelayDelivered = "delivered" // the peer answered 2xx
	RelayRejected  = "rejected"  // the peer answered 4xx: a wrong secret, not a peer
	RelayFailed    = "failed"    // no answer, or 5xx

	RelayAccepted      = "accepted"
	RelayDisabled      = "disabled"       // this node has no RELAY_SECRET
	RelayUnauthorized  = "unauthorized"   // wrong or missing secret
	RelayTooLarge      = "too_large"      // body over the limit
	RelayInvalid       = "invalid"        // not a relay's shape
	RelayUnknownSender = "unknown_sender" // not one of this node's peers
	RelayStale         = "stale"          // older, by its own times, than the view held
	RelayNeedsWhole    = "needs_whole"    // a delta relay, with no whole one held from its sender
	RelayBusy          = "busy"           // too many relays at once, or the state owner behind
	RelayBadSignature  = "signature"      // its MAC, or its signature, does not match its body
	RelayReplayed      = "replay"         // its MAC was taken before, or it is older than the window
	RelayAhead         = "ahead"          // its times run ahead of this node's clock, the sender's offset allowed for
	RelayUnknownKey    = "unknown_key"    // signed with another key than the one pinned for its sender, or not signed at all
)

// RelaySentResults lists every result of a post, so that the counter's
// series exist from the start.
func RelaySentResults() []string { return []string{RelayDelivered, RelayRejected, RelayFailed} }

// RelayReceivedResults lists every result of a relay received.
func RelayReceivedResults() []string {
	return []string{RelayAccepted, RelayDisabled, RelayUnauthorized, RelayTooLarge, RelayInvalid, RelayUnknownSender, RelayStale, RelayNeedsWhole, RelayBusy, RelayBadSignature, RelayReplayed, RelayAhead, RelayUnknownKey}
}

// Package wire writes and reads the JSON that Mesh nodes and pages exchange:
// the /state document, relay bodies, and /history. The shapes are the seed
// document's (its examples are this package's golden tests), so that a Go
// node works beside an original one; Mesh's additions (rtt_ms) are extra
// fields the original aggregator ignores.
//
// Everything else of Mesh deals in package domain's values; only this
// package knows how they look on the wire.
package wire

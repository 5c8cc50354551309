// Package domain holds what Mesh knows and says, as plain values: a peer's
// status and view, a probe's result, a change of status, a peer's history,
// and the snapshot of a node's whole view that readers share. It imports
// nothing else of Mesh and knows no wire format: the JSON of /state,
// /relay and /history is package wire's business.
package domain

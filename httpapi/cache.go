package httpapi

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

// stateMaxAge is how far /state may lag the owner's latest snapshot. With
// many peers the snapshot changes with every probe, hundreds of times a
// second; encoding and compressing /state for each would cost more than the
// probing. Timestamps on the wire have whole seconds, so a reader cannot
// tell a tenth of a second.
const stateMaxAge = 100 * time.Millisecond

// historyMaxAge is how far /history may lag. It is every peer's whole
// history with its uptime over three windows, heavier than /state, and
// every open page reads it every refresh: rebuilding it per request let a
// few readers cost more than the probing. A second behind moves an uptime
// ratio in its sixth decimal, and shows a transition a second late.
const historyMaxAge = time.Second

// docCache serves one JSON document made from the latest snapshot, from one
// encoding, plain and gzipped, shared by every request until it is stale.
// Only one request at a time rebuilds it; the others serve the last one.
type docCache struct {
	source SnapshotSource
	// encode makes the document. It runs under mu, one call at a time.
	encode func(s *domain.Snapshot, now time.Time) []byte
	maxAge time.Duration
	// bySnapshot: an encoding of the current snapshot stays fresh however
	// old (/state is the snapshot and nothing else; /history depends on
	// the time too).
	bySnapshot bool

	current atomic.Pointer[encodedDoc]
	mu      sync.Mutex // held by the one request that rebuilds
}

type encodedDoc struct {
	snap   *domain.Snapshot
	built  time.Time
	plain  []byte
	gzOnce sync.Once
	gz     []byte
}

// newStateCache serves /state. Its encoder keeps the encodings of the
// entries that did not change since the last rebuild.
func newStateCache(source SnapshotSource, key string) *docCache {
	enc := wire.StateEncoder{Key: key}
	return &docCache{source: source, maxAge: stateMaxAge, bySnapshot: true,
		encode: func(s *domain.Snapshot, _ time.Time) []byte { return enc.Encode(s) }}
}

// newOwnStateCache serves /state?relays=none: the node's own view, without
// the views relayed to it.
func newOwnStateCache(source SnapshotSource, key string) *docCache {
	enc := wire.StateEncoder{OwnViewOnly: true, Key: key}
	return &docCache{source: source, maxAge: stateMaxAge, bySnapshot: true,
		encode: func(s *domain.Snapshot, _ time.Time) []byte { return enc.Encode(s) }}
}

// newHistoryCache serves /history.
func newHistoryCache(source SnapshotSource) *docCache {
	return &docCache{source: source, maxAge: historyMaxAge, encode: wire.EncodeHistory}
}

// fresh reports whether e may still be served: it is young, or (for a
// document of the snapshot alone) of the snapshot current now.
func (c *docCache) fresh(e *encodedDoc) bool {
	if e == nil {
		return false
	}
	if time.Since(e.built) < c.maxAge {
		return true
	}
	return c.bySnapshot && e.snap == c.source.Snapshot()
}

func (e *encodedDoc) gzipped() []byte {
	e.gzOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(e.plain) / 8)
		_ = gzipInto(&buf, func(w io.Writer) error { // a bytes.Buffer does not fail
			_, err := w.Write(e.plain)
			return err
		})
		e.gz = buf.Bytes()
	})
	return e.gz
}

func (c *docCache) get() *encodedDoc {
	if e := c.current.Load(); c.fresh(e) {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.current.Load(); c.fresh(e) {
		return e // another request rebuilt it while this one waited
	}
	snap, now := c.source.Snapshot(), time.Now()
	e := &encodedDoc{snap: snap, built: now, plain: c.encode(snap, now)}
	c.current.Store(e)
	return e
}

func (c *docCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := c.get()
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		writeJSON(w, http.StatusOK, e.gzipped())
		return
	}
	writeJSON(w, http.StatusOK, e.plain)
}

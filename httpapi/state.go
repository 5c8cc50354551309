package httpapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
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

// stateCache serves /state from one encoding, plain and gzipped, rebuilt
// when the snapshot has changed and the encoding is older than stateMaxAge.
type stateCache struct {
	state   SnapshotSource
	current atomic.Pointer[encodedState]
	mu      sync.Mutex // held by the one request that rebuilds
	// encoder is used by the one request that rebuilds, under mu. It keeps
	// the encodings of the entries that did not change since.
	encoder wire.StateEncoder
}

type encodedState struct {
	snap   *domain.Snapshot
	built  time.Time
	plain  []byte
	gzOnce sync.Once
	gz     []byte
}

func (e *encodedState) fresh(snap *domain.Snapshot) bool {
	return e != nil && (e.snap == snap || time.Since(e.built) < stateMaxAge)
}

// gzipWriters keeps gzip writers between rebuilds: each holds about a
// megabyte of compression tables, too much to allocate ten times a second.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzipLevel) // a valid level: no error
	return zw
}}

func (e *encodedState) gzipped() []byte {
	e.gzOnce.Do(func() {
		var buf bytes.Buffer
		buf.Grow(len(e.plain) / 8)
		zw := gzipWriters.Get().(*gzip.Writer)
		zw.Reset(&buf)
		_, _ = zw.Write(e.plain) // a bytes.Buffer does not fail
		_ = zw.Close()
		gzipWriters.Put(zw)
		e.gz = buf.Bytes()
	})
	return e.gz
}

func (c *stateCache) get() *encodedState {
	if e := c.current.Load(); e.fresh(c.state.Snapshot()) {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := c.state.Snapshot()
	if e := c.current.Load(); e.fresh(snap) {
		return e // another request rebuilt it while this one waited
	}
	e := &encodedState{snap: snap, built: time.Now(), plain: c.encoder.Encode(snap)}
	c.current.Store(e)
	return e
}

func (c *stateCache) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := c.get()
	w.Header().Add("Vary", "Accept-Encoding")
	if acceptsGzip(r.Header.Values("Accept-Encoding")) {
		w.Header().Set("Content-Encoding", "gzip")
		writeJSON(w, http.StatusOK, e.gzipped())
		return
	}
	writeJSON(w, http.StatusOK, e.plain)
}

// acceptsGzip reads Accept-Encoding (RFC 9110 12.5.3): gzip, x-gzip or *,
// unless its weight is q=0.
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(part, ";")
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip", "*":
			default:
				continue
			}
			weight := 1.0
			if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil {
					weight = f
				}
			}
			if weight > 0 {
				return true
			}
		}
	}
	return false
}

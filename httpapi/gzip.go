package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"strconv"
	"strings"
	"sync"
)

// gzipLevel trades a little compression for speed: /state is served often.
const gzipLevel = 1

// keptGzip is the one gzip writer a node compresses what it serves with:
// the /state and /history documents when they are rebuilt, and /metrics.
// It holds most of a megabyte of compression tables, too much to allocate
// ten times a second for the documents, or at every scrape (at a thousand
// peers a scrape's new writer was half of the node's rise in memory while
// it answered). One, not a sync.Pool: a pool lets go of its writers at
// every other collection, and under a steady /state load each rebuild
// after that made a megabyte of garbage, and a node at 1000 peers a few
// megabytes more of peak RSS.
var keptGzip struct {
	sync.Mutex
	w *gzip.Writer
}

// gzipInto compresses what write writes into buf, with the kept writer.
// The writer is held while write runs, so write must not wait on anyone
// (a client reading slowly, say): it writes into memory. A document takes a
// millisecond or two, a scrape at a thousand peers some tens; the others
// wait for it.
func gzipInto(buf *bytes.Buffer, write func(io.Writer) error) error {
	keptGzip.Lock()
	defer keptGzip.Unlock()
	if keptGzip.w == nil {
		keptGzip.w, _ = gzip.NewWriterLevel(buf, gzipLevel) // a valid level: no error
	} else {
		keptGzip.w.Reset(buf)
	}
	err := write(keptGzip.w)
	if cerr := keptGzip.w.Close(); err == nil {
		err = cerr
	}
	keptGzip.w.Reset(nil) // holds nothing of buf's between uses
	return err
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

package httpapi

import (
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// countingSource is a snapshot source that counts how often it is read.
type countingSource struct {
	snap  atomic.Pointer[domain.Snapshot]
	reads atomic.Int64
}

func (c *countingSource) Snapshot() *domain.Snapshot {
	c.reads.Add(1)
	return c.snap.Load()
}

func historyOf(status domain.Status, at time.Time) *domain.Snapshot {
	h := domain.NewHistory([]domain.HistoryEntry{{Status: status, At: at}})
	return domain.NewSnapshot("nov", []*domain.Entry{domain.NewEntry(domain.Peer("dec"), domain.PeerView{Status: status, Since: at}, h)}, nil)
}

// /history is built once for every reader within historyMaxAge, then again
// with what changed.
func TestHistoryIsBuiltOnceForManyReaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &countingSource{}
		src.snap.Store(historyOf(domain.StatusUp, time.Now()))
		h := NewRouter(Options{State: src, Log: zerolog.Nop()})
		get := func(gzip bool) string {
			req := httptest.NewRequest("GET", "/history", nil)
			if gzip {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || (gzip && rec.Header().Get("Content-Encoding") != "gzip") {
				t.Fatalf("GET /history = %d %v", rec.Code, rec.Header())
			}
			return rec.Body.String()
		}
		first := get(false)
		for i := range 100 {
			if got := get(i%2 == 0); i%2 == 1 && got != first {
				t.Fatalf("reader %d got another document", i)
			}
		}
		if n := src.reads.Load(); n != 1 {
			t.Fatalf("the snapshot was read %d times for 101 readers, want once", n)
		}
		src.snap.Store(historyOf(domain.StatusDown, time.Now()))
		time.Sleep(historyMaxAge)
		if got := get(false); got == first || src.reads.Load() != 2 {
			t.Fatalf("after historyMaxAge /history was not rebuilt: %s", got)
		}
	})
}

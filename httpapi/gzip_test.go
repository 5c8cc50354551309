package httpapi

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
)

// The one kept writer serves everyone who compresses at once (documents
// rebuilt, scrapes), each getting its own input back whole.
func TestGzipIntoServesOneAtATime(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				want := strings.Repeat(fmt.Sprintf("writer %d, round %d; ", i, j), 1000+i*j)
				var buf bytes.Buffer
				if err := gzipInto(&buf, func(w io.Writer) error { _, err := io.WriteString(w, want); return err }); err != nil {
					t.Error(err)
					return
				}
				zr, err := gzip.NewReader(&buf)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := io.ReadAll(zr)
				if err != nil || string(got) != want {
					t.Errorf("writer %d, round %d: %d bytes back (%v), want %d", i, j, len(got), err, len(want))
					return
				}
			}
		})
	}
	wg.Wait()
}

// What write fails with is gzipInto's error, and the writer serves the
// next one as if nothing had happened.
func TestGzipIntoReturnsWritesError(t *testing.T) {
	var buf bytes.Buffer
	failed := fmt.Errorf("gatherer broke")
	if err := gzipInto(&buf, func(w io.Writer) error { _, _ = io.WriteString(w, "half a scrape"); return failed }); err != failed {
		t.Fatalf("got %v, want %v", err, failed)
	}
	buf.Reset()
	if err := gzipInto(&buf, func(w io.Writer) error { _, err := io.WriteString(w, "whole"); return err }); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(zr); err != nil || string(got) != "whole" {
		t.Fatalf("%q %v, want whole", got, err)
	}
}

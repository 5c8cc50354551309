package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// A gzipped scrape of 20,000 series in ten parts, about what a node with a
// thousand peers serves: the bytes it allocates (BENCHMARKS.md, "Memory at
// 1000 peers").
func BenchmarkMetricsScrapeGzipped(b *testing.B) {
	var gatherers []prometheus.Gatherer
	for part := range 10 {
		r := prometheus.NewRegistry()
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mesh_probes_total", Help: "Probes."}, []string{"peer", "result"})
		for i := range 1000 {
			c.WithLabelValues(fmt.Sprintf("peer-%d-%d.example:8080", part, i), []string{"ok", "failed"}[i%2]).Add(float64(i))
		}
		r.MustRegister(c)
		gatherers = append(gatherers, r)
	}
	h := MetricsHandler(gatherers, zerolog.Nop())
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

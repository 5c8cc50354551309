package httpapi

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"
)

// registryOf returns a registry holding one counter per name, each at 1.
func registryOf(names ...string) *prometheus.Registry {
	r := prometheus.NewRegistry()
	for _, name := range names {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: "A counter."})
		c.Inc()
		r.MustRegister(c)
	}
	return r
}

// failing is a collector whose series is invalid, so that gathering its
// registry fails, as a collector's bug would make it.
type failing struct{ desc *prometheus.Desc }

func newFailing() failing {
	return failing{prometheus.NewDesc("broken", "A collector that fails.", nil, nil)}
}
func (f failing) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }
func (f failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(f.desc, errors.New("cannot read it"))
}

// metricsServer serves /metrics through the node's router from gatherers.
func metricsServer(t *testing.T, gatherers ...prometheus.Gatherer) string {
	t.Helper()
	srv := httptest.NewServer(NewRouter(Options{State: ownerWith(t), Metrics: MetricsHandler(gatherers, zerolog.Nop()), Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// readMetrics reads a /metrics response, inflating it if it was gzipped,
// and decodes it in its format: the body and its families by name. For the
// text format expfmt's decoder is its parser, which refuses a family's
// second TYPE line, as promtool does.
func readMetrics(t *testing.T, resp *http.Response) ([]byte, []*dto.MetricFamily) {
	t.Helper()
	body := io.Reader(resp.Body)
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	dec := expfmt.NewDecoder(bytes.NewReader(raw), expfmt.ResponseFormat(resp.Header))
	var families []*dto.MetricFamily
	for {
		var f dto.MetricFamily
		err := dec.Decode(&f)
		if err == io.EOF {
			slices.SortFunc(families, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
			return raw, families
		}
		if err != nil {
			t.Fatalf("decoding /metrics (%s): %v\n%s", resp.Header.Get("Content-Type"), err, raw)
		}
		families = append(families, &f)
	}
}

// familyNames returns the names of a /metrics response's families, sorted.
func familyNames(t *testing.T, resp *http.Response) []string {
	t.Helper()
	_, families := readMetrics(t, resp)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	return names
}

func get(t *testing.T, url string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	// Not the default client's transport: it would ask for gzip and
	// inflate it itself, and the test reads what the node sent.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// Each gatherer's families are written in turn, in every format a
// scraper may ask for, plain or gzipped, whole or by name.
func TestMetricsWriteEachGathererInTurn(t *testing.T) {
	url := metricsServer(t, registryOf("b_total", "a_total"), registryOf("c_total"), registryOf("d_total"))
	all := []string{"a_total", "b_total", "c_total", "d_total"}
	protobuf := `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`
	for _, c := range []struct {
		name, query string
		header      map[string]string
		format      expfmt.FormatType
		gzipped     bool
		want        []string
	}{
		{"text", "", nil, expfmt.TypeTextPlain, false, all},
		{"text, gzipped", "", map[string]string{"Accept-Encoding": "gzip"}, expfmt.TypeTextPlain, true, all},
		{"protobuf, gzipped", "", map[string]string{"Accept": protobuf, "Accept-Encoding": "gzip"}, expfmt.TypeProtoDelim, true, all},
		{"gzip refused", "", map[string]string{"Accept-Encoding": "gzip;q=0"}, expfmt.TypeTextPlain, false, all},
		{"by name", "?name[]=d_total&name[]=a_total", nil, expfmt.TypeTextPlain, false, []string{"a_total", "d_total"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := get(t, url+c.query, c.header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := expfmt.ResponseFormat(resp.Header).FormatType(); got != c.format {
				t.Errorf("Content-Type %q, want format %v", resp.Header.Get("Content-Type"), c.format)
			}
			if gzipped := resp.Header.Get("Content-Encoding") == "gzip"; gzipped != c.gzipped {
				t.Errorf("Content-Encoding %q, want gzip %v", resp.Header.Get("Content-Encoding"), c.gzipped)
			}
			if vary := resp.Header.Values("Vary"); !slices.Contains(vary, "Accept") || !slices.Contains(vary, "Accept-Encoding") {
				t.Errorf("Vary %v: a cache between would serve one scraper's format to another", vary)
			}
			if names := familyNames(t, resp); !slices.Equal(names, c.want) {
				t.Errorf("families %v, want %v", names, c.want)
			}
		})
	}
}

// The text Prometheus parses: each family once, with its HELP and TYPE.
func TestMetricsTextParsesAsPrometheusDoes(t *testing.T) {
	resp := get(t, metricsServer(t, registryOf("a_total"), registryOf("b_total")), nil)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil || len(families) != 2 || families["b_total"].GetMetric()[0].GetCounter().GetValue() != 1 {
		t.Fatalf("parsed %v, %v", families, err)
	}
}

// partOf returns a registry holding parts_total's series of these values
// of x: one part of a family that others hold the rest of.
func partOf(xs ...string) *prometheus.Registry {
	r := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parts_total", Help: "A family in parts."}, []string{"x"})
	for _, x := range xs {
		c.WithLabelValues(x).Inc()
	}
	r.MustRegister(c)
	return r
}

// A family whose parts come from gatherers one after another is one family
// in every format: the text has its HELP and TYPE once (expfmt's parser, as
// promtool's, refuses a second), protobuf one message.
func TestMetricsWriteAFamilyInPartsAsOne(t *testing.T) {
	url := metricsServer(t, registryOf("a_total"), partOf("1", "2"), partOf("3"), partOf("4", "5"), registryOf("z_total"))
	protobuf := `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`
	for _, header := range []map[string]string{nil, {"Accept-Encoding": "gzip"}, {"Accept": protobuf}} {
		raw, families := readMetrics(t, get(t, url, header))
		if n := strings.Count(string(raw), "# TYPE parts_total"); header["Accept"] == "" && n != 1 {
			t.Errorf("%v: %d TYPE lines of parts_total, want 1:\n%s", header, n, raw)
		}
		var parts []string
		for _, f := range families {
			if f.GetName() != "parts_total" {
				continue
			}
			if f.GetHelp() != "A family in parts." || f.GetType() != dto.MetricType_COUNTER {
				t.Errorf("%v: parts_total has help %q, type %v", header, f.GetHelp(), f.GetType())
			}
			for _, m := range f.GetMetric() {
				parts = append(parts, m.GetLabel()[0].GetValue())
			}
		}
		if len(families) != 3 || !slices.Equal(parts, []string{"1", "2", "3", "4", "5"}) {
			t.Errorf("%v: %d families, parts_total's series %v; want 3, and 1 to 5 in one family", header, len(families), parts)
		}
	}
}

// A gatherer that fails before anything is sent: a JSON 500, nothing else.
// Gzipped, nothing is sent before the whole scrape is gathered, so that
// holds of any gatherer.
func TestMetricsFailingBeforeAnythingIsSentIsA500(t *testing.T) {
	broken := prometheus.NewRegistry()
	broken.MustRegister(newFailing())
	for _, c := range []struct {
		name      string
		gatherers []prometheus.Gatherer
		header    map[string]string
	}{
		{"first, plain", []prometheus.Gatherer{broken, registryOf("a_total")}, nil},
		{"first, gzipped", []prometheus.Gatherer{broken, registryOf("a_total")}, map[string]string{"Accept-Encoding": "gzip"}},
		{"later, gzipped", []prometheus.Gatherer{registryOf("a_total"), broken}, map[string]string{"Accept-Encoding": "gzip"}},
	} {
		resp := get(t, metricsServer(t, c.gatherers...), c.header)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Encoding") != "" || !strings.Contains(string(body), `"error"`) || strings.Contains(string(body), "a_total") {
			t.Errorf("%s: %d %q %s, want a plain JSON 500 and no metrics", c.name, resp.StatusCode, resp.Header.Get("Content-Encoding"), body)
		}
	}
}

// A gatherer that fails after others were sent (plain, the scrape is sent
// as it is gathered): the scraper sees the response break (before its
// headers, or cut short), never a shorter one that parses as whole.
func TestMetricsFailingLaterBreaksAPlainResponse(t *testing.T) {
	broken := prometheus.NewRegistry()
	broken.MustRegister(newFailing())
	url := metricsServer(t, registryOf("a_total"), broken)
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Error("a whole response, want it broken")
	}
}

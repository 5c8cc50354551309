package httpapi

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/rs/zerolog"
)

// MetricsHandler serves GET /metrics: each gatherer's families, gathered
// and written one after another, so that a scrape holds one gatherer's
// series in memory at a time rather than every series of the node; a
// family that comes in parts, from gatherers one after another, is
// written as one. client_golang's promhttp handler gathers everything
// before it writes anything, and has no way to do otherwise. The rest is
// as promhttp does it: the format the scraper asks for (Accept), gzip
// when it takes it, ?name[]= for some families only.
//
// A gatherer that fails before anything is written gets a JSON 500; one
// that fails later drops the connection, so that the scraper sees a failed
// scrape rather than a partial one that parses. gatherers holds at least
// one.
func MetricsHandler(gatherers []prometheus.Gatherer, log zerolog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		families, err := gatherers[0].Gather()
		if err != nil {
			log.Error().Err(err).Msg("gathering metrics failed")
			writeError(w, http.StatusInternalServerError, "gathering metrics failed")
			return
		}
		format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
		h := w.Header()
		h.Add("Vary", "Accept")
		h.Add("Vary", "Accept-Encoding")
		h.Set("Content-Type", string(format))
		out := io.Writer(w)
		var gz *gzip.Writer
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			gz, _ = gzip.NewWriterLevel(w, gzipLevel) // a valid level: no error
			out = gz
		}
		enc := expfmt.NewEncoder(out, format)
		// A family may come in parts, one gatherer after another (see
		// actors.Metrics.Gatherers). The text format says a family's HELP
		// and TYPE once, so its further parts are written without them;
		// other formats get the parts joined before the family is written.
		text := format.FormatType() == expfmt.TypeTextPlain
		rest := &afterFirstLine{w: out}
		restEnc := expfmt.NewEncoder(rest, format)
		var last string            // the family written last (text)
		var held *dto.MetricFamily // a family more parts of may follow (other formats)
		names := r.URL.Query()["name[]"]
		write := func(families []*dto.MetricFamily) error {
			for _, f := range families {
				if len(names) > 0 && !slices.Contains(names, f.GetName()) {
					continue
				}
				switch {
				case text && f.GetName() == last:
					f.Help, rest.skipping = nil, true // what is left of the header: the TYPE line
					if err := restEnc.Encode(f); err != nil {
						return err
					}
				case text:
					last = f.GetName()
					if err := enc.Encode(f); err != nil {
						return err
					}
				case held != nil && held.GetName() == f.GetName():
					held.Metric = append(held.Metric, f.Metric...)
				default:
					if held != nil {
						if err := enc.Encode(held); err != nil {
							return err
						}
					}
					held = f
				}
			}
			return nil
		}
		if write(families) != nil {
			return // the scraper went away
		}
		for _, g := range gatherers[1:] {
			families, err := g.Gather()
			if err != nil {
				log.Error().Err(err).Msg("gathering metrics failed")
				panic(http.ErrAbortHandler)
			}
			if write(families) != nil {
				return
			}
		}
		if held != nil && enc.Encode(held) != nil {
			return
		}
		if c, ok := enc.(expfmt.Closer); ok {
			if c.Close() != nil {
				return
			}
		}
		if gz != nil {
			_ = gz.Close() // an error is the scraper gone
		}
	})
}

// afterFirstLine writes on what is written to it, but while skipping, not
// up to and with the first newline.
type afterFirstLine struct {
	w        io.Writer
	skipping bool
}

func (a *afterFirstLine) Write(p []byte) (int, error) {
	n := len(p)
	if a.skipping {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return n, nil
		}
		a.skipping, p = false, p[i+1:]
	}
	if len(p) == 0 {
		return n, nil
	}
	_, err := a.w.Write(p)
	return n, err
}

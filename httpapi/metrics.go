package httpapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync/atomic"

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
// Gzipped (what Prometheus asks for), a scrape is compressed into memory
// with the node's one kept gzip writer and then sent: a writer of its own
// would be most of a megabyte a scrape, and the compressed scrape is a
// tenth of the text. Plain, it is written as it is gathered. A gatherer
// that fails before anything is sent gets a JSON 500; one that fails
// later drops the connection, so that the scraper sees a failed scrape
// rather than a partial one that parses. gatherers holds at least one.
func MetricsHandler(gatherers []prometheus.Gatherer, log zerolog.Logger) http.Handler {
	var lastGzipped atomic.Int64 // the last gzipped scrape's size, to size the next one's buffer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
		names := r.URL.Query()["name[]"]
		h := w.Header()
		h.Add("Vary", "Accept")
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			var buf bytes.Buffer
			buf.Grow(int(lastGzipped.Load()) * 9 / 8)
			if err := gzipInto(&buf, func(out io.Writer) error { return writeMetrics(out, format, names, gatherers) }); err != nil {
				log.Error().Err(err).Msg("gathering metrics failed") // into memory: only a gatherer fails
				writeError(w, http.StatusInternalServerError, "gathering metrics failed")
				return
			}
			lastGzipped.Store(int64(buf.Len()))
			h.Set("Content-Type", string(format))
			h.Set("Content-Encoding", "gzip")
			_, _ = w.Write(buf.Bytes()) // an error is the scraper gone
			return
		}
		h.Set("Content-Type", string(format))
		out := &sentWriter{w: w}
		err := writeMetrics(out, format, names, gatherers)
		var failed gatherFailed
		switch {
		case !errors.As(err, &failed):
			return // written whole, or the scraper went away
		case !out.sent:
			log.Error().Err(err).Msg("gathering metrics failed")
			writeError(w, http.StatusInternalServerError, "gathering metrics failed")
		default:
			log.Error().Err(err).Msg("gathering metrics failed")
			panic(http.ErrAbortHandler)
		}
	})
}

// gatherFailed is writeMetrics' error when a gatherer failed, as opposed to
// the writer.
type gatherFailed struct{ error }

// writeMetrics writes what gatherers gather, in format, only the families
// named in names when there are any. It gathers the first before it
// writes anything.
func writeMetrics(out io.Writer, format expfmt.Format, names []string, gatherers []prometheus.Gatherer) error {
	enc := expfmt.NewEncoder(out, format)
	// A family may come in parts, one gatherer after another (see
	// actors.Metrics.Gatherers). The text format says a family's HELP and
	// TYPE once, so its further parts are written without them; other
	// formats get the parts joined before the family is written.
	text := format.FormatType() == expfmt.TypeTextPlain
	rest := &afterFirstLine{w: out}
	restEnc := expfmt.NewEncoder(rest, format)
	var last string            // the family written last (text)
	var held *dto.MetricFamily // a family more parts of may follow (other formats)
	for _, g := range gatherers {
		families, err := g.Gather()
		if err != nil {
			return gatherFailed{err}
		}
		for _, f := range families {
			if len(names) > 0 && !slices.Contains(names, f.GetName()) {
				continue
			}
			switch {
			case text && f.GetName() == last:
				f.Help, rest.skipping = nil, true // what is left of the header: the TYPE line
				err = restEnc.Encode(f)
			case text:
				last = f.GetName()
				err = enc.Encode(f)
			case held != nil && held.GetName() == f.GetName():
				held.Metric = append(held.Metric, f.Metric...)
			default:
				if held != nil {
					err = enc.Encode(held)
				}
				held = f
			}
			if err != nil {
				return err
			}
		}
	}
	if held != nil {
		if err := enc.Encode(held); err != nil {
			return err
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		return c.Close()
	}
	return nil
}

// sentWriter writes on to w, and says whether anything was written.
type sentWriter struct {
	w    io.Writer
	sent bool
}

func (s *sentWriter) Write(p []byte) (int, error) {
	s.sent = s.sent || len(p) > 0
	return s.w.Write(p)
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

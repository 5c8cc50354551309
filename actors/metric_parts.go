package actors

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dupunkto/mesh/actors/domain"
)

// family is one metric family with a series per subject (see
// Metrics.Gatherers): desc says what it is, collect makes the series of
// the subjects whose names a range holds. kinds are the kinds of subject
// it has series of.
type family struct {
	desc    *prometheus.Desc
	kinds   []domain.Kind
	collect func(ch chan<- prometheus.Metric, in names)
}

// names is a range of subject names: those after after, up to and with
// upTo; "" leaves that side open.
type names struct{ after, upTo string }

func (r names) has(name string) bool {
	return name > r.after && (r.upTo == "" || name <= r.upTo)
}

// rangesOf splits sorted names into ranges of up to size names each, the
// first and last open so that a name not among them still falls in one.
func rangesOf(sorted []string, size int) []names {
	var out []names
	after := ""
	for i := size - 1; i < len(sorted)-1; i += size {
		out = append(out, names{after: after, upTo: sorted[i]})
		after = sorted[i]
	}
	return append(out, names{after: after})
}

// part is the series of one family for one range of names: what a scrape
// gathers at once.
type part struct {
	family
	in names
}

func (p part) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }
func (p part) Collect(ch chan<- prometheus.Metric) { p.collect(ch, p.in) }

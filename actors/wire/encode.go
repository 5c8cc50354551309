package wire

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dupunkto/mesh/actors/domain"
)

// The hand-written encoders below write exactly what json.Marshal writes
// for the same document (the tests hold them to it), without reflection or
// a map: /state holds a view for every peer of every relay copy, a million
// of them in a cluster of a thousand relaying nodes, and each relay that
// arrives is a new copy to encode.

// appendView appends a peer's view, the value under "peers":
// {"status","since","last_seen","consecutive_failures","rtt_ms"}. rtt_ms is
// Mesh's addition, null before the first probe.
func appendView(b []byte, v domain.PeerView) []byte {
	b = append(b, `{"status":`...)
	b = appendString(b, string(v.Status))
	b = append(b, `,"since":`...)
	b = appendTime(b, v.Since)
	b = append(b, `,"last_seen":`...)
	if v.LastSeen.IsZero() {
		b = append(b, "null"...) // until the first successful probe
	} else {
		b = appendTime(b, v.LastSeen)
	}
	b = append(b, `,"consecutive_failures":`...)
	b = strconv.AppendInt(b, int64(v.ConsecutiveFailures), 10)
	b = append(b, `,"rtt_ms":`...)
	if v.HasRTT {
		b = appendFloat(b, millis(v.RTT))
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

// appendMember appends "name":view.
func appendMember(b []byte, name string, v domain.PeerView) []byte {
	b = appendString(b, name)
	return appendView(append(b, ':'), v)
}

// appendViews appends a "peers" object of views in name order, as
// json.Marshal orders a map's keys.
func appendViews(b []byte, views func(yield func(string, domain.PeerView) bool)) []byte {
	b = append(b, '{')
	first := true
	for name, v := range views {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendMember(b, name, v)
	}
	return append(b, '}')
}

// appendTime appends an instant as the seed writes it: RFC 3339 in UTC with
// a Z and whole seconds.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendString appends s as a JSON string. Names and statuses are checked
// host names and fixed words, which need no escaping; anything else goes
// through json.Marshal, so the result is always what it writes.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendFloat appends f as encoding/json does: the shortest decimal that
// reads back as f, in exponent form only below 1e-6 or from 1e21, and with
// the exponent's leading zero dropped (1e-07 is 1e-7).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

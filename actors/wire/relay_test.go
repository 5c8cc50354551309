package wire

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestRelayedRTTIsKept(t *testing.T) {
	for raw, want := range map[string]*time.Duration{`12.5`: ptr(12500 * time.Microsecond), `null`: nil, `0`: ptr(time.Duration(0))} {
		r, err := DecodeRelay(fmt.Appendf(nil, `{"node":"dec.mesh.dupunkto.org","peers":{"x.example":%s}}`,
			`{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":`+raw+`}`))
		if err != nil {
			t.Fatalf("rtt_ms %s: %v", raw, err)
		}
		got := r.Peers["x.example"]
		if got.HasRTT != (want != nil) || (want != nil && got.RTT != *want) {
			t.Errorf("rtt_ms %s decoded as %v (known: %v)", raw, got.RTT, got.HasRTT)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// A relay that two parsers would read differently is refused: encoding/json
// takes the last of two twin keys and matches fields ignoring case.
func TestRelaysWithTwinKeysAreRefused(t *testing.T) {
	view := `{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}`
	for name, body := range map[string]string{
		"node twice":                     `{"node":"dec.example","node":"evil.example","peers":{}}`,
		"node in two cases":              `{"node":"dec.example","NODE":"evil.example","peers":{}}`,
		"a peer twice":                   `{"node":"dec.example","peers":{"a.example":` + view + `,"a.example":` + view + `}}`,
		"a peer in two cases":            `{"node":"dec.example","peers":{"a.example":` + view + `,"A.Example":` + view + `}}`,
		"a view's status in two cases":   `{"node":"dec.example","peers":{"a.example":{"status":"up","Status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}}}`,
		"twins deep in an unknown field": `{"node":"dec.example","peers":{},"extra":[{"x":1,"X":2}]}`,
	} {
		if _, err := DecodeRelay([]byte(body)); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v, want refused for a key that appears twice", name, err)
		}
	}
	// Keys that are only alike in other objects are fine.
	if _, err := DecodeRelay([]byte(`{"node":"dec.example","peers":{"a.example":` + view + `,"b.example":` + view + `},"x":{"node":1}}`)); err != nil {
		t.Fatalf("a relay without twins was refused: %v", err)
	}
}

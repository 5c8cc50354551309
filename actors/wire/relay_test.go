package wire

import (
	"fmt"
	"testing"
	"time"
)

func TestRelayedRTTIsKept(t *testing.T) {
	for raw, want := range map[string]*time.Duration{`12.5`: ptr(12500 * time.Microsecond), `null`: nil, `0`: ptr(time.Duration(0))} {
		_, peers, err := DecodeRelay(fmt.Appendf(nil, `{"node":"dec.mesh.dupunkto.org","peers":{"x.example":%s}}`,
			`{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"rtt_ms":`+raw+`}`))
		if err != nil {
			t.Fatalf("rtt_ms %s: %v", raw, err)
		}
		got := peers["x.example"]
		if got.HasRTT != (want != nil) || (want != nil && got.RTT != *want) {
			t.Errorf("rtt_ms %s decoded as %v (known: %v)", raw, got.RTT, got.HasRTT)
		}
	}
}

func ptr[T any](v T) *T { return &v }

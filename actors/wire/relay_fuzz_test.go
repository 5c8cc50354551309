package wire

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// FuzzRelayDecode feeds DecodeRelay arbitrary bodies. It must never panic,
// and whatever it accepts must satisfy every rule of the relay contract.
// The seed corpus below runs in the normal test suite.
func FuzzRelayDecode(f *testing.F) {
	for _, seed := range []string{
		seed(f, "seed_relay.json"),
		`{"node":"a","peers":{}}`,
		`{"node":"a","peers":{"b:1":{"status":"down","since":"2026-06-06T12:42:00.5+02:00","last_seen":null,"consecutive_failures":99}}}`,
		`{"node":"a","peers":{"b":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":"2026-06-06T12:42:00Z","consecutive_failures":1e3}}}`,
		`{"node":"","peers":null}`,
		`{"node":["a"],"peers":{"b":[]}}`,
		`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`,
		`{"node":"a","peers":{"b":{"status":"up","since":"2026-13-40T99:99:99Z","last_seen":null,"consecutive_failures":0}}}`,
		`{"node":"a","peers":{},"announced":{"b":{"kind":"down","since":"2026-06-06T12:42:00Z","reminders":2}}}`,
		`{"node":"a","peers":{},"announced":{"b":{"kind":"up","since":"2026-06-06T12:42:00Z","reminders":-1}}}`,
		`{"node":"a","peers":{},"targets":{"https://s.example/X":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":4},"tcp://db:5432":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}},"announced":{"https://s.example/X":{"kind":"down","since":"2026-06-06T12:42:00Z","reminders":0}}}`,
		`{"node":"a","peers":{},"targets":{"HTTPS://s.example/":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}}}`,
		`{"node":"a","peers":{},"certs_told":{"https://s.example/X":"9f86d081"}}`,
		`{"node":"a","peers":{},"certs_told":{"s.example":"9f86d081","https://s.example/":null}}`,
		`{"node":"a","peers":{},"ended":{"b":{"kind":"down","since":"2026-06-06T12:42:00Z","ended":"2026-06-06T12:45:00Z"}},"sent_at":"2026-06-06T12:46:00.123Z"}`,
		"\x00\xff{",
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// The one-pass reading takes only what the field-by-field one
		// takes, and reads it the same.
		if fast, ok := decodeRelayFast(body); ok {
			slow, err := decodeRelayByField(body)
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("the one-pass reading took %+v; field by field: %+v, %v", fast, slow, err)
			}
		}
		r, err := DecodeRelay(body)
		node, peers := r.Node, r.Peers
		if err != nil {
			if node != "" || peers != nil || r.Targets != nil || !reflect.DeepEqual(r.Said, domain.Said{}) || !r.SentAt.IsZero() {
				t.Fatalf("a refused relay returned data: %+v", r)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("error of %d characters echoes the input", len(err.Error()))
			}
			return
		}
		if config.ValidateName(node) != nil || node != strings.ToLower(node) {
			t.Fatalf("accepted node %q", node)
		}
		if len(peers) > MaxRelayPeers {
			t.Fatalf("accepted %d peers", len(peers))
		}
		for name, v := range peers {
			if config.ValidateName(name) != nil || !v.Status.Valid() || v.Since.IsZero() || v.ConsecutiveFailures < 0 || v.ConsecutiveFailures > domain.MaxFailures {
				t.Fatalf("accepted peer %q: %+v", name, v)
			}
		}
		if len(r.Targets) > MaxRelayTargets {
			t.Fatalf("accepted %d targets", len(r.Targets))
		}
		for name, v := range r.Targets {
			if config.ValidateTargetName(name) != nil || !v.Status.Valid() || v.Since.IsZero() || v.ConsecutiveFailures < 0 {
				t.Fatalf("accepted target %q: %+v", name, v)
			}
		}
		if len(r.Said.Announced) > MaxAnnouncements {
			t.Fatalf("accepted %d announcements", len(r.Said.Announced))
		}
		for name, a := range r.Said.Announced {
			if validateSubjectName(name) != nil || !a.Kind.Valid() || a.Since.IsZero() || a.Reminders < 0 || a.Reminders > maxReminders {
				t.Fatalf("accepted announcement %q: %+v", name, a)
			}
		}
		for name, e := range r.Said.Ended {
			if validateSubjectName(name) != nil || !e.Kind.Valid() || e.Since.IsZero() || e.Ended.Before(e.Since) {
				t.Fatalf("accepted ending %q: %+v", name, e)
			}
		}
		if len(r.Said.Told) > MaxRelayTargets {
			t.Fatalf("accepted %d certificates told of", len(r.Said.Told))
		}
		for name, fp := range r.Said.Told {
			if config.ValidateTargetName(name) != nil || fp == "" || len(fp) > maxFingerprint {
				t.Fatalf("accepted certificate told of %q: %q", name, fp)
			}
		}
	})
}

package main

import (
	"errors"
	"testing"
)

func TestDemoNetworkCutsANodeBothWaysAndPutsItBack(t *testing.T) {
	var n demoNetwork
	a, b, c := n.cutFor("127.0.0.1:1"), n.cutFor("127.0.0.1:2"), n.cutFor("127.0.0.1:3")
	if a("127.0.0.1:2") != nil || b("127.0.0.1:1") != nil {
		t.Fatal("a dial failed with no node cut off")
	}
	n.isolate("127.0.0.1:1")
	for _, tc := range []struct {
		what string
		err  error
		want error
	}{
		{"the cut node to a peer", a("127.0.0.1:2"), errCutOff},
		{"the cut node to the chat", a("127.0.0.1:9"), errCutOff},
		{"a peer to the cut node", b("127.0.0.1:1"), errCutOff},
		{"a peer to another", b("127.0.0.1:3"), nil},
		{"a peer to the chat", c("127.0.0.1:9"), nil},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, tc.err, tc.want)
		}
	}
	n.isolate("")
	if a("127.0.0.1:2") != nil || b("127.0.0.1:1") != nil {
		t.Fatal("a dial failed after the node was put back")
	}
}

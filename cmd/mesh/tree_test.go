package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/thejerf/suture/v4"

	"github.com/dupunkto/mesh/config"
)

// paths lists every service under sup as a path of the names suture logs
// (supervisor/service), sorted.
func paths(prefix string, sup *suture.Supervisor) []string {
	var out []string
	for _, s := range sup.Services() {
		name := prefix + "/" + s.(interface{ String() string }).String()
		out = append(out, name)
		if child, ok := s.(*suture.Supervisor); ok {
			out = append(out, paths(name, child)...)
		}
	}
	slices.Sort(out)
	return out
}

// With every feature on, the tree is DESIGN.md's, and no supervisor has
// the name of a service inside it, so that a log line's service_name and
// supervisor never leave a reader guessing which one it was.
func TestTheTreeIsTheDesignsWithDistinctNames(t *testing.T) {
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer hook.Close()
	env := map[string]string{
		"NODE": "nov", "PEERS": "http://127.0.0.1:9,http://127.0.0.1:10", "LISTEN_ADDR": "127.0.0.1:0",
		"RELAY_SECRET": "s", "WEBHOOK_URL": hook.URL + "/hook",
		"NOTIFY_URLS":      "generic://" + hook.Listener.Addr().String() + "/a?disabletls=yes generic://" + hook.Listener.Addr().String() + "/b?disabletls=yes",
		"ALERTMANAGER_URL": hook.URL, "STATE_FILE": filepath.Join(t.TempDir(), "state.json"),
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(cfg, nil, zerolog.Nop(), nil)
	done := n.ServeBackground(t.Context())
	t.Cleanup(func() { <-done }) // the node stops when the test's context ends
	<-n.server.Ready()

	want := []string{
		"mesh/http-server",
		"mesh/isolation-guard",
		"mesh/notifications",
		"mesh/notifications/alertmanager(" + hook.Listener.Addr().String() + ")",
		"mesh/notifications/channel(generic)",
		"mesh/notifications/channel(generic-2)",
		"mesh/notifications/channel(webhook)",
		"mesh/notifications/notifier",
		"mesh/probe-scheduler",
		"mesh/relay-sender",
		"mesh/state-file",
		"mesh/state-owner",
	}
	// Each supervisor lists its services once it runs, and the server may
	// be ready before the last of them does: the tree is read until it is
	// whole, or long after it should have been.
	got := paths(n.String(), n.Supervisor)
	for deadline := time.Now().Add(10 * time.Second); !slices.Equal(got, want) && time.Now().Before(deadline); got = paths(n.String(), n.Supervisor) {
		time.Sleep(10 * time.Millisecond)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("tree\n %v\nwant\n %v", got, want)
	}
	for _, p := range got {
		dir, name := filepath.Split(p)
		if filepath.Base(dir) == name {
			t.Fatalf("%s: a supervisor and a service inside it share the name %q", p, name)
		}
	}
}

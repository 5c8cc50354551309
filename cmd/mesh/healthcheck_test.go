package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/config"
)

// healthcheck runs `mesh healthcheck` with LISTEN_ADDR=listen.
func healthcheck(listen string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	env := func(k string) string { return map[string]string{"LISTEN_ADDR": listen}[k] }
	code = run([]string{"healthcheck"}, env, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHealthcheckPassesWhileTheNodeAnswersAndFailsOnceItStops(t *testing.T) {
	cfg, err := config.Load(nil, func(k string) string {
		return map[string]string{"NODE": "hc", "PEERS": "http://127.0.0.1:9", "LISTEN_ADDR": "127.0.0.1:0"}[k]
	}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	n := newNode(cfg, nil, zerolog.Nop(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := n.ServeBackground(ctx)
	<-n.server.Ready()
	addr := n.server.Addr()

	code, stdout, stderr := healthcheck(addr)
	if code != exitOK || !strings.Contains(stdout, "http://"+addr+"/ping answered in") || stderr != "" {
		t.Fatalf("live node: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	cancel()
	<-done
	code, stdout, stderr = healthcheck(addr)
	if code != exitFailed || stdout != "" || !strings.Contains(stderr, "connection refused") || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("stopped node: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestHealthcheckFailsOnAnythingButMeshsPong(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(500) }, "answered 500 Internal Server Error"},
		{"another server", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "hello") }, "something other than Mesh"},
		{"redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/elsewhere", http.StatusFound) }, "answered 302"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			code, _, stderr := healthcheck(strings.TrimPrefix(srv.URL, "http://"))
			if code != exitFailed || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stderr %q, want 1 and %q", code, stderr, tc.want)
			}
		})
	}
}

func TestHealthcheckNamesABadOrUncheckableListenAddress(t *testing.T) {
	for listen, want := range map[string]string{
		"nonsense":    `invalid LISTEN_ADDR="nonsense"`,
		"127.0.0.1:0": "port 0",
	} {
		code, _, stderr := healthcheck(listen)
		if code != exitFailed || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("LISTEN_ADDR=%s: exit %d, stderr %q, want one line with %q", listen, code, stderr, want)
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"healthcheck", "extra"}, func(string) string { return "" }, io.Discard, &stderr); code != exitFailed || !strings.Contains(stderr.String(), `"extra"`) {
		t.Errorf("extra argument: exit %d, stderr %q", code, stderr.String())
	}
}

func TestHealthcheckDialsLoopbackForAWildcardListener(t *testing.T) {
	for listen, want := range map[string]string{
		":4000":          "127.0.0.1:4000",
		"0.0.0.0:4000":   "127.0.0.1:4000",
		"[::]:4000":      "[::1]:4000",
		"10.0.0.5:4000":  "10.0.0.5:4000",
		"localhost:4000": "localhost:4000",
	} {
		if got, err := localAddr(listen); err != nil || got != want {
			t.Errorf("localAddr(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
}

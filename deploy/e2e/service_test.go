package e2e

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// service is a web service the nodes watch as a target, in a process of
// its own: this test binary run as MESH_E2E_SERVE. The test stops it
// (nothing listens: connections are refused) and starts it again on the
// same address, as a crashed and restarted service would be. It runs
// apart from the test process for the reason the recorder does: that
// process is busy with the other tests side by side, and a service inside
// it answered later than a probe's 250 ms, so that the nodes called it
// down while the test had it up.
type service struct {
	addr string // where it listens: host:port, or several, comma-separated
	tell func(line string) string
}

// newService serves on a loopback port of its own until the test ends.
func newService(t *testing.T) *service {
	t.Helper()
	return newServiceIn(t, "", fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0]))
}

// newServiceIn serves at each of addrs (comma-separated) inside the
// network namespace ns (on the host when ns is "").
func newServiceIn(t *testing.T, ns, addrs string) *service {
	t.Helper()
	tell, _ := helperIn(t, ns, "MESH_E2E_SERVE="+addrs)
	return &service{addr: addrs, tell: tell}
}

// stop closes the service's listeners and connections; start listens again.
func (s *service) stop()  { s.tell("stop") }
func (s *service) start() { s.tell("start") }

// redirect makes the service answer path with code, sending the client
// to url.
func (s *service) redirect(path string, code int, url string) {
	s.tell(fmt.Sprintf("redirect %s %d %s", path, code, url))
}

// serve is the service's side: it answers "open" at every path but those
// it was told to redirect, says "ready" once it listens, then takes one
// line at a time on standard input ("stop", "start", "redirect path code
// url") and answers each with "done". It stops when its standard input
// closes.
func serve(addrs string) int {
	var mu sync.Mutex
	redirects := map[string]struct {
		code int
		url  string
	}{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		to, ok := redirects[r.URL.Path]
		mu.Unlock()
		if ok {
			http.Redirect(w, r, to.url, to.code)
			return
		}
		fmt.Fprint(w, "open")
	})
	var servers []*http.Server
	listen := func() error {
		for addr := range strings.SplitSeq(addrs, ",") {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: handler, ErrorLog: log.New(io.Discard, "", 0)}
			servers = append(servers, srv)
			go func() { _ = srv.Serve(l) }()
		}
		return nil
	}
	if err := listen(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		switch {
		case len(f) == 1 && f[0] == "stop":
			for _, srv := range servers {
				_ = srv.Close()
			}
			servers = nil
		case len(f) == 1 && f[0] == "start":
			if err := listen(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		case len(f) == 4 && f[0] == "redirect":
			code, err := strconv.Atoi(f[2])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			mu.Lock()
			redirects[f[1]] = struct {
				code int
				url  string
			}{code, f[3]}
			mu.Unlock()
		default:
			fmt.Fprintf(os.Stderr, "the service does not know %q\n", in.Text())
			return 1
		}
		fmt.Println("done")
	}
	return 0
}

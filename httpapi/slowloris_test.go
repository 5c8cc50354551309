package httpapi

import (
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Slow clients that open connections and never finish their headers (a
// slowloris attack) hold nothing but their own connection: /ping still
// answers while they are open, and the server closes each within its header
// timeout however slowly it trickles bytes.
func TestSlowlorisConnectionsDoNotDelayPingAndAreClosed(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const slow = 300
	var wg sync.WaitGroup
	closedAfter := make(chan time.Duration, slow)
	stop := make(chan struct{})
	defer close(stop)
	for range slow {
		conn, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		opened := time.Now()
		if _, err := io.WriteString(conn, "GET /ping HTTP/1.1\r\nHost: mesh\r\n"); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer conn.Close()
			// A header line a byte every 500ms, never ending: keeps the
			// connection busy as a slowloris does.
			go func() {
				tick := time.NewTicker(500 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte("X")); err != nil {
							return
						}
					}
				}
			}()
			// The server answers nothing useful; it closes the connection.
			_ = conn.SetReadDeadline(time.Now().Add(ReadHeaderTimeout + 10*time.Second))
			_, _ = io.Copy(io.Discard, conn)
			closedAfter <- time.Since(opened)
		})
	}

	// While all of them hang on, a well-behaved client is served.
	client := &http.Client{Timeout: ReadHeaderTimeout}
	for range 5 {
		resp, err := client.Get("http://" + s.Addr() + "/ping")
		if err != nil {
			t.Fatalf("/ping with %d slow connections open: %v", slow, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/ping with %d slow connections open: %d", slow, resp.StatusCode)
		}
	}

	wg.Wait()
	close(closedAfter)
	var longest time.Duration
	for d := range closedAfter {
		longest = max(longest, d)
	}
	// The server's deadline is ReadHeaderTimeout from the first byte; allow
	// a second for a busy machine to get round to closing 300 connections.
	if longest > ReadHeaderTimeout+time.Second {
		t.Fatalf("a slow connection stayed open %s, want at most the header timeout %s", longest, ReadHeaderTimeout)
	}
}

// A body sent slowly is cut off: the server's read timeout bounds how long
// one request may hold a connection, headers and body together.
func TestASlowBodyIsCutOffByTheReadTimeout(t *testing.T) {
	t.Parallel()
	if ReadHeaderTimeout > 10*time.Second || ReadTimeout > 30*time.Second || WriteTimeout > 30*time.Second || IdleTimeout > 2*time.Minute || MaxHeaderBytes != 64<<10 {
		t.Fatalf("server limits %s/%s/%s/%s/%d are looser than a node on the open internet should run with",
			ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout, MaxHeaderBytes)
	}
	s := startServer(t)
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	opened := time.Now()
	if _, err := io.WriteString(conn, "POST /relay HTTP/1.1\r\nHost: mesh\r\nContent-Length: 100000\r\nAuthorization: x\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range 60 {
			time.Sleep(500 * time.Millisecond)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(ReadTimeout + 10*time.Second))
	_, _ = io.Copy(io.Discard, conn)
	if took := time.Since(opened); took > ReadTimeout+time.Second {
		t.Fatalf("a slow body held its connection %s, want at most the read timeout %s", took, ReadTimeout)
	}
}

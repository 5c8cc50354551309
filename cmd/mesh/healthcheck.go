package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dupunkto/mesh/config"
)

// healthcheckTimeout bounds one health check; Docker's HEALTHCHECK in
// deploy/Dockerfile allows a little more so that it is ours that fires.
const healthcheckTimeout = 3 * time.Second

// runHealthcheck is `mesh healthcheck`: GET /ping on the node this
// environment configures, exit 0 if it answers {"pong":true}, else 1. A
// scratch image has no curl; this is what its HEALTHCHECK runs.
func runHealthcheck(args []string, env config.Env, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "mesh healthcheck: unexpected argument %q: it reads PORT and LISTEN_ADDR from the environment\n", args[0])
		return exitFailed
	}
	listen, err := config.ListenAddr(env)
	if err != nil {
		fmt.Fprintf(stderr, "mesh healthcheck: %v\n", err)
		return exitFailed
	}
	target, err := localAddr(listen)
	if err != nil {
		fmt.Fprintf(stderr, "mesh healthcheck: %v\n", err)
		return exitFailed
	}
	url := "http://" + target + "/ping"
	start := time.Now()
	if err := ping(url); err != nil {
		fmt.Fprintf(stderr, "mesh healthcheck: %s: %v\n", url, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "mesh healthcheck: %s answered in %s\n", url, time.Since(start).Round(time.Millisecond))
	return exitOK
}

// localAddr turns a listen address into one to dial on this machine: a
// node listening on every interface (":4000", "0.0.0.0:4000", "[::]:4000")
// is reached on loopback.
func localAddr(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", err
	}
	if port == "0" {
		return "", fmt.Errorf("the node listens on port 0, a port picked at random: set PORT or LISTEN_ADDR to a fixed port")
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port), nil
}

func ping(url string) error {
	client := &http.Client{
		Timeout: healthcheckTimeout,
		// /ping never redirects; following one would check something else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("answered %s", resp.Status)
	}
	var body struct {
		Pong bool `json:"pong"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1024)).Decode(&body); err != nil || !body.Pong {
		return fmt.Errorf("answered 200 but not {\"pong\":true}: is something other than Mesh on this port?")
	}
	return nil
}

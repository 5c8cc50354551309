package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// runChat is `mesh chat`: the demo's chat channel on its own, for a
// cluster tried in containers (deploy/compose.yaml). The nodes' WEBHOOK_URL
// points at its /hook, and it prints each message as it comes, where
// `docker compose logs` shows it: what the cluster would post to a team's
// chat, without one.
func runChat(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mesh chat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":4100", "where to take the nodes' webhook posts (POST /hook)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	chat, err := newDemoChat(*listen, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "mesh chat: %v\n", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "mesh chat: set WEBHOOK_URL=http://<this host>:%d/hook on the nodes; each message they send is printed here\n", chat.port())
	if err := chat.Serve(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "mesh chat: %v\n", err)
		return exitFailed
	}
	return exitOK
}

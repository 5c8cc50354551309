package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dupunkto/mesh/actors/wire"
	"github.com/dupunkto/mesh/config"
)

// silenceUsage is what `mesh silence` says when asked, or misused.
const silenceUsage = `usage:
  mesh silence add NAME|GLOB --for 2h [--comment "kernel upgrade"] [--by alice] [--all]
  mesh silence list
  mesh silence expire ID

Talks to a node's /silences: the node this environment configures (PORT,
LISTEN_ADDR), or --node URL. The cluster's secret comes from RELAY_SECRET
in the environment, or --secret-file PATH; never from the command line.
`

// silenceTimeout bounds one call to the node.
const silenceTimeout = 10 * time.Second

// runSilence is `mesh silence`: make, list and end silences on a node,
// as amtool silence does on Alertmanager.
func runSilence(args []string, env config.Env, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, silenceUsage)
		return exitConfig
	}
	verb := args[0]
	fs := flag.NewFlagSet("mesh silence "+verb, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	node := fs.String("node", "", "the node's base URL (default: this environment's PORT or LISTEN_ADDR on loopback)")
	secretFile := fs.String("secret-file", "", "a file holding the cluster's RELAY_SECRET (default: RELAY_SECRET)")
	duration := fs.String("for", "", "how long the silence lasts: 2h, 90m")
	comment := fs.String("comment", "", "why")
	by := fs.String("by", env("USER"), "who")
	all := fs.Bool("all", false, "allow a glob that matches every peer and target")
	// Flags may follow the name (mesh silence add web-1 --for 2h).
	var positional []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			fmt.Fprintf(stderr, "mesh silence %s: %v\n%s", verb, err, silenceUsage)
			return exitConfig
		}
		if fs.NArg() == 0 {
			break
		}
		positional, rest = append(positional, fs.Arg(0)), fs.Args()[1:]
	}
	secret, err := silenceSecret(*secretFile, env)
	if err == nil && *node == "" {
		*node, err = localNode(env)
	}
	if err != nil {
		fmt.Fprintf(stderr, "mesh silence %s: %v\n", verb, err)
		return exitConfig
	}
	base := strings.TrimRight(*node, "/")
	switch {
	case verb == "add" && len(positional) == 1:
		body, _ := json.Marshal(map[string]any{"matcher": positional[0], "for": *duration, "comment": *comment, "by": *by, "all": *all})
		return silenceCall(http.MethodPost, base+"/silences", secret, body, stdout, stderr, printSilence)
	case verb == "list" && len(positional) == 0:
		return silenceCall(http.MethodGet, base+"/silences", secret, nil, stdout, stderr, printSilences)
	case verb == "expire" && len(positional) == 1:
		return silenceCall(http.MethodPost, base+"/silences/"+positional[0]+"/expire", secret, nil, stdout, stderr, printSilence)
	}
	fmt.Fprint(stderr, silenceUsage)
	return exitConfig
}

// silenceSecret reads the cluster's secret from a file, or RELAY_SECRET.
func silenceSecret(file string, env config.Env) (string, error) {
	if file == "" {
		if s := env("RELAY_SECRET"); s != "" {
			return s, nil
		}
		return "", errors.New("no secret: set RELAY_SECRET, or give --secret-file")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--secret-file: %v", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// localNode is the base URL of the node this environment configures.
func localNode(env config.Env) (string, error) {
	listen, err := config.ListenAddr(env)
	if err != nil {
		return "", err
	}
	addr, err := localAddr(listen)
	if err != nil {
		return "", err
	}
	return "http://" + addr, nil
}

// silenceCall makes one call and prints its answer with show; a 4xx or
// 5xx prints the node's error.
func silenceCall(method, url, secret string, body []byte, stdout, stderr io.Writer, show func(io.Writer, []byte) error) int {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "mesh silence: %v\n", err)
		return exitConfig
	}
	req.Header.Set("Authorization", secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: silenceTimeout}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "mesh silence: %v\n", err)
		return exitFailed
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		var e struct{ Error string }
		_ = json.Unmarshal(answer, &e)
		fmt.Fprintf(stderr, "mesh silence: %s: %s\n", resp.Status, e.Error)
		return exitFailed
	}
	if err := show(stdout, answer); err != nil {
		fmt.Fprintf(stderr, "mesh silence: the node's answer: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func printSilence(w io.Writer, b []byte) error {
	var doc wire.SilenceDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	s := doc.Silence()
	fmt.Fprintf(w, "%s %s until %s by %s: %s\n", s.ID, s.Matcher, s.End.Local().Format(time.DateTime), s.By, s.Comment)
	return nil
}

func printSilences(w io.Writer, b []byte) error {
	var doc struct{ Silences []wire.SilenceDoc }
	if err := json.Unmarshal(b, &doc); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCHES\tSTATE\tSTART\tEND\tBY\tCOMMENT")
	now := time.Now()
	for _, d := range doc.Silences {
		s := d.Silence()
		state := "active"
		switch {
		case !s.End.After(now):
			state = "expired"
		case s.Start.After(now):
			state = "pending"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Matcher, state, s.Start.Local().Format(time.DateTime), s.End.Local().Format(time.DateTime), s.By, s.Comment)
	}
	return tw.Flush()
}

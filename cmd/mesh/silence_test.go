package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `mesh silence` misused says how to use it, or what is missing, in one
// line, and exits 2 before it calls any node; the secret is never an
// argument.
func TestMeshSilenceSaysWhatIsMissing(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, c := range []struct {
		args []string
		env  func(string) string
		says string
	}{
		{[]string{"silence"}, noEnv, "usage:"},
		{[]string{"silence", "mute", "x"}, func(k string) string { return map[string]string{"RELAY_SECRET": "s"}[k] }, "usage:"},
		{[]string{"silence", "add"}, func(k string) string { return map[string]string{"RELAY_SECRET": "s"}[k] }, "usage:"},
		{[]string{"silence", "list"}, noEnv, "no secret: set RELAY_SECRET, or give --secret-file"},
		{[]string{"silence", "list", "--secret-file", "/nonexistent/secret"}, noEnv, "--secret-file"},
		{[]string{"silence", "add", "x", "--secret", "s"}, noEnv, "flag provided but not defined: -secret"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, c.env, &stdout, &stderr); code != exitConfig || !strings.Contains(stderr.String(), c.says) {
			t.Errorf("mesh %s: exit %d, %q, want 2 saying %q", strings.Join(c.args, " "), code, stderr.String(), c.says)
		}
	}
}

// The secret comes from a file as well, its line break aside.
func TestMeshSilenceReadsTheSecretFromAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := silenceSecret(file, func(string) string { return "" }); err != nil || got != "s3cret" {
		t.Fatalf("read %q (%v)", got, err)
	}
}

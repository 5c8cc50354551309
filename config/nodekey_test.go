package config

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dupunkto/mesh/actors/domain"
)

// A node's key is kept beside its state file unless NODE_KEY_FILE says
// where; without either the node has none.
func TestTheNodeKeyIsKeptBesideTheStateFile(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PEERS": "a"}, ""},
		{map[string]string{"PEERS": "a", "STATE_FILE": "/data/state.json"}, "/data/state.key"},
		{map[string]string{"PEERS": "a", "STATE_FILE": "/var/lib/mesh/state"}, "/var/lib/mesh/state.key"},
		{map[string]string{"PEERS": "a", "STATE_FILE": "/data/state.json", "NODE_KEY_FILE": "/keys/nov.pem"}, "/keys/nov.pem"},
		{map[string]string{"PEERS": "a", "NODE_KEY_FILE": "/keys/nov.pem"}, "/keys/nov.pem"},
	} {
		cfg, err := load(t, c.env)
		if err != nil || cfg.NodeKeyFile != c.want {
			t.Errorf("%v: NODE_KEY_FILE %q (%v), want %q", c.env, cfg.NodeKeyFile, err, c.want)
		}
	}
}

// The key is made at the first start, readable by the node alone, as a
// PKCS #8 PEM file; the next start reads the same key. A file that holds
// no Ed25519 key stops the node with one line naming the setting and
// never what the file holds.
func TestTheNodeKeyIsMadeOnceAndReadAfter(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{NodeKeyFile: filepath.Join(dir, "state.key")}
	key, made, err := cfg.LoadNodeKey()
	if err != nil || !made || key == nil {
		t.Fatalf("first start: key %v, made %v, %v", key != nil, made, err)
	}
	st, err := os.Stat(cfg.NodeKeyFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v; want it 0600", st.Mode(), err)
	}
	pem, _ := os.ReadFile(cfg.NodeKeyFile)
	if !bytes.HasPrefix(pem, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Fatalf("the key file is not a PKCS #8 PEM file: %q", pem)
	}
	again, made, err := cfg.LoadNodeKey()
	if err != nil || made || !again.Equal(key) {
		t.Fatalf("second start: the same key %v, made %v, %v", again.Equal(key), made, err)
	}
	if none, _, err := (Config{}).LoadNodeKey(); none != nil || err != nil {
		t.Fatalf("no NODE_KEY_FILE: %v, %v; want no key", none, err)
	}

	secretish := "-----BEGIN PRIVATE KEY-----\nTUlJQ2Q=\n-----END PRIVATE KEY-----\n"
	for name, c := range map[string]struct{ content, want string }{
		"not PEM":      {"hello", "not a PEM file"},
		"not PKCS #8":  {secretish, "no PKCS #8 private key"},
		"a public key": {"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n", "PRIVATE KEY"},
		"no directory": {"", "does not exist"},
		"a directory":  {"", "cannot be read"},
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		switch name {
		case "no directory":
			path = filepath.Join(dir, "nowhere", "state.key")
		case "a directory":
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		_, _, err := Config{NodeKeyFile: path}.LoadNodeKey()
		if err == nil || !strings.HasPrefix(err.Error(), "invalid NODE_KEY_FILE=") || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "TUlJ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line about NODE_KEY_FILE saying %q", name, err, c.want)
		}
	}
}

// PEER_KEYS gives peers' keys by the names PEERS gives them; anything else
// stops the node naming the setting.
func TestPeerKeys(t *testing.T) {
	key := domain.EncodeKey(bytes.Repeat([]byte{7}, ed25519.PublicKeySize))
	cfg, err := load(t, map[string]string{"PEERS": "http://a:4000,http://b:4000", "PEER_KEYS": "a:4000=" + key + " B:4000=" + key})
	if err != nil || cfg.PeerKeys["a:4000"] != key || cfg.PeerKeys["b:4000"] != key || len(cfg.PeerKeys) != 2 {
		t.Fatalf("PEER_KEYS: %v, %v", cfg.PeerKeys, err)
	}
	for value, want := range map[string]string{
		"a:4000":                           "not name=key",
		"c:4000=" + key:                    `"c:4000" is not one of PEERS`,
		"a:4000=short":                     "not an Ed25519 public key",
		"a:4000=" + key + ",a:4000=" + key: "given twice",
	} {
		_, err := load(t, map[string]string{"PEERS": "http://a:4000,http://b:4000", "PEER_KEYS": value})
		if err == nil || !strings.HasPrefix(err.Error(), "invalid PEER_KEYS=") || !strings.Contains(err.Error(), want) {
			t.Errorf("PEER_KEYS=%s: %v, want an error saying %q", value, err, want)
		}
	}
}

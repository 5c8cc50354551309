package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"

	"github.com/dupunkto/mesh/actors/domain"
)

// nodeKeyBeside is where a node keeps its signing key when NODE_KEY_FILE
// is unset: STATE_FILE's name with .key for its extension
// (/data/state.json gives /data/state.key), so that the key lasts exactly
// as long as the view does; "" without a state file.
func nodeKeyBeside(stateFile string) string {
	if stateFile == "" {
		return ""
	}
	return strings.TrimSuffix(stateFile, filepath.Ext(stateFile)) + ".key"
}

// parsePeerKeys reads PEER_KEYS: name=key entries, separated as PEERS's
// are, each name a peer's as PEERS names it, each key an Ed25519 public
// key as a node's start line and /state give it.
func parsePeerKeys(v string, peers []Peer) (map[string]string, error) {
	known := make(map[string]bool, len(peers))
	for _, p := range peers {
		known[p.Name] = true
	}
	keys := map[string]string{}
	for _, entry := range splitNames(v) {
		name, key, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("entry %q is not name=key", entry)
		}
		name = strings.ToLower(name)
		if !known[name] {
			return nil, fmt.Errorf("%q is not one of PEERS (name a peer as PEERS does, host[:port])", name)
		}
		if _, err := domain.DecodeKey(key); err != nil {
			return nil, fmt.Errorf("the key for %q is %v", name, err)
		}
		if _, twice := keys[name]; twice {
			return nil, fmt.Errorf("%q is given twice", name)
		}
		keys[name] = key
	}
	return keys, nil
}

// LoadNodeKey reads the node's signing key from NODE_KEY_FILE, or, when
// the file does not exist yet, makes one and keeps it there (made says
// so). Without NODE_KEY_FILE (and STATE_FILE) it returns nil: the node
// signs nothing. The file is a PKCS #8 PEM file, as `openssl genpkey
// -algorithm ed25519` writes one, readable by the node's user alone. An
// error names the setting, never the key.
func (c Config) LoadNodeKey() (key ed25519.PrivateKey, made bool, err error) {
	if c.NodeKeyFile == "" {
		return nil, false, nil
	}
	key, made, err = loadNodeKey(c.NodeKeyFile)
	if err != nil {
		return nil, false, fmt.Errorf("invalid NODE_KEY_FILE=%q: %v", c.NodeKeyFile, err)
	}
	return key, made, nil
}

func loadNodeKey(path string) (ed25519.PrivateKey, bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return makeNodeKey(path)
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return nil, false, fmt.Errorf("cannot be read: %v", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, false, errors.New("is not a PEM file holding a PRIVATE KEY")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, false, errors.New("holds no PKCS #8 private key that can be read")
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, false, fmt.Errorf("holds a %T, not an Ed25519 key", parsed)
	}
	return key, false, nil
}

// makeNodeKey makes a new key and writes it to path atomically, 0600, in
// a directory that must exist.
func makeNodeKey(path string) (ed25519.PrivateKey, bool, error) {
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return nil, false, fmt.Errorf("directory %s does not exist", filepath.Dir(path))
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, err
	}
	if err := renameio.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, false, fmt.Errorf("cannot be written: %v", err)
	}
	return key, true, nil
}

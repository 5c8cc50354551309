package httpapi

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyOf(k ed25519.PrivateKey) string { return domain.EncodeKey(k.Public().(ed25519.PublicKey)) }

// A relay speaks only for its sender: the first key a peer's relays are
// signed with is pinned for its name; relays in that name signed with
// another key, or not signed at all, are then refused and counted
// unknown_key, with one warn line a key naming the peer; a signature that
// does not match its body is refused as one; another peer's name pins a
// key of its own. Before any key is pinned, an unsigned relay (a seed node,
// a node without a key file) is taken as before.
func TestARelaySpeaksOnlyForItsSender(t *testing.T) {
	var logs bytes.Buffer
	counter := &counted{}
	o := ownerWith(t, "dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org")
	srv := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", RelaySecret: secret, NodeKey: "",
		Peers: configPeers("dec.mesh.dupunkto.org", "oct.mesh.dupunkto.org"), Relays: o, RelayCounter: counter, Log: zerolog.New(&logs)}))
	t.Cleanup(srv.Close)
	mac := wire.MACKey(secret)
	decKey, forgerKey, octKey := newKey(t), newKey(t), newKey(t)
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	// Each relay is stamped a millisecond after the last, so that none is
	// refused as stale or replayed: only its key or signature can be.
	next := func(node string) []byte {
		at = at.Add(time.Millisecond)
		return wire.Stamped([]byte(relayWith(`"`+node+`"`, "nov.mesh.dupunkto.org", goodPeer)), at)
	}
	post := func(body []byte, key ed25519.PrivateKey, signed []byte) response {
		h := map[string]string{"Content-Type": "application/json", "Authorization": wire.RelayMAC(mac, body)}
		if key != nil {
			h[wire.KeyHeader], h[wire.SignatureHeader] = keyOf(key), wire.SignRelay(key, signed)
		}
		return do(t, "POST", srv.URL+"/relay", h, string(body))
	}
	pinned := func(node, want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			got, ok := o.Snapshot().PinnedKey(node)
			if ok && got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("key pinned for %s: %q (%v), want %q", node, got, ok, want)
			}
		}
	}

	if b := next("dec.mesh.dupunkto.org"); post(b, nil, nil).status != 200 {
		t.Fatal("an unsigned relay, no key pinned: refused")
	}
	if _, ok := o.Snapshot().PinnedKey("dec.mesh.dupunkto.org"); ok {
		t.Fatal("an unsigned relay pinned a key")
	}
	if b := next("dec.mesh.dupunkto.org"); post(b, decKey, b).status != 200 {
		t.Fatal("dec's first signed relay refused")
	}
	pinned("dec.mesh.dupunkto.org", keyOf(decKey))

	changed := next("dec.mesh.dupunkto.org")
	cases := []struct {
		name         string
		body, signed []byte
		key          ed25519.PrivateKey
		status       int
		message      string
	}{
		{"signed by the key pinned", next("dec.mesh.dupunkto.org"), nil, decKey, 200, ""},
		{"signed by another key", next("dec.mesh.dupunkto.org"), nil, forgerKey, 403, "pinned"},
		{"the other key again", next("dec.mesh.dupunkto.org"), nil, forgerKey, 403, "pinned"},
		{"not signed", next("dec.mesh.dupunkto.org"), []byte{}, nil, 403, "pinned"},
		{"a body changed after it was signed", changed, bytes.Replace(changed, []byte(`"up"`), []byte(`"down"`), 1), decKey, 401, "signature"},
		{"oct's first, by a key of its own", next("oct.mesh.dupunkto.org"), nil, octKey, 200, ""},
	}
	for _, c := range cases {
		if c.signed == nil {
			c.signed = c.body
		}
		if r := post(c.body, c.key, c.signed); r.status != c.status || !strings.Contains(r.body, c.message) {
			t.Errorf("%s: %d %s, want %d saying %q", c.name, r.status, r.body, c.status, c.message)
		}
	}
	if r := do(t, "POST", srv.URL+"/relay", map[string]string{"Authorization": secret, wire.KeyHeader: "short", wire.SignatureHeader: "x"}, string(next("dec.mesh.dupunkto.org"))); r.status != 400 || !strings.Contains(r.body, wire.KeyHeader) {
		t.Errorf("a key that is no key: %d %s, want 400 naming %s", r.status, r.body, wire.KeyHeader)
	}
	pinned("oct.mesh.dupunkto.org", keyOf(octKey))
	pinned("dec.mesh.dupunkto.org", keyOf(decKey))

	counter.mu.Lock()
	refused := 0
	for _, r := range counter.results {
		if r == domain.RelayUnknownKey {
			refused++
		}
	}
	counter.mu.Unlock()
	if refused != 3 {
		t.Errorf("%d relays counted %s, want 3", refused, domain.RelayUnknownKey)
	}
	// One warn line for the forger's key, however often it posts, and one
	// for the unsigned relay; each names the peer and the key pinned.
	var warns []string
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"level":"warn"`) {
			warns = append(warns, line)
		}
	}
	if len(warns) != 2 || !slices.ContainsFunc(warns, func(l string) bool { return strings.Contains(l, keyOf(forgerKey)) && strings.Contains(l, "PEER_KEYS") }) {
		t.Errorf("want two warn lines, one of the forger's key saying PEER_KEYS: %q", warns)
	}
	for _, w := range warns {
		if !strings.Contains(w, `"peer":"dec.mesh.dupunkto.org"`) || !strings.Contains(w, `"pinned":"`+keyOf(decKey)+`"`) {
			t.Errorf("a warn line that does not name the peer and its pinned key: %s", w)
		}
	}
}

// /state shows the node's own key, which its peers pin: what an operator
// compares with a peer's warn line, or gives in PEER_KEYS.
func TestStateShowsTheNodesKey(t *testing.T) {
	o := ownerWith(t, "dec.mesh.dupunkto.org")
	key := keyOf(newKey(t))
	srv := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", NodeKey: key, Log: zerolog.Nop()}))
	t.Cleanup(srv.Close)
	for _, path := range []string{"/state", "/state?relays=none"} {
		if r := do(t, "GET", srv.URL+path, nil, ""); !strings.Contains(r.body, `"key":"`+key+`"`) {
			t.Errorf("%s: %s, want the node's key", path, r.body)
		}
	}
	srv2 := httptest.NewServer(NewRouter(Options{State: o, AggregatorURL: "/", Log: zerolog.Nop()}))
	t.Cleanup(srv2.Close)
	if r := do(t, "GET", srv2.URL+"/state", nil, ""); strings.Contains(r.body, `"key"`) {
		t.Errorf("a node without a key: %s, want no key", r.body)
	}
}

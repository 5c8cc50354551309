package e2e

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// What a node logs when it pins a peer's key, and when a relay in a
// pinned peer's name comes signed with another key.
const (
	pinnedLine     = "pinned the peer's key: its relays signed with another are refused from now on"
	otherKeyLine   = "a relay in this peer's name is signed with another key than the one pinned for it: refused (403). If the peer was rebuilt, give this node its new key, PEER_KEYS=peer=key, and restart it; if not, someone holding RELAY_SECRET is posing as it"
	replacedByLine = "the peer's key given in PEER_KEYS replaces the one pinned"
)

// forger posts relays as a holder of RELAY_SECRET who is none of the
// nodes: with a MAC the secret makes, signed with a key of its own or not
// signed at all, as the node it names.
type forger struct {
	macKey []byte
	key    ed25519.PrivateKey
}

func newForger(t *testing.T, secret string) *forger {
	t.Helper()
	macKey, err := hkdf.Key(sha256.New, []byte(secret), nil, "mesh relay mac v1", sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &forger{macKey: macKey, key: key}
}

// post sends body to node's /relay; signed, with the forger's own key.
// It returns the status (0 when no answer came) and the answer.
func (f *forger) post(to *node, body []byte, signed bool) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, "http://"+to.name+"/relay", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	m := hmac.New(sha256.New, f.macKey)
	m.Write(body)
	req.Header.Set("Authorization", "Mesh-HMAC-SHA256 "+base64.RawURLEncoding.EncodeToString(m.Sum(nil)))
	if signed {
		digest := sha512.Sum512(body)
		sig, err := f.key.Sign(nil, digest[:], &ed25519.Options{Hash: crypto.SHA512, Context: "mesh relay signature v1"})
		if err != nil {
			return 0, err.Error()
		}
		req.Header.Set("Mesh-Key", base64.RawURLEncoding.EncodeToString(f.key.Public().(ed25519.PublicKey)))
		req.Header.Set("Mesh-Signature", base64.RawURLEncoding.EncodeToString(sig))
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

// The hostile run of 2026-12-02, with node keys: a forger holding
// RELAY_SECRET posts, as the first node, to every other one, and as the
// second to the first, relays that see everyone up and say every peer's
// outage was announced, dated now or 55 s ahead. Every node has pinned the real
// node's key, so each forged relay, signed with the forger's key or not
// signed, is refused (403, counted unknown_key, one warn line a key), and
// a node killed meanwhile gets exactly one down message, naming where it
// is seen from.
func TestAForgerHoldingTheSecretCannotSpeakForAnotherNode(t *testing.T) {
	shareMachine(t, loadOf(5, 100*time.Millisecond))
	hook := newChat(t)
	dir := t.TempDir()
	nodes := byName(clusterWith(t, 5, func(i int) []string {
		return []string{"NODE_KEY_FILE=" + filepath.Join(dir, fmt.Sprintf("node%d.key", i))}
	}, clusterAlertsEnv(hook)...))
	first, second, victim := nodes[0], nodes[1], nodes[3]
	for _, pin := range []struct{ by, of *node }{{first, second}, {nodes[1], first}, {nodes[2], first}, {nodes[3], first}, {nodes[4], first}} {
		eventually(t, 15*time.Second, pin.by.name+" to pin "+pin.of.name+"'s key", func() bool {
			return len(pin.by.logsMatching(map[string]any{"message": pinnedLine, "peer": pin.of.name})) == 1
		})
	}
	f := newForger(t, "cluster-alerts")
	// A forged relay sees everyone up and says every peer's outage was
	// announced; dated now, or 55 s ahead, as the hostile run did, to make
	// the real relays look stale.
	forged := func(as *node, ahead time.Duration) []byte {
		now := time.Now().UTC().Add(ahead)
		views, announced := map[string]any{}, map[string]any{}
		for _, n := range nodes {
			if n != as {
				since := now.Add(-time.Minute).Format(time.RFC3339)
				views[n.name] = map[string]any{"status": "up", "since": since, "last_seen": now.Format(time.RFC3339), "consecutive_failures": 0}
				announced[n.name] = map[string]any{"kind": "down", "since": now.Format(time.RFC3339), "reminders": 0}
			}
		}
		body, _ := json.Marshal(map[string]any{"node": as.name, "peers": views, "announced": announced, "sent_at": now.Format("2006-01-02T15:04:05.000Z07:00")})
		return body
	}
	var mu sync.Mutex
	refused, taken := 0, []string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			signed, ahead := i%2 == 0, time.Duration(i/2%2)*55*time.Second
			posts := []struct{ as, to *node }{{second, first}}
			for _, n := range nodes[1:] {
				posts = append(posts, struct{ as, to *node }{first, n})
			}
			for _, p := range posts {
				status, msg := f.post(p.to, forged(p.as, ahead), signed)
				mu.Lock()
				switch status {
				case http.StatusForbidden:
					refused++
				case 0, http.StatusServiceUnavailable: // a loaded machine's answer came late, or it was busy: not taken either
				default:
					taken = append(taken, fmt.Sprintf("as %s to %s, signed %v, %v ahead: %d %s", p.as.name, p.to.name, signed, ahead, status, msg))
				}
				mu.Unlock()
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()

	victim.kill()
	eventually(t, 20*time.Second, "a down message about "+victim.name, func() bool { d, _, _ := kinds(hook.about(victim.name)); return d > 0 })
	time.Sleep(5 * time.Second) // two reminder gaps: a second down message would be here
	msgs := hook.about(victim.name)
	if down, _, _ := kinds(msgs); down != 1 {
		t.Fatalf("%d down messages about %s while the forger posted, want 1:%s", down, victim.name, dump(msgs))
	}
	watchers := []*node{nodes[0], nodes[1], nodes[2], nodes[4]}
	if err := downFromMajority(msgs[0].Content, victim.name, 5, watchers); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(taken) > 0 || refused < 10 {
		t.Errorf("forged relays: %d refused (403), taken or otherwise answered: %q", refused, taken)
	}
	mu.Unlock()
	for _, n := range nodes[1:] {
		if n == victim {
			continue
		}
		families, _ := scrape(t, n)
		if got, _ := sample(families, "mesh_relay_received_total", map[string]string{"result": "unknown_key"}); got == 0 {
			t.Errorf("%s counted no relay refused as unknown_key", n.name)
		}
		warned := n.logsMatching(map[string]any{"level": "warn", "peer": first.name, "message": otherKeyLine})
		if len(warned) != 1 || warned[0]["key"] != base64.RawURLEncoding.EncodeToString(f.key.Public().(ed25519.PublicKey)) {
			t.Errorf("%s: %d warn lines of %s's name signed with the forger's key, want one naming the key: %v", n.name, len(warned), first.name, warned)
		}
	}
}

// A node pins a peer's key and keeps the pin across its own restart (in
// its state file); the peer keeps its key across its restart (beside its
// state file); the peer rebuilt, with a new key, has its relays refused
// until the node is given the new key in PEER_KEYS.
func TestAPinnedKeySurvivesARestartAndANewKeyIsRefusedUntilAccepted(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond))
	dir := t.TempDir()
	nodes := clusterWith(t, 3, func(i int) []string {
		return []string{"STATE_FILE=" + filepath.Join(dir, fmt.Sprintf("node%d.json", i))}
	}, "RELAY_SECRET=pins")
	a, b := nodes[0], nodes[1]
	keyOf := func(n *node) string {
		s, err := n.state()
		if err != nil {
			return ""
		}
		return s.Key
	}
	aKey := keyOf(a)
	if aKey == "" {
		t.Fatalf("%s's /state shows no key", a.name)
	}
	eventually(t, 15*time.Second, b.name+" to pin "+a.name+"'s key", func() bool {
		return len(b.logsMatching(map[string]any{"message": pinnedLine, "peer": a.name, "key": aKey})) == 1
	})
	takesFrom := func(obs, from *node, since time.Time) func() bool {
		return func() bool {
			s, err := obs.state()
			return err == nil && s.Relay[from.name].ReceivedAt != "" && mustParseTime(t, s.Relay[from.name].ReceivedAt).After(since)
		}
	}

	b.stop()
	b.restart()
	restarted := time.Now()
	eventually(t, 15*time.Second, b.name+", restarted, to take "+a.name+"'s relays", takesFrom(b, a, restarted))
	if n := len(b.logsMatching(map[string]any{"message": pinnedLine, "peer": a.name})); n != 1 {
		t.Fatalf("%s pinned %s's key %d times across its restart, want once: the pin is kept", b.name, a.name, n)
	}

	a.stop()
	a.restart()
	restarted = time.Now()
	eventually(t, 15*time.Second, b.name+" to take the relays of "+a.name+", restarted with its key", takesFrom(b, a, restarted))
	if k := keyOf(a); k != aKey {
		t.Fatalf("%s's key after a restart: %q, want %q", a.name, k, aKey)
	}

	// Rebuilt: a machine of the same name without its old files.
	a.stop()
	for _, f := range []string{"node0.json", "node0.key"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	a.restart()
	rebuilt := time.Now()
	var newKey string
	eventually(t, 15*time.Second, a.name+" to answer with a new key", func() bool { newKey = keyOf(a); return newKey != "" && newKey != aKey })
	eventually(t, 15*time.Second, b.name+" to warn of "+a.name+"'s new key", func() bool {
		return len(b.logsMatching(map[string]any{"message": otherKeyLine, "peer": a.name, "key": newKey, "pinned": aKey})) == 1
	})
	families, _ := scrape(t, b)
	if got, _ := sample(families, "mesh_relay_received_total", map[string]string{"result": "unknown_key"}); got == 0 {
		t.Errorf("%s counted no relay refused as unknown_key", b.name)
	}
	time.Sleep(2 * time.Second) // twenty rounds of a's relays
	if takesFrom(b, a, rebuilt)() {
		t.Fatalf("%s took a relay of %s signed with its new key, not accepted", b.name, a.name)
	}

	b.stop()
	b.env = append(b.env, "PEER_KEYS="+a.name+"="+newKey)
	b.restart()
	accepted := time.Now()
	eventually(t, 15*time.Second, b.name+", given "+a.name+"'s new key, to take its relays", takesFrom(b, a, accepted))
	if n := len(b.logsMatching(map[string]any{"message": replacedByLine, "peer": a.name, "key": newKey, "was": aKey})); n != 1 {
		t.Errorf("%s said %d times that PEER_KEYS replaced %s's pin, want once", b.name, n, a.name)
	}
}

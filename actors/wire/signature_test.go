package wire

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/dupunkto/mesh/actors/domain"
)

// A relay's signature verifies with its sender's key over the body as
// signed, and with nothing else: not another key, not a body changed by
// a byte, not a signature cut short or of another encoding; the key
// travels and comes back as it went.
func TestARelaySignatureVerifiesOnlyItsBodyAndKey(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	body := []byte(`{"node":"dec.mesh.example","peers":{}}`)
	sig := SignRelay(key, body)
	verifies := func(pub ed25519.PublicKey, body []byte, sig string) bool {
		d := NewSignatureHash()
		d.Write(body)
		return VerifyRelay(pub, d.Sum(nil), sig)
	}
	changed := append([]byte(nil), body...)
	changed[3] ^= 1
	switch {
	case !verifies(pub, body, sig):
		t.Fatal("the signature does not verify with its key")
	case verifies(other, body, sig):
		t.Fatal("the signature verifies with another key")
	case verifies(pub, changed, sig):
		t.Fatal("the signature verifies a body changed by a bit")
	case verifies(pub, body, sig[:len(sig)-2]), verifies(pub, body, "!"+sig[1:]), verifies(pub, body, ""):
		t.Fatal("a mangled signature verifies")
	}
	back, err := domain.DecodeKey(domain.EncodeKey(pub))
	if err != nil || !back.Equal(pub) {
		t.Fatalf("the key after encoding: %v, %v", back, err)
	}
	for _, bad := range []string{"", "short", domain.EncodeKey(pub) + "AA", "!" + domain.EncodeKey(pub)[1:]} {
		if _, err := domain.DecodeKey(bad); err == nil {
			t.Errorf("DecodeKey(%q) took it", bad)
		}
	}
}

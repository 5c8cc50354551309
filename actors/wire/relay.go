package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// MaxRelayPeers bounds how many peers one relay may list.
const MaxRelayPeers = 1000

// MaxRelayTargets bounds how many targets one relay may list: as many as
// TARGETS may.
const MaxRelayTargets = config.MaxTargets

// MaxAnnouncements bounds how many announcements one relay may carry: one
// per peer or target at most.
const MaxAnnouncements = MaxRelayPeers + MaxRelayTargets

// maxReminders bounds an announcement's reminder count: a year of
// reminders a minute apart is half a million.
const maxReminders = 1 << 20

// AcceptRelayHeader is the header with which a node says, in its answer to
// a relay, what it takes beyond the seed's plain JSON relays: "gzip"
// (gzipped bodies) and "delta" (relays that carry only the views whose
// status, since or failure count changed, marked "delta": true). The seed's
// nodes send none, so a sender posts them whole plain JSON, as the seed
// does.
const AcceptRelayHeader = "Mesh-Relay-Accept"

// The words of AcceptRelayHeader.
const (
	AcceptGzip  = "gzip"
	AcceptDelta = "delta"
)

// Accepts reports whether an AcceptRelayHeader value holds word: a
// comma-separated list, spaces and case aside.
func Accepts(header, word string) bool {
	for _, w := range strings.Split(header, ",") {
		if strings.EqualFold(strings.TrimSpace(w), word) {
			return true
		}
	}
	return false
}

// EncodeRelay returns the relay body that tells this node's view, as the
// seed shows it: {"node": ..., "peers": {...}}, the node's /state without
// "relay". Its view of its targets, if it has any, follows as "targets",
// and what it said (see said.go): fields the seed's nodes ignore. Stamped
// adds when it is sent.
func EncodeRelay(s *domain.Snapshot, said domain.Said) []byte {
	return encodeRelay(s, said, nil)
}

// EncodeRelayDelta returns a delta relay: EncodeRelay's body with only the
// views of the peers and targets in changed, and "delta": true. The receiver lays them
// over the views it holds from this node.
func EncodeRelayDelta(s *domain.Snapshot, said domain.Said, changed map[string]bool) []byte {
	if changed == nil {
		changed = map[string]bool{}
	}
	return encodeRelay(s, said, changed)
}

// encodeRelay writes a whole relay, or with changed non-nil a delta of
// those peers' views.
func encodeRelay(s *domain.Snapshot, said domain.Said, changed map[string]bool) []byte {
	b := make([]byte, 0, 32+len(s.Node())+s.Len()*160) // a view is about 150 bytes
	b = append(b, `{"node":`...)
	b = appendString(b, s.Node())
	b = append(b, `,"peers":`...)
	b = appendViews(b, changedViews(s.Peers(), changed))
	if s.TargetCount() > 0 {
		b = appendViews(append(b, `,"targets":`...), changedViews(s.Targets(), changed))
	}
	if changed != nil {
		b = append(b, `,"delta":true`...)
	}
	b = appendSaid(b, said)
	if s.Isolated() {
		b = append(b, `,"isolated":true`...) // its view is no observation: see domain.ComputeVerdicts
	}
	return append(b, '}')
}

// changedViews yields the views of entries, only those in changed when it
// is not nil.
func changedViews(entries iter.Seq[*domain.Entry], changed map[string]bool) iter.Seq2[string, domain.PeerView] {
	return func(yield func(string, domain.PeerView) bool) {
		for e := range entries {
			if changed != nil && !changed[e.Name()] {
				continue
			}
			if !yield(e.Name(), e.View()) {
				return
			}
		}
	}
}

// relayBody is a relay as it arrives. Fields are raw so that each one can be
// checked and named in the error; unknown fields are ignored, as the seed's
// nodes may add some.
type relayBody struct {
	Node     json.RawMessage            `json:"node"`
	Peers    map[string]json.RawMessage `json:"peers"`
	Targets  map[string]json.RawMessage `json:"targets"`
	Isolated json.RawMessage            `json:"isolated"`
	Delta    json.RawMessage            `json:"delta"`
	saidFields
}

type relayPeer struct {
	Status              json.RawMessage `json:"status"`
	Since               json.RawMessage `json:"since"`
	LastSeen            json.RawMessage `json:"last_seen"`
	ConsecutiveFailures json.RawMessage `json:"consecutive_failures"`
	RTT                 json.RawMessage `json:"rtt_ms"`
}

// maxRTT bounds a relayed rtt_ms: no probe outlasts a day.
const maxRTT = 24 * 60 * 60 * 1000.0

// Relay is a relay body as DecodeRelay reads it.
type Relay struct {
	Node  string
	Peers map[string]domain.PeerView
	// Targets are the sender's views of its targets; nil when it sent
	// none (a node without TARGETS, or the seed's).
	Targets map[string]domain.PeerView
	// Said is what the sender said beside its views, by its own clock;
	// empty from the seed's nodes, which say nothing. SentAt is when it
	// says it sent the relay; zero when it did not say.
	Said   domain.Said
	SentAt time.Time
	// Isolated: the sender says it has lost its own network.
	Isolated bool
	// Delta: Peers are only the views that changed since the sender's
	// last relay to this node; the others are as that relay left them.
	Delta bool
}

// DecodeRelay parses and validates a relay body: {"node": ..., "peers":
// {name: {status, since, last_seen, consecutive_failures}}}, and the
// optional "announced". Names come back in lower case. The error says which
// field is wrong and why; it is safe to show to the sender.
//
// A well-formed relay is read in one pass (decodeRelayFast); anything that
// pass does not take is read again field by field, which names the
// problem. A node in a cluster of a hundred reads twenty relays a second,
// and the field-by-field reading was a quarter of its CPU.
func DecodeRelay(body []byte) (Relay, error) {
	if r, ok := decodeRelayFast(body); ok {
		return r, nil
	}
	return decodeRelayByField(body)
}

// decodeRelayByField is DecodeRelay field by field: each field raw, then
// checked and named in the error.
func decodeRelayByField(body []byte) (Relay, error) {
	var b relayBody
	var r Relay
	if err := json.Unmarshal(body, &b); err != nil {
		return r, fmt.Errorf("body is not a JSON object of the relay's shape: %s", jsonProblem(err))
	}
	// Only a body that parses is walked for twin keys: the walk costs a
	// token at a time, and garbage fails the parse far sooner.
	if err := noTwinKeys(body); err != nil {
		return r, err
	}
	var node string
	if err := json.Unmarshal(orNull(b.Node), &node); err != nil || node == "" {
		return r, errors.New("node: must be a non-empty string")
	}
	if err := config.ValidateName(node); err != nil {
		return r, fmt.Errorf("node: %v", err)
	}
	if b.Peers == nil {
		return r, errors.New("peers: must be an object")
	}
	if len(b.Peers) > MaxRelayPeers {
		return r, fmt.Errorf("peers: more than %d peers", MaxRelayPeers)
	}
	peers, err := decodeViews(b.Peers)
	if err != nil {
		return r, err
	}
	if len(b.Targets) > MaxRelayTargets {
		return r, fmt.Errorf("targets: more than %d targets", MaxRelayTargets)
	}
	targets, err := decodeTargetViews(b.Targets)
	if err != nil {
		return r, err
	}
	said, sentAt, err := b.saidFields.decode()
	if err != nil {
		return r, err
	}
	var isolated, delta bool
	if len(b.Isolated) > 0 && json.Unmarshal(b.Isolated, &isolated) != nil {
		return r, errors.New("isolated: must be true or false")
	}
	if len(b.Delta) > 0 && json.Unmarshal(b.Delta, &delta) != nil {
		return r, errors.New("delta: must be true or false")
	}
	return Relay{Node: strings.ToLower(node), Peers: peers, Targets: targets, Said: said, SentAt: sentAt, Isolated: isolated, Delta: delta}, nil
}

// validateSubjectName checks an announcement's name, which may be a peer's
// or a target's: the relay does not say which, the receiver knows.
func validateSubjectName(name string) error {
	err := config.ValidateName(name)
	if err != nil && config.ValidateTargetName(name) == nil {
		return nil
	}
	return err
}

// subjectKey is the key an announcement's valid name is kept under: a host
// name, which is what a peer's name is, in lower case, as host names are
// compared; a URL (a target's) as it is, its path being its own.
func subjectKey(name string) string {
	if config.ValidateName(name) == nil {
		return strings.ToLower(name)
	}
	return name
}

// decodeTargetViews checks and converts the members of a "targets" object;
// nil for none. A target's name is kept as it is: its path is its own.
func decodeTargetViews(raw map[string]json.RawMessage) (map[string]domain.PeerView, error) {
	if raw == nil {
		return nil, nil
	}
	return decodeNamedViews(raw, "targets", config.ValidateTargetName, func(name string) string { return name })
}

// decodeViews checks and converts the members of a "peers" object.
func decodeViews(raw map[string]json.RawMessage) (map[string]domain.PeerView, error) {
	return decodeNamedViews(raw, "peers", config.ValidateName, strings.ToLower)
}

// decodeNamedViews checks and converts the members of the object field:
// each name by validate, kept under key(name), and each view.
func decodeNamedViews(raw map[string]json.RawMessage, field string, validate func(string) error, key func(string) string) (map[string]domain.PeerView, error) {
	views := make(map[string]domain.PeerView, len(raw))
	for name, r := range raw {
		member := func() string { return fmt.Sprintf("%s[%s]", field, quoteShort(name)) }
		if err := validate(name); err != nil {
			return nil, fmt.Errorf("%s: name: %v", member(), err)
		}
		v, err := decodeView(r)
		if err != nil {
			return nil, fmt.Errorf("%s.%v", member(), err)
		}
		views[key(name)] = v
	}
	return views, nil
}

func decodeView(raw json.RawMessage) (domain.PeerView, error) {
	var p relayPeer
	var v domain.PeerView
	if err := json.Unmarshal(raw, &p); err != nil {
		return v, errors.New("must be an object")
	}
	var status string
	if err := json.Unmarshal(orNull(p.Status), &status); err != nil || !domain.Status(status).Valid() {
		return v, errors.New("status: must be \"unknown\", \"up\" or \"down\"")
	}
	v.Status = domain.Status(status)
	var since stamp
	if err := json.Unmarshal(orNull(p.Since), &since); err != nil || since.IsZero() {
		return v, errors.New("since: must be an RFC 3339 time")
	}
	v.Since = since.Time
	if len(p.LastSeen) > 0 && !bytes.Equal(p.LastSeen, []byte("null")) {
		var seen stamp
		if err := json.Unmarshal(p.LastSeen, &seen); err != nil || seen.IsZero() {
			return v, errors.New("last_seen: must be null or an RFC 3339 time")
		}
		v.LastSeen = seen.Time
	}
	var n int64
	if err := json.Unmarshal(orNull(p.ConsecutiveFailures), &n); err != nil || n < 0 || n > domain.MaxFailures || len(p.ConsecutiveFailures) == 0 {
		return v, fmt.Errorf("consecutive_failures: must be an integer from 0 to %d", int64(domain.MaxFailures))
	}
	v.ConsecutiveFailures = int(n)
	// rtt_ms is optional: the seed's nodes do not send it.
	if len(p.RTT) > 0 && !bytes.Equal(p.RTT, []byte("null")) {
		var ms float64
		if err := json.Unmarshal(p.RTT, &ms); err != nil || ms < 0 || ms > maxRTT {
			return v, errors.New("rtt_ms: must be null or a number of milliseconds from 0 to 86400000")
		}
		v.RTT, v.HasRTT = fromMillis(ms), true
	}
	return v, nil
}

// noTwinKeys refuses a document in which one object has two keys that are
// equal but for case ("node" and "NODE", or the same key twice).
// encoding/json takes the last of them and matches field names ignoring
// case, while another parser may take the first or refuse: a relay that
// two readers would read differently is not accepted at all. Peer names
// are case-insensitive too, so "A.example" and "a.example" are twins.
//
// It reads tokens with jsontext (the reference encoding/json/v2), which
// costs a third of encoding/json's Decoder.Token: this runs on every relay.
func noTwinKeys(body []byte) error {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	var names []map[string]bool // the keys so far of each open object, lower-cased, by depth
	for {
		// In an object, a string read after an even number of tokens is
		// a key (after an even number, a '}' may come instead).
		kind, n := dec.StackIndex(dec.StackDepth())
		tok, err := dec.ReadToken()
		if err != nil {
			// io.EOF at the end; anything else is malformed, which
			// json.Unmarshal reports in its own words.
			return nil
		}
		isKey := kind == '{' && n%2 == 0 && tok.Kind() == '"'
		switch {
		case isKey:
			key := tok.String()
			keys := names[dec.StackDepth()]
			folded := strings.ToLower(key)
			if keys[folded] {
				return fmt.Errorf("the key %s appears twice in one object (perhaps in another case)", quoteShort(key))
			}
			keys[folded] = true
		case tok.Kind() == '{':
			d := dec.StackDepth()
			for len(names) <= d {
				names = append(names, map[string]bool{})
			}
			clear(names[d]) // the maps of a depth are used again by the next object there
		}
	}
}

// orNull makes a missing field decode like null, which every required field
// then refuses.
func orNull(raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return []byte("null")
	}
	return raw
}

// quoteShort quotes a name for an error message, cut short so that a hostile
// 2 MiB name does not come back in the answer.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("%s must not be a JSON %s", typ.Field, typ.Value)
		}
		return fmt.Sprintf("a JSON %s is not an object", typ.Value)
	default:
		return "invalid JSON"
	}
}

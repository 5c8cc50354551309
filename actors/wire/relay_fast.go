package wire

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// fastRelay is a relay read in one pass into typed fields, by
// encoding/json as decodeRelayByField reads it: field names match whatever
// their case. A field that is
// absent or null comes back nil, and sends the relay the long way, which
// knows what each such field means or why it is wrong.
type fastRelay struct {
	Node      *string                    `json:"node"`
	Peers     map[string]*fastView       `json:"peers"`
	Announced map[string]json.RawMessage `json:"announced"`
	Isolated  *bool                      `json:"isolated"`
	Delta     *bool                      `json:"delta"`
}

type fastView struct {
	Status              *string  `json:"status"`
	Since               *string  `json:"since"`
	LastSeen            *string  `json:"last_seen"`
	ConsecutiveFailures *int64   `json:"consecutive_failures"`
	RTT                 *float64 `json:"rtt_ms"`
}

// decodeRelayFast reads a well-formed relay in one pass. It takes only
// what decodeRelayByField takes, and returns the same Relay for it
// (FuzzRelayDecode holds the two to that); for anything else it says no,
// and the caller reads the body the long way.
func decodeRelayFast(body []byte) (Relay, bool) {
	var b fastRelay
	if json.Unmarshal(body, &b) != nil || b.Node == nil || b.Peers == nil || len(b.Peers) > MaxRelayPeers {
		return Relay{}, false
	}
	if *b.Node == "" || config.ValidateName(*b.Node) != nil || noTwinKeys(body) != nil {
		return Relay{}, false
	}
	peers := make(map[string]domain.PeerView, len(b.Peers))
	for name, p := range b.Peers {
		if p == nil || p.Status == nil || p.Since == nil || p.ConsecutiveFailures == nil || config.ValidateName(name) != nil {
			return Relay{}, false
		}
		since, err := time.Parse(time.RFC3339, *p.Since)
		v := domain.PeerView{Status: domain.Status(*p.Status), Since: since.UTC(), ConsecutiveFailures: int(*p.ConsecutiveFailures)}
		if err != nil || !v.Status.Valid() || v.Since.IsZero() || *p.ConsecutiveFailures < 0 {
			return Relay{}, false
		}
		if p.LastSeen != nil {
			seen, err := time.Parse(time.RFC3339, *p.LastSeen)
			if err != nil || seen.IsZero() {
				return Relay{}, false
			}
			v.LastSeen = seen.UTC()
		}
		if p.RTT != nil {
			if *p.RTT < 0 || *p.RTT > maxRTT {
				return Relay{}, false
			}
			v.RTT, v.HasRTT = fromMillis(*p.RTT), true
		}
		peers[strings.ToLower(name)] = v
	}
	announced, err := decodeAnnouncements(b.Announced)
	if err != nil {
		return Relay{}, false
	}
	r := Relay{Node: strings.ToLower(*b.Node), Peers: peers, Announced: announced}
	if b.Isolated != nil {
		r.Isolated = *b.Isolated
	}
	if b.Delta != nil {
		r.Delta = *b.Delta
	}
	return r, true
}

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
	Node     *string              `json:"node"`
	Peers    map[string]*fastView `json:"peers"`
	Targets  map[string]*fastView `json:"targets"`
	Isolated *bool                `json:"isolated"`
	Delta    *bool                `json:"delta"`
	saidFields
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
	peers, ok := fastViews(b.Peers, config.ValidateName, strings.ToLower)
	if !ok {
		return Relay{}, false
	}
	var targets map[string]domain.PeerView
	if b.Targets != nil {
		if len(b.Targets) > MaxRelayTargets {
			return Relay{}, false
		}
		if targets, ok = fastViews(b.Targets, config.ValidateTargetName, func(s string) string { return s }); !ok {
			return Relay{}, false
		}
	}
	said, sentAt, err := b.saidFields.decode()
	if err != nil {
		return Relay{}, false
	}
	r := Relay{Node: strings.ToLower(*b.Node), Peers: peers, Targets: targets, Said: said, SentAt: sentAt}
	if b.Isolated != nil {
		r.Isolated = *b.Isolated
	}
	if b.Delta != nil {
		r.Delta = *b.Delta
	}
	return r, true
}

// fastViews converts the views of "peers" or "targets", each name valid by
// validate and kept under key(name); false for anything decodeView would
// refuse or name.
func fastViews(views map[string]*fastView, validate func(string) error, key func(string) string) (map[string]domain.PeerView, bool) {
	out := make(map[string]domain.PeerView, len(views))
	for name, p := range views {
		if p == nil || p.Status == nil || p.Since == nil || p.ConsecutiveFailures == nil || validate(name) != nil {
			return nil, false
		}
		since, err := time.Parse(time.RFC3339, *p.Since)
		v := domain.PeerView{Status: domain.Status(*p.Status), Since: since.UTC(), ConsecutiveFailures: int(*p.ConsecutiveFailures)}
		if err != nil || !v.Status.Valid() || v.Since.IsZero() || *p.ConsecutiveFailures < 0 || *p.ConsecutiveFailures > domain.MaxFailures {
			return nil, false
		}
		if p.LastSeen != nil {
			seen, err := time.Parse(time.RFC3339, *p.LastSeen)
			if err != nil || seen.IsZero() {
				return nil, false
			}
			v.LastSeen = seen.UTC()
		}
		if p.RTT != nil {
			if *p.RTT < 0 || *p.RTT > maxRTT {
				return nil, false
			}
			v.RTT, v.HasRTT = fromMillis(*p.RTT), true
		}
		out[key(name)] = v
	}
	return out, true
}

package domain

// Kind is what a subject is: another node of the cluster (a peer), or a
// service the operator asked every node to watch (a target). Config sets
// it once, from the setting that lists the subject (PEERS or TARGETS), and
// every value that names a subject carries it from there: nothing tells a
// peer from a target by its name.
type Kind uint8

// The two kinds of subject.
const (
	KindPeer Kind = iota
	KindTarget
)

// String is the kind's word: "peer" or "target". Logs use it as the field
// that names a subject, Alertmanager as the label, so that each says which
// setting the name comes from.
func (k Kind) String() string {
	if k == KindTarget {
		return "target"
	}
	return "peer"
}

// Subject is what a node watches, probes and tells of: a peer or a target.
type Subject struct {
	Name string
	Kind Kind
}

// Peer is the subject of a peer's name.
func Peer(name string) Subject { return Subject{Name: name, Kind: KindPeer} }

// Target is the subject of a target's name.
func Target(name string) Subject { return Subject{Name: name, Kind: KindTarget} }

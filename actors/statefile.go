package actors

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/renameio/v2"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/wire"
	"github.com/dupunkto/mesh/config"
)

// stateFileVersion is the format of the state file. A file of another
// version is set aside, not guessed at.
const stateFileVersion = 1

// DefaultSaveInterval is how often the writer looks for changes that no
// transition announced: a reminder sent, a history pruned.
const DefaultSaveInterval = 5 * time.Second

// DefaultSeenInterval is how often the state file is rewritten when only
// last_seen and failure counts changed. Every probe changes them; writing
// and fsyncing the file for each would wear a disk for nothing, since a
// restart a few minutes behind on last_seen loses nothing that matters.
const DefaultSeenInterval = 5 * time.Minute

// Bounds on what the decoder accepts, beyond which a file is not one this
// node wrote: at most this many reminders for one outage (a year of
// reminders a minute apart is half a million), and at most
// domain.HistoryMaxEntries transitions a peer.
const maxRemindersSent = 1 << 20

// stateFile is what STATE_FILE holds. Times keep their full precision here,
// unlike on the wire, so that a restart changes nothing.
type stateFile struct {
	Version int                 `json:"version"`
	Node    string              `json:"node"`
	SavedAt time.Time           `json:"saved_at"`
	Peers   map[string]filePeer `json:"peers"`
	// Targets are the targets' views and histories, as Peers.
	Targets map[string]filePeer `json:"targets,omitempty"`
	// Messages are the messages not yet delivered, each channel's oldest
	// first: a down message being retried when the node stops is sent by
	// the next run, not lost.
	Messages []fileMessage `json:"pending_messages,omitempty"`
	// Announcements are the episodes this node announced and those it
	// heard others announce (cluster alerts): a restarted node neither
	// repeats an announcement nor forgets one.
	Announcements []fileAnnouncement `json:"announcements,omitempty"`
	// CertWarned are the certificates told of as expiring (or seen told
	// of), their fingerprints by target: a restart does not tell again.
	CertWarned map[string]string `json:"cert_warned,omitempty"`
}

type fileAnnouncement struct {
	Peer      string                  `json:"peer"`
	By        string                  `json:"by"`
	Kind      domain.AnnouncementKind `json:"kind"`
	Since     time.Time               `json:"since"`
	Reminders int                     `json:"reminders"`
}

type fileMessage struct {
	// Channel is the channel it waits for; absent in files written before
	// NOTIFY_URLS, when WEBHOOK_URL was the only one.
	Channel string    `json:"channel,omitempty"`
	Kind    string    `json:"kind"` // a MessageKind's String
	Peer    string    `json:"peer"`
	Text    string    `json:"text"`
	At      time.Time `json:"at"`
}

// maxMessageText bounds a kept message's text; Mesh's are under 200 bytes.
const maxMessageText = 2000

type filePeer struct {
	Status              domain.Status `json:"status"`
	Since               time.Time     `json:"since"`
	LastSeen            *time.Time    `json:"last_seen"`
	ConsecutiveFailures int           `json:"consecutive_failures"`
	// RemindersSent is how many still-down reminders the outage has had;
	// absent when the peer is not down or the node has no webhook.
	RemindersSent *int             `json:"reminders_sent,omitempty"`
	History       []fileTransition `json:"history"`
}

type fileTransition struct {
	Status domain.Status `json:"status"`
	At     time.Time     `json:"at"`
}

// RestoredPeer is one peer as a previous run left it.
type RestoredPeer struct {
	View    domain.PeerView
	History []domain.HistoryEntry
}

// SavedState is what a previous run left in the state file.
type SavedState struct {
	SavedAt time.Time
	Peers   map[string]RestoredPeer
	// Reminders is the reminder progress of each outage, by peer; -1 when
	// the file does not say.
	Reminders map[string]int
	// messages are the messages a previous run had not delivered, by channel.
	messages map[string][]Message
	// announcements are the cluster alerts' announcements it knew of.
	announcements []AnnouncementRecord
	certWarned    map[string]string

	clamped int // times in the file after now, taken as now
}

// Restored returns the peers to restore; nil (start fresh) for a nil state.
func (s *SavedState) Restored() map[string]RestoredPeer {
	if s == nil {
		return nil
	}
	return s.Peers
}

// Outages returns the outages of peers and targets that the previous run
// left down, with how many reminders each had (-1 when the file does not
// say), for the notifier to carry on. Those no longer listed are left out.
func (s *SavedState) Outages(subjects []domain.Subject) []Outage {
	if s == nil {
		return nil
	}
	var outages []Outage
	for _, subject := range subjects {
		name := subject.Name
		r, ok := s.Peers[name]
		if !ok || r.View.Status != domain.StatusDown {
			continue
		}
		sent, ok := s.Reminders[name]
		if !ok {
			sent = -1
		}
		outages = append(outages, Outage{Subject: subject, DownSince: r.View.Since, Sent: sent})
	}
	return outages
}

// bothMaps yields the members of a, then of b.
func bothMaps(a, b map[string]filePeer) iter.Seq2[string, filePeer] {
	return func(yield func(string, filePeer) bool) {
		for _, m := range []map[string]filePeer{a, b} {
			for k, v := range m {
				if !yield(k, v) {
					return
				}
			}
		}
	}
}

// validSubjectName checks a name that may be a peer's or a target's.
func validSubjectName(name string) error {
	err := config.ValidateName(name)
	if err != nil && config.ValidateTargetName(name) == nil {
		return nil
	}
	return err
}

// CheckStateFile reports whether path can be the state file, so that a typo
// in STATE_FILE stops the node at start rather than failing every write
// later: its directory must exist, and the path must be a file this node
// may read, or nothing yet. A directory at the path is refused, never
// renamed aside, and a file the node may not read is an error, not
// corruption to start fresh from.
func CheckStateFile(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	st, err = os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err == nil && !st.Mode().IsRegular() {
		return errors.New("is a directory or another non-file; it must name a file (which need not exist yet)")
	}
	f, err := os.Open(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		return fmt.Errorf("cannot be read: %v", err)
	}
	return f.Close()
}

// LoadStateFile reads the state file at path. No path (STATE_FILE unset)
// or a missing file gives nil: the node starts fresh. A file that cannot be
// understood is logged and renamed aside to <path>.corrupt-<timestamp>, and
// the node starts fresh: a damaged file must never keep a monitor from
// running. A file that cannot be read (CheckStateFile stops the node for
// that at start) is left where it is.
func LoadStateFile(path string, now time.Time, log zerolog.Logger) *SavedState {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info().Str("path", path).Msg("no state file yet; starting fresh")
		return nil
	}
	if err != nil {
		log.Error().Str("path", path).Err(err).Msg("state file cannot be read; starting fresh, the file left as it is")
		return nil
	}
	saved, err := decodeStateFile(data, now)
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
		ev := log.Error().Str("path", path).Err(err)
		if rerr := os.Rename(path, aside); rerr != nil {
			ev.AnErr("rename_error", rerr).Msg("state file unusable and could not be set aside; starting fresh")
		} else {
			ev.Str("moved_to", aside).Msg("state file unusable; set aside, starting fresh")
		}
		return nil
	}
	if saved.clamped > 0 {
		log.Warn().Str("path", path).Int("times", saved.clamped).Time("saved_at", saved.SavedAt).
			Msg("state file has times in the future (the clock stepped back?); taken as now")
	}
	log.Info().Str("path", path).Int("peers", len(saved.Peers)).Time("saved_at", saved.SavedAt).Msg("state file loaded")
	return saved
}

// decodeStateFile reads a state file as of now. It refuses what this node
// would never have written: unknown statuses, invalid names, transitions
// out of order, more of them or more reminders than the bounds. Times
// after now, which a clock stepped back leaves behind, are taken as now:
// an outage must not look as if it began in the future, or its recovery
// would report a negative downtime.
func decodeStateFile(data []byte, now time.Time) (*SavedState, error) {
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a state file: %w", err)
	}
	if f.Version != stateFileVersion {
		return nil, fmt.Errorf("state file version %d, this node reads %d", f.Version, stateFileVersion)
	}
	s := &SavedState{SavedAt: f.SavedAt, Peers: make(map[string]RestoredPeer, len(f.Peers)), Reminders: map[string]int{}}
	notAfterNow := func(t time.Time) time.Time {
		if t.After(now) {
			s.clamped++
			return now
		}
		return t
	}
	if len(f.Targets) > config.MaxTargets {
		return nil, fmt.Errorf("%d targets, more than %d", len(f.Targets), config.MaxTargets)
	}
	for name, p := range bothMaps(f.Peers, f.Targets) {
		validate := config.ValidateName
		if _, ok := f.Targets[name]; ok {
			validate = config.ValidateTargetName
		}
		if err := validate(name); err != nil {
			return nil, fmt.Errorf("peer %q: %w", name, err)
		}
		if !p.Status.Valid() || p.Since.IsZero() || p.ConsecutiveFailures < 0 {
			return nil, fmt.Errorf("peer %q: invalid status, since or failures", name)
		}
		if len(p.History) > domain.HistoryMaxEntries {
			return nil, fmt.Errorf("peer %q: %d transitions, more than %d", name, len(p.History), domain.HistoryMaxEntries)
		}
		r := RestoredPeer{View: domain.PeerView{Status: p.Status, Since: notAfterNow(p.Since), ConsecutiveFailures: p.ConsecutiveFailures}}
		if p.LastSeen != nil {
			r.View.LastSeen = notAfterNow(*p.LastSeen)
		}
		for i, h := range p.History {
			if h.Status != domain.StatusUp && h.Status != domain.StatusDown {
				return nil, fmt.Errorf("peer %q: history status %q", name, h.Status)
			}
			if i > 0 && h.At.Before(p.History[i-1].At) {
				return nil, fmt.Errorf("peer %q: history out of order at entry %d", name, i)
			}
			r.History = append(r.History, domain.HistoryEntry{Status: h.Status, At: notAfterNow(h.At)})
		}
		s.Peers[name] = r
		if p.Status == domain.StatusDown {
			s.Reminders[name] = -1
			if p.RemindersSent != nil {
				if *p.RemindersSent < 0 || *p.RemindersSent > maxRemindersSent {
					return nil, fmt.Errorf("peer %q: reminders_sent %d is not 0 to %d", name, *p.RemindersSent, maxRemindersSent)
				}
				s.Reminders[name] = *p.RemindersSent
			}
		}
	}
	if len(f.Messages) > maxChannels*(DefaultQueueSize+1) {
		return nil, fmt.Errorf("%d pending messages, more than the queues hold", len(f.Messages))
	}
	s.messages = map[string][]Message{}
	for i, m := range f.Messages {
		kind, ok := parseMessageKind(m.Kind)
		if !ok || validSubjectName(m.Peer) != nil || m.Text == "" || len(m.Text) > maxMessageText || !validChannelName(m.Channel) {
			return nil, fmt.Errorf("pending message %d: invalid channel, kind, peer or text", i)
		}
		channel := cmp.Or(m.Channel, WebhookChannel)
		subject := domain.Peer(m.Peer)
		if _, ok := f.Targets[m.Peer]; ok {
			subject = domain.Target(m.Peer)
		}
		s.messages[channel] = append(s.messages[channel], Message{Kind: kind, Subject: subject, Text: m.Text, At: m.At})
	}
	if len(f.Announcements) > wire.MaxAnnouncements {
		return nil, fmt.Errorf("%d announcements, more than a node makes", len(f.Announcements))
	}
	for i, a := range f.Announcements {
		if validSubjectName(a.Peer) != nil || config.ValidateName(a.By) != nil || !a.Kind.Valid() || a.Since.IsZero() ||
			a.Reminders < 0 || a.Reminders > maxRemindersSent {
			return nil, fmt.Errorf("announcement %d: invalid peer, node, kind, since or reminders", i)
		}
		s.announcements = append(s.announcements, AnnouncementRecord{Peer: a.Peer, By: a.By,
			Announcement: domain.Announcement{Kind: a.Kind, Since: notAfterNow(a.Since), Reminders: a.Reminders}})
	}
	if len(f.CertWarned) > config.MaxTargets {
		return nil, fmt.Errorf("%d certificates told of, more than %d targets", len(f.CertWarned), config.MaxTargets)
	}
	for target, fp := range f.CertWarned {
		if config.ValidateTargetName(target) != nil || fp == "" || len(fp) > 64 {
			return nil, fmt.Errorf("cert_warned %q: invalid target or fingerprint", target)
		}
	}
	s.certWarned = f.CertWarned
	return s, nil
}

// CertWarned returns the certificates a previous run told of, their
// fingerprints by target; nil for a nil state.
func (s *SavedState) CertWarned() map[string]string {
	if s == nil {
		return nil
	}
	return s.certWarned
}

// Announcements returns the announcements a previous run made or heard of,
// of peers and targets still listed; none for a nil state.
func (s *SavedState) Announcements(subjects []domain.Subject) []AnnouncementRecord {
	if s == nil {
		return nil
	}
	var out []AnnouncementRecord
	for _, a := range s.announcements {
		if slices.ContainsFunc(subjects, func(s domain.Subject) bool { return s.Name == a.Peer }) {
			out = append(out, a)
		}
	}
	return out
}

// Messages returns the messages a previous run had not delivered to
// channel; none for a nil state.
func (s *SavedState) Messages(channel string) []Message {
	if s == nil {
		return nil
	}
	return s.messages[channel]
}

// Unclaimed returns how many undelivered messages a previous run left for
// channels that are no longer configured, by channel: the node says so
// at start rather than lose them silently.
func (s *SavedState) Unclaimed(channels Channels) map[string]int {
	out := map[string]int{}
	if s == nil {
		return out
	}
	for name, msgs := range s.messages {
		if !slices.ContainsFunc(channels, func(c *Channel) bool { return c.cfg.Name == name }) {
			out[name] = len(msgs)
		}
	}
	return out
}

// stateDoc is the file's document of a snapshot, the reminder progress,
// the messages pending and the announcements; the caller adds the rest.
func stateDoc(snap *domain.Snapshot, reminders map[string]ReminderProgress, messages map[string][]Message, announcements []AnnouncementRecord, now time.Time) stateFile {
	f := stateFile{Version: stateFileVersion, Node: snap.Node(), SavedAt: now.UTC(), Peers: make(map[string]filePeer, snap.Len())}
	for _, a := range announcements {
		f.Announcements = append(f.Announcements, fileAnnouncement{Peer: a.Peer, By: a.By, Kind: a.Kind, Since: a.Since.UTC(), Reminders: a.Reminders})
	}
	for _, channel := range slices.Sorted(maps.Keys(messages)) {
		for _, m := range messages[channel] {
			f.Messages = append(f.Messages, fileMessage{Channel: channel, Kind: m.Kind.String(), Peer: m.Subject.Name, Text: m.Text, At: m.At.UTC()})
		}
	}
	for e := range snap.Subjects() {
		v, h := e.View(), e.History()
		p := filePeer{Status: v.Status, Since: v.Since.UTC(), ConsecutiveFailures: v.ConsecutiveFailures, History: make([]fileTransition, h.Len())}
		if !v.LastSeen.IsZero() {
			seen := v.LastSeen.UTC()
			p.LastSeen = &seen
		}
		for i, t := range h.All() {
			p.History[i] = fileTransition{Status: t.Status, At: t.At.UTC()}
		}
		// Only the progress of this very outage counts: a chain from an
		// earlier one (the notifier has not caught up yet) would mislead.
		if r, ok := reminders[e.Name()]; ok && v.Status == domain.StatusDown && r.DownSince.Equal(v.Since) {
			sent := r.Sent
			p.RemindersSent = &sent
		}
		if e.Kind() == domain.KindTarget {
			if f.Targets == nil {
				f.Targets = map[string]filePeer{}
			}
			f.Targets[e.Name()] = p
			continue
		}
		f.Peers[e.Name()] = p
	}
	return f
}

// StateFileConfig is what the state file writer is built from.
type StateFileConfig struct {
	Path  string
	State interface{ Snapshot() *domain.Snapshot }
	// Changes wakes the writer when a status changed, to write at once.
	Changes *Signal
	// Reminders gives the notifier's reminder progress; nil without a webhook.
	Reminders interface {
		Progress() map[string]ReminderProgress
	}
	// Messages gives the channels' undelivered messages; nil without any.
	Messages interface {
		Pending() map[string][]Message
	}
	// Announcements gives the cluster notifier's announcements; nil
	// without one.
	Announcements interface {
		Records() []AnnouncementRecord
	}
	// CertWarnings gives the certificates told of; nil without targets.
	CertWarnings interface {
		Warned() map[string]string
	}
	Interval     time.Duration // DefaultSaveInterval when zero
	SeenInterval time.Duration // DefaultSeenInterval when zero
	Log          zerolog.Logger
}

// StateFile keeps STATE_FILE up to date: at once after a transition; within
// Interval when a reminder was sent or a history changed; within
// SeenInterval when only last_seen and failure counts moved; and once more
// on shutdown. A write that fails is logged and tried again at the next
// turn; the node goes on.
type StateFile struct {
	cfg StateFileConfig

	// Owned by Serve, kept across restarts.
	written   *domain.Snapshot // the snapshot last written
	writtenAt time.Time
	sent      map[string]ReminderProgress
	pending   map[string][]Message
	announced []AnnouncementRecord
	warned    map[string]string
	failing   bool
}

// NewStateFile returns the writer for cfg.Path.
func NewStateFile(cfg StateFileConfig) *StateFile {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultSaveInterval
	}
	if cfg.SeenInterval <= 0 {
		cfg.SeenInterval = DefaultSeenInterval
	}
	return &StateFile{cfg: cfg}
}

func (w *StateFile) String() string { return "state-file" }

// Serve writes the file when asked and on its interval, until ctx ends,
// then writes it a last time.
func (w *StateFile) Serve(ctx context.Context) error {
	tick := time.NewTicker(w.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			w.save(true)
			return ctx.Err()
		case <-w.cfg.Changes.C():
			w.save(false)
		case <-tick.C:
			w.save(false)
		}
	}
}

// save writes the file if something that matters changed since the last
// write, or only last_seen and failure counts did and SeenInterval is
// over, or a write is failing, or this is the final save.
func (w *StateFile) save(final bool) {
	snap := w.cfg.State.Snapshot()
	var reminders map[string]ReminderProgress
	if w.cfg.Reminders != nil {
		reminders = w.cfg.Reminders.Progress()
	}
	var pending map[string][]Message
	if w.cfg.Messages != nil {
		pending = w.cfg.Messages.Pending()
	}
	var announced []AnnouncementRecord
	if w.cfg.Announcements != nil {
		announced = w.cfg.Announcements.Records()
	}
	var warned map[string]string
	if w.cfg.CertWarnings != nil {
		warned = w.cfg.CertWarnings.Warned()
	}
	start := time.Now()
	switch {
	case final || w.failing || w.written == nil:
	case !sameProgress(reminders, w.sent) || !maps.EqualFunc(pending, w.pending, slices.Equal) || !slices.Equal(announced, w.announced) ||
		!maps.Equal(warned, w.warned) || statusOrHistoryChanged(w.written, snap):
	case snap != w.written && start.Sub(w.writtenAt) >= w.cfg.SeenInterval:
	default:
		return
	}
	doc := stateDoc(snap, reminders, pending, announced, start)
	doc.CertWarned = warned
	data, err := json.Marshal(doc)
	if err == nil {
		err = writeFile(w.cfg.Path, data, final)
	}
	if err != nil {
		ev := w.cfg.Log.Error()
		if w.failing {
			ev = w.cfg.Log.Debug() // said once; the retries need not say it again
		}
		ev.Str("path", w.cfg.Path).Err(err).Msg("state file not written; will retry")
		w.failing = true
		return
	}
	if w.failing {
		w.cfg.Log.Info().Str("path", w.cfg.Path).Msg("state file written again")
	}
	w.failing = false
	w.written, w.writtenAt, w.sent, w.pending, w.announced, w.warned = snap, start, reminders, pending, announced, warned
	w.cfg.Log.Trace().Str("path", w.cfg.Path).Int("bytes", len(data)).
		Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).Msg("state file written")
}

// writeFile replaces path with data atomically: a temporary file in the
// same directory, synced, then renamed over it, so that a crash leaves the
// old file or the new one. It is 0600 whatever the old one was: it holds
// the node's view of its peers. On the final save the directory is synced
// too, so that the rename itself survives a power cut right after.
func writeFile(path string, data []byte, syncDir bool) error {
	dir := filepath.Dir(path)
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(dir), renameio.WithStaticPermissions(0o600))
	if err != nil {
		return err
	}
	defer f.Cleanup()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return err
	}
	if !syncDir {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// statusOrHistoryChanged reports whether a peer's status or history
// differs between two snapshots, or the peers themselves do: what a
// restart must not lose.
func statusOrHistoryChanged(old, cur *domain.Snapshot) bool {
	if old.Len() != cur.Len() || old.TargetCount() != cur.TargetCount() {
		return true
	}
	for e := range cur.Subjects() {
		was, ok := old.Entry(e.Name())
		if !ok {
			return true
		}
		if was == e {
			continue
		}
		a, b := was.View(), e.View()
		if a.Status != b.Status || !a.Since.Equal(b.Since) || !sameHistory(was.History(), e.History()) {
			return true
		}
	}
	return false
}

// sameHistory compares two histories of one peer by their ends: the owner
// only appends and prunes from the start.
func sameHistory(a, b domain.History) bool {
	if a.Len() != b.Len() {
		return false
	}
	n := a.Len()
	same := func(x, y domain.HistoryEntry) bool { return x.Status == y.Status && x.At.Equal(y.At) }
	return n == 0 || (same(a.At(0), b.At(0)) && same(a.At(n-1), b.At(n-1)))
}

func sameProgress(a, b map[string]ReminderProgress) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/google/renameio/v2"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/config"
)

// stateFileVersion is the format of the state file. A file of another
// version is set aside, not guessed at.
const stateFileVersion = 1

// DefaultSaveInterval is how often the state file is rewritten when
// something changed but no peer changed status.
const DefaultSaveInterval = 5 * time.Second

// stateFile is what STATE_FILE holds. Times keep their full precision here,
// unlike on the wire, so that a restart changes nothing.
type stateFile struct {
	Version int                 `json:"version"`
	Node    string              `json:"node"`
	SavedAt time.Time           `json:"saved_at"`
	Peers   map[string]filePeer `json:"peers"`
}

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
}

// Restored returns the peers to restore; nil (start fresh) for a nil state.
func (s *SavedState) Restored() map[string]RestoredPeer {
	if s == nil {
		return nil
	}
	return s.Peers
}

// Outages returns the outages of peers that the previous run left down,
// with how many reminders each had (-1 when the file does not say), for
// the notifier to carry on. Peers no longer in peers are left out.
func (s *SavedState) Outages(peers []config.Peer) []Outage {
	if s == nil {
		return nil
	}
	var outages []Outage
	for _, p := range peers {
		r, ok := s.Peers[p.Name]
		if !ok || r.View.Status != domain.StatusDown {
			continue
		}
		sent, ok := s.Reminders[p.Name]
		if !ok {
			sent = -1
		}
		outages = append(outages, Outage{Peer: p.Name, DownSince: r.View.Since, Sent: sent})
	}
	return outages
}

// CheckStateDir reports whether the state file's directory exists, so that
// a typo in STATE_FILE stops the node at start rather than failing every
// write later.
func CheckStateDir(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// LoadStateFile reads the state file at path. No path (STATE_FILE unset)
// or a missing file gives nil: the node starts fresh. A file that cannot be read or understood is logged and
// renamed aside to <path>.corrupt-<timestamp>, and the node starts fresh:
// a damaged file must never keep a monitor from running.
func LoadStateFile(path string, now time.Time, log zerolog.Logger) *SavedState {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info().Str("path", path).Msg("no state file yet; starting fresh")
		return nil
	}
	var saved *SavedState
	if err == nil {
		saved, err = decodeStateFile(data)
	}
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
	log.Info().Str("path", path).Int("peers", len(saved.Peers)).Time("saved_at", saved.SavedAt).Msg("state file loaded")
	return saved
}

func decodeStateFile(data []byte) (*SavedState, error) {
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a state file: %w", err)
	}
	if f.Version != stateFileVersion {
		return nil, fmt.Errorf("state file version %d, this node reads %d", f.Version, stateFileVersion)
	}
	s := &SavedState{SavedAt: f.SavedAt, Peers: make(map[string]RestoredPeer, len(f.Peers)), Reminders: map[string]int{}}
	for name, p := range f.Peers {
		if err := config.ValidateName(name); err != nil {
			return nil, fmt.Errorf("peer %q: %w", name, err)
		}
		if !p.Status.Valid() || p.Since.IsZero() || p.ConsecutiveFailures < 0 {
			return nil, fmt.Errorf("peer %q: invalid status, since or failures", name)
		}
		r := RestoredPeer{View: domain.PeerView{Status: p.Status, Since: p.Since, ConsecutiveFailures: p.ConsecutiveFailures}}
		if p.LastSeen != nil {
			r.View.LastSeen = *p.LastSeen
		}
		for _, h := range p.History {
			if h.Status != domain.StatusUp && h.Status != domain.StatusDown {
				return nil, fmt.Errorf("peer %q: history status %q", name, h.Status)
			}
			r.History = append(r.History, domain.HistoryEntry(h))
		}
		s.Peers[name] = r
		if p.Status == domain.StatusDown {
			s.Reminders[name] = -1
			if p.RemindersSent != nil && *p.RemindersSent >= 0 {
				s.Reminders[name] = *p.RemindersSent
			}
		}
	}
	return s, nil
}

// encodeStateFile writes a snapshot and the reminder progress as the file.
func encodeStateFile(snap *domain.Snapshot, reminders map[string]ReminderProgress, now time.Time) ([]byte, error) {
	f := stateFile{Version: stateFileVersion, Node: snap.Node(), SavedAt: now.UTC(), Peers: make(map[string]filePeer, snap.Len())}
	for e := range snap.Peers() {
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
		f.Peers[e.Name()] = p
	}
	return json.Marshal(f)
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
	Interval time.Duration // DefaultSaveInterval when zero
	Log      zerolog.Logger
}

// StateFile keeps STATE_FILE up to date: at once after a transition, every
// Interval when anything else changed, and once more on shutdown. A write
// that fails is logged and tried again at the next turn; the node goes on.
type StateFile struct {
	cfg StateFileConfig

	// Owned by Serve, kept across restarts.
	written *domain.Snapshot // the snapshot last written
	sent    map[string]ReminderProgress
	failing bool
}

// NewStateFile returns the writer for cfg.Path.
func NewStateFile(cfg StateFileConfig) *StateFile {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultSaveInterval
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

// save writes the file if anything changed since the last write (or
// always, when final).
func (w *StateFile) save(final bool) {
	snap := w.cfg.State.Snapshot()
	var reminders map[string]ReminderProgress
	if w.cfg.Reminders != nil {
		reminders = w.cfg.Reminders.Progress()
	}
	if !final && snap == w.written && sameProgress(reminders, w.sent) {
		return
	}
	start := time.Now()
	data, err := encodeStateFile(snap, reminders, start)
	if err == nil {
		err = renameio.WriteFile(w.cfg.Path, data, 0o600,
			renameio.WithTempDir(filepath.Dir(w.cfg.Path)), renameio.WithStaticPermissions(0o600))
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
	w.written, w.sent = snap, reminders
	w.cfg.Log.Trace().Str("path", w.cfg.Path).Int("bytes", len(data)).
		Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).Msg("state file written")
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

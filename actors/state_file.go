package actors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/renameio/v2"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
	"github.com/dupunkto/mesh/actors/statefile"
)

// DefaultSaveInterval is how often the writer looks for changes that
// nobody announced: a history pruned, a message delivered.
const DefaultSaveInterval = 5 * time.Second

// DefaultSeenInterval is how often the state file is rewritten when only
// last_seen and failure counts changed. Every probe changes them; writing
// and fsyncing the file for each would wear a disk for nothing, since a
// restart a few minutes behind on last_seen loses nothing that matters.
const DefaultSeenInterval = 5 * time.Minute

// LoadStateFile reads the state file at path. No path (STATE_FILE unset)
// or a missing file gives an empty document: the node starts fresh. A file
// that cannot be understood is logged and renamed aside to
// <path>.corrupt-<timestamp>, and the node starts fresh: a damaged file
// must never keep a monitor from running. A file that cannot be read
// (config stops the node for that at start) is left where it is.
func LoadStateFile(path string, now time.Time, log zerolog.Logger) statefile.Document {
	if path == "" {
		return statefile.Document{}
	}
	data, err := readAtMost(path, statefile.MaxSize)
	if errors.Is(err, fs.ErrNotExist) {
		log.Info().Str("path", path).Msg("no state file yet; starting fresh")
		return statefile.Document{}
	}
	if err != nil {
		log.Error().Str("path", path).Err(err).Msg("state file cannot be read; starting fresh, the file left as it is")
		return statefile.Document{}
	}
	d, err := statefile.Decode(data, now) // past MaxSize, data is one byte over: refused unread
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%s", path, now.UTC().Format("20060102T150405Z"))
		ev := log.Error().Str("path", path).Err(err)
		if rerr := os.Rename(path, aside); rerr != nil {
			ev.AnErr("rename_error", rerr).Msg("state file unusable and could not be set aside; starting fresh")
		} else {
			ev.Str("moved_to", aside).Msg("state file unusable; set aside, starting fresh")
		}
		return statefile.Document{}
	}
	for _, what := range d.Dropped {
		log.Warn().Str("path", path).Str("dropped", what).Msg("state file holds what no node writes; that part left out, the rest loaded")
	}
	if d.Clamped > 0 {
		log.Warn().Str("path", path).Int("times", d.Clamped).Time("saved_at", d.SavedAt).
			Msg("state file has times in the future (the clock stepped back?); taken as now")
	}
	peers, targets := 0, 0
	for _, s := range d.Subjects {
		if s.Subject.Kind == domain.KindTarget {
			targets++
		} else {
			peers++
		}
	}
	log.Info().Str("path", path).Int("peers", peers).Int("targets", targets).Time("saved_at", d.SavedAt).Msg("state file loaded")
	return d.Document
}

// readAtMost reads a file, or its first most+1 bytes when it is longer:
// enough to tell it is too long without holding the rest.
func readAtMost(path string, most int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, most+1))
}

// StateFileConfig is what the state file writer is built from. Each source
// is an actor's one value to keep; a source may be nil when the node has
// no such actor.
type StateFileConfig struct {
	Path  string
	State interface{ Snapshot() *domain.Snapshot }
	// Changes wakes the writer when a status or the alert record changed,
	// to write at once.
	Changes *Signal
	// Alerts gives the alert engine's record; nil without notifications.
	Alerts interface{ Record() domain.AlertRecord }
	// Messages gives the channels' undelivered messages; nil without any.
	Messages interface {
		Pending() map[string][]domain.Message
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

	// Owned by Serve, kept across restarts: what was last written.
	written   *domain.Snapshot
	writtenAt time.Time
	record    domain.AlertRecord
	pending   map[string][]domain.Message
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
	var record domain.AlertRecord
	if w.cfg.Alerts != nil {
		record = w.cfg.Alerts.Record()
	}
	var pending map[string][]domain.Message
	if w.cfg.Messages != nil {
		pending = w.cfg.Messages.Pending()
	}
	start := time.Now()
	switch {
	case final || w.failing || w.written == nil:
	case !sameRecord(record, w.record) || !maps.EqualFunc(pending, w.pending, slices.Equal) || statusOrHistoryChanged(w.written, snap):
	case snap != w.written && start.Sub(w.writtenAt) >= w.cfg.SeenInterval:
	default:
		return
	}
	data, err := statefile.Encode(statefile.Document{Node: snap.Node(), SavedAt: start, Subjects: subjectsOf(snap), Alerts: record, Pending: pending,
		Isolations: slices.Collect(snap.Isolations().All()), Left: snap.Away(), Silences: snap.Silences(), Keys: snap.Keys()})
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
	w.written, w.writtenAt, w.record, w.pending = snap, start, record, pending
	w.cfg.Log.Trace().Str("path", w.cfg.Path).Int("bytes", len(data)).
		Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).Msg("state file written")
}

// sameRecord reports whether two of the alert engine's records say the same.
func sameRecord(a, b domain.AlertRecord) bool {
	return slices.Equal(a.Announcements, b.Announcements) && maps.Equal(a.CertsTold, b.CertsTold)
}

// subjectsOf is what the state file keeps of a snapshot: each subject's
// view and history, and its spells of maintenance.
func subjectsOf(snap *domain.Snapshot) map[string]statefile.Subject {
	out := make(map[string]statefile.Subject, snap.Len()+snap.TargetCount())
	for e := range snap.Subjects() {
		h := e.History()
		s := statefile.Subject{Subject: e.Subject(), View: e.View(), History: make([]domain.HistoryEntry, h.Len()), Maintained: snap.Maintained(e.Name())}
		for i, t := range h.All() {
			s.History[i] = t
		}
		out[e.Name()] = s
	}
	return out
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

// statusOrHistoryChanged reports whether a subject's status, history or
// spells of maintenance differ between two snapshots, or the subjects
// themselves do, or the peers that left, or the keys pinned: what a
// restart must not lose.
func statusOrHistoryChanged(old, cur *domain.Snapshot) bool {
	if old.Len() != cur.Len() || old.TargetCount() != cur.TargetCount() || !maps.Equal(old.Away(), cur.Away()) || !slices.Equal(old.Silences(), cur.Silences()) || !maps.Equal(old.Keys(), cur.Keys()) {
		return true
	}
	for e := range cur.Subjects() {
		was, ok := old.Entry(e.Name())
		if !ok || !slices.Equal(old.Maintained(e.Name()), cur.Maintained(e.Name())) {
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

// sameHistory compares two histories of one subject by their ends: the
// owner only appends and prunes from the start.
func sameHistory(a, b domain.History) bool {
	if a.Len() != b.Len() {
		return false
	}
	n := a.Len()
	same := func(x, y domain.HistoryEntry) bool { return x.Status == y.Status && x.At.Equal(y.At) }
	return n == 0 || (same(a.At(0), b.At(0)) && same(a.At(n-1), b.At(n-1)))
}

package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// encodeStateFile writes a snapshot and what was said of it as the file.
func encodeStateFile(snap *domain.Snapshot, reminders map[string]ReminderProgress, messages map[string][]Message, announcements []AnnouncementRecord, now time.Time) ([]byte, error) {
	return json.Marshal(stateDoc(snap, reminders, messages, announcements, now))
}

func TestStateFileRoundTripKeepsEverything(t *testing.T) {
	since := t0.Add(1234567 * time.Microsecond)
	dec := domain.PeerView{Status: domain.StatusDown, Since: since, LastSeen: since.Add(time.Minute), ConsecutiveFailures: 9}
	decHistory := []domain.HistoryEntry{{Status: domain.StatusUp, At: t0}, {Status: domain.StatusDown, At: since}}
	oct := domain.PeerView{Status: domain.StatusUnknown, Since: t0}
	snap := domain.NewSnapshot("nov", []*domain.Entry{
		domain.NewEntry(domain.Peer("dec"), dec, domain.NewHistory(decHistory)),
		domain.NewEntry(domain.Peer("oct"), oct, domain.History{}),
	}, nil)
	data, err := encodeStateFile(snap, map[string]ReminderProgress{"dec": {DownSince: since, Sent: 2}}, nil, nil, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStateFile(data, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]RestoredPeer{
		"dec": {View: dec, History: decHistory},
		"oct": {View: oct},
	}
	if !reflect.DeepEqual(got.Peers, want) {
		t.Fatalf("restored\n %+v\nwant\n %+v", got.Peers, want)
	}
	if remindersSent(got, "dec") != 2 || remindersSent(got, "oct") != -1 || !got.SavedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("reminders %v, saved at %v", got.Reminders, got.SavedAt)
	}
}

// The cluster notifier's announcements, its own and those it heard of, are
// kept; those of peers no longer listed are not resumed.
func TestAnnouncementsRoundTripThroughTheStateFile(t *testing.T) {
	snap := domain.NewSnapshot("nov", nil, nil)
	records := []AnnouncementRecord{
		{Peer: "dec", By: "nov", Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: t0.Add(time.Millisecond), Reminders: 3}},
		{Peer: "oct", By: "dec", Announcement: domain.Announcement{Kind: domain.AnnouncedPartial, Since: t0}},
		{Peer: "gone", By: "dec", Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: t0}},
	}
	data, err := encodeStateFile(snap, nil, nil, records, t0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStateFile(data, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if resumed := got.Announcements(peerSubjects("dec", "oct")); !reflect.DeepEqual(resumed, records[:2]) {
		t.Fatalf("resumed %+v, want %+v", resumed, records[:2])
	}
}

// Targets are kept as peers are, apart from them, with what was said of
// them: a pending down message, an announcement, a certificate told of.
func TestTargetsRoundTripThroughTheStateFile(t *testing.T) {
	const shop = "https://shop.example/Health"
	down := domain.PeerView{Status: domain.StatusDown, Since: t0, ConsecutiveFailures: 4}
	history := []domain.HistoryEntry{{Status: domain.StatusDown, At: t0}}
	snap := domain.NewSnapshot("nov", []*domain.Entry{
		domain.NewEntry(domain.Peer("dec"), domain.PeerView{Status: domain.StatusUp, Since: t0}, domain.History{}),
		domain.NewEntry(domain.Target(shop), down, domain.NewHistory(history)),
	}, nil)
	records := []AnnouncementRecord{{Peer: shop, By: "nov", Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: t0}}}
	doc := stateDoc(snap, nil, map[string][]Message{WebhookChannel: {clusterDownMessage(domain.Target(shop), []string{"nov"}, 2, t0)}}, records, t0)
	doc.CertWarned = map[string]string{shop: "aa"}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"targets":{"https://shop.example/Health":`) {
		t.Fatalf("targets not kept apart from the peers: %s", data)
	}
	got, err := decodeStateFile(data, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	targets := []domain.Subject{domain.Target(shop)}
	if r := got.Peers[shop]; r.View != down || !reflect.DeepEqual(r.History, history) {
		t.Fatalf("restored %+v", r)
	}
	if o := got.Outages(targets); len(o) != 1 || o[0].Subject.Name != shop {
		t.Fatalf("outages %+v", o)
	}
	if a := got.Announcements(targets); !reflect.DeepEqual(a, records) {
		t.Fatalf("announcements %+v", a)
	}
	if m := got.Messages(WebhookChannel); len(m) != 1 || m[0].Subject != domain.Target(shop) || got.CertWarned()[shop] != "aa" {
		t.Fatalf("messages %+v, certificates told of %v", m, got.CertWarned())
	}
	// A target listed with the peers, or a peer with the targets, is no
	// file Mesh wrote.
	for _, bad := range []string{
		strings.Replace(string(data), `"peers":{"dec"`, `"peers":{"https://x.example/"`, 1),
		strings.Replace(string(data), `"targets":{"https://shop.example/Health"`, `"targets":{"dec2"`, 1),
	} {
		if _, err := decodeStateFile([]byte(bad), t0); err == nil {
			t.Errorf("took %s", bad)
		}
	}
}

func TestStateFileIgnoresTheProgressOfAnEarlierOutage(t *testing.T) {
	snap := domain.NewSnapshot("nov", []*domain.Entry{
		domain.NewEntry(domain.Peer("dec"), domain.PeerView{Status: domain.StatusDown, Since: t0.Add(time.Hour)}, domain.History{}),
	}, nil)
	data, _ := encodeStateFile(snap, map[string]ReminderProgress{"dec": {DownSince: t0, Sent: 4}}, nil, nil, t0)
	got, _ := decodeStateFile(data, t0.Add(2*time.Hour))
	if n := remindersSent(got, "dec"); n != -1 {
		t.Fatalf("reminders sent %d, want unknown: the chain was the previous outage's", n)
	}
}

func TestUnusableStateFilesAreSetAsideAndTheNodeStartsFresh(t *testing.T) {
	cases := map[string]string{
		"garbage":                         "\x00\x01 not json",
		"truncated":                       `{"version":1,"node":"nov","peers":{"dec":{"status":"up"`,
		"an unknown version":              `{"version":99,"node":"nov","peers":{}}`,
		"an invalid status":               `{"version":1,"node":"nov","peers":{"dec":{"status":"sideways","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[]}}}`,
		"an invalid name":                 `{"version":1,"node":"nov","peers":{"a b":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[]}}}`,
		"a history of limbo":              `{"version":1,"node":"nov","peers":{"dec":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[{"status":"unknown","at":"2026-06-06T12:42:00Z"}]}}}`,
		"a JSON list instead":             `[]`,
		"a history out of order":          `{"version":1,"node":"nov","peers":{"dec":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[{"status":"up","at":"2026-06-06T12:42:00Z"},{"status":"down","at":"2026-06-06T11:42:00Z"}]}}}`,
		"9e18 reminders sent":             `{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":9,"reminders_sent":9000000000000000000,"history":[]}}}`,
		"negative reminders":              `{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":9,"reminders_sent":-5,"history":[]}}}`,
		"an announcement of another kind": `{"version":1,"node":"nov","peers":{},"announcements":[{"peer":"dec","by":"oct","kind":"up","since":"2026-06-06T12:42:00Z","reminders":0}]}`,
		"an announcement by nobody":       `{"version":1,"node":"nov","peers":{},"announcements":[{"peer":"dec","by":"","kind":"down","since":"2026-06-06T12:42:00Z","reminders":0}]}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if s := LoadStateFile(path, t0, zerolog.New(&logs)); s != nil {
				t.Fatalf("loaded %+v from a bad file", s)
			}
			aside := path + ".corrupt-20260606T124200Z"
			if b, err := os.ReadFile(aside); err != nil || string(b) != content {
				t.Fatalf("the bad file was not set aside as %s: %v", aside, err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatal("the bad file is still in place")
			}
			if !strings.Contains(logs.String(), `"level":"error"`) || !strings.Contains(logs.String(), aside) {
				t.Fatalf("log %s", logs.String())
			}
		})
	}
	t.Run("a missing file starts fresh quietly", func(t *testing.T) {
		var logs bytes.Buffer
		if s := LoadStateFile(filepath.Join(t.TempDir(), "none.json"), t0, zerolog.New(&logs)); s != nil || strings.Contains(logs.String(), "error") {
			t.Fatalf("state %+v, log %s", s, logs.String())
		}
	})
}

func TestCheckStateFile(t *testing.T) {
	dir := t.TempDir()
	if err := CheckStateFile(filepath.Join(dir, "state.json")); err != nil {
		t.Fatalf("a file that does not exist yet: %v", err)
	}
	if err := CheckStateFile(filepath.Join(dir, "missing", "state.json")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing directory: %v", err)
	}
	if err := CheckStateFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("a directory: %v", err)
	}
	file := filepath.Join(dir, "state.json")
	if err := os.WriteFile(file, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckStateFile(file); err != nil {
		t.Fatalf("an existing file: %v", err)
	}
}

// A clock stepped back leaves times in the future in the file: they are
// taken as now, so that an outage never began after it is reported over.
func TestTimesInTheFutureAreTakenAsNow(t *testing.T) {
	now := t0
	future := now.Add(200 * 365 * 24 * time.Hour)
	f := fmt.Sprintf(`{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":%q,"last_seen":%q,"consecutive_failures":9,"history":[{"status":"down","at":%q}]}}}`,
		future.Format(time.RFC3339Nano), future.Format(time.RFC3339Nano), future.Format(time.RFC3339Nano))
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte(f), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s := LoadStateFile(path, now, zerolog.New(&logs))
	dec := s.Peers["dec"]
	if !dec.View.Since.Equal(now) || !dec.View.LastSeen.Equal(now) || !dec.History[0].At.Equal(now) {
		t.Fatalf("restored %+v, want every time at now", dec)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "future") {
		t.Fatalf("log %s", logs.String())
	}
	// The recovery that follows reports no negative downtime.
	o := NewOwner(OwnerConfig{Node: "nov", Subjects: peerSubjects("dec"), Threshold: 1, Boot: now, Saved: s, Log: zerolog.New(&logs)})
	var b batch
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("dec"), At: now.Add(time.Minute), OK: true})
	if len(b.transitions) != 1 || b.transitions[0].At.Sub(b.transitions[0].DownSince) != time.Minute {
		t.Fatalf("transitions %+v, want a recovery after a minute down", b.transitions)
	}
}

// A new or rewritten state file is 0600, whatever the file it replaces was.
func TestStateFileIsAlways0600(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, []byte("{}"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	for _, final := range []bool{false, true} {
		if err := writeFile(path, []byte(`{"version":1}`), final); err != nil {
			t.Fatal(err)
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v after a rewrite, want 0600", st.Mode().Perm())
		}
	}
}

// readState decodes the file the writer wrote.
func readState(t *testing.T, path string) stateFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f stateFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("state file is not valid JSON: %v", err)
	}
	return f
}

func TestStateFileWriterWritesOnTransitionsOnItsIntervalAndOnShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		changes := NewSignal()
		o := NewOwner(OwnerConfig{Node: "me", Subjects: peerSubjects("dec", "oct"), Threshold: 2, Boot: time.Now(), StatusChanged: changes, Log: zerolog.Nop()})
		w := NewStateFile(StateFileConfig{Path: path, State: o, Changes: changes, Log: zerolog.Nop()})
		ctx, cancel := context.WithCancel(t.Context())
		go o.Serve(ctx)
		done := make(chan struct{})
		go func() { w.Serve(ctx); close(done) }()

		report(t, o, "dec", false)
		report(t, o, "dec", false) // threshold 2: down
		settle()                   // the owner may publish the second a publishGap after the first
		f := readState(t, path)
		if f.Peers["dec"].Status != domain.StatusDown || len(f.Peers["dec"].History) != 1 {
			t.Fatalf("after the transition the file holds %+v", f.Peers["dec"])
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", st.Mode().Perm())
		}

		report(t, o, "dec", false) // a change, but not of status or history: waits for the slow schedule
		settle()
		time.Sleep(DefaultSaveInterval)
		synctest.Wait()
		if readState(t, path).Peers["dec"].ConsecutiveFailures != 2 {
			t.Fatal("a change of failure count alone was written within the save interval")
		}
		time.Sleep(DefaultSeenInterval)
		synctest.Wait()
		if n := readState(t, path).Peers["dec"].ConsecutiveFailures; n != 3 {
			t.Fatalf("after the seen interval the file says %d failures, want 3", n)
		}

		report(t, o, "oct", true)
		settle()
		cancel()
		<-done
		if readState(t, path).Peers["oct"].Status != domain.StatusUp {
			t.Fatal("the last change was not written on shutdown")
		}
		entries, _ := os.ReadDir(filepath.Dir(path))
		if len(entries) != 1 {
			t.Fatalf("temporary files left behind: %v", entries)
		}
	})
}

func TestStateFileWriteFailureIsLoggedAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "gone")
		path := filepath.Join(dir, "state.json")
		o := newTestOwner("dec")
		var logs syncWriter
		w := NewStateFile(StateFileConfig{Path: path, State: o, Log: zerolog.New(&logs).Level(zerolog.DebugLevel)})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		defer func() { cancel(); <-done }() // its final write must end before the directory goes
		go o.Serve(ctx)
		go func() { w.Serve(ctx); close(done) }()
		report(t, o, "dec", true)
		synctest.Wait()
		time.Sleep(2 * DefaultSaveInterval) // two failed turns: one error, one debug
		synctest.Wait()
		if strings.Count(logs.String(), `"level":"error"`) != 1 || !strings.Contains(logs.String(), "will retry") {
			t.Fatalf("logs %s", logs.String())
		}
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		report(t, o, "dec", true) // something new to write
		synctest.Wait()
		time.Sleep(DefaultSaveInterval)
		synctest.Wait()
		if readState(t, path).Peers["dec"].Status != domain.StatusUp || !strings.Contains(logs.String(), "state file written again") {
			t.Fatalf("the write was not retried: %s", logs.String())
		}
	})
}

func TestOwnerRestoresPeersFromAPreviousRun(t *testing.T) {
	old := t0.Add(-100 * 24 * time.Hour)
	restored := map[string]RestoredPeer{
		"dec":     {View: domain.PeerView{Status: domain.StatusDown, Since: t0, ConsecutiveFailures: 12}, History: []domain.HistoryEntry{{Status: domain.StatusUp, At: old}, {Status: domain.StatusDown, At: t0}}},
		"removed": {View: domain.PeerView{Status: domain.StatusUp, Since: t0}},
	}
	boot := t0.Add(time.Hour)
	o := NewOwner(OwnerConfig{Node: "nov", Subjects: peerSubjects("dec", "new"), Threshold: 3, Boot: boot, Saved: &SavedState{Peers: restored}, Log: zerolog.Nop()})
	s := o.Snapshot()
	if s.Len() != 2 {
		t.Fatalf("%d peers: a peer no longer in PEERS must be dropped", s.Len())
	}
	if v, _ := s.Peer("dec"); v.Status != domain.StatusDown || !v.Since.Equal(t0) || v.ConsecutiveFailures != 12 {
		t.Fatalf("dec = %+v, want down since before the restart", v)
	}
	if e, _ := s.Entry("dec"); e.History().Len() != 1 || e.History().At(0).Status != domain.StatusDown {
		t.Fatalf("history %v, want the entry older than 90 days dropped", e.History())
	}
	if v, _ := s.Peer("new"); v.Status != domain.StatusUnknown || !v.Since.Equal(boot) {
		t.Fatalf("new = %+v, want unknown since boot", v)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	p := newSubjectState(domain.Peer("dec"), t0)
	at := t0
	for i := range domain.HistoryMaxEntries + 5 {
		at = at.Add(time.Second)
		status := domain.StatusUp
		if i%2 == 1 {
			status = domain.StatusDown
		}
		p.record(domain.Transition{To: status, At: at})
	}
	if len(p.history) != domain.HistoryMaxEntries || !p.history[len(p.history)-1].At.Equal(at) {
		t.Fatalf("%d entries, want the newest %d", len(p.history), domain.HistoryMaxEntries)
	}
	p.record(domain.Transition{To: domain.StatusUp, At: at.Add(domain.HistoryMaxAge + time.Second)})
	if len(p.history) != 1 {
		t.Fatalf("%d entries after 90 days, want only the newest", len(p.history))
	}
}

// remindersSent is how far the outage of peer had got, as the notifier
// would resume it: -1 when the file does not say.
func remindersSent(s *SavedState, peer string) int {
	for _, o := range s.Outages(peerSubjects(peer)) {
		return o.Sent
	}
	return -1
}

func TestUndeliveredMessagesRoundTripThroughTheStateFile(t *testing.T) {
	snap := domain.NewSnapshot("nov", nil, nil)
	msgs := map[string][]Message{
		WebhookChannel: {downMessage(domain.Peer("dec"), t0), reminderMessage(domain.Peer("dec"), 15*time.Minute, t0.Add(15*time.Minute))},
		"ntfy-2":       {downMessage(domain.Peer("jan"), t0)},
	}
	data, err := encodeStateFile(snap, nil, msgs, nil, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeStateFile(data, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for channel, want := range msgs {
		if !reflect.DeepEqual(got.Messages(channel), want) {
			t.Fatalf("kept %+v for %s, want %+v", got.Messages(channel), channel, want)
		}
	}
	if u := got.Unclaimed(Channels{webhookChannel(WebhookConfig{URL: "https://chat.example/x"}, ChannelConfig{})}); len(u) != 1 || u["ntfy-2"] != 1 {
		t.Fatalf("unclaimed %v, want ntfy-2's one message", u)
	}
	bad := strings.Replace(string(data), `"kind":"down"`, `"kind":"shout"`, 1)
	if _, err := decodeStateFile([]byte(bad), t0.Add(time.Hour)); err == nil {
		t.Fatal("a message of an unknown kind was accepted")
	}
	bad = strings.Replace(string(data), `"channel":"ntfy-2"`, `"channel":"<script>"`, 1)
	if _, err := decodeStateFile([]byte(bad), t0.Add(time.Hour)); err == nil {
		t.Fatal("a message for a channel no node could have was accepted")
	}
	// A file from before NOTIFY_URLS names no channel: its messages are
	// WEBHOOK_URL's.
	old := strings.ReplaceAll(strings.ReplaceAll(string(data), `"channel":"webhook",`, ""), `"channel":"ntfy-2",`, "")
	got, err = decodeStateFile([]byte(old), t0.Add(time.Hour))
	if err != nil || len(got.Messages(WebhookChannel)) != 3 {
		t.Fatalf("an older file's messages: %v, %+v; want all three for the webhook", err, got)
	}
}

package actors

import (
	"bytes"
	"context"
	"errors"
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
	"github.com/dupunkto/mesh/actors/statefile"
	"github.com/dupunkto/mesh/config"
)

func TestUnusableStateFilesAreSetAsideAndTheNodeStartsFresh(t *testing.T) {
	// Which files are unusable is the document's to say (package
	// statefile's tests); here, what the node does with one.
	cases := map[string]string{
		"garbage":            "\x00\x01 not json",
		"an unknown version": `{"version":99,"node":"nov","peers":{}}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			if s := LoadStateFile(path, t0, zerolog.New(&logs)); !reflect.DeepEqual(s, statefile.Document{}) {
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
		if s := LoadStateFile(filepath.Join(t.TempDir(), "none.json"), t0, zerolog.New(&logs)); !reflect.DeepEqual(s, statefile.Document{}) || strings.Contains(logs.String(), "error") {
			t.Fatalf("state %+v, log %s", s, logs.String())
		}
	})
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
	dec := s.Subjects["dec"]
	if !dec.View.Since.Equal(now) || !dec.View.LastSeen.Equal(now) || !dec.History[0].At.Equal(now) {
		t.Fatalf("restored %+v, want every time at now", dec)
	}
	if !strings.Contains(logs.String(), `"level":"warn"`) || !strings.Contains(logs.String(), "future") {
		t.Fatalf("log %s", logs.String())
	}
	// The recovery that follows reports no negative downtime.
	o := NewOwner(OwnerConfig{Node: "nov", Subjects: peerSubjects("dec"), Threshold: 1, Boot: now, Saved: s.Subjects, Log: zerolog.New(&logs)})
	var b batch
	o.applyResult(&b, domain.ProbeResult{Subject: domain.Peer("dec"), At: now.Add(time.Minute), OK: true})
	if len(b.transitions) != 1 || b.transitions[0].At.Sub(b.transitions[0].DownSince) != time.Minute {
		t.Fatalf("transitions %+v, want a recovery after a minute down", b.transitions)
	}
}

// The line that says a state file was loaded counts its peers and its
// targets apart.
func TestTheLoadedLineCountsPeersAndTargetsApart(t *testing.T) {
	view := domain.PeerView{Status: domain.StatusUp, Since: t0, LastSeen: t0}
	data, err := statefile.Encode(statefile.Document{Node: "nov", SavedAt: t0, Subjects: map[string]statefile.Subject{
		"dec":                   {Subject: domain.Peer("dec"), View: view},
		"jan":                   {Subject: domain.Peer("jan"), View: view},
		"https://shop.example/": {Subject: domain.Target("https://shop.example/"), View: view},
	}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	LoadStateFile(path, t0, zerolog.New(&logs))
	if !strings.Contains(logs.String(), `"peers":2,"targets":1`) || !strings.Contains(logs.String(), "state file loaded") {
		t.Fatalf("logged %s, want the file loaded with 2 peers and 1 target", logs.String())
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
func readState(t *testing.T, path string) statefile.Document {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := statefile.Decode(b, time.Now())
	if err != nil {
		t.Fatalf("the state file written does not read back: %v", err)
	}
	return d.Document
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
		if f.Subjects["dec"].View.Status != domain.StatusDown || len(f.Subjects["dec"].History) != 1 {
			t.Fatalf("after the transition the file holds %+v", f.Subjects["dec"])
		}
		if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
			t.Fatalf("mode %v, want 0600", st.Mode().Perm())
		}

		report(t, o, "dec", false) // a change, but not of status or history: waits for the slow schedule
		settle()
		time.Sleep(DefaultSaveInterval)
		synctest.Wait()
		if readState(t, path).Subjects["dec"].View.ConsecutiveFailures != 2 {
			t.Fatal("a change of failure count alone was written within the save interval")
		}
		time.Sleep(DefaultSeenInterval)
		synctest.Wait()
		if n := readState(t, path).Subjects["dec"].View.ConsecutiveFailures; n != 3 {
			t.Fatalf("after the seen interval the file says %d failures, want 3", n)
		}

		report(t, o, "oct", true)
		settle()
		cancel()
		<-done
		if readState(t, path).Subjects["oct"].View.Status != domain.StatusUp {
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
		if readState(t, path).Subjects["dec"].View.Status != domain.StatusUp || !strings.Contains(logs.String(), "state file written again") {
			t.Fatalf("the write was not retried: %s", logs.String())
		}
	})
}

func TestOwnerRestoresPeersFromAPreviousRun(t *testing.T) {
	old := t0.Add(-100 * 24 * time.Hour)
	restored := map[string]statefile.Subject{
		"dec": {Subject: domain.Peer("dec"), View: domain.PeerView{Status: domain.StatusDown, Since: t0, ConsecutiveFailures: 12},
			History: []domain.HistoryEntry{{Status: domain.StatusUp, At: old}, {Status: domain.StatusDown, At: t0}}},
		"removed": {Subject: domain.Peer("removed"), View: domain.PeerView{Status: domain.StatusUp, Since: t0}},
	}
	boot := t0.Add(time.Hour)
	o := NewOwner(OwnerConfig{Node: "nov", Subjects: peerSubjects("dec", "new"), Threshold: 3, Boot: boot, Saved: restored, Log: zerolog.Nop()})
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

// A target's change of status is written at once, as a peer's is: a
// restart right after it must not lose it.
func TestATargetsChangeOfStatusIsWrittenAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const shop = "https://shop.example/"
		path := filepath.Join(t.TempDir(), "state.json")
		changes := NewSignal()
		o := NewOwner(OwnerConfig{Node: "me", Subjects: []domain.Subject{domain.Peer("dec"), domain.Target(shop)}, Threshold: 1,
			Boot: time.Now(), StatusChanged: changes, Log: zerolog.Nop()})
		w := NewStateFile(StateFileConfig{Path: path, State: o, Changes: changes, Log: zerolog.Nop()})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		defer func() { cancel(); <-done }() // its final write must end before the directory goes
		go o.Serve(ctx)
		go func() { w.Serve(ctx); close(done) }()
		if err := o.Report(t.Context(), domain.ProbeResult{Subject: domain.Peer("dec"), At: time.Now(), OK: true}); err != nil {
			t.Fatal(err)
		}
		settle() // the first write
		time.Sleep(time.Second)
		if err := o.Report(t.Context(), domain.ProbeResult{Subject: domain.Target(shop), At: time.Now(), OK: false, Err: errors.New("refused")}); err != nil {
			t.Fatal(err)
		}
		settle()
		if s := readState(t, path).Subjects[shop]; s.View.Status != domain.StatusDown || len(s.History) != 1 {
			t.Fatalf("right after the target went down the file holds %+v; want it down", s)
		}
	})
}

// The state file takes as many undelivered messages as the channels can
// hold: each of WEBHOOK_URL and NOTIFY_URLS's with a full queue and one in
// flight.
func TestTheStateFileHoldsWhatTheChannelsCanHold(t *testing.T) {
	if want := (1 + config.MaxNotifyURLs) * (DefaultQueueSize + 1); statefile.MaxPending != want {
		t.Fatalf("statefile.MaxPending is %d, the channels hold %d", statefile.MaxPending, want)
	}
}

// Garbage in one section of the file costs that section alone: the
// outages the file keeps are restored, and one warn line says what was
// left out.
func TestABadSectionOfTheStateFileCostsOnlyItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	content := `{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2026-06-06T12:00:00Z","last_seen":null,"consecutive_failures":9,"history":[]}},` +
		`"cert_warned":{"<script>":"aa"}}`
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := LoadStateFile(path, t0, zerolog.New(&logs))
	if d.Subjects["dec"].View.Status != domain.StatusDown || len(d.Alerts.CertsTold) != 0 {
		t.Fatalf("loaded %+v", d)
	}
	if n := strings.Count(logs.String(), `"level":"warn"`); n != 1 || !strings.Contains(logs.String(), `"dropped":"cert_warned`) {
		t.Fatalf("logs %s, want one warn line naming cert_warned", logs.String())
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file was set aside: %v", err)
	}
}

// A file past the size cap is no node's: it is set aside without being
// read (a 110 MB one once took seconds and half a gigabyte to refuse).
func TestAStateFileOverTheSizeCapIsSetAsideUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(statefile.MaxSize + 1024); err != nil { // sparse: no disk, no time
		t.Fatal(err)
	}
	f.Close()
	var logs bytes.Buffer
	if d := LoadStateFile(path, t0, zerolog.New(&logs)); !reflect.DeepEqual(d, statefile.Document{}) {
		t.Fatalf("loaded %+v", d)
	}
	if _, err := os.Stat(path + ".corrupt-20260606T124200Z"); err != nil || !strings.Contains(logs.String(), "more than a node writes") {
		t.Fatalf("not set aside (%v), logs %s", err, logs.String())
	}
}

package statefile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dupunkto/mesh/actors/domain"
)

var update = flag.Bool("update", false, "rewrite testdata/written.json from what Encode writes now")

var t0 = time.Date(2026, 6, 6, 12, 42, 0, 0, time.UTC)

// load decodes a file of testdata as of now.
func load(t *testing.T, name string, now time.Time) Decoded {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Decode(data, now)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return d
}

// The files the main branch wrote before this package, with node alerts
// and with cluster alerts (made by that code, and kept as they came), load
// as they were written: views, histories, targets apart from peers, the
// messages each channel had not delivered, the announcements and the
// certificates told of. The node-alerts file's reminder progress becomes
// the node's own announcements.
func TestFilesOfTheFormerWriterLoadUnchanged(t *testing.T) {
	t1 := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	const shop, db = "https://shop.example/Health", "tcp://db.example:5432"
	at := func(d time.Duration) time.Time { return t1.Add(d) }
	subjects := map[string]Subject{
		"dec.example": {Subject: domain.Peer("dec.example"),
			View:    domain.PeerView{Status: domain.StatusDown, Since: at(30 * time.Minute), LastSeen: at(29 * time.Minute), ConsecutiveFailures: 9},
			History: []domain.HistoryEntry{{Status: domain.StatusUp, At: t1}, {Status: domain.StatusDown, At: at(30 * time.Minute)}}},
		"oct.example:4000": {Subject: domain.Peer("oct.example:4000"),
			View:    domain.PeerView{Status: domain.StatusUp, Since: t1, LastSeen: at(35 * time.Minute)},
			History: []domain.HistoryEntry{{Status: domain.StatusUp, At: t1}}},
		"sep.example": {Subject: domain.Peer("sep.example"), View: domain.PeerView{Status: domain.StatusUnknown, Since: t1}},
		shop: {Subject: domain.Target(shop),
			View:    domain.PeerView{Status: domain.StatusDown, Since: at(20 * time.Minute), LastSeen: at(19 * time.Minute), ConsecutiveFailures: 30},
			History: []domain.HistoryEntry{{Status: domain.StatusUp, At: t1}, {Status: domain.StatusDown, At: at(20 * time.Minute)}}},
		db: {Subject: domain.Target(db),
			View:    domain.PeerView{Status: domain.StatusUp, Since: t1, LastSeen: at(35 * time.Minute)},
			History: []domain.HistoryEntry{{Status: domain.StatusUp, At: t1}}},
	}
	announced := func(s domain.Subject, by string, kind domain.AnnouncementKind, since time.Time, reminders int) domain.AnnouncementRecord {
		return domain.AnnouncementRecord{Subject: s, By: by, Announcement: domain.Announcement{Kind: kind, Since: since, Reminders: reminders}}
	}
	for _, tc := range []struct {
		file string
		want Document
	}{
		{"node-alerts.json", Document{Node: "nov.example", SavedAt: at(40 * time.Minute), Subjects: subjects,
			Alerts: domain.AlertRecord{Announcements: []domain.AnnouncementRecord{
				announced(domain.Peer("dec.example"), "nov.example", domain.AnnouncedDown, at(30*time.Minute), 0),
				announced(domain.Target(shop), "nov.example", domain.AnnouncedDown, at(20*time.Minute), 1),
			}},
			Pending: map[string][]domain.Message{
				"telegram": {{Kind: domain.MessageReminder, Subject: domain.Target(shop), Text: "🟠 `" + shop + "` is still unreachable (down for 15m 0s)", At: at(35 * time.Minute)}},
				"webhook":  {{Kind: domain.MessageDown, Subject: domain.Peer("dec.example"), Text: "🔴 `dec.example` is unreachable", At: at(30 * time.Minute)}},
			}}},
		{"cluster-alerts.json", Document{Node: "nov.example", SavedAt: at(40 * time.Minute), Subjects: subjects,
			Alerts: domain.AlertRecord{
				Announcements: []domain.AnnouncementRecord{
					announced(domain.Peer("dec.example"), "nov.example", domain.AnnouncedDown, at(30*time.Minute), 1),
					announced(domain.Target(shop), "oct.example:4000", domain.AnnouncedDown, at(20*time.Minute), 0),
					announced(domain.Peer("sep.example"), "oct.example:4000", domain.AnnouncedPartial, at(10*time.Minute), 0),
				},
				CertsTold: map[string]string{shop: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
			},
			Pending: map[string][]domain.Message{
				"webhook": {{Kind: domain.MessageDown, Subject: domain.Peer("dec.example"),
					Text: "🔴 `dec.example` is unreachable from 2 of 3 nodes (nov.example, oct.example:4000)", At: at(30 * time.Minute)}},
			}}},
	} {
		got := load(t, tc.file, at(time.Hour))
		if !reflect.DeepEqual(got.Document, tc.want) {
			t.Errorf("%s loads as\n%+v\nwant\n%+v", tc.file, got.Document, tc.want)
		}
	}
}

// A file of the first version, before targets, channels, announcements
// and certificates: its peers, its reminder progress (as an announcement
// of the node's own) and its one undelivered message, WEBHOOK_URL's.
func TestAFileWithoutTheNewerFieldsLoads(t *testing.T) {
	got := load(t, "oldest.json", t0.Add(time.Hour))
	since := t0
	want := Document{Node: "nov.example", SavedAt: t0.Add(18 * time.Minute),
		Subjects: map[string]Subject{
			"dec.example": {Subject: domain.Peer("dec.example"),
				View:    domain.PeerView{Status: domain.StatusDown, Since: since, LastSeen: since.Add(-time.Minute), ConsecutiveFailures: 12},
				History: []domain.HistoryEntry{{Status: domain.StatusUp, At: t0.Add(-42 * time.Minute)}, {Status: domain.StatusDown, At: since}}},
			"oct.example": {Subject: domain.Peer("oct.example"),
				View: domain.PeerView{Status: domain.StatusUp, Since: t0.Add(-42 * time.Minute), LastSeen: t0.Add(17 * time.Minute)}},
		},
		Alerts: domain.AlertRecord{Announcements: []domain.AnnouncementRecord{{Subject: domain.Peer("dec.example"), By: "nov.example",
			Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: since, Reminders: 1}}}},
		Pending: map[string][]domain.Message{WebhookChannel: {{Kind: domain.MessageReminder, Subject: domain.Peer("dec.example"),
			Text: "🟠 `dec.example` is still unreachable (down for 15m 0s)", At: t0.Add(15 * time.Minute)}}},
	}
	if !reflect.DeepEqual(got.Document, want) {
		t.Fatalf("loads as\n%+v\nwant\n%+v", got.Document, want)
	}
}

// document is a document with everything a node keeps: a peer down with
// its history, one unknown, a target down, an announcement of each kind
// (made and heard), a certificate told of, messages for two channels.
func document() Document {
	since := t0.Add(1234567 * time.Microsecond)
	const shop = "https://shop.example/Health"
	return Document{Node: "nov", SavedAt: t0.Add(time.Hour),
		Subjects: map[string]Subject{
			"dec": {Subject: domain.Peer("dec"), View: domain.PeerView{Status: domain.StatusDown, Since: since, LastSeen: since.Add(-time.Minute), ConsecutiveFailures: 9},
				History: []domain.HistoryEntry{{Status: domain.StatusUp, At: t0}, {Status: domain.StatusDown, At: since}}},
			"oct": {Subject: domain.Peer("oct"), View: domain.PeerView{Status: domain.StatusUnknown, Since: t0}},
			shop:  {Subject: domain.Target(shop), View: domain.PeerView{Status: domain.StatusDown, Since: t0, ConsecutiveFailures: 4}},
		},
		Alerts: domain.AlertRecord{
			Announcements: []domain.AnnouncementRecord{
				{Subject: domain.Peer("dec"), By: "nov", Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: since, Reminders: 3, Origin: since.Add(-time.Second)}},
				{Subject: domain.Target(shop), By: "dec", Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: t0}},
				{Subject: domain.Peer("oct"), By: "dec", Announcement: domain.Announcement{Kind: domain.AnnouncedPartial, Since: t0}},
			},
			Ended:     map[string]domain.Ending{"oct": {Kind: domain.AnnouncedDown, Since: t0.Add(-time.Hour), Ended: t0, Origin: t0.Add(-time.Hour)}},
			CertsTold: map[string]string{shop: "aa"},
		},
		Pending: map[string][]domain.Message{
			WebhookChannel: {{Kind: domain.MessageDown, Subject: domain.Peer("dec"), Text: "🔴 `dec` is unreachable", At: since},
				{Kind: domain.MessageReminder, Subject: domain.Peer("dec"), Text: "🟠 `dec` is still unreachable (down for 15m 0s)", At: since.Add(15 * time.Minute)}},
			"ntfy-2": {{Kind: domain.MessageDown, Subject: domain.Target(shop), Text: "🔴 `" + shop + "` is unreachable", At: t0}},
		},
		Isolations: []domain.Span{{From: t0.Add(-time.Hour), To: t0.Add(-50 * time.Minute)}, {From: t0.Add(30 * time.Minute)}},
		Left:       map[string]time.Time{"b.example": t0.Add(20 * time.Minute)},
		Silences: []domain.Silence{{ID: "5585d82e0a170c82", Matcher: "web-*", Start: t0, End: t0.Add(2 * time.Hour), By: "alice", Comment: "kernel upgrade",
			Node: "nov", Updated: t0.Add(time.Minute)}},
	}
}

// What Encode writes, Decode reads back the same, to the nanosecond; and
// it is what testdata/written.json holds (go test -update rewrites it when
// the format changes on purpose).
func TestStateFileRoundTripKeepsEverything(t *testing.T) {
	d := document()
	data, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data, t0.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Document, d) {
		t.Fatalf("read back\n%+v\nwant\n%+v", got.Document, d)
	}
	if !strings.Contains(string(data), `"targets":{"https://shop.example/Health":`) || strings.Contains(string(data), "reminders_sent") {
		t.Fatalf("targets not kept apart from the peers, or the former reminder progress written: %s", data)
	}
	golden := filepath.Join("testdata", "written.json")
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil || string(want) != string(data) {
		t.Fatalf("Encode wrote\n%s\nwant testdata/written.json (%v)", data, err)
	}
}

// A former reminder progress next to an announcement of the same subject
// gives way to it.
func TestAnAnnouncementWinsOverTheFormerReminderProgress(t *testing.T) {
	data := `{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":9,"reminders_sent":5,"history":[]}},` +
		`"announcements":[{"peer":"dec","by":"oct","kind":"down","since":"2026-06-06T12:40:00Z","reminders":1}]}`
	d, err := Decode([]byte(data), t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Alerts.Announcements; len(a) != 1 || a[0].By != "oct" || a[0].Reminders != 1 {
		t.Fatalf("announcements %+v, want oct's alone", a)
	}
}

// What is no state file at all is refused whole.
func TestFilesNoNodeWroteAreRefused(t *testing.T) {
	for name, content := range map[string]string{
		"garbage":             "\x00\x01 not json",
		"truncated":           `{"version":1,"node":"nov","peers":{"dec":{"status":"up"`,
		"an unknown version":  `{"version":99,"node":"nov","peers":{}}`,
		"a JSON list instead": `[]`,
		"over the size cap":   `{"version":1,"node":"nov","peers":{},"x":"` + strings.Repeat("x", MaxSize) + `"}`,
	} {
		if _, err := Decode([]byte(content), t0); err == nil {
			t.Errorf("%s: taken", name)
		}
	}
}

// What a node would never have written is left out, each said in Dropped,
// and the rest of the file is read: a bad subject alone, a bad section of
// anything else alone. One bad certificate must not cost the outages the
// file keeps, nor a wrapped-around failure count call a dead peer up.
func TestWhatNoNodeWroteIsLeftOutAndTheRestRead(t *testing.T) {
	good, err := Encode(document())
	if err != nil {
		t.Fatal(err)
	}
	view := func(failures, extra string) string {
		return `{"status":"down","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":` + failures + extra + `,"history":[]}`
	}
	replace := func(old, new string) string { return strings.Replace(string(good), old, new, 1) }
	oct := `"oct":{"status":"unknown","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[]}`
	for _, tc := range []struct {
		name, content, dropped string
	}{
		{"failures past the bound", replace(oct, `"oct":`+view("9223372036854775807", "")), `peer "oct"`},
		{"an invalid status", replace(oct, `"oct":{"status":"sideways","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[]}`), `peer "oct"`},
		{"an invalid name", replace(`"oct":`, `"a b":`), `peer "a b"`},
		{"a history of limbo", replace(oct, `"oct":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[{"status":"unknown","at":"2026-06-06T12:42:00Z"}]}`), `peer "oct"`},
		{"a history out of order", replace(oct, `"oct":{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0,"history":[{"status":"up","at":"2026-06-06T12:42:00Z"},{"status":"down","at":"2026-06-06T11:42:00Z"}]}`), `peer "oct"`},
		{"9e18 reminders sent", replace(oct, `"oct":`+view("9", `,"reminders_sent":9000000000000000000`)), `peer "oct"`},
		{"negative reminders", replace(oct, `"oct":`+view("9", `,"reminders_sent":-5`)), `peer "oct"`},
		{"a target listed with the peers", replace(`"oct":`, `"https://x.example/":`), `peer "https://x.example/"`},
		{"a peer listed with the targets", replace(`"targets":{"https://shop.example/Health"`, `"targets":{"dec2"`), `target "dec2"`},
		{"an announcement of another kind", replace(`"kind":"partial"`, `"kind":"up"`), "announcements"},
		{"an announcement by nobody", replace(`"by":"dec"`, `"by":""`), "announcements"},
		{"a message of an unknown kind", replace(`"kind":"down","peer":"https`, `"kind":"shout","peer":"https`), "pending_messages"},
		{"a channel no node could have", replace(`"channel":"ntfy-2"`, `"channel":"<script>"`), "pending_messages"},
		{"a subject of no kind", replace(`"of":"target"`, `"of":"planet"`), "pending_messages"},
		{"an ending before its start", replace(`"ended":"2026-06-06T12:42:00Z"`, `"ended":"2026-06-06T10:42:00Z"`), "ended"},
		{"a certificate of no target", replace(`"cert_warned":{"https://shop.example/Health":"aa"}`, `"cert_warned":{"shop":"aa"}`), "cert_warned"},
		{"a spell of isolation that ends before it begins", replace(`"to":"2026-06-06T11:52:00Z"`, `"to":"2026-06-06T10:52:00Z"`), "isolated"},
		{"two spells that last", replace(`,"to":"2026-06-06T11:52:00Z"`, ``), "isolated"},
	} {
		d, err := Decode([]byte(tc.content), t0.Add(time.Hour))
		if err != nil {
			t.Errorf("%s: refused whole: %v", tc.name, err)
			continue
		}
		if len(d.Dropped) != 1 || !strings.HasPrefix(d.Dropped[0], tc.dropped) {
			t.Errorf("%s: dropped %q, want %s alone", tc.name, d.Dropped, tc.dropped)
		}
		if dec := d.Subjects["dec"]; dec.View.Status != domain.StatusDown || len(d.Subjects) < 2 {
			t.Errorf("%s: the rest was not read: %+v", tc.name, d.Subjects)
		}
	}
}

// A file from before NOTIFY_URLS names no channel: its messages are
// WEBHOOK_URL's.
func TestAMessageOfNoChannelIsTheWebhooks(t *testing.T) {
	data, err := Encode(document())
	if err != nil {
		t.Fatal(err)
	}
	old := strings.ReplaceAll(strings.ReplaceAll(string(data), `"channel":"webhook",`, ""), `"channel":"ntfy-2",`, "")
	got, err := Decode([]byte(old), t0.Add(time.Hour))
	if err != nil || len(got.Pending) != 1 || len(got.Pending[WebhookChannel]) != 3 {
		t.Fatalf("an older file's messages: %v, %+v; want all three for the webhook", err, got.Pending)
	}
}

// A clock stepped back leaves times in the future in the file: they are
// taken as now, and counted, so that an outage never began after it is
// reported over.
func TestTimesInTheFutureAreTakenAsNow(t *testing.T) {
	future := t0.Add(200 * 365 * 24 * time.Hour)
	f := fmt.Sprintf(`{"version":1,"node":"nov","peers":{"dec":{"status":"down","since":%q,"last_seen":%q,"consecutive_failures":9,"history":[{"status":"down","at":%q}]}}}`,
		future.Format(time.RFC3339Nano), future.Format(time.RFC3339Nano), future.Format(time.RFC3339Nano))
	d, err := Decode([]byte(f), t0)
	if err != nil {
		t.Fatal(err)
	}
	dec := d.Subjects["dec"]
	if !dec.View.Since.Equal(t0) || !dec.View.LastSeen.Equal(t0) || !dec.History[0].At.Equal(t0) || d.Clamped != 3 {
		t.Fatalf("read %+v with %d clamped, want every time at now", dec, d.Clamped)
	}
}

// roundTrip encodes d and decodes it back an hour later.
func roundTrip(t *testing.T, d Document) Document {
	t.Helper()
	data, err := Encode(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(data, d.SavedAt.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return got.Document
}

// The alert engine's announcements, its own and those it heard of, the
// episodes it saw end and the certificates told of come back as they
// were, each subject of its kind.
func TestAnnouncementsRoundTripThroughTheStateFile(t *testing.T) {
	d := document()
	if got := roundTrip(t, d).Alerts; !reflect.DeepEqual(got, d.Alerts) {
		t.Fatalf("read back %+v, want %+v", got, d.Alerts)
	}
}

// Targets are kept as peers are, apart from them, with what was said of
// them: a pending down message, an announcement, a certificate told of.
func TestTargetsRoundTripThroughTheStateFile(t *testing.T) {
	const shop = "https://shop.example/Health"
	d := document()
	got := roundTrip(t, d)
	if s := got.Subjects[shop]; !reflect.DeepEqual(s, d.Subjects[shop]) || s.Subject != domain.Target(shop) {
		t.Fatalf("read back %+v", s)
	}
	if m := got.Pending["ntfy-2"]; len(m) != 1 || m[0].Subject != domain.Target(shop) || got.Alerts.CertsTold[shop] != "aa" {
		t.Fatalf("messages %+v, certificates told of %v", m, got.Alerts.CertsTold)
	}
}

// Each channel's undelivered messages come back, in order, for it alone.
func TestUndeliveredMessagesRoundTripThroughTheStateFile(t *testing.T) {
	d := document()
	if got := roundTrip(t, d).Pending; !reflect.DeepEqual(got, d.Pending) {
		t.Fatalf("read back %+v, want %+v", got, d.Pending)
	}
}

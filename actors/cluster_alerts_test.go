package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// simCluster is a cluster of alert engines with the cluster policy, in a
// synctest bubble, with
// everything between them made by hand: each node's own view of the
// others is what the test sets, and at the end of every round each live
// node's view and announcements reach every live node it is not cut from,
// as relays do. Verdicts are reached with the rule the nodes use.
type simCluster struct {
	t     *testing.T
	round time.Duration
	rule  domain.ClusterRule
	names []string
	start time.Time

	mu    sync.Mutex
	nodes map[string]*simNode
	cut   map[[2]string]bool // from, to: relays from the first do not reach the second
	sent  []simMessage
}

type simNode struct {
	name     string
	own      map[string]domain.Status
	since    map[string]time.Time
	relays   map[string]*domain.RelayCopy
	leaves   map[string]domain.Leave // the peers that said they were stopping on purpose, as the owner keeps them
	silences []domain.Silence        // the cluster's silences, as the owner keeps them
	windows  map[string][]domain.Window
	alive    bool
	isolated bool          // set by the test, as the isolation guard would
	skew     time.Duration // how far its clock is ahead of the others', on the wire
	late     time.Duration // how long its relays take on the way (a pause between stamping and sending)
	stop     context.CancelFunc
	served   chan struct{} // closed when the notifier's Serve has returned
	notifier *Notifier
	changes  *Signal
	metrics  *Metrics
	logs     *syncWriter // its debug log, where its episodes' moves are
	snap     atomic.Pointer[domain.Snapshot]
}

// moves returns the moves of the episodes of subject on node, in order,
// as "from>to", from the node's log.
func (c *simCluster) moves(node, subject string) []string {
	synctest.Wait()
	var out []string
	for _, line := range strings.Split(c.nodes[node].logs.String(), "\n") {
		var l struct{ Message, Peer, From, To string }
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "episode moved" && l.Peer == subject {
			out = append(out, l.From+">"+l.To)
		}
	}
	return out
}

func (n *simNode) Snapshot() *domain.Snapshot { return n.snap.Load() }

// simMessage is a message and the node that sent it.
type simMessage struct {
	from string
	domain.Message
}

type simSink struct {
	c    *simCluster
	from string
}

func (s simSink) Enqueue(m domain.Message) {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.sent = append(s.c.sent, simMessage{s.from, m})
}

// Timings of the simulated cluster, as config derives them from a round.
const (
	simRound = time.Second
	simSlot  = 2 * simRound
	simFresh = 3 * simRound
)

var simFollowups = Schedule{10 * time.Minute, 20 * time.Minute}

// newSimCluster starts one notifier per name, every node seeing every
// other up, and delivers relays every round until the test ends.
func newSimCluster(t *testing.T, names ...string) *simCluster {
	c := &simCluster{t: t, round: simRound, rule: domain.ClusterRule{Fresh: simFresh}, names: names, start: time.Now(),
		nodes: map[string]*simNode{}, cut: map[[2]string]bool{}}
	for _, name := range names {
		n := &simNode{name: name, own: map[string]domain.Status{}, since: map[string]time.Time{}, relays: map[string]*domain.RelayCopy{},
			leaves: map[string]domain.Leave{}, metrics: NewMetrics(nil), logs: &syncWriter{}}
		for _, p := range names {
			if p != name {
				n.own[p], n.since[p] = domain.StatusUp, c.start
			}
		}
		c.nodes[name] = n
	}
	for _, name := range names {
		c.boot(name, nil)
	}
	c.relayAll() // as if the cluster had been running: everyone heard from everyone
	go func() {
		tick := time.NewTicker(c.round)
		defer tick.Stop()
		for {
			select {
			case <-t.Context().Done():
				return
			case <-tick.C:
				c.relayAll()
			}
		}
	}()
	return c
}

// boot starts (or restarts) one node's alert engine, resuming saved.
func (c *simCluster) boot(name string, saved []domain.AnnouncementRecord) {
	c.bootWith(name, domain.AlertRecord{Announcements: saved})
}

// bootWith starts (or restarts) one node's alert engine, resuming what a
// state file kept of it.
func (c *simCluster) bootWith(name string, saved domain.AlertRecord) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	n.changes = NewSignal()
	c.publish(n)
	n.notifier = NewNotifier(NotifierConfig{Node: name, Policy: AlertPolicy(true, len(c.names)), Followups: simFollowups,
		PartialAfter: 5 * time.Minute, Slot: simSlot, Fresh: simFresh, Round: simRound, State: n, Changes: n.changes,
		Out: simSink{c, name}, Saved: saved, Now: time.Now(), Metrics: n.metrics,
		Log: zerolog.New(n.logs).Level(zerolog.DebugLevel)})
	c.serve(n)
}

// serve runs n's notifier until n.stop. c.mu is held.
func (c *simCluster) serve(n *simNode) {
	ctx, cancel := context.WithCancel(c.t.Context())
	served, notifier := make(chan struct{}), n.notifier
	n.stop, n.served, n.alive = cancel, served, true
	go func() {
		defer close(served)
		_ = notifier.Serve(ctx)
	}()
}

// kill stops a node: its notifier ends and it relays no more.
func (c *simCluster) kill(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	n.alive = false
	n.stop()
	n.relays = map[string]*domain.RelayCopy{}
}

// leave stops a node on purpose, as SIGTERM does: its last relay tells
// every live node it is leaving, and then it is gone as a killed one is.
func (c *simCluster) leave(name string) {
	c.mu.Lock()
	for _, n := range c.nodes {
		if n.alive && n.name != name {
			n.leaves[name] = domain.Leave{At: time.Now()}
		}
	}
	c.mu.Unlock()
	c.kill(name)
}

// freeze holds a node up, as SIGSTOP does: its engine stops where it is
// and it relays nothing, until thaw lets the same engine go on.
func (c *simCluster) freeze(name string) {
	c.mu.Lock()
	n := c.nodes[name]
	n.alive = false
	n.stop()
	c.mu.Unlock()
	<-n.served // the same engine goes on at thaw: this one must be over (it may be sending, which takes c.mu)
}

// thaw lets a frozen node go on, as SIGCONT does.
func (c *simCluster) thaw(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[name]
	c.publish(n)
	c.serve(n)
}

// publish makes n's snapshot from its own view and the relays it holds,
// with verdicts, and wakes its notifier. c.mu is held.
func (c *simCluster) publish(n *simNode) {
	// As the owner does: a peer back, seen up, and past Fresh is no
	// longer held by its leave.
	maps.DeleteFunc(n.leaves, func(p string, l domain.Leave) bool {
		return !l.Back.IsZero() && time.Since(l.Back) >= c.rule.Fresh && n.own[p] == domain.StatusUp
	})
	var entries []*domain.Entry
	for _, p := range slices.Sorted(maps.Keys(n.own)) {
		entries = append(entries, domain.NewEntry(domain.Peer(p), domain.PeerView{Status: n.own[p], Since: n.since[p]}, domain.History{}))
	}
	s := domain.NewSnapshot(n.name, entries, maps.Clone(n.relays)).WithIsolated(n.isolated).WithLeaves(maps.Clone(n.leaves), c.rule.LeaveGrace).WithSilences(slices.Clone(n.silences)).WithTargetWindows(n.windows)
	n.snap.Store(s.WithVerdicts(domain.ComputeVerdicts(s, c.rule, time.Now())))
	n.changes.Notify()
}

// relayAll delivers every live node's view and announcements to every live
// node it is not cut from.
func (c *simCluster) relayAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for _, from := range c.nodes {
		if !from.alive {
			continue
		}
		views := map[string]domain.PeerView{}
		for p, st := range from.own {
			views[p] = domain.PeerView{Status: st, Since: from.since[p]}
		}
		for _, to := range c.nodes {
			if to != from && to.alive && !c.cut[[2]string{from.name, to.name}] {
				// A node whose clock is off says its times, and when it
				// sent the relay, by its clock.
				// A late relay was stamped when it was meant to go.
				to.relays[from.name] = domain.NewRelayCopy(now, maps.Clone(views)).Saying(from.notifier.Said().Shifted(from.skew), now.Add(from.skew-from.late))
				if l, ok := to.leaves[from.name]; ok && l.Back.IsZero() {
					to.leaves[from.name] = domain.Leave{At: l.At, Back: now} // it relays again: it is back
				}
			}
		}
	}
	for _, n := range c.nodes {
		if n.alive {
			c.publish(n)
		}
	}
}

// see sets what observer's own probes say of peer, from now on.
func (c *simCluster) see(observer, peer string, st domain.Status) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[observer]
	if n.own[peer] != st {
		n.own[peer], n.since[peer] = st, time.Now()
	}
	c.publish(n)
}

// down makes every live node but the peer see it down, each `spread` after
// the one before in the order given (nodes notice an outage at different
// moments). An empty order is every live node but the peer in name order.
func (c *simCluster) everyoneSees(peer string, st domain.Status, spread time.Duration, order ...string) {
	if len(order) == 0 {
		for _, name := range c.names {
			if name != peer && c.nodes[name].alive {
				order = append(order, name)
			}
		}
	}
	for i, o := range order {
		if i > 0 {
			time.Sleep(spread)
		}
		c.see(o, peer, st)
	}
}

// messages returns what was sent, as "from: text", in order.
func (c *simCluster) messages() []string {
	synctest.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.sent {
		out = append(out, m.from+": "+m.Text)
	}
	return out
}

// marks returns, in order, who sent each message about subject and its
// mark ("a: 🔴"), so that a test can say in one line what the chat read.
func (c *simCluster) marks(subject string) []string {
	var out []string
	for _, m := range c.messages() {
		if from, text, _ := strings.Cut(m, ": "); strings.Contains(text, "`"+subject+"`") {
			mark, _, _ := strings.Cut(text, " ")
			out = append(out, from+": "+mark)
		}
	}
	return out
}

// count returns how many messages of kind about peer were sent.
func (c *simCluster) count(kind domain.MessageKind, peer string) int {
	synctest.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.sent {
		if m.Kind == kind && m.Subject.Name == peer {
			n++
		}
	}
	return n
}

// Five nodes, one dies; the four others notice it in various orders, up to
// a round apart as nodes probing at the same interval do, or further apart
// still. Exactly one down message goes out, from the first of the observers
// by name, naming all four when they noticed within a round; one reminder
// per gap; one recovery.
func TestClusterAlertsOneMessagePerOutageWhateverOrderTheObserversNoticeIn(t *testing.T) {
	for _, order := range [][]string{{"a", "b", "c", "d"}, {"d", "c", "b", "a"}, {"b", "c", "d", "a"}, {"c", "a", "d", "b"}} {
		for _, spread := range []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, simRound} {
			t.Run(fmt.Sprintf("%s/%v", strings.Join(order, ""), spread), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					c := newSimCluster(t, "a", "b", "c", "d", "e")
					time.Sleep(simFresh) // past every node's warm-up
					c.kill("e")
					c.everyoneSees("e", domain.StatusDown, spread, order...)
					time.Sleep(5 * simSlot)
					want := "a: 🔴 `e` is unreachable from 4 of 5 nodes (a, b, c, d)"
					if got := c.messages(); len(got) != 1 || (got[0] != want && 3*spread <= simRound) || !strings.HasPrefix(got[0], "a: 🔴 `e`") {
						t.Fatalf("sent %q, want one down message from a naming the observers", got)
					}
					time.Sleep(simFollowups[0] + simFollowups[1] + time.Second)
					if n := c.count(domain.MessageReminder, "e"); n != 2 {
						t.Fatalf("%d reminders after two gaps, want 2: %q", n, c.messages())
					}
					c.everyoneSees("e", domain.StatusUp, spread, order...)
					time.Sleep(5 * simSlot)
					counted := func(node string, kind domain.MessageKind, reason string) float64 {
						m := c.nodes[node].metrics
						if reason == "" {
							return testutil.ToFloat64(m.sent.WithLabelValues(kind.String()))
						}
						return testutil.ToFloat64(m.suppressed.WithLabelValues(kind.String(), reason))
					}
					for _, node := range []string{"a", "b", "c", "d"} {
						mine := node == "a"
						for kind, want := range map[domain.MessageKind]float64{domain.MessageDown: 1, domain.MessageReminder: 2, domain.MessageRecovery: 1} {
							sent, left := counted(node, kind, ""), counted(node, kind, SuppressedElsewhere)
							if (mine && (sent != want || left != 0)) || (!mine && (sent != 0 || left != want)) {
								t.Errorf("%s counted %v %s messages sent and %v left to another node", node, sent, kind, left)
							}
						}
					}
					if n, all := c.count(domain.MessageRecovery, "e"), c.messages(); n != 1 || len(all) != 4 || !strings.HasPrefix(all[3], "a: 🟢 `e` is reachable again") {
						t.Fatalf("sent %q, want one recovery from a after the down and two reminders", all)
					}
				})
			})
		}
	}
}

// The announcer dies mid-outage: the next node takes the outage over
// without a second down message, and the reminders go on from it.
func TestClusterAlertsTheNextNodeTakesOverFromADeadAnnouncer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute)
		c.kill("a")
		c.everyoneSees("a", domain.StatusDown, 0, "b", "c", "d")
		time.Sleep(simFollowups[0] + 5*time.Minute)
		got := c.messages()
		want := []string{
			"a: 🔴 `e` is unreachable from 4 of 5 nodes (a, b, c, d)",
			"b: 🔴 `a` is unreachable from 3 of 3 nodes that answer; 1 other node down (b, c, d)",
			"b: 🟠 `e` is still unreachable from 3 of 3 nodes that answer; 1 other node down (down for 10m 0s)",
			"b: 🟠 `a` is still unreachable from 3 of 3 nodes that answer; 1 other node down (down for 10m 0s)",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sent\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if n := c.count(domain.MessageDown, "e"); n != 1 {
			t.Fatalf("%d down messages for e, want 1", n)
		}
		// The episode of e, as each node followed it: a announced it; b
		// and c left it to a, found it orphaned when a's relays stopped,
		// and b, next by name, took it over, which c heard.
		for node, want := range map[string][]string{
			"a": {"waiting>announced_here"},
			"b": {"waiting>held_elsewhere", "held_elsewhere>orphaned", "orphaned>announced_here"},
			"c": {"waiting>held_elsewhere", "held_elsewhere>orphaned", "orphaned>held_elsewhere"},
		} {
			if got := c.moves(node, "e"); !slices.Equal(got, want) {
				t.Errorf("%s's episode of e moved %v, want %v", node, got, want)
			}
		}
		// Alertmanager hears of each outage from the node that holds it:
		// b, which took e's over and announced a's; c and d leave both to
		// it, and never end them.
		alerts := c.nodes["b"].notifier.Alerts()
		if len(alerts.Mine) != 2 || alerts.Mine[0].Subject.Name != "a" || alerts.Mine[1].Subject.Name != "e" ||
			alerts.Mine[1].Summary != "e is unreachable from 3 of 3 nodes that answer; 1 other node down (b, c, d)" || alerts.Mine[1].Severity != "critical" {
			t.Fatalf("b asserts %+v, want a's and e's outages", alerts.Mine)
		}
		for _, name := range []string{"c", "d"} {
			alerts := c.nodes[name].notifier.Alerts()
			if len(alerts.Mine) != 0 || !alerts.Elsewhere[alertKey(AlertPeerDown, "a")] || !alerts.Elsewhere[alertKey(AlertPeerDown, "e")] {
				t.Fatalf("%s asserts %+v, want both left to b", name, alerts)
			}
		}
	})
}

// Only one of four observers cannot reach the peer: no down message, and
// after PARTIAL_AFTER one message naming who cannot and who can; one more
// when it ends.
func TestClusterAlertsAMinorityThatCannotReachAPeerGetsOneMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.see("c", "e", domain.StatusDown)
		time.Sleep(4 * time.Minute)
		if got := c.messages(); len(got) != 0 {
			t.Fatalf("sent %q before PARTIAL_AFTER", got)
		}
		time.Sleep(2 * time.Minute)
		if got := c.messages(); !slices.Equal(got, []string{"a: 🟠 `e` is unreachable from c; reachable from a, b, d"}) {
			t.Fatalf("sent %q, want one partial message from a", got)
		}
		if a := c.nodes["a"].notifier.Alerts().Mine; len(a) != 1 || a[0].Name != AlertPeerPartial || a[0].Severity != "warning" ||
			a[0].Summary != "e is unreachable from c; reachable from a, b, d" {
			t.Fatalf("a asserts %+v, want e's MeshPeerPartial", a)
		}
		time.Sleep(time.Hour)
		c.see("c", "e", domain.StatusUp)
		time.Sleep(5 * simSlot)
		got := c.messages()
		if len(got) != 2 || !strings.HasPrefix(got[1], "a: 🟢 `e` is reachable from every node again (partly unreachable for 1h") {
			t.Fatalf("sent %q, want the partial message and one saying it ended", got)
		}
		if a := c.nodes["a"].notifier.Alerts(); len(a.Mine) != 0 || len(a.Elsewhere) != 0 {
			t.Fatalf("a asserts %+v after the end, want nothing", a)
		}
	})
}

// A partial episode the verdict calls down for a moment, too short for
// anyone to announce (the announcer's own probes missed under load): the
// partial episode goes on as it was, with no second partial message; when
// the outage is short and everything is then up, its end is told.
func TestClusterAlertsAPartialEpisodeOutlivesAnOutageTooShortToAnnounce(t *testing.T) {
	for _, after := range []string{"partial again", "up everywhere"} {
		t.Run(after, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newSimCluster(t, "a", "b", "c", "d", "e")
				time.Sleep(simFresh)
				c.see("c", "e", domain.StatusDown)
				time.Sleep(6 * time.Minute)
				partial := "a: 🟠 `e` is unreachable from c; reachable from a, b, d"
				if got := c.messages(); !slices.Equal(got, []string{partial}) {
					t.Fatalf("sent %q, want one partial message from a", got)
				}
				c.see("a", "e", domain.StatusDown)
				c.see("b", "e", domain.StatusDown)
				time.Sleep(simRound + simRound/2) // the views meet in the relays at the end of the round
				if v, _ := c.nodes["a"].snap.Load().Verdicts().Of("e"); v.Status() != domain.ClusterDown {
					t.Fatalf("a's verdict of e is %+v, want down for a moment", v)
				}
				c.see("a", "e", domain.StatusUp)
				c.see("b", "e", domain.StatusUp)
				if after == "up everywhere" {
					c.see("c", "e", domain.StatusUp)
				}
				time.Sleep(10 * time.Minute) // twice PARTIAL_AFTER
				got := c.messages()
				switch after {
				case "partial again":
					if !slices.Equal(got, []string{partial}) {
						t.Fatalf("sent %q, want only the first partial message", got)
					}
					c.see("c", "e", domain.StatusUp)
					time.Sleep(time.Minute)
					got = c.messages()
					if len(got) != 2 || !strings.HasPrefix(got[1], "a: 🟢 `e` is reachable from every node again (partly unreachable for 16m") {
						t.Fatalf("sent %q, want the partial message and one end counted from its beginning", got)
					}
				case "up everywhere":
					if len(got) != 2 || !strings.HasPrefix(got[1], "a: 🟢 `e` is reachable from every node again (partly unreachable for 6m") {
						t.Fatalf("sent %q, want the partial message and its end", got)
					}
				}
				if n := c.count(domain.MessageDown, "e"); n != 0 {
					t.Fatalf("%d down messages for e, want none", n)
				}
			})
		})
	}
}

// A partition 2 | 3: each side sees the other down and may announce it (a
// duplicate is better than a missed outage), but never more than one node
// per side does.
func TestClusterAlertsAPartitionAnnouncesAtMostOncePerSide(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		left, right := []string{"a", "b"}, []string{"c", "d", "e"}
		c.mu.Lock()
		for _, l := range left {
			for _, r := range right {
				c.cut[[2]string{l, r}], c.cut[[2]string{r, l}] = true, true
			}
		}
		c.mu.Unlock()
		for _, l := range left {
			for _, r := range right {
				c.see(l, r, domain.StatusDown)
				c.see(r, l, domain.StatusDown)
			}
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		c.mu.Lock()
		defer c.mu.Unlock()
		perSide := map[string]int{}
		for _, m := range c.sent {
			if m.Kind == domain.MessageDown {
				side := "left"
				if slices.Contains(right, m.from) {
					side = "right"
				}
				perSide[side+" "+m.Subject.Name]++
			}
		}
		want := map[string]int{"left c": 1, "left d": 1, "left e": 1, "right a": 1, "right b": 1}
		if !maps.Equal(perSide, want) {
			t.Fatalf("down messages by side and peer %v, want one each: %v", perSide, c.sent)
		}
	})
}

// A restarted node resumes the announcements it made and heard of from its
// state file: it neither repeats a down message nor drops the outage.
func TestClusterAlertsARestartRepeatsNoAnnouncement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute)
		for _, name := range []string{"a", "b"} {
			c.mu.Lock()
			saved := c.nodes[name].notifier.Record().Announcements
			c.mu.Unlock()
			if len(saved) != 1 || saved[0].By != "a" || saved[0].Subject != domain.Peer("e") {
				t.Fatalf("%s keeps %+v, want a's announcement of e", name, saved)
			}
			c.kill(name)
			c.boot(name, saved)
		}
		time.Sleep(simFollowups[0])
		got := c.messages()
		if len(got) != 2 || got[1] != "a: 🟠 `e` is still unreachable from 4 of 5 nodes (down for 10m 0s)" {
			t.Fatalf("sent %q, want the down message and a's first reminder, on time", got)
		}
	})
}

// What a previous run announced and heard of is resumed only for subjects
// still watched, as the kind they are now.
func TestAnnouncementsOfSubjectsNoLongerWatchedAreNotResumed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c")
		a := func(s domain.Subject, by string) domain.AnnouncementRecord {
			return domain.AnnouncementRecord{Subject: s, By: by, Announcement: domain.Announcement{Kind: domain.AnnouncedDown, Since: c.start}}
		}
		c.kill("a")
		c.boot("a", []domain.AnnouncementRecord{a(domain.Peer("b"), "c"), a(domain.Peer("gone"), "c"), a(domain.Target("c"), "b")})
		if r := c.nodes["a"].notifier.Record().Announcements; len(r) != 1 || r[0].Subject != domain.Peer("b") {
			t.Fatalf("resumed %+v, want only b's", r)
		}
	})
}

// An announcer held up mid-outage (SIGSTOP, a VM moved, a laptop
// suspended), or stopped and restarted from its state file: the next node
// took the outage over and ended it meanwhile. When it comes back, with a
// reminder long overdue, it listens first, hears that the outage was
// ended, and says nothing: no late reminder, no second recovery. Nor
// when it saw the peer go down a moment before the others, so that the
// outage began as a partial episode: the outage it announced
// took that episode's place for good, and its stale view when it is back
// (the peer down from it alone, for a round) is no partial trouble to
// resume.
func TestClusterAlertsAnAnnouncerBackFromAwayDoesNotEndWhatAnotherEnded(t *testing.T) {
	for _, away := range []string{"frozen", "restarted", "frozen, having seen it first"} {
		t.Run(away, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newSimCluster(t, "a", "b", "c", "d", "e")
				time.Sleep(simFresh)
				c.kill("e")
				seenFirst := away == "frozen, having seen it first"
				if seenFirst {
					c.see("a", "e", domain.StatusDown)
					c.see("b", "e", domain.StatusDown)
					time.Sleep(simRound + simRound/2) // two of four: partial, for a moment
					if v, _ := c.nodes["a"].snap.Load().Verdicts().Of("e"); v.Status() != domain.ClusterPartial {
						t.Fatalf("a's verdict of e is %+v, want partial for a moment", v)
					}
					away = "frozen"
				}
				c.everyoneSees("e", domain.StatusDown, 0)
				time.Sleep(time.Minute)
				saved := c.nodes["a"].notifier.Record()
				if away == "frozen" {
					c.freeze("a")
				} else {
					c.kill("a")
				}
				c.everyoneSees("a", domain.StatusDown, 0, "b", "c", "d")
				time.Sleep(simFollowups[0]) // b takes e over, and its reminder comes
				c.everyoneSees("e", domain.StatusUp, 0, "b", "c", "d")
				time.Sleep(5 * simSlot) // b ends it
				if away == "frozen" {
					c.thaw("a")
				} else {
					c.bootWith("a", saved)
				}
				if seenFirst {
					// Back, a sees e down still, and so do c and d in the
					// relays it takes first (sent while it was away, or
					// their probes): down for a round, then partial for
					// less than PARTIAL_AFTER. Trouble of now, not of
					// before the outage, and too short for a message.
					c.see("c", "e", domain.StatusDown)
					c.see("d", "e", domain.StatusDown)
				}
				c.everyoneSees("a", domain.StatusUp, 0, "b", "c", "d")
				if seenFirst {
					time.Sleep(simRound + simRound/2)
					c.see("c", "e", domain.StatusUp)
					time.Sleep(2 * time.Minute)
					c.see("d", "e", domain.StatusUp)
				} else {
					time.Sleep(simRound) // its own probes of e, a round later
				}
				c.see("a", "e", domain.StatusUp)
				time.Sleep(time.Hour)
				var fromA, recoveries []string
				for _, m := range c.messages() {
					if strings.HasPrefix(m, "a: ") {
						fromA = append(fromA, m)
					}
					if strings.Contains(m, "🟢 `e`") {
						recoveries = append(recoveries, m)
					}
				}
				if len(fromA) != 1 || len(recoveries) != 1 || !strings.HasPrefix(recoveries[0], "b: ") {
					t.Fatalf("sent\n%s\nwant a's down message alone from a, and b's one recovery of e", strings.Join(c.messages(), "\n"))
				}
			})
		})
	}
}

// An announcer restarts holding an outage that began just after the
// cluster ended the one before, and the first relays it gets come late
// (their sender was paused between stamping and sending them): read
// against its clock, the earlier outage's end falls after the start of
// this one. An end names the episode it closes, so the restarted node
// keeps what it holds, and the chat gets no second down message.
func TestClusterAlertsALateRelayDoesNotEndTheNextOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute)
		c.everyoneSees("e", domain.StatusUp, 0) // a ends it
		time.Sleep(10 * time.Second)
		c.everyoneSees("e", domain.StatusDown, 0) // and announces the next
		time.Sleep(time.Minute)
		saved := c.nodes["a"].notifier.Record()
		c.kill("a")
		c.mu.Lock()
		for _, n := range []string{"b", "c", "d"} {
			c.nodes[n].late = 20 * time.Second
		}
		c.mu.Unlock()
		c.bootWith("a", saved)
		time.Sleep(time.Hour)
		var downs []string
		for _, m := range c.messages() {
			if strings.Contains(m, "🔴 `e`") {
				downs = append(downs, m)
			}
		}
		if len(downs) != 2 {
			t.Fatalf("sent\n%s\nwant two down messages of e, one per outage; a logged:\n%s", strings.Join(c.messages(), "\n"), c.nodes["a"].logs)
		}
	})
}

// A node frozen through two outages wakes holding the first, whose own
// end no node keeps any more (a node keeps a subject's latest end): the
// end of the later one tells it the first is long over, and it sends no
// late recovery after the second's.
func TestClusterAlertsAnEndOfALaterOutageClosesAnEarlierOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute)
		c.freeze("b")
		for range 2 {
			c.everyoneSees("e", domain.StatusUp, 0, "a", "c", "d")
			time.Sleep(time.Minute)
			c.everyoneSees("e", domain.StatusDown, 0, "a", "c", "d")
			time.Sleep(time.Minute)
		}
		c.everyoneSees("e", domain.StatusUp, 0, "a", "c", "d")
		time.Sleep(time.Minute)
		c.thaw("b")
		time.Sleep(simRound) // its own probes of e, a round later
		c.see("b", "e", domain.StatusUp)
		time.Sleep(time.Hour)
		if want := []string{"a: 🔴", "a: 🟢", "a: 🔴", "a: 🟢", "a: 🔴", "a: 🟢"}; !slices.Equal(c.marks("e"), want) {
			t.Fatalf("sent\n%s\nwant %q; b logged:\n%s", strings.Join(c.messages(), "\n"), want, c.nodes["b"].logs)
		}
	})
}

// The announcer's clock is ten minutes behind the others': the node that
// takes its outage over reads its times against its own clock, so that
// the downtime it reports, and when its reminders fall due, are the
// outage's, not the skew's.
func TestClusterAlertsATakeoverCarriesNoOtherNodesClockSkew(t *testing.T) {
	for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		t.Run(skew.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newSimCluster(t, "a", "b", "c", "d", "e")
				c.mu.Lock()
				c.nodes["a"].skew = skew
				c.mu.Unlock()
				time.Sleep(simFresh)
				c.kill("e")
				c.everyoneSees("e", domain.StatusDown, 0)
				time.Sleep(time.Minute)
				c.kill("a")
				c.everyoneSees("a", domain.StatusDown, 0, "b", "c", "d")
				time.Sleep(simFollowups[0])
				var reminders []string
				for _, m := range c.messages() {
					if strings.Contains(m, "🟠 `e`") {
						reminders = append(reminders, m)
					}
				}
				if !slices.Equal(reminders, []string{"b: 🟠 `e` is still unreachable from 3 of 3 nodes that answer; 1 other node down (down for 10m 0s)"}) {
					t.Fatalf("reminders of e %q, want b's first, on time", reminders)
				}
			})
		})
	}
}

// A node that loses its own network sees every peer down. It sends
// nothing, while it lasts or after; the others send one message about it;
// and when it is back, there is no burst.
func TestClusterAlertsAnIsolatedNodeSaysNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		cutOff := func(off bool) {
			c.mu.Lock()
			for _, o := range c.names {
				if o != "a" {
					c.cut[[2]string{"a", o}], c.cut[[2]string{o, "a"}] = off, off
				}
			}
			c.nodes["a"].isolated = off
			c.mu.Unlock()
			st := domain.StatusDown
			if !off {
				st = domain.StatusUp
			}
			for _, o := range c.names[1:] {
				c.see("a", o, st)
				c.see(o, "a", st)
			}
		}
		cutOff(true)
		time.Sleep(simFollowups[0] + time.Minute)
		want := []string{
			"b: 🔴 `a` is unreachable from 4 of 5 nodes (b, c, d, e)",
			"b: 🟠 `a` is still unreachable from 4 of 5 nodes (down for 10m 0s)",
		}
		if got := c.messages(); !slices.Equal(got, want) {
			t.Fatalf("sent %q, want %q", got, want)
		}
		cutOff(false)
		time.Sleep(time.Hour)
		got := c.messages()
		if len(got) != 3 || !strings.HasPrefix(got[2], "b: 🟢 `a` is reachable again") {
			t.Fatalf("sent %q, want b's recovery of a and nothing else", got)
		}
	})
}

// The announcer is held up (or dies) mid-outage, and the outage ends
// before the next node took it over: the announcer cannot send the
// recovery, and the others had left it to it. The recovery is owed: once
// the announcer's word is stale, the next node in the election sends it,
// before the down message of the subject's next outage, so that the chat
// reads down and recovery in turn.
func TestClusterAlertsARecoveryTheAnnouncerCannotSendIsSentByTheNext(t *testing.T) {
	for _, away := range []string{"frozen", "killed"} {
		t.Run(away, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newSimCluster(t, "a", "b", "c", "d", "e")
				time.Sleep(simFresh)
				c.kill("e")
				c.everyoneSees("e", domain.StatusDown, 0)
				time.Sleep(time.Minute) // a announced it
				if away == "frozen" {
					c.freeze("a")
				} else {
					c.kill("a")
				}
				c.everyoneSees("e", domain.StatusUp, 0, "b", "c", "d") // before a's word goes stale
				time.Sleep(time.Minute)
				c.everyoneSees("a", domain.StatusDown, 0, "b", "c", "d")
				c.everyoneSees("e", domain.StatusDown, 0, "b", "c", "d")
				time.Sleep(time.Minute)
				var marks []string
				for _, m := range c.messages() {
					if strings.Contains(m, "`e`") {
						// The downtime is a minute, to a round: when b's
						// verdict saw the end.
						marks = append(marks, strings.Replace(m, "(down for 1m 1s)", "(down for 1m 0s)", 1))
					}
				}
				want := []string{
					"a: 🔴 `e` is unreachable from 4 of 5 nodes (a, b, c, d)",
					"b: 🟢 `e` is reachable again (down for 1m 0s)",
					"b: 🔴 `e` is unreachable from 3 of 3 nodes that answer; 1 other node down (b, c, d)",
				}
				if !slices.Equal(marks, want) {
					t.Fatalf("sent about e\n%s\nwant\n%s\nall:\n%s", strings.Join(marks, "\n"), strings.Join(want, "\n"), strings.Join(c.messages(), "\n"))
				}
			})
		})
	}
}

// A node that held an outage is held up while the announcer ends it, and
// the announcer stops before the node is back: the others pass the end on
// in their relays, so the node back learns it is over and owes nothing.
func TestClusterAlertsAnEndOutlivesTheNodeThatSentIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute) // a announced it; b holds it as a's
		c.freeze("b")
		c.everyoneSees("e", domain.StatusUp, 0, "a", "c", "d")
		time.Sleep(time.Minute) // a ended it, and said so
		c.kill("a")
		c.everyoneSees("a", domain.StatusDown, 0, "c", "d")
		time.Sleep(time.Minute)
		c.thaw("b")
		c.see("b", "a", domain.StatusDown)
		c.see("b", "e", domain.StatusUp)
		time.Sleep(time.Hour)
		var recoveries []string
		for _, m := range c.messages() {
			if strings.Contains(m, "🟢 `e`") {
				recoveries = append(recoveries, m)
			}
		}
		if len(recoveries) != 1 || !strings.HasPrefix(recoveries[0], "a: ") {
			t.Fatalf("recoveries of e %q, want a's alone:\n%s", recoveries, strings.Join(c.messages(), "\n"))
		}
	})
}

// The announcer's own view of a peer stays down across two outages the
// cluster saw apart (it alone could not reach it in between): its second
// outage counts from its own down, before the first one's end. That end,
// passed back to it by the others, is of the first outage, not of the
// second: the second is announced once and ended once.
func TestClusterAlertsAnEarlierEndDoesNotEndTheNextOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute)
		c.everyoneSees("e", domain.StatusUp, 0, "b", "c", "d") // a still cannot reach it
		time.Sleep(time.Minute)
		c.everyoneSees("e", domain.StatusDown, 0, "b", "c", "d")
		time.Sleep(time.Minute)
		c.everyoneSees("e", domain.StatusUp, 0)
		time.Sleep(time.Minute)
		marks := c.marks("e")
		if want := []string{"a: 🔴", "a: 🟢", "a: 🔴", "a: 🟢"}; !slices.Equal(marks, want) {
			t.Fatalf("sent about e %q, want %q:\n%s", marks, want, strings.Join(c.messages(), "\n"))
		}
	})
}

// The announcer is held up mid-outage; the outage ends, and b sends the
// recovery a owed; the next outage begins, and b announces it. a, thawed,
// relays the announcement it held until it hears the end: b does not
// yield the new outage to that, and the chat reads down and recovery in
// turn.
func TestClusterAlertsAClaimTheClusterEndedIsNotYieldedTo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newSimCluster(t, "a", "b", "c", "d", "e")
		time.Sleep(simFresh)
		c.kill("e")
		c.everyoneSees("e", domain.StatusDown, 0)
		time.Sleep(time.Minute)
		c.freeze("a")
		c.everyoneSees("e", domain.StatusUp, 0, "b", "c", "d")
		time.Sleep(time.Minute) // b sends the recovery a owed
		c.everyoneSees("e", domain.StatusDown, 0, "b", "c", "d")
		time.Sleep(time.Minute) // b announces the next outage
		c.thaw("a")
		c.see("a", "e", domain.StatusDown)
		time.Sleep(time.Minute)
		c.everyoneSees("e", domain.StatusUp, 0)
		time.Sleep(time.Hour)
		marks := c.marks("e")
		if want := []string{"a: 🔴", "b: 🟢", "b: 🔴", "b: 🟢"}; !slices.Equal(marks, want) {
			t.Fatalf("sent about e %q, want %q:\n%s", marks, want, strings.Join(c.messages(), "\n"))
		}
	})
}

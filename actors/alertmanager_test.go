package actors

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/dupunkto/mesh/actors/domain"
)

// alertSource is a settable AlertSource.
type alertSource struct {
	mu  sync.Mutex
	set AlertSet
}

func (s *alertSource) Alerts() AlertSet {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set
}

func (s *alertSource) assert(set AlertSet) {
	s.mu.Lock()
	s.set = set
	s.mu.Unlock()
}

// amPost is one post an Alertmanager received, decoded, and when.
type amPost struct {
	after  time.Duration
	alerts []postableAlert
}

// scriptedAlertmanager is an in-memory Alertmanager for timing under
// synctest: it answers with status and records each post.
type scriptedAlertmanager struct {
	start  time.Time
	mu     sync.Mutex
	status int
	posts  []amPost
}

func (a *scriptedAlertmanager) RoundTrip(req *http.Request) (*http.Response, error) {
	var alerts []postableAlert
	_ = json.NewDecoder(req.Body).Decode(&alerts)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.posts = append(a.posts, amPost{time.Since(a.start), alerts})
	return answer(a.status, nil, "")(), nil
}

func (a *scriptedAlertmanager) all() []amPost {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]amPost(nil), a.posts...)
}

func (a *scriptedAlertmanager) setStatus(status int) {
	a.mu.Lock()
	a.status = status
	a.mu.Unlock()
}

func startAlertmanager(t *testing.T, src AlertSource, status int, log zerolog.Logger) *scriptedAlertmanager {
	am := &scriptedAlertmanager{start: time.Now(), status: status}
	p := NewAlertmanager(AlertmanagerConfig{URL: "http://am.example:9093/api/v2/alerts", Cluster: "prod", Source: src,
		Every: 5 * time.Second, Client: &http.Client{Transport: am}, Log: log})
	go p.Serve(t.Context())
	return am
}

var decAlert = Alert{Name: AlertPeerDown, Subject: domain.Peer("dec"), Severity: "critical", StartsAt: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC),
	Summary: "dec is unreachable from 2 of 3 nodes (jan, nov)", DownFrom: []string{"jan", "nov"}}

// An alert is posted as soon as this node holds it, again every minute to
// hold it, and its end once, when it is over.
func TestAnAlertFiresIsResentAndEndsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &alertSource{set: AlertSet{Mine: []Alert{decAlert}}}
		am := startAlertmanager(t, src, 200, zerolog.Nop())
		time.Sleep(152 * time.Second)
		src.assert(AlertSet{})
		time.Sleep(10 * time.Minute)

		posts := am.all()
		var at []time.Duration
		for _, p := range posts {
			at = append(at, p.after)
		}
		assertTimes(t, at, 0, 60*s, 120*s, 155*s)
		first := posts[0].alerts
		if len(first) != 1 {
			t.Fatalf("first post %+v", first)
		}
		a := first[0]
		wantLabels := map[string]string{"alertname": "MeshPeerDown", "peer": "dec", "cluster": "prod", "severity": "critical"}
		for k, v := range wantLabels {
			if a.Labels[k] != v {
				t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
			}
		}
		if len(a.Labels) != len(wantLabels) {
			t.Errorf("labels %v: the posting node must not be one", a.Labels)
		}
		if a.Annotations["summary"] != decAlert.Summary || a.Annotations["down_from"] != "jan, nov" {
			t.Errorf("annotations %v", a.Annotations)
		}
		if !a.StartsAt.Equal(decAlert.StartsAt) || !a.EndsAt.Equal(am.start.Add(4*time.Minute)) {
			t.Errorf("startsAt %v endsAt %v, want the outage's start and four resends on", a.StartsAt, a.EndsAt)
		}
		end := posts[3].alerts
		if len(end) != 1 || !end[0].EndsAt.Equal(am.start.Add(155*s)) || !end[0].StartsAt.Equal(decAlert.StartsAt) {
			t.Fatalf("the end was posted as %+v, want endsAt at 155s", end)
		}
	})
}

// An alert another node holds now (a healed partition, where the first
// name keeps the announcement) is left to it: no end is posted, which
// would resolve what the other node keeps firing.
func TestAnAlertHandedToAnotherNodeIsNotEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &alertSource{set: AlertSet{Mine: []Alert{decAlert}}}
		am := startAlertmanager(t, src, 200, zerolog.Nop())
		time.Sleep(32 * time.Second) // between two rounds
		src.assert(AlertSet{Elsewhere: map[string]bool{decAlert.key(): true}})
		time.Sleep(10 * time.Minute)
		if n := len(am.all()); n != 1 {
			t.Fatalf("%d posts, want only the first: no resend and no end once another node holds it", n)
		}
	})
}

// While the node is isolated its view says nothing: nothing new fires,
// nothing ends, and what it posted is held.
func TestAnIsolatedNodeHoldsItsAlertsAsTheyWere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &alertSource{set: AlertSet{Mine: []Alert{decAlert}}}
		am := startAlertmanager(t, src, 200, zerolog.Nop())
		time.Sleep(32 * time.Second) // between two rounds
		jan := decAlert
		jan.Subject = domain.Peer("jan")
		src.assert(AlertSet{Mine: []Alert{jan}, Frozen: true})
		time.Sleep(85 * time.Second) // to 117 s: past the resend at 60 s, short of the round at 120 s
		for _, p := range am.all() {
			if len(p.alerts) != 1 || p.alerts[0].Labels["peer"] != "dec" || !p.alerts[0].EndsAt.After(am.start.Add(p.after)) {
				t.Fatalf("post %+v while isolated: want dec held firing, nothing of jan", p)
			}
		}
		if n := len(am.all()); n != 2 {
			t.Fatalf("%d posts, want the first and one resend", n)
		}
	})
}

// An Alertmanager that fails is tried again every round, said once in the
// logs; an end it never takes is dropped, loudly, once the alert's last
// post has run out there anyway.
func TestAFailingAlertmanagerIsRetriedAndAnEndItNeverTakesIsSaid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncWriter
		src := &alertSource{set: AlertSet{Mine: []Alert{decAlert}}}
		am := startAlertmanager(t, src, 503, zerolog.New(&logs).Level(zerolog.DebugLevel))
		time.Sleep(12 * time.Second)
		if n := len(am.all()); n != 3 {
			t.Fatalf("%d posts in 12s, want one every 5s round while failing", n)
		}
		am.setStatus(200)
		time.Sleep(5 * time.Second)
		n := len(am.all())
		time.Sleep(50 * time.Second)
		if len(am.all()) != n {
			t.Fatal("posted again within the minute after it took the alert")
		}
		am.setStatus(500)
		src.assert(AlertSet{})
		time.Sleep(10 * time.Minute)
		out := logs.String()
		if strings.Count(out, `"level":"warn"`) != 2 || !strings.Contains(out, "alertmanager takes alerts again") ||
			!strings.Contains(out, "alertmanager never took the alert's end") {
			t.Fatalf("logs do not tell the story:\n%s", out)
		}
		if !strings.Contains(out, `"host":"am.example:9093"`) || strings.Contains(out, "/api/v2") {
			t.Fatalf("logs name more than the host:\n%s", out)
		}
		last := am.all()[len(am.all())-1]
		if last.after > 15*time.Minute || len(last.alerts) != 1 {
			t.Fatalf("last post %+v", last)
		}
	})
}

// A target's outage is MeshTargetDown (MeshTargetPartial), labelled
// target, not peer: from the cluster's verdict, and in node mode from the
// node's own view.
func TestATargetsAlertIsMeshTargetDownLabelledTarget(t *testing.T) {
	const shop = "https://shop.example/"
	since := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	down := domain.PeerView{Status: domain.StatusDown, Since: since}
	s := domain.NewSnapshot("jan", []*domain.Entry{domain.NewEntry(domain.Target(shop), down, domain.History{})}, map[string]*domain.RelayCopy{
		"nov": domain.NewRelayCopy(since, nil).WithTargets(map[string]domain.PeerView{shop: down}),
	})
	s = s.WithVerdicts(domain.ComputeVerdicts(s, domain.ClusterRule{Fresh: time.Hour}, since))
	v, _ := s.Verdicts().Of(shop)
	j := AlertPolicy(true, 2).judge(s, v, time.Now())
	cluster := newAlert(domain.AnnouncedDown, since, downMessage(domain.Target(shop), domain.Maintenance{}, since, j.downFrom, j.answering(), 2, since), j)
	partial := newAlert(domain.AnnouncedPartial, since, partialMessage(domain.Target(shop), j.downFrom, nil, since), j)
	node := NewNotifier(NotifierConfig{Node: "jan", Followups: defaultFollowups, State: fixedState{s}, Out: &messageRecorder{}, Now: since,
		Log: zerolog.Nop()}).Alerts().Mine
	if cluster.Name != AlertTargetDown || partial.Name != AlertTargetPartial || len(node) != 1 || node[0].Name != AlertTargetDown {
		t.Fatalf("names %q, %q, node mode %+v", cluster.Name, partial.Name, node)
	}
	synctest.Test(t, func(t *testing.T) {
		am := startAlertmanager(t, &alertSource{set: AlertSet{Mine: []Alert{cluster}}}, 200, zerolog.Nop())
		time.Sleep(time.Second)
		posts := am.all()
		if len(posts) != 1 || len(posts[0].alerts) != 1 {
			t.Fatalf("posts %+v", posts)
		}
		want := map[string]string{"alertname": "MeshTargetDown", "target": shop, "cluster": "prod", "severity": "critical"}
		if got := posts[0].alerts[0].Labels; !maps.Equal(got, want) {
			t.Fatalf("labels %v, want %v", got, want)
		}
		if a := posts[0].alerts[0].Annotations; a["summary"] != "https://shop.example/ is unreachable from 2 of 2 nodes (jan, nov)" {
			t.Fatalf("annotations %v", a)
		}
	})
}

package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/dupunkto/mesh/deploy/aggregator"
	"github.com/dupunkto/mesh/deploy/browser"
)

// newBrowser starts Debian's headless chromium for one test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path, err := browser.Path()
	if err != nil {
		t.Fatal("the browser tests need Chromium: ", err)
	}
	opts := browser.Options(path, 1000, 1300)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser now, so a failure says so here
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// pageView is what the page shows, read from its DOM.
type pageView struct {
	Rows []struct {
		Node   string `json:"node"`
		Status string `json:"status"`
		Why    string `json:"why"`
		Title  string `json:"title"`
		Badge  string `json:"badge"`
	} `json:"rows"`
	Edges []struct {
		From    string `json:"from"`
		To      string `json:"to"`
		Status  string `json:"status"`
		Relayed bool   `json:"relayed"`
		Dashed  string `json:"dashed"`
	} `json:"edges"`
	Vertices []struct {
		Node   string `json:"node"`
		Class  string `json:"class"`
		Dashed string `json:"dashed"`
	} `json:"vertices"`
	Ages     []string `json:"ages"`
	Notes    []string `json:"notes"`
	Text     string   `json:"text"`
	Injected int      `json:"injected"`
	Pwned    bool     `json:"pwned"`
	Updated  string   `json:"updated"`
	View     string   `json:"view"`
	Cells    []struct {
		From    string `json:"from"`
		To      string `json:"to"`
		Status  string `json:"status"`
		Relayed bool   `json:"relayed"`
		Title   string `json:"title"`
	} `json:"cells"`
	Incidents []incidentView `json:"incidents"`
	Days      []struct {
		Node string   `json:"node"`
		Days []string `json:"days"` // "YYYY-MM-DD class"
	} `json:"days"`
	Verdicts map[string]string `json:"verdicts"` // node -> the cluster line
	// Targets are the targets' rows: status, the why line, and the class
	// of today's daily bar.
	Targets []struct {
		Target string `json:"target"`
		Status string `json:"status"`
		Why    string `json:"why"`
		Today  string `json:"today"`
	} `json:"targets"`
	TargetCells []struct {
		From   string `json:"from"`
		To     string `json:"to"`
		Status string `json:"status"`
		Title  string `json:"title"`
	} `json:"targetCells"`
	Messages []string `json:"messages"` // the chat's latest, newest first (?messages=)
}

// incidentView is an incident as the page lists it.
type incidentView struct {
	Node    string `json:"node"`
	Ongoing string `json:"ongoing"`
	Text    string `json:"text"`
}

const readPage = `(() => ({
  rows: [...document.querySelectorAll("#rows > li")].map((li) => ({
    node: li.dataset.node, status: li.dataset.status,
    why: li.querySelector(".why").textContent, title: li.querySelector(".why").getAttribute("title") || "",
    badge: li.querySelector(".badge").textContent })),
  edges: [...document.querySelectorAll("path.edge")].map((p) => ({
    from: p.dataset.from, to: p.dataset.to, status: p.dataset.status,
    relayed: p.classList.contains("relayed"), dashed: getComputedStyle(p).strokeDasharray })),
  vertices: [...document.querySelectorAll("g.vertex")].map((g) => ({
    node: g.dataset.node, class: g.getAttribute("class"), dashed: getComputedStyle(g.querySelector("circle")).strokeDasharray })),
  ages: [...document.querySelectorAll("svg text.age")].map((e) => e.textContent),
  notes: [...document.querySelectorAll("#notes li")].map((li) => li.textContent),
  text: document.body.textContent,
  injected: document.querySelectorAll("img, iframe, script:not([src]), #rows script").length,
  pwned: window.pwned !== undefined,
  updated: document.body.dataset.updated || "",
  view: document.getElementById("graph").dataset.view || "",
  cells: [...document.querySelectorAll("#graph td.cell")].map((c) => ({
    from: c.dataset.from, to: c.dataset.to, status: c.dataset.status, relayed: c.classList.contains("relayed"), title: c.title })),
  incidents: [...document.querySelectorAll("#incidents li[data-incident]")].map((li) => ({
    node: li.dataset.incident, ongoing: li.dataset.ongoing, text: li.textContent })),
  days: [...document.querySelectorAll("#rows > li")].map((li) => ({
    node: li.dataset.node, days: [...li.querySelectorAll("[data-day]")].map((d) => d.dataset.day + " " + d.className) })),
  verdicts: Object.fromEntries([...document.querySelectorAll("#rows > li")].map((li) => {
    const v = li.querySelector(".verdict");
    return [li.dataset.node, v ? v.textContent + (v.title ? " [" + v.title + "]" : "") : ""];
  })),
  messages: [...document.querySelectorAll("#messages li[data-message]")].map((li) => li.textContent),
  targets: [...document.querySelectorAll("#targets > li")].map((li) => ({
    target: li.dataset.target, status: li.dataset.status, why: li.querySelector(".why").textContent,
    today: [...li.querySelectorAll("[data-day]")].at(-1)?.className ?? "" })),
  targetCells: [...document.querySelectorAll("#targets-matrix td.cell")].map((c) => ({
    from: c.dataset.from, to: c.dataset.to, status: c.dataset.status, title: c.title })),
}))()`

func readView(t *testing.T, ctx context.Context) pageView {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[pageView](readPage))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	return v
}

// waitView polls the page until cond holds and returns what it showed.
func waitView(t *testing.T, ctx context.Context, what string, cond func(pageView) bool) pageView {
	t.Helper()
	var v pageView
	eventually(t, 20*time.Second, what, func() bool {
		v = readView(t, ctx)
		return cond(v)
	})
	return v
}

// waitViewSaying polls the page until unmet, which says which of its
// conditions does not hold and what the page shows instead, says nothing;
// if it never does, the test fails with what it said last.
func waitViewSaying(t *testing.T, ctx context.Context, what string, unmet func(pageView) string) pageView {
	t.Helper()
	var v pageView
	why := ""
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		v = readView(t, ctx)
		if why = unmet(v); why == "" {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 20s waiting for %s: %s", what, why)
		}
	}
}

func (v pageView) row(node string) (status, why, title, badge string) {
	for _, r := range v.Rows {
		if r.Node == node {
			return r.Status, r.Why, r.Title, r.Badge
		}
	}
	return "", "", "", ""
}

// cell is the status of the matrix cell of what from sees of to; "" when
// the page shows no such cell.
func (v pageView) cell(from, to string) string {
	for _, c := range v.Cells {
		if c.From == from && c.To == to {
			return c.Status
		}
	}
	return ""
}

func (v pageView) edge(from, to string) (status string, relayed bool, dashed string, ok bool) {
	for _, e := range v.Edges {
		if e.From == from && e.To == to {
			return e.Status, e.Relayed, e.Dashed, true
		}
	}
	return "", false, "", false
}

// screenshot saves the page as a test artifact (go test -artifacts keeps
// it; MESH_SCREENSHOTS names a folder to copy it to, for looking at).
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives a lossless PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	saveScreenshot(t, name, png)
}

// saveScreenshot keeps png as name among the test's artifacts, and in
// MESH_SCREENSHOTS when that is set.
func saveScreenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("MESH_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		path := filepath.Join(d, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
}

func TestPageShowsAKilledNodeDownWithItsEdgesFromRelay(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 3, "RELAY_SECRET=page-s3cret")
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+a.name+"/ui/?refresh=1")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "three rows up and six edges up", func(v pageView) bool {
		if len(v.Rows) != 3 || len(v.Edges) != 6 {
			return false
		}
		for _, r := range v.Rows {
			if r.Status != "up" {
				return false
			}
		}
		for _, e := range v.Edges {
			if e.Status != "up" || e.Relayed {
				return false
			}
		}
		return true
	})
	if status, why, _, badge := v.row(b.name); why != "reachable from browser and 2/2 peers" || badge != "✔ up" {
		t.Fatalf("row of %s: %s %q %q", b.name, status, why, badge)
	}
	screenshot(t, ctx, "all-up.png")

	c.kill()
	v = waitView(t, ctx, "the killed node shown down", func(v pageView) bool {
		status, _, _, _ := v.row(c.name)
		s1, _, _, _ := v.edge(a.name, c.name)
		s2, _, _, _ := v.edge(b.name, c.name)
		_, relayed, _, _ := v.edge(c.name, a.name)
		return status == "down" && s1 == "down" && s2 == "down" && relayed
	})
	_, why, title, badge := v.row(c.name)
	if why != "unreachable from browser; down from 2/2 peers" || badge != "✖ down" {
		t.Fatalf("row of the killed node: %q %q", why, badge)
	}
	if !strings.Contains(title, a.name) || !strings.Contains(title, b.name) {
		t.Fatalf("tooltip %q does not name the nodes that cannot reach it", title)
	}
	for _, to := range []string{a.name, b.name} {
		status, relayed, dashed, ok := v.edge(c.name, to)
		if !ok || !relayed || dashed == "none" || dashed == "" || status != "up" {
			t.Fatalf("edge %s -> %s: ok %v status %s relayed %v dash %q; want it drawn dashed from its last relay", c.name, to, ok, status, relayed, dashed)
		}
	}
	if len(v.Ages) != 2 || !strings.HasPrefix(v.Ages[0], "relay ") || !strings.HasSuffix(v.Ages[0], " old") {
		t.Fatalf("relayed edges are labelled %v, want their age", v.Ages)
	}
	if len(v.Notes) == 0 || !strings.Contains(v.Notes[0], "did not answer: "+c.name) {
		t.Fatalf("notes %v, want the node that did not answer", v.Notes)
	}
	screenshot(t, ctx, "one-killed.png")

	// The same page on a phone: one column, nothing cut off sideways.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	if err != nil || overflow {
		t.Fatalf("on a 390px screen the page scrolls sideways (%v)", err)
	}
	screenshot(t, ctx, "phone.png")
}

func TestPageDrawsANodeTheBrowserCannotReachFromRelays(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 3, "RELAY_SECRET=page-s3cret")
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx := newBrowser(t)
	// The browser cannot reach b; its peers can.
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
		URLPatterns: []*network.BlockPattern{{URLPattern: "http://" + b.name + "/*", Block: true}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+a.name+"/ui/?refresh=1")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "the unreachable node drawn from relay data", func(v pageView) bool {
		status, _, _, _ := v.row(b.name)
		s1, r1, _, _ := v.edge(b.name, a.name)
		s2, r2, _, _ := v.edge(b.name, c.name)
		return status == "partial" && r1 && r2 && s1 == "up" && s2 == "up"
	})
	if _, why, _, _ := v.row(b.name); why != "unreachable from browser; down from 0/2 peers" {
		t.Fatalf("row of the unreachable node says %q", why)
	}
	if status, relayed, _, _ := v.edge(a.name, b.name); status != "up" || relayed {
		t.Fatalf("a reachable observer's edge to it is %s (relayed %v), want up from a's own view", status, relayed)
	}
	screenshot(t, ctx, "unreachable-from-browser.png")
}

func TestPageShowsAHostileNodesNamesAsText(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 1)
	a := nodes[0]
	const evilName = `<img src=x onerror="window.pwned=1">`
	const evilPeer = `<script>window.pwned=2</script>`
	cors := func(body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path != "/state" {
				http.NotFound(w, r)
				return
			}
			fmt.Fprint(w, body)
		})
	}
	// Its cluster verdicts name vantage points by markup too, as the
	// matrix's and the rows' texts would show them.
	hostile := httptest.NewServer(cors(fmt.Sprintf(`{"node":%q,"peers":{%q:{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}},"relay":{},`+
		`"cluster":{%q:{"status":"down","down_from":[%q,%q],"up_from":[]}},"isolated":false}`, evilName, evilPeer, a.name, evilName, evilPeer)))
	defer hostile.Close()
	malformed := httptest.NewServer(cors(`{"node": 5, "peers": "everything is fine"}`))
	defer malformed.Close()
	hostileName, malformedName := strings.TrimPrefix(hostile.URL, "http://"), strings.TrimPrefix(malformed.URL, "http://")

	ctx := newBrowser(t)
	// In the graph, then in the matrix.
	for _, view := range []string{"graph", "matrix"} {
		url := fmt.Sprintf("http://%s/ui/?refresh=1&view=%s&nodes=%s,%s,%s", a.name, view, a.name, hostile.URL, malformedName)
		if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
			t.Fatal(err)
		}
		v := waitView(t, ctx, "all three nodes drawn", func(v pageView) bool { return len(v.Rows) == 3 && v.Updated != "" && v.View == view })
		if v.Pwned || v.Injected != 0 {
			t.Fatalf("%s: the hostile node's names ran as markup (pwned %v, injected elements %d)", view, v.Pwned, v.Injected)
		}
		if !strings.Contains(v.Text, evilName) || !strings.Contains(v.Text, evilPeer) {
			t.Fatalf("%s: the hostile names are not shown as text", view)
		}
		if view == "matrix" && len(v.Cells) != 9 {
			t.Fatalf("%d matrix cells, want 3 × 3", len(v.Cells))
		}
	}
	v := readView(t, ctx)
	if status, _, _, _ := v.row(hostileName); status == "" {
		t.Fatalf("no row for the hostile node: %+v", v.Rows)
	}
	found := false
	for _, n := range v.Notes {
		found = found || (strings.Contains(n, malformedName) && strings.Contains(n, "malformed"))
	}
	if !found {
		t.Fatalf("notes %v, want one saying %s sent a malformed /state", v.Notes, malformedName)
	}
	if status, _, _, _ := v.row(malformedName); status != "down" {
		t.Fatalf("the malformed node's row is %q, want it skipped (down: no answer, no peer to ask)", status)
	}
	screenshot(t, ctx, "hostile.png")
}

func TestPagePublishedAsStaticFilesReadsConfigJSON(t *testing.T) {
	shareMachine(t, loadOf(2, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 2)
	// A plain static host, as GitHub Pages would be: the page's files and a
	// config.json beside them, and no node behind it.
	config := fmt.Sprintf(`{"nodes": [%q, %q]}`, nodes[0].name, "http://"+nodes[1].name)
	static := http.NewServeMux()
	static.HandleFunc("/config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, config)
	})
	static.Handle("/", aggregator.Handler())
	pages := httptest.NewServer(static)
	defer pages.Close()

	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(pages.URL+"/?refresh=1")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "both nodes from config.json, up, the refresh over", func(v pageView) bool {
		s0, _, _, _ := v.row(nodes[0].name)
		s1, _, _, _ := v.row(nodes[1].name)
		return len(v.Rows) == 2 && s0 == "up" && s1 == "up" && v.Updated != ""
	})
	if !strings.Contains(v.Text, "nodes from config.json") {
		t.Fatal("the page does not say where its node list came from")
	}
}

// One node whose /history holds "transitions": [null], and names such as
// constructor and __proto__ in ?nodes=, once blanked the page for good: the
// first refresh threw and no timer was set again. Now the bad history is
// left out with a note, every node still has its row, and the refreshes go
// on.
func TestPageSurvivesABadHistoryAndHostileNamesAndKeepsRefreshing(t *testing.T) {
	shareMachine(t, loadOf(1, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 1)
	a := nodes[0]
	badHistory := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/state":
			fmt.Fprintf(w, `{"node":%q,"peers":{%q:{"status":"up","since":"2026-06-06T12:42:00Z","last_seen":null,"consecutive_failures":0}},"relay":{}}`,
				r.Host, a.name)
		case "/history":
			fmt.Fprintf(w, `{"node":"x","peers":{%q:{"transitions":[null],"uptime":{}}}}`, a.name)
		default:
			http.NotFound(w, r)
		}
	}))
	defer badHistory.Close()
	badName := strings.TrimPrefix(badHistory.URL, "http://")

	ctx := newBrowser(t)
	url := fmt.Sprintf("http://%s/ui/?refresh=1&nodes=%s,%s,constructor,__proto__", a.name, a.name, badHistory.URL)
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	first := waitView(t, ctx, "every node drawn", func(v pageView) bool { return len(v.Rows) == 4 && v.Updated != "" })
	for _, name := range []string{a.name, badName, "constructor", "__proto__"} {
		if status, _, _, _ := first.row(name); status == "" {
			t.Fatalf("no row for %s: %+v", name, first.Rows)
		}
	}
	found := false
	for _, n := range first.Notes {
		found = found || (strings.Contains(n, badName) && strings.Contains(n, "malformed /history"))
	}
	if !found {
		t.Fatalf("notes %v, want one saying %s sent a malformed /history", first.Notes, badName)
	}
	// The refreshes go on: the page is redrawn twice more.
	second := waitView(t, ctx, "a second refresh", func(v pageView) bool { return v.Updated != "" && v.Updated != first.Updated })
	waitView(t, ctx, "a third refresh", func(v pageView) bool { return v.Updated != "" && v.Updated != second.Updated })
	screenshot(t, ctx, "survives.png")
}

// A node that says it is isolated is shown so, apart from down: its row and
// its ring in the graph. Here a node whose two peers, after they answered,
// both stop answering, and that has no outside to ask: by the guard's rule
// it cannot tell that from its own network being gone, and says isolated.
// (Peers that never answered at all would tell nothing: see
// TestTheFirstNodeOfANewClusterClaimsNothing.)
func TestPageMarksAnIsolatedNodeApartFromDown(t *testing.T) {
	shareMachine(t, loadOf(3, 100*time.Millisecond)+browserLoad)
	nodes := cluster(t, 3, "RELAY_SECRET=isolated")
	n, a := nodes[0], nodes[0].name
	nodes[1].kill()
	nodes[2].kill()
	eventually(t, 15*time.Second, a+" to say it is isolated", func() bool {
		s, err := n.state()
		return err == nil && s.Isolated
	})
	ctx := newBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+a+"/ui/?refresh=1")); err != nil {
		t.Fatal(err)
	}
	v := waitView(t, ctx, "the isolated node marked so", func(v pageView) bool {
		status, _, _, _ := v.row(a)
		return status == "isolated" && len(v.Rows) == 3
	})
	if _, why, _, badge := v.row(a); badge != "⊘ isolated" || !strings.Contains(why, "cut off from its own network") {
		t.Fatalf("row of the isolated node: %q %q", why, badge)
	}
	for _, r := range v.Rows {
		if r.Node != a && r.Status != "down" {
			t.Fatalf("row of %s: %s, want down", r.Node, r.Status)
		}
	}
	found := false
	for _, x := range v.Vertices {
		if x.Node == a {
			found = true
			if !strings.Contains(x.Class, "isolated") || x.Dashed == "none" || x.Dashed == "" {
				t.Fatalf("the isolated node's ring: class %q, dash %q; want it marked and dashed", x.Class, x.Dashed)
			}
		} else if strings.Contains(x.Class, "isolated") {
			t.Fatalf("%s drawn isolated: %q", x.Node, x.Class)
		}
	}
	if !found {
		t.Fatalf("no ring for the isolated node among %+v", v.Vertices)
	}
	screenshot(t, ctx, "isolated.png")
}
